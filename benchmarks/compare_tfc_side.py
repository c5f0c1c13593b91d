"""The TFC side of benchmarks/compare_tfc.py; runs in the TFC venv only (tfcodec never imports TFC).

    /work/tfc-venv/bin/python benchmarks/compare_tfc_side.py init  --out DIR/init/ckpt [--seed 0] ...
    /work/tfc-venv/bin/python benchmarks/compare_tfc_side.py train --init PREFIX --crops crops.npy \
        --lmbda L --steps S --out DIR/tfc-L/ckpt --log DIR/tfc-L/train.json
    /work/tfc-venv/bin/python benchmarks/compare_tfc_side.py code  --ckpt PREFIX --images heldout.npz \
        --out DIR/tfc-L/coded.npz

`init` builds benchmarks/tfc_model.py's ScaleHyperprior and saves it (the starting weights of both
frameworks). `train` restores them and runs `train_step` (Adam, lr 1e-4, Keras defaults otherwise)
on the crops in file order, batches of `--batch` cycling through the pool; it writes the per-step
loss, bpp and MSE and the wall-clock steps/s after the first `--skip` steps (tracing). `code`
compresses each held-out image (edge-padded to a multiple of 64 by the caller's rule, here) with
TFC's range coders and decompresses it; it saves the decoded uint8 images and the byte counts of
the y and z strings (TFC has no container: no shape information is counted).
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # noqa: E402

import compare_tfc_loop  # noqa: E402
import tfc_model  # noqa: E402

STRIDE = 64


def _model(args, lmbda=0.01):
    return tfc_model.ScaleHyperprior(
        lmbda=lmbda, num_filters=args.num_filters, latent_channels=args.latent_channels,
        hyper_filters=args.hyper_filters, hyper_channels=args.hyper_channels,
        kernel_parameter=args.kernel_parameter, gdn=args.gdn)


def init(args):
    tf.keras.utils.set_random_seed(args.seed)
    model = _model(args)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    prefix = tfc_model.save(model, args.out)
    print(json.dumps({"prefix": prefix}))


def train(args):
    tf.keras.utils.set_random_seed(args.seed)
    model = _model(args, args.lmbda)
    if args.init:
        tfc_model.restore(model, args.init)
    model.compile(optimizer=tf.keras.optimizers.Adam(args.lr))
    step_number = tf.Variable(0, dtype=tf.int32, trainable=False)
    if args.keyed_noise:
        # The training noise from stateless keys (seed, step * 16 + draw), as compare_tfc.py's tfcodec
        # worker draws it: both frameworks then add the very same noise. TFC draws it in
        # math_ops.perturb_and_apply with tf.random.uniform, z's first, then y's.
        draws = []

        def keyed_uniform(shape, minval=0, maxval=None, dtype=tf.float32, seed=None, name=None):
            draws.append(None)
            key = tf.stack([tf.constant(args.seed, tf.int32), step_number * 16 + len(draws)])
            return tf.random.stateless_uniform(shape, key, minval, maxval, dtype=dtype)

        tf.random.uniform = keyed_uniform

    def train_step(x):
        if args.keyed_noise:
            draws.clear()
        return model.train_step(x)

    step = tf.function(train_step)
    losses, bpps, mses, steps_per_s, wall_s = compare_tfc_loop.train(step, step_number, args, "tfc")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    prefix = tfc_model.save(model, args.out)
    info = {"framework": "tfc", "lmbda": args.lmbda, "steps": args.steps, "batch": args.batch, "lr": args.lr,
            "kernel_parameter": args.kernel_parameter, "gdn": args.gdn, "skip": args.skip,
            "steps_per_s": steps_per_s,
            "wall_s": wall_s, "loss": losses, "bpp": bpps, "mse": mses, "prefix": prefix,
            "tensorflow": tf.__version__,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}
    with open(args.log, "w") as f:
        json.dump(info, f)


def code(args):
    model = _model(args)
    tfc_model.restore(model, args.ckpt)
    model.build_coders()
    images = np.load(args.images)
    names = sorted(images.files)
    out = {}
    sizes = {}
    for name in names:
        rgb = images[name]
        h, w = rgb.shape[:2]
        padded = np.pad(rgb, ((0, -h % STRIDE), (0, -w % STRIDE), (0, 0)), mode="edge")
        x = tf.constant(padded[None].astype(np.float32) / np.float32(255.0))
        y_strings, z_strings = model.compress(x)
        y_bytes, z_bytes = len(y_strings.numpy()[0]), len(z_strings.numpy()[0])
        x_hat = model.decompress([y_strings, z_strings], padded.shape[:2]).numpy()[0, :h, :w]
        out[name] = np.clip(np.floor(x_hat * 255.0 + 0.5), 0, 255).astype(np.uint8)
        sizes[name] = {"y_bytes": y_bytes, "z_bytes": z_bytes}
    np.savez(args.out, **out)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(sizes, f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {"init": init, "train": train, "code": code}
    for name in commands:
        p = sub.add_parser(name)
        p.add_argument("--num-filters", type=int, default=64)
        p.add_argument("--latent-channels", type=int, default=96)
        p.add_argument("--hyper-filters", type=int, default=64)
        p.add_argument("--hyper-channels", type=int, default=64)
        p.add_argument("--kernel-parameter", choices=("rdft", "variable"), default="variable")
        p.add_argument("--gdn", choices=tfc_model.GDN_FORMS, default="classic")
        p.add_argument("--out", required=True)
        if name == "init":
            p.add_argument("--seed", type=int, default=0)
        if name == "train":
            p.add_argument("--init")
            p.add_argument("--crops", required=True)
            p.add_argument("--lmbda", type=float, required=True)
            p.add_argument("--steps", type=int, required=True)
            p.add_argument("--batch", type=int, default=8)
            p.add_argument("--lr", type=float, default=1e-4)
            p.add_argument("--skip", type=int, default=20)
            p.add_argument("--every", type=int, default=100)
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--keyed-noise", action="store_true", help="noise from stateless keys (step, draw)")
            p.add_argument("--log", required=True)
        if name == "code":
            p.add_argument("--ckpt", required=True)
            p.add_argument("--images", required=True)
    args = parser.parse_args(argv)
    commands[args.command](args)


if __name__ == "__main__":
    main()
