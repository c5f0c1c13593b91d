"""The training loop both sides of benchmarks/compare_tfc.py run: the same batches in the same order,
the same logging and the same timer, whichever framework's `step` it drives. Imported by the tfcodec
worker (compare_tfc.py) and by the TFC side (compare_tfc_side.py, in the TFC venv), so it needs only
numpy and TensorFlow."""

import time

import numpy as np


def train(step, step_number, args, label):
    """Runs args.steps steps of step(x) on args.crops' batches; returns the per-step losses, bpps and
    mses, and the steps/s after the first args.skip steps and the wall time of the whole loop."""
    import tensorflow as tf

    crops = np.load(args.crops, mmap_mode="r")
    n = crops.shape[0]
    losses, bpps, mses = [], [], []
    start = None
    t0 = time.perf_counter()
    for i in range(args.steps):
        idx = (np.arange(args.batch) + i * args.batch) % n
        x = tf.constant(np.asarray(crops[idx], np.float32) / np.float32(255.0))
        step_number.assign(i)
        out = step(x)
        losses.append(float(out["loss"]))
        bpps.append(float(out["bpp"]))
        mses.append(float(out["mse"]))
        if i + 1 == args.skip:
            start = time.perf_counter()
        if (i + 1) % args.every == 0 or i + 1 == args.steps:
            rate = (i + 1 - args.skip) / (time.perf_counter() - start) if start and i + 1 > args.skip else float("nan")
            print(f"[{label} lambda={args.lmbda:g}] step {i + 1}/{args.steps} loss {np.mean(losses[-args.every:]):.4f} "
                  f"bpp {np.mean(bpps[-args.every:]):.4f} mse {np.mean(mses[-args.every:]):.2f} "
                  f"{rate:.3f} steps/s", flush=True)
    end = time.perf_counter()
    timed = args.steps - args.skip
    steps_per_s = timed / (end - start) if start and timed > 0 else None
    return losses, bpps, mses, steps_per_s, end - t0
