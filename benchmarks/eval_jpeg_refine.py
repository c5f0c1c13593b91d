"""The JPEG refiner on Kodak: gains over libjpeg's decode per quality and per step count,
BD-rates against JPEG and WebP, decoder seconds, and the int8 export's loss against float.

    python benchmarks/eval_jpeg_refine.py [--model jpeg-refine] [--data FOLDER] [--limit N]
        [--int8 DIR] [--out benchmarks/results/jpeg_refine.md]

Every JPEG is the `jpeg` evaluation codec's file (libjpeg-turbo through Pillow,
4:2:0, optimised Huffman) at each quality of its sweep; the rate is that file's
size, headers included, for both the plain decode and the refined one. One run
of K steps gives the estimates of 1..K steps (step k of a K-step run is a
k-step run), so every K is measured on the same files. PSNR on RGB 0-255 per
image then averaged; MS-SSIM in dB (`tfcodec.evaluate.metrics`, the metrics of
`tfcodec eval`). BD-rates over the overlapping range (PCHIP,
`tfcodec.evaluate.bdrate`). WebP is swept the same way for its BD-rate.

Seconds: the refiner alone (the TF backend, in process, after a warm-up), per
image and step count, on this machine; and the int8 LiteRT export's (`--int8`,
made by `tfcodec export --model jpeg-refine --int8 --calibration TRAIN`).

Defaults to the Kodak folder beside the repository: measurement only; the model
and its default step count were chosen on training photos.
"""

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
KODAK = os.path.join(HERE, "..", "..", "shared", "data", "kodak")


def measure(original, decoded):
    from tfcodec.evaluate import metrics

    return metrics.psnr(original, decoded), metrics.msssim_db(metrics.msssim(original, decoded))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="jpeg-refine", help="refiner: shipped name or weights .npz")
    parser.add_argument("--data", default=KODAK)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--int8", default=None, help="an int8 export folder of the same weights")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "jpeg_refine.md"))
    args = parser.parse_args(argv)

    from tfcodec.api import load_refiner
    from tfcodec.codecs.jpeg_refine import decode_jpeg
    from tfcodec.evaluate import bdrate
    from tfcodec.evaluate.classical import get_classical
    from tfcodec.evaluate.plots import plot_curves
    from tfcodec.evaluate.runner import load_images
    from tfcodec.images import to_uint8

    images = load_images(args.data, args.limit)
    refiner = load_refiner(args.model, "tf")
    model = refiner.backend.model
    steps = model.config.iterations
    jpeg, webp = get_classical("jpeg"), get_classical("webp")
    qualities = jpeg.rate_settings
    int8 = load_refiner(args.int8) if args.int8 else None

    import tensorflow as tf

    from tfcodec.images import pad_image
    from tfcodec.jpegfile import conditioning
    from tfcodec.models.config import JPEG_REFINE_STRIDE

    @tf.function(autograph=False)
    def all_steps(jpeg_pixels, cond):
        return model.run({"jpeg": jpeg_pixels, "conditioning": cond, "phase": tf.zeros((1, 2), tf.int32)})

    # rows[q] = {"bpp": [...], "jpeg": [(psnr, msssim_db)], k: [...], "int8": [...]}
    rows = {q: {"bpp": [], "jpeg": [], "int8": [], **{k: [] for k in range(1, steps + 1)}} for q in qualities}
    seconds = {k: [] for k in range(1, steps + 1)}
    int8_seconds = {k: [] for k in range(1, steps + 1)}
    total = len(images) * len(qualities)
    done = 0
    for image in images:
        h, w = image.rgb.shape[:2]
        for q in qualities:
            data = jpeg.compress(image.rgb, q)
            pixels, header = decode_jpeg(data, image.name)
            row = rows[q]
            row["bpp"].append(len(data) * 8 / (h * w))
            row["jpeg"].append(measure(image.rgb, pixels))
            padded = pad_image(pixels, JPEG_REFINE_STRIDE).astype(np.float32)[None] / 255.0
            cond = conditioning(header)[None]
            estimates = all_steps(padded, cond)
            for k, estimate in enumerate(estimates, 1):
                row[k].append(measure(image.rgb, to_uint8(estimate.numpy()[0], h, w)))
            if int8 is not None:
                row["int8"].append(measure(image.rgb, int8.refine(pixels, header)))
            done += 1
            print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    # Seconds per image: the refiner (decode excluded), each K, 8 images at q = 30, after a warm-up.
    sample = images[:8]
    for k in range(1, steps + 1):
        for backend, times in ((refiner, seconds), (int8, int8_seconds)):
            if backend is None:
                continue
            for i, image in enumerate(sample):
                pixels, header = decode_jpeg(jpeg.compress(image.rgb, 30), image.name)
                if i == 0:
                    backend.refine(pixels, header, k)
                start = time.perf_counter()
                backend.refine(pixels, header, k)
                times[k].append(time.perf_counter() - start)

    webp_points = []
    for q in webp.rate_settings:
        bpp, psnr, ms = [], [], []
        for image in images:
            data = webp.compress(image.rgb, q)
            h, w = image.rgb.shape[:2]
            bpp.append(len(data) * 8 / (h * w))
            p, m = measure(image.rgb, webp.decompress(data))
            psnr.append(p)
            ms.append(m)
        webp_points.append((np.mean(bpp), np.mean(psnr), np.mean(ms)))

    def curve(key, metric):
        return ([np.mean(rows[q]["bpp"]) for q in qualities],
                [np.mean([v[metric] for v in rows[q][key]]) for q in qualities])

    best = refiner.best_iterations
    lines = [f"# JPEG refiner on {len(images)} images of {os.path.basename(os.path.abspath(args.data))}",
             "", f"Model `{refiner.name}` (weights {refiner.identity}), default {best} steps. "
             f"`python benchmarks/eval_jpeg_refine.py{' --int8 ' + args.int8 if args.int8 else ''}`.", "",
             "## Gain over libjpeg's decode, per quality (dB; PSNR RGB, MS-SSIM in dB)", "",
             "| quality | bpp | JPEG PSNR | " + " | ".join(f"K={k} PSNR gain" for k in range(1, steps + 1))
             + " | JPEG MS-SSIM dB | " + " | ".join(f"K={k} MS-SSIM gain" for k in range(1, steps + 1))
             + (" | int8 K=%d PSNR gain |" % best if int8 else " |"),
             "|" + "---|" * (3 + 2 * steps + 1 + (1 if int8 else 0))]
    for q in qualities:
        row = rows[q]
        base_p, base_m = np.mean([v[0] for v in row["jpeg"]]), np.mean([v[1] for v in row["jpeg"]])
        cells = [f"{q}", f"{np.mean(row['bpp']):.3f}", f"{base_p:.2f}"]
        cells += [f"{np.mean([v[0] for v in row[k]]) - base_p:+.2f}" for k in range(1, steps + 1)]
        cells += [f"{base_m:.2f}"]
        cells += [f"{np.mean([v[1] for v in row[k]]) - base_m:+.2f}" for k in range(1, steps + 1)]
        if int8:
            cells.append(f"{np.mean([v[0] for v in row['int8']]) - base_p:+.2f}")
        lines.append("| " + " | ".join(cells) + " |")

    lines += ["", "## BD-rate (negative: fewer bits for the same quality)", "",
              "| decoder | vs JPEG, PSNR | vs JPEG, MS-SSIM | vs WebP, PSNR | vs WebP, MS-SSIM |",
              "|---|---|---|---|---|"]
    webp_rate = [p[0] for p in webp_points]
    keys = list(range(1, steps + 1)) + (["int8"] if int8 else [])
    for key in ["jpeg"] + keys:
        cells = []
        for anchor in ("jpeg", "webp"):
            for metric in (0, 1):
                rate, quality = curve(key, metric)
                if anchor == "jpeg":
                    anchor_rate, anchor_quality = curve("jpeg", metric)
                else:
                    anchor_rate, anchor_quality = webp_rate, [p[1 + metric] for p in webp_points]
                value = bdrate.bd_rate(anchor_rate, anchor_quality, rate, quality)
                cells.append("n/a" if value is None else f"{value:+.1f} %")
        label = {"jpeg": "libjpeg (plain)", "int8": f"refined, int8 LiteRT, K={best}"}.get(key, f"refined, K={key}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    lines += ["", "## Seconds per image (the refiner alone; 8 images at quality 30, 2 cores)", "",
              "| K | TF (float32) | " + ("int8 LiteRT |" if int8 else ""),
              "|---|---|" + ("---|" if int8 else "")]
    for k in range(1, steps + 1):
        lines.append(f"| {k} | {np.median(seconds[k]):.2f} | "
                     + (f"{np.median(int8_seconds[k]):.2f} |" if int8 else ""))
    curves = {"JPEG (libjpeg decode)": "jpeg", f"JPEG + refiner, K={best}": best}
    curves = {label: {"kind": "measured", "bpp": curve(key, 0)[0], "psnr": curve(key, 0)[1],
                      "msssim_db": curve(key, 1)[1]} for label, key in curves.items()}
    curves["WebP"] = {"kind": "measured", "bpp": webp_rate, "psnr": [p[1] for p in webp_points],
                      "msssim_db": [p[2] for p in webp_points]}
    plot = os.path.splitext(args.out)[0] + "_psnr.png"
    folder = os.path.basename(os.path.abspath(args.data))
    plot_curves(curves, "psnr", plot, title=f"JPEG refiner, {len(images)} images of {folder}", max_bpp=2.0)
    lines += ["", f"![PSNR against bpp]({os.path.basename(plot)})"]
    text = "\n".join(lines) + "\n"
    from tfcodec.fileio import write_atomic

    write_atomic(args.out, text.encode())
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
