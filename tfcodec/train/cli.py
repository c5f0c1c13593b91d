"""`tfcodec train`: point it at a folder of photos (or a tfds dataset) and a workdir."""

import dataclasses
import json

from tfcodec.train.loop import TrainConfig

_HELP = {
    "steps": "total training steps (a resumed run continues to this number)",
    "batch": "global batch size (split across replicas)",
    "patch": "square crop size in pixels",
    "learning_rate": "Adam learning rate",
    "clip_norm": "global gradient-norm clip (0 disables)",
    "seed": "seed of the data order, crops and quality sampling",
    "strategy": "tf.distribute strategy: default, mirrored, multiworker or tpu",
    "tpu": "TPU address for --strategy tpu (empty: the Colab/Cloud default)",
    "checkpoint_every": "steps between checkpoints (also saved on SIGTERM/SIGINT)",
    "log_every": "steps between log lines and TensorBoard scalars",
    "image_every": "steps between reconstruction images in TensorBoard",
    "init_weights": "start from this weights file (e.g. a shipped model), fresh optimizer",
    "jit_compile": "compile the step with XLA (for TPUs; slower on CPU)",
    "validation": "folder of validation images",
    "validate_every": "steps between validation runs",
}


def register(subparsers):
    p = subparsers.add_parser(
        "train", help="train a model",
        description="Train a model on a folder of images or a tensorflow-datasets dataset. "
                    "Rerunning the same command resumes from the last checkpoint in --workdir.")
    p.add_argument("--model", required=True, help="model name, e.g. cw2020-small")
    p.add_argument("--data", required=True, help="folder of images, or tfds:NAME[:SPLIT]")
    p.add_argument("--workdir", required=True, help="run folder: config, checkpoints, TensorBoard logs")
    p.add_argument("--config", help="JSON file of further settings (flags given here win)")
    for field in dataclasses.fields(TrainConfig):
        if field.name in ("model", "data", "workdir"):
            continue
        flag = "--" + field.name.replace("_", "-")
        if field.type in (bool, "bool"):
            p.add_argument(flag, action="store_true", default=None, help=_HELP.get(field.name))
        else:
            kind = {"int": int, "float": float, "str": str}.get(field.type, field.type)
            p.add_argument(flag, type=kind, default=None, help=_HELP.get(field.name))
    p.add_argument("--lambda", dest="lambda_", type=float, default=None,
                   help="not used by the variable-rate models: the quality range sets lambda")
    p.set_defaults(func=run)


def run(args):
    from absl import logging

    from tfcodec.train.loop import train

    logging.set_verbosity(logging.INFO)
    values = {}
    if args.config:
        with open(args.config) as f:
            values.update(json.load(f))
    for field in dataclasses.fields(TrainConfig):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = given
    config = TrainConfig(**values)
    final = train(config)
    print(f"trained to step {final}; checkpoints in {config.workdir}/checkpoints")
    return 0
