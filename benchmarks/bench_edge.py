"""Edge runtime vs the TF coder: encoder latency, model sizes, peak memory; int8 quality.

    # speed, sizes, memory (one run; exports an int8 model first unless --models is given)
    python benchmarks/bench_edge.py --weights W.npz --models EXPORT_DIR
    python benchmarks/bench_edge.py --weights W.npz --calibration TRAIN_FOLDER

    # quality: int8 encoder vs float encoder at equal bpp on Kodak (evaluation only)
    python benchmarks/bench_edge.py --quality-check --weights W.npz --models EXPORT_DIR [--limit 24]

Speed: the encoder transforms (analysis, gain, hyper-analysis) of the float TF
model and of the exported models under LiteRT (`HyperpriorCodec.analyse`, the TF
and LiteRT backends; `EdgeCodec` is the LiteRT one), then whole compress/decompress calls (which add the
same numpy entropy coding on both sides). Both run single-threaded by
default and times are process CPU seconds (best of --repeat), which stay
meaningful on a shared machine; --threads N --wall measures wall-clock.

Memory: peak RSS (VmHWM) of a fresh process running `python -m tfcodec.edge
compress` (and decompress) on a Kodak-sized image, next to `tfcodec
compress/decompress` (TF) on the same image.

Quality (--quality-check): per quality, the mean bpp and PSNR over the images of
(a) float TF encoder + float TF decoder, (b) int8 edge encoder + float TF
decoder, (c) int8 encoder + int8 decoder (the full edge path), (d) float
encoder + int8 decoder; the loss at equal bpp is the BD-PSNR of (b), (c) and
(d) against (a), and per quality the PSNR of the int8 curve interpolated (in
log bpp) at the float curve's bpp ((d) decodes the float stream, so its PSNR
difference is already at equal bpp).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
DEFAULT_KODAK = os.path.join(ROOT, "..", "shared", "data", "kodak")
QUALITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _best(fn, repeat, wall):
    clock = time.perf_counter if wall else time.process_time
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


# Runs a module as __main__ and prints the process's peak RSS from /proc (VmHWM
# belongs to the memory map made at exec, unlike ru_maxrss, which a child forked
# from this big process inherits).
_PEAK_RUNNER = r"""
import runpy, sys
module = sys.argv[1]
sys.argv = [module] + sys.argv[2:]
code = 0
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code or 0
finally:
    try:
        peak = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    except OSError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("PEAK-RSS-KIB", peak, flush=True)
sys.exit(code)
"""


def _peak_rss_mib(module_args, env=None):
    """Peak resident memory of `python -m MODULE ARGS` in a fresh process, MiB."""
    proc = subprocess.run([sys.executable, "-c", _PEAK_RUNNER] + module_args, capture_output=True, text=True,
                          env=env, cwd=ROOT, check=False)
    peak = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("PEAK-RSS-KIB")]
    if proc.returncode or not peak:
        raise RuntimeError(f"{' '.join(module_args)} failed:\n{(proc.stdout + proc.stderr)[-2000:]}")
    return int(peak[0]) / 1024.0


def _kodak_image(data, name="kodim01.png"):
    from tfcodec.fileio import read_image

    path = os.path.join(data, name)
    if os.path.exists(path):
        return path, read_image(path)
    rng = np.random.default_rng(0)
    rgb = np.clip(rng.normal(128, 40, (512, 768, 3)), 0, 255).astype(np.uint8)
    path = os.path.join(tempfile.mkdtemp(prefix="bench-edge-"), "synthetic.png")
    from tfcodec.fileio import write_image
    write_image(path, rgb)
    return path, rgb


def _export_if_needed(args):
    if args.models:
        return args.models
    if not args.calibration:
        sys.exit("give --models EXPORT_DIR, or --calibration TRAIN_FOLDER to export an int8 model first")
    from tfcodec.export.exporter import ExportOptions, export

    folder = tempfile.mkdtemp(prefix="bench-edge-export-")
    print(f"exporting int8 models to {folder} ...", flush=True)
    export(args.weights, folder, ExportOptions("int8", calibration=args.calibration), progress=None)
    return folder


def _limit_tf_threads(threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def speed(args):
    _limit_tf_threads(args.threads)
    from tfcodec.codecs.hyperprior import HyperpriorCodec
    from tfcodec.edge import EdgeCodec
    from tfcodec.weights import load_bundle

    models = _export_if_needed(args)
    image_path, rgb = _kodak_image(args.data)
    h, w = rgb.shape[:2]
    coder = HyperpriorCodec(load_bundle(args.weights))
    edge = EdgeCodec(models, num_threads=args.threads)
    quality = args.quality
    results = {"image": f"{os.path.basename(image_path)} {w}x{h}", "threads": args.threads,
               "clock": "wall" if args.wall else "process CPU", "mode": edge.manifest["mode"]}

    # Warm up (tracing, interpreter allocation), then time.
    coder.analyse(rgb, quality)
    edge.analyse(rgb, quality)
    data_tf = coder.compress(rgb, quality)
    data_edge = edge.compress(rgb, quality)
    coder.decompress(data_tf)
    edge.decompress(data_edge)
    timings = {
        "encoder transforms, float TF": lambda: coder.analyse(rgb, quality),
        f"encoder transforms, {edge.manifest['mode']} LiteRT": lambda: edge.analyse(rgb, quality),
        "compress, TF coder": lambda: coder.compress(rgb, quality),
        "compress, edge": lambda: edge.compress(rgb, quality),
        "decompress, TF coder": lambda: coder.decompress(data_tf),
        "decompress, edge": lambda: edge.decompress(data_edge),
    }
    seconds = {name: _best(fn, args.repeat, args.wall) for name, fn in timings.items()}
    results["seconds"] = seconds
    names = list(seconds)
    results["encoder_transform_ratio_tf_over_edge"] = seconds[names[0]] / seconds[names[1]]

    sizes = {}
    for entry in edge.manifest["models"].values():
        sizes[entry["file"]] = os.path.getsize(os.path.join(models, entry["file"]))
    sizes["coding.npz"] = os.path.getsize(os.path.join(models, "coding.npz"))
    results["file_bytes"] = sizes
    results["bundle_bytes"] = os.path.getsize(args.weights)

    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.tfc")
        threads = ["--threads", str(args.threads)]
        results["peak_rss_mib"] = {
            "edge compress": _peak_rss_mib(["tfcodec.edge", "compress", image_path, out, "--models", models,
                                            "--quiet"] + threads, env),
            "edge decompress": _peak_rss_mib(["tfcodec.edge", "decompress", out, os.path.join(tmp, "out.png"),
                                              "--models", models, "--quiet"] + threads, env),
            "tfcodec compress (TF)": _peak_rss_mib(["tfcodec.cli", "compress", image_path, out, "--model",
                                                    args.weights, "--quiet"], env),
            "tfcodec decompress (TF)": _peak_rss_mib(["tfcodec.cli", "decompress", out,
                                                      os.path.join(tmp, "tf.png"), "--model", args.weights,
                                                      "--quiet"], env),
        }

    print(f"\nimage {results['image']}, quality {quality}, {args.threads} thread(s), "
          f"{results['clock']} seconds (best of {args.repeat})")
    for name, s in seconds.items():
        print(f"  {name:<40} {s * 1000:8.0f} ms")
    print(f"  encoder transforms: float TF / {results['mode']} LiteRT = "
          f"{results['encoder_transform_ratio_tf_over_edge']:.2f}x")
    print("files on the device:")
    for name, n in sizes.items():
        print(f"  {name:<24} {n / 1024:8.0f} KiB")
    print(f"  {'total':<24} {sum(sizes.values()) / 1024:8.0f} KiB   (weights bundle: "
          f"{results['bundle_bytes'] / 1024:.0f} KiB)")
    print("peak memory (fresh process, VmHWM):")
    for name, mib in results["peak_rss_mib"].items():
        print(f"  {name:<24} {mib:8.0f} MiB")
    return results


def _interp_psnr(bpp_curve, psnr_curve, at_bpp):
    """PSNR of a curve at a bpp, linear in log bpp (None outside its range)."""
    order = np.argsort(bpp_curve)
    xs, ys = np.log(np.asarray(bpp_curve)[order]), np.asarray(psnr_curve)[order]
    x = np.log(at_bpp)
    if x < xs[0] or x > xs[-1]:
        return None
    return float(np.interp(x, xs, ys))


def quality_check(args):
    from tfcodec.codecs.hyperprior import HyperpriorCodec
    from tfcodec.edge import EdgeCodec
    from tfcodec.evaluate.bdrate import bd_quality
    from tfcodec.fileio import read_image
    from tfcodec.train.data import list_images
    from tfcodec.weights import load_bundle

    models = _export_if_needed(args)
    coder = HyperpriorCodec(load_bundle(args.weights))
    edge = EdgeCodec(models, num_threads=args.threads)
    files = list_images(args.data)[: args.limit]
    qualities = [float(q) for q in args.qualities.split(",")]
    curves = {k: {"bpp": [], "psnr": []} for k in ("float", "int8 enc + float dec", "int8 enc + int8 dec",
                                                   "float enc + int8 dec")}
    start = time.perf_counter()
    for q in qualities:
        sums = {k: [0.0, 0.0] for k in curves}
        for path in files:
            rgb = read_image(path)
            pixels = rgb.shape[0] * rgb.shape[1]
            data_f = coder.compress(rgb, q)
            data_i = edge.compress(rgb, q)
            rows = {"float": (data_f, coder.decompress(data_f)),
                    "int8 enc + float dec": (data_i, coder.decompress(data_i)),
                    "int8 enc + int8 dec": (data_i, edge.decompress(data_i)),
                    "float enc + int8 dec": (data_f, edge.decompress(data_f))}
            for k, (data, out) in rows.items():
                sums[k][0] += len(data) * 8 / pixels
                sums[k][1] += _psnr(rgb, out)
        for k in curves:
            curves[k]["bpp"].append(sums[k][0] / len(files))
            curves[k]["psnr"].append(sums[k][1] / len(files))
        print(f"quality {q}: done ({time.perf_counter() - start:.0f} s)", flush=True)

    ref = curves["float"]
    print(f"\n{len(files)} images from {args.data}; model {coder.name} weights {coder.identity}, "
          f"export {edge.manifest['mode']}")
    print(f"{'quality':>7} | {'float bpp':>9} {'PSNR':>6} | {'int8-enc bpp':>12} {'PSNR':>6} "
          f"{'dPSNR@bpp':>9} | {'full-int8 PSNR':>14} {'dPSNR@bpp':>9} | {'int8-dec PSNR':>13} {'dPSNR':>7}")
    for j, q in enumerate(qualities):
        enc, full = curves["int8 enc + float dec"], curves["int8 enc + int8 dec"]
        dec = curves["float enc + int8 dec"]   # the float stream: same bpp as the reference
        d_enc = _interp_psnr(enc["bpp"], enc["psnr"], ref["bpp"][j])
        d_full = _interp_psnr(full["bpp"], full["psnr"], ref["bpp"][j])
        def fmt(v, base=ref["psnr"][j]):
            return f"{v - base:+9.3f}" if v is not None else f"{'n/a':>9}"

        print(f"{q:7.3f} | {ref['bpp'][j]:9.4f} {ref['psnr'][j]:6.2f} | {enc['bpp'][j]:12.4f} "
              f"{enc['psnr'][j]:6.2f} {fmt(d_enc)} | {full['psnr'][j]:14.2f} {fmt(d_full)} | "
              f"{dec['psnr'][j]:13.2f} {dec['psnr'][j] - ref['psnr'][j]:+7.3f}")
    bd = {k: bd_quality(ref["bpp"], ref["psnr"], c["bpp"], c["psnr"]) for k, c in curves.items() if k != "float"}
    print("BD-PSNR vs float (dB, negative = loss):")
    for k, v in bd.items():
        print(f"  {k:<22} {v:+.3f}" if v is not None else f"  {k:<22} n/a (curves do not overlap)")
    target = bd["int8 enc + float dec"]
    if target is not None:
        print(f"target: int8 encoder loses <= 0.15 dB -> {'met' if target >= -0.15 else 'NOT met'} "
              f"({-target:.3f} dB)")
    return {"curves": curves, "bd_psnr": bd, "qualities": qualities, "images": len(files)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from tfcodec.api import DEFAULT_MODEL
    from tfcodec.weights import resolve

    parser.add_argument("--weights", default=resolve(DEFAULT_MODEL),
                        help=f"weights bundle (default: the shipped default model, {DEFAULT_MODEL})")
    parser.add_argument("--models", help="export folder (python -m tfcodec.export --out)")
    parser.add_argument("--calibration", help="training images, to export int8 models when --models is absent")
    parser.add_argument("--data", default=DEFAULT_KODAK, help="Kodak folder (evaluation only)")
    parser.add_argument("--quality", type=float, default=0.5, help="quality for the speed run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="TF and LiteRT threads (default 1)")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of process CPU time")
    parser.add_argument("--quality-check", action="store_true", help="int8 vs float PSNR at equal bpp on --data")
    parser.add_argument("--limit", type=int, default=24, help="images for --quality-check")
    parser.add_argument("--qualities", default=",".join(map(str, QUALITIES)))
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not os.path.exists(args.weights):
        sys.exit(f"{args.weights} does not exist: pass --weights")
    results = quality_check(args) if args.quality_check else speed(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
