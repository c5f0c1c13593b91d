"""What a user waits for: `tfcodec compress` and `decompress` as whole processes, in-process decode
times, and peak memory on a 12-megapixel photo; each next to a baseline timed in the same run.

    python benchmarks/bench_cli.py [--data FOLDER] [--images 5] [--big PHOTO] [--out benchmarks/results/cli.md]

1. Process time (wall clock, fresh process, the shipped default model at its
   default quality, 768x512 photos): `tfcodec compress` and `decompress` on
   the default backend (LiteRT, no TensorFlow) and with `--backend tf`, next
   to HEIC (x265 via pillow-heif, quality 50) and AVIF (libaom via Pillow,
   quality 50, speed 6) encoding the same photo in a fresh process, each the
   median over --images photos.
2. In-process decompress of every image (after one warm-up call), LiteRT and
   Keras backends, with median and maximum; then LiteRT's mean compress and
   decompress seconds at qualities 0, 1/8, ..., 1 (the README's table).
3. Peak RSS of a fresh `tfcodec compress` and `decompress` process on a
   4000x3000 photo (--big; default: a training photo upscaled to that size),
   both backends (--no-tf-memory skips the Keras side, 1 minute and 2.5 GB).

Defaults to the Kodak folder beside the repository (measurement only).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
KODAK = os.path.join(HERE, "..", "..", "shared", "data", "kodak")
TRAIN_PHOTO = os.path.join(HERE, "..", "..", "shared", "data", "train", "imagenet-sample-715",
                           "n03843555_oil_filter.JPEG")

# Runs a command as its child and prints the child's wall seconds and peak RSS (KiB) as JSON:
# RUSAGE_CHILDREN of this fresh wrapper is that one child's.
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(json.dumps({"seconds": time.perf_counter() - start, "code": code,
                  "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""
HEIC = ("import sys; from PIL import Image; import pillow_heif; pillow_heif.register_heif_opener(); "
        "Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], format='HEIF', quality=50, chroma=420)")
AVIF = ("import sys; from PIL import Image; "
        "Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], format='AVIF', quality=50, speed=6)")


def measure(command):
    out = subprocess.run([sys.executable, "-c", MEASURE, *map(str, command)], capture_output=True, text=True,
                         check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    result = json.loads(out.stdout)
    if result["code"]:
        raise SystemExit(f"{' '.join(map(str, command))} failed with status {result['code']}")
    return result


def tfcodec(*args):
    return [sys.executable, "-m", "tfcodec", *args]


def process_times(images, scratch):
    """{what: [seconds per image]}: fresh processes, one image each."""
    times = {}
    for image in images:
        stem = os.path.join(scratch, os.path.basename(image)[:-4])
        for backend in ("litert", "tf"):
            flags = [] if backend == "litert" else ["--backend", "tf"]
            label = "tfcodec (LiteRT, default)" if backend == "litert" else "tfcodec --backend tf"
            times.setdefault(f"compress: {label}", []).append(
                measure(tfcodec("compress", image, f"{stem}.{backend}.tfc", *flags))["seconds"])
            times.setdefault(f"decompress: {label}", []).append(
                measure(tfcodec("decompress", f"{stem}.{backend}.tfc", f"{stem}.{backend}.png", *flags))["seconds"])
        times.setdefault("encode: HEIC (pillow-heif, x265)", []).append(
            measure([sys.executable, "-c", HEIC, image, f"{stem}.heic"])["seconds"])
        times.setdefault("encode: AVIF (Pillow, libaom speed 6)", []).append(
            measure([sys.executable, "-c", AVIF, image, f"{stem}.avif"])["seconds"])
    return times


def in_process_decode(paths):
    """{backend: [seconds per image]} of codec.decompress, streams made by that backend."""
    from PIL import Image

    from tfcodec.api import load_codec

    out = {}
    for backend in ("litert", "tf"):
        codec = load_codec("default", backend=backend)
        streams = [codec.compress(np.asarray(Image.open(p).convert("RGB")), 0.5) for p in paths]
        codec.decompress(streams[0])  # warm-up: interpreters and graphs built once per process
        seconds = []
        for data in streams:
            start = time.perf_counter()
            codec.decompress(data)
            seconds.append(time.perf_counter() - start)
        out[backend] = seconds
    return out


def per_quality(paths, qualities):
    """[(quality, mean compress s, mean decompress s)] on LiteRT, in-process (the README's table)."""
    from PIL import Image

    from tfcodec.api import load_codec

    codec = load_codec("default", backend="litert")
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    codec.decompress(codec.compress(images[0], 0.5))  # warm-up
    rows = []
    for q in qualities:
        encode = decode = 0.0
        for rgb in images:
            start = time.perf_counter()
            data = codec.compress(rgb, q)
            middle = time.perf_counter()
            codec.decompress(data)
            encode, decode = encode + middle - start, decode + time.perf_counter() - middle
        rows.append((q, encode / len(images), decode / len(images)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=KODAK)
    parser.add_argument("--images", type=int, default=5, help="768x512 photos for the process times")
    parser.add_argument("--big", help="a 12-megapixel photo (default: a training photo upscaled to 4000x3000)")
    parser.add_argument("--no-tf-memory", action="store_true")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "cli.md"))
    args = parser.parse_args(argv)
    from PIL import Image

    paths = sorted(os.path.join(args.data, f) for f in os.listdir(args.data) if f.lower().endswith(".png"))
    landscape = [p for p in paths if Image.open(p).size == (768, 512)][:args.images]
    lines = [f"# tfcodec from the command line ({os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')})", "",
             "`python benchmarks/bench_cli.py`; every baseline ran in the same run.", ""]
    with tempfile.TemporaryDirectory() as scratch:
        times = process_times(landscape, scratch)
        base = statistics.median(times["compress: tfcodec --backend tf"])
        lines += [f"## Whole process, one 768x512 photo (median of {len(landscape)}: "
                  f"{', '.join(os.path.basename(p) for p in landscape)})", "",
                  "| command | seconds | vs `--backend tf` compress |", "|---|---|---|"]
        for what, values in times.items():
            lines.append(f"| {what} | {statistics.median(values):.2f} | {statistics.median(values) / base:.2f}x |")

        decode = in_process_decode(paths)
        lines += ["", f"## In-process decompress, {len(paths)} images of "
                  f"{os.path.relpath(args.data, os.path.join(HERE, '..'))}, quality 0.5", "",
                  "| backend | median s | max s | median vs tf |", "|---|---|---|---|"]
        for backend, values in decode.items():
            lines.append(f"| {backend} | {statistics.median(values):.3f} | {max(values):.3f} | "
                         f"{statistics.median(values) / statistics.median(decode['tf']):.2f}x |")

        qualities = [i / 8 for i in range(9)]
        lines += ["", "## Per quality, LiteRT, in-process (mean over the same images)", "",
                  "| quality | compress s | decompress s |", "|---|---|---|"]
        for q, encode, decode in per_quality(paths, qualities):
            lines.append(f"| {q:g} | {encode:.3f} | {decode:.3f} |")

        big = args.big
        if big is None:
            big = os.path.join(scratch, "big.png")
            Image.open(TRAIN_PHOTO).convert("RGB").resize((4000, 3000), Image.LANCZOS).save(big)
        size = Image.open(big).size
        lines += ["", f"## Peak memory, one {size[0]}x{size[1]} photo ({args.big or 'a training photo upscaled'})",
                  "", "| command | peak RSS MiB | seconds |", "|---|---|---|"]
        for backend in ("litert",) + (() if args.no_tf_memory else ("tf",)):
            flags = [] if backend == "litert" else ["--backend", "tf"]
            stream = os.path.join(scratch, f"big.{backend}.tfc")
            for what, command in (("compress", tfcodec("compress", big, stream, *flags)),
                                  ("decompress", tfcodec("decompress", stream, stream + ".png", *flags))):
                r = measure(command)
                lines.append(f"| {what} --backend {backend} | {r['peak_kib'] / 1024:.0f} | {r['seconds']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
