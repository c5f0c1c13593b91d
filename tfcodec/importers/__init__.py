"""Importers of models trained elsewhere: CompressAI (PyTorch) checkpoints and
tensorflow-compression checkpoints, into tfcodec bundles. No torch and no
tensorflow-compression at run time."""
