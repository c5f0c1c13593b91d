"""Input pipeline vs training step: is the data fast enough to keep the step busy?

Measures, in one run and on the same machine:

* the input pipeline (`tfcodec.train.data.training_dataset`: read, decode,
  random downscale, crop, flip, batch) in batches/s, for the given --data
  (default: synthetic photos written to a temp folder, prepared through the
  tfds folder builder like any `--data FOLDER`);
* the training step (`tfcodec.train.loop.make_train_call`, default strategy,
  forward + backward + Adam) in steps/s on a fixed batch, for each shipped
  small model config (or --models), at `--steps-per-execution` steps per
  compiled call (and, with N > 1, at one step per call too: the ratio is what
  the host's per-call round trip costs on this machine);

and prints their ratio: the pipeline must deliver more batches per second than
the step consumes. Each is measured alone; in training they share the CPU
cores (tf.data's threads and the step's), so keep a margin.

    python benchmarks/bench_pipeline.py [--data FOLDER|tfds:NAME] [--batch 8] [--patch 128]
        [--steps-per-execution N]
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def synthetic_photos(folder, count=48, size=(512, 768), seed=0):
    """Smooth colour fields with texture and noise, saved as JPEG like camera photos."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(count):
        phase = rng.uniform(0, 6.28, 3)
        base = np.stack([127 + 100 * np.sin(xx / (17 + 5 * i % 7) + phase[0]),
                         127 + 100 * np.sin(yy / (23 + 3 * i % 5) + phase[1]),
                         127 + 100 * np.sin((xx + yy) / 31 + phase[2])], -1)
        rgb = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(os.path.join(folder, f"photo{i:03d}.jpg"), quality=92)
    return folder


def bench_pipeline(data, batch, patch, batches, data_dir):
    from tfcodec.train.data import training_dataset

    iterator = iter(training_dataset(data, patch, batch, seed=0, data_dir=data_dir))
    for _ in range(5):  # warm-up: threads, autotuning, first files
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches / (time.perf_counter() - start)


def bench_step(model_name, batch, patch, steps, jit, per_call=1):
    """Training steps/s on one fixed batch, `per_call` steps in each compiled call."""
    import tensorflow as tf

    from tfcodec.models import build_model
    from tfcodec.train.loop import TrainConfig, make_optimizer, make_train_call

    config = TrainConfig(model=model_name, data="", workdir="", batch=batch, patch=patch, jit_compile=jit,
                         strategy="default")
    strategy = tf.distribute.get_strategy()
    model = build_model(model_name)
    optimizer = make_optimizer(config)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64)
    train_call = make_train_call(config, strategy, model, optimizer, step)
    images = tf.random.stateless_uniform((batch, patch, patch, 3), (1, 2))
    iterator = iter(tf.data.Dataset.from_tensors((images, tf.range(batch, dtype=tf.int64))).repeat())
    stop, count = tf.constant(0.0), tf.constant(per_call)
    for _ in range(2):  # trace (and compile)
        train_call(iterator, count, stop)["loss"].numpy()
    calls = max(1, steps // per_call)
    start = time.perf_counter()
    for _ in range(calls):
        losses = train_call(iterator, count, stop)["loss"].numpy()  # fetched once a call, as in training
    assert losses.shape == (per_call,)
    return calls * per_call / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder or tfds:NAME[:SPLIT] (default: synthetic photos)")
    parser.add_argument("--data-dir", help="tfds data dir (default: a temp folder for synthetic data)")
    parser.add_argument("--models", help="comma-separated model names (default: every *-small config)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--batches", type=int, default=60, help="pipeline batches to time")
    parser.add_argument("--steps", type=int, default=10, help="training steps to time per model")
    parser.add_argument("--jit-compile", action="store_true", help="time the XLA-compiled step")
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="steps per compiled call (with N > 1, one step per call is timed too)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from tfcodec.models import model_names

    tmp = tempfile.TemporaryDirectory(prefix="bench_pipeline_")
    data = args.data or synthetic_photos(tmp.name)
    data_dir = args.data_dir or (os.path.join(tmp.name, "tfds") if not args.data else None)
    models = args.models.split(",") if args.models else [n for n in model_names() if n.endswith("-small")]

    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs (load average "
          f"{os.getloadavg()[0]:.1f}), devices: {[d.device_type for d in tf.config.list_logical_devices()]}")
    print(f"data {args.data or 'synthetic 48 JPEG photos 768x512'}, batch {args.batch}, patch {args.patch}")
    pipeline = bench_pipeline(data, args.batch, args.patch, args.batches, data_dir)
    print(f"pipeline: {pipeline:8.2f} batches/s ({pipeline * args.batch:.1f} images/s)")
    per_call = args.steps_per_execution
    print(f"{'model':24s} {'steps/s':>9s} {'pipeline/step':>14s}"
          + (f" {'steps/s, 1 a call':>18s} {f'{per_call} a call / 1':>14s}" if per_call > 1 else ""))
    worst = None
    for name in models:
        rate = bench_step(name, args.batch, args.patch, args.steps, args.jit_compile, per_call)
        ratio = pipeline / rate
        worst = ratio if worst is None else min(worst, ratio)
        line = f"{name:24s} {rate:9.2f} {ratio:13.1f}x"
        if per_call > 1:
            single = bench_step(name, args.batch, args.patch, args.steps, args.jit_compile, 1)
            line += f" {single:18.2f} {rate / single:13.2f}x"
        print(line, flush=True)
    verdict = "faster" if worst is not None and worst > 1 else "NOT faster"
    print(f"the pipeline is {verdict} than the slowest-consuming step (min ratio {worst:.1f}x)")
    tmp.cleanup()
    return 0 if worst is None or worst > 1 else 1


if __name__ == "__main__":
    sys.exit(main())
