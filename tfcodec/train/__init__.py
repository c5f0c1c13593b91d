"""Training: input pipelines, the distributed loop, checkpoints and weight export."""
