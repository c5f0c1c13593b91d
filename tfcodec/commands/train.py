"""`tfcodec train`: point it at a folder of photos (or a tfds dataset) and a workdir.

One flag per field of tfcodec.train.loop.TrainConfig; the loop runs in tfcodec/train/.
"""

import dataclasses
import json
import sys

from tfcodec.train.accelerators import STRATEGIES
from tfcodec.train.loop import PRECISIONS, TrainConfig

_HELP = {
    "steps": "total training steps (a resumed run continues to this number)",
    "batch": "global batch size (split across replicas)",
    "patch": "square crop size in pixels",
    "learning_rate": "Adam learning rate",
    "lr_decay_steps": "decay the learning rate over the last this many of --steps (0: constant)",
    "lr_final_factor": "learning rate at the end of the decay, as a factor of --learning-rate",
    "clip_norm": "global gradient-norm clip (0 disables)",
    "seed": "seed of the data order, crops and quality sampling",
    "strategy": "tf.distribute strategy: auto (default: a TPU VM's chips, else several GPUs mirrored, "
                "else one GPU or the CPU; says so when it leaves accelerators unused), default (one "
                "device), mirrored, multiworker (TF_CONFIG) or tpu",
    "tpu": "TPU to connect to: a TPU node or pod's name, or grpc://HOST:8470 (empty: this TPU VM's "
           "own chips, resolver target 'local')",
    "steps_per_execution": "training steps per compiled call, metrics fetched once a call (0: 100 on "
                           "TPUs, 20 on GPUs, 1 on CPUs; at most --log-every). Checkpoints, logs and "
                           "signals act between calls",
    "checkpoint_every": "steps between checkpoints (also saved on SIGTERM/SIGINT/SIGHUP)",
    "log_every": "steps between log lines and TensorBoard scalars",
    "image_every": "steps between reconstruction images in TensorBoard",
    "init_weights": "start from these weights (a .npz bundle, a shipped model's name, or Keras "
                    "weights) with a fresh optimizer; ignored once the workdir has a checkpoint. A "
                    "recurrent bundle of another iteration count is laid out for this model's",
    "jit_compile": "compile the step with XLA (for TPUs; slower on CPU)",
    "validation": "folder of validation images (PSNR, MS-SSIM and estimated bpp in TensorBoard under val/)",
    "validate_every": "steps between validation runs",
    "validation_images": "how many validation images to use (0: all)",
    "validation_size": "validation images are center-cropped to this square size",
    "validation_qualities": "comma-separated qualities in [0, 1] to validate at",
    "precision": "float32, or mixed_bfloat16: the wide layers (hyperprior transforms, recurrent cells) "
                 "compute in bfloat16 with float32 variables, about 1.3x faster steps on CPUs with "
                 "AVX512-BF16 and on TPUs; the layers that touch the latent or the bits, and the rate "
                 "path, stay float32",
    "data_dir": "tensorflow-datasets data dir: where tfds:NAME is read and folders are prepared "
                "(default $TFDS_DATA_DIR or ~/tensorflow_datasets)",
}


def register(subparsers):
    p = subparsers.add_parser(
        "train", help="train a model",
        description="Train a model on a folder of images or a tensorflow-datasets dataset. "
                    "Rerunning the same command resumes from the last checkpoint in --workdir.")
    p.add_argument("--model", required=True, help="model name, e.g. cw2020-small")
    p.add_argument("--data", required=True,
                   help="folder of images, local or a URL (prepared once as a tfds dataset), or "
                        "tfds:NAME[:SPLIT] (a tensorflow-datasets catalog dataset)")
    p.add_argument("--workdir", required=True,
                   help="run folder: config, checkpoints, TensorBoard logs (a local path or any "
                        "filesystem TensorFlow reads: gs://BUCKET/run for Cloud TPUs)")
    p.add_argument("--config", help="JSON file of further settings (flags given here win)")
    for field in dataclasses.fields(TrainConfig):
        if field.name in ("model", "data", "workdir"):
            continue
        flag = "--" + field.name.replace("_", "-")
        if field.type in (bool, "bool"):
            p.add_argument(flag, action="store_true", default=None, help=_HELP.get(field.name))
        else:
            kind = {"int": int, "float": float, "str": str}.get(field.type, field.type)
            choices = {"precision": PRECISIONS, "strategy": STRATEGIES}.get(field.name)
            p.add_argument(flag, type=kind, default=None, choices=choices, help=_HELP.get(field.name))
    p.add_argument("--lambda", dest="lambda_", type=float, default=None,
                   help="not used by the variable-rate models: the quality range sets lambda")
    p.set_defaults(func=run)


def config_from_args(args):
    """The TrainConfig of the flags, over those of --config (a JSON file, e.g. a run's config.json)."""
    values = {}
    if args.config:
        from tfcodec.fileio import read_bytes

        values.update(json.loads(read_bytes(args.config)))
        values.pop("resolved", None)  # a run's config.json records what `auto` chose there
    for field in dataclasses.fields(TrainConfig):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = given
    return TrainConfig(**values)


def run(args):
    from absl import logging

    from tfcodec.train.loop import NonFiniteLoss, train

    logging.set_verbosity(logging.INFO)
    config = config_from_args(args)
    try:
        final = train(config)
    except NonFiniteLoss as e:
        print(f"tfcodec train: stopped: {e}", file=sys.stderr)
        return 3
    print(f"trained to step {final}; checkpoints in {config.workdir}/checkpoints")
    return 0
