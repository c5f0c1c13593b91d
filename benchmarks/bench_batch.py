"""Batch mode against one command per file: images/s of `tfcodec compress|decompress`.

    python benchmarks/bench_batch.py [--data FOLDER] [--limit N] [--model default] [--quality 0.5]
    python benchmarks/bench_batch.py --edge EXPORT_DIR      # the same with `tfcodec edge`

The baseline is what a user would script without batch mode: one process per
image (`tfcodec compress IN OUT`, model loaded each time). Batch mode is one
process for all (`tfcodec compress IN... --out-dir D`). Both run here, in the
same run, on the same files, with wall-clock time around whole processes;
the script checks that both wrote the same streams. Defaults to the Kodak
folder beside the repo when it exists (measurement only; nothing is tuned on it).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KODAK = os.path.join(ROOT, "..", "shared", "data", "kodak")


def _run(args):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tfcodec", *args, "--quiet"], check=True,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=KODAK, help="folder of images (default: Kodak beside the repo)")
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--model", default="default")
    parser.add_argument("--quality", default="0.5")
    parser.add_argument("--edge", help="an export folder: time `tfcodec edge` instead")
    args = parser.parse_args(argv)
    images = sorted(os.path.join(args.data, f) for f in os.listdir(args.data)
                    if f.lower().endswith((".png", ".jpg", ".jpeg")))[:args.limit]
    command, options = (["edge", "compress"], ["--models", args.edge]) if args.edge else \
        (["compress"], ["--model", args.model])
    decode, decode_options = (["edge", "decompress"], ["--models", args.edge]) if args.edge else (["decompress"], [])
    with tempfile.TemporaryDirectory() as scratch:
        single, batch = os.path.join(scratch, "single"), os.path.join(scratch, "batch")
        os.makedirs(single)
        rows = []
        one_each = sum(_run([*command, path, os.path.join(single, os.path.basename(path)[:-4] + ".tfc"),
                             *options, "--quality", args.quality]) for path in images)
        together = _run([*command, *images, "--out-dir", batch, *options, "--quality", args.quality])
        for name in os.listdir(single):
            with open(os.path.join(single, name), "rb") as a, open(os.path.join(batch, name), "rb") as b:
                if a.read() != b.read():
                    raise SystemExit(f"{name}: batch mode wrote other bytes than the single command")
        rows.append(("compress", one_each, together))
        streams = sorted(os.path.join(batch, f) for f in os.listdir(batch))
        one_each = sum(_run([*decode, path, os.path.join(single, os.path.basename(path)[:-4] + ".png"),
                             *decode_options]) for path in streams)
        together = _run([*decode, *streams, "--out-dir", os.path.join(scratch, "pixels"), *decode_options])
        rows.append(("decompress", one_each, together))
    print(f"{len(images)} images from {args.data}, {'tfcodec edge ' + args.edge if args.edge else args.model}, "
          f"quality {args.quality}, {os.cpu_count()} CPUs")
    print(f"{'':<11}{'one process each':>18}{'batch mode':>14}{'speed-up':>10}")
    for what, one_each, together in rows:
        print(f"{what:<11}{len(images) / one_each:>12.2f} img/s{len(images) / together:>8.2f} img/s"
              f"{one_each / together:>9.1f}x")


if __name__ == "__main__":
    main()
