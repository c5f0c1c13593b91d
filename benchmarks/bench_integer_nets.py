"""The integer nets as the decoder runs them now (Winograd in C, a slice's two nets on two threads)
against the numpy path one net after the other (the decoder before).

    python benchmarks/bench_integer_nets.py [--images ../shared/data/kodak] [--quality 0.5]
        [--model default] [--repeat 5] [--out benchmarks/results/integer_nets.txt]

The workload is real: the shipped default model compresses each image (the 24 Kodak images by
default, evaluation only) at ``--quality`` and decompresses the stream, and every call that
decompression makes to an ``IntegerNet`` (the hyper-synthesis, then each slice's mean and scale
nets, exactly as ``LatentCoder.decode`` calls them) is recorded with its input.

Each round then replays all images' calls three ways: the numpy path one net after the other
(BLAS on every core: the decoder before), the compiled path likewise, and the compiled path with
each slice's mean and scale nets on two threads and OpenBLAS on one (`LatentCoder.decode` as
`tfcodec decompress` runs it); the order of the three alternates from round to round so that drift
on a shared machine falls on all alike. Times are wall-clock
(``time.perf_counter``: BLAS runs on several threads, which process CPU time would add up), the
best of ``--repeat`` rounds, per image. Every replay's outputs are checked equal, bit for bit, to
the recorded ones (which the default path computed while decoding) and across the two paths.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import glob
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tfcodec.entropy import blas_threads, integer_net  # noqa: E402
from tfcodec.entropy.integer_net import IntegerNet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK = time.perf_counter


def record(paths, quality, model):
    """Per image, the list of (net, input, output) of every integer-net call of its decompression,
    in the decoder's order: the hyper-synthesis, then each slice's mean net and scale net."""
    from tfcodec import api
    from tfcodec.fileio import read_image

    codec = api.load_codec(model)
    latents = codec.latents
    order = [latents.hyper_synthesis] + [net for pair in zip(latents.mean_nets, latents.scale_nets) for net in pair]
    real_call = IntegerNet.__call__
    workload = []
    for path in paths:
        data = codec.compress(read_image(path), quality)
        calls = []

        def recording(net, x, _calls=calls):
            out = real_call(net, x)
            _calls.append((net, np.array(x, copy=True), out))
            return out

        IntegerNet.__call__ = recording
        try:
            codec.decompress(data)
        finally:
            IntegerNet.__call__ = real_call
        # A slice's two nets run on two threads: put them back in the decoder's order.
        workload.append(sorted(calls, key=lambda call: next(i for i, n in enumerate(order) if n is call[0])))
    return workload


_POOL = concurrent.futures.ThreadPoolExecutor(1)


def replay(calls, paired):
    """Runs one image's calls as `LatentCoder.decode` schedules them: the hyper-synthesis, then per
    slice the mean net and the scale net, with `paired` on two threads, else one after the other.
    The wall time and the outputs."""
    start = CLOCK()
    outs = [calls[0][0](calls[0][1])]
    for (mean_net, mean_input, _), (scale_net, scale_input, _) in zip(calls[1::2], calls[2::2]):
        if paired:
            scale = _POOL.submit(scale_net, scale_input)
            outs += [mean_net(mean_input), scale.result()]
        else:
            outs += [mean_net(mean_input), scale_net(scale_input)]
    return CLOCK() - start, outs


# path name -> (numpy_only?, paired?): the decoder before this work, the compiled nets alone,
# and the decoder now.
PATHS = {"numpy": (True, False), "winograd": (False, False), "winograd-paired": (False, True)}


def run(path, workload):
    """Every image's calls on one path, one image after the other as a batch decodes them: the
    paired path with OpenBLAS on one thread throughout (as `tfcodec decompress` runs it), the
    others with OpenBLAS on every core (numpy's default, the decoder before). A pause first: a
    multi-threaded GEMM leaves OpenBLAS's workers spinning for a while, on the cores the next
    path would use. [(seconds, outputs)] per image."""
    numpy_only, paired = PATHS[path]
    time.sleep(0.5)
    with integer_net.numpy_only() if numpy_only else contextlib.nullcontext(), \
            blas_threads.one_thread() if paired else contextlib.nullcontext():
        return [replay(calls, paired) for calls in workload]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default=os.path.join(ROOT, "..", "shared", "data", "kodak"))
    parser.add_argument("--quality", type=float, default=0.5)
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)

    if not integer_net.available():
        sys.exit("tfcodec.entropy._intconv is not built (python setup.py build_ext --inplace)")
    paths = sorted(glob.glob(os.path.join(args.images, "*.png")))
    if not paths:
        sys.exit(f"no *.png under {args.images}")
    workload = record(paths, args.quality, args.model)
    # Warm every path (Winograd weight transforms, plans, BLAS threads) before timing.
    for path in PATHS:
        run(path, workload[:1])

    best = {path: [np.inf] * len(paths) for path in PATHS}
    for r in range(args.repeat):
        for path in list(PATHS) if r % 2 == 0 else list(reversed(PATHS)):
            for i, (calls, (seconds, outs)) in enumerate(zip(workload, run(path, workload))):
                best[path][i] = min(best[path][i], seconds)
                for (_, _, recorded), out in zip(calls, outs):
                    if not np.array_equal(recorded, out) or out.shape != recorded.shape:
                        sys.exit(f"MISMATCH in {paths[i]}: path {path} differs from the recorded decode")

    shapes = sorted({x.shape[1:3] for calls in workload for _, x, _ in calls[:1]})
    n_calls = sum(len(c) for c in workload)
    wino = 1000 * np.mean(best["winograd"])
    nump = 1000 * np.mean(best["numpy"])
    paired = 1000 * np.mean(best["winograd-paired"])
    lines = [
        f"integer nets of decompression, model {args.model!r}, quality {args.quality}, "
        f"{len(paths)} images from {os.path.relpath(args.images, ROOT)} ({n_calls} net calls, "
        f"hyper-latent grids {', '.join(f'{h}x{w}' for h, w in shapes)})",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}; "
        f"wall time (perf_counter), best of {args.repeat} alternating rounds per image",
        f"  numpy path (direct GEMM), one net after the other (the decoder before): {nump:8.2f} ms/image",
        f"  compiled path (Winograd, C), one net after the other:                 {wino:8.2f} ms/image",
        f"  compiled path, a slice's two nets on two threads (the decoder now):   {paired:8.2f} ms/image",
        f"  ratio numpy / compiled:                                               {nump / wino:8.2f}x",
        f"  ratio numpy / compiled paired (before / now):                         {nump / paired:8.2f}x",
        "  outputs: identical on every call (every path, and the recorded decode)",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(report + "\n")


if __name__ == "__main__":
    main()
