"""Measure a recurrent bundle on real files at every iteration count, against JPEG.

    python tools/measure_recurrent.py tfcodec/weights/rnn-gru-small.npz \
        --images /work/shared/data/kodak [--out results.json]

Compresses every image at every iteration count with real files (bpp from the
file's bytes), with and without entropy coding of the bits, decodes them and
reports PSNR and MS-SSIM (dB), plus JPEG (Pillow, libjpeg-turbo) MS-SSIM
interpolated at the same bpp. The figures in docs/recurrent.md come from it.
(Bundles are made by `tfcodec export-weights`, for this family as for the other.)
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def _jpeg_curve(rgb):
    from tfcodec.evaluate import metrics
    from tfcodec.evaluate.classical import get_classical

    jpeg = get_classical("jpeg")
    points = []
    for q in range(5, 96, 5):
        data = jpeg.compress(rgb, q)
        out = jpeg.decompress(data)
        points.append((len(data) * 8 / (rgb.shape[0] * rgb.shape[1]), metrics.msssim_db(metrics.msssim(rgb, out)),
                       metrics.psnr(rgb, out)))
    return sorted(points)


def measure(bundle_path, images_folder, limit=None, out=None, log=print):
    from tfcodec.api import load_codec
    from tfcodec.codecs.recurrent import truncate
    from tfcodec.evaluate import metrics
    from tfcodec.fileio import read_image
    from tfcodec.train.data import list_images

    codec = load_codec(bundle_path)
    files = list_images(images_folder)[:limit]
    K = codec.config.iterations
    rows = {mode: [[] for _ in range(K)] for mode in ("coded", "raw")}
    jpeg_at = [[] for _ in range(K)]
    start = time.time()
    for path in files:
        rgb = read_image(path)
        pixels = rgb.shape[0] * rgb.shape[1]
        jpeg = _jpeg_curve(rgb)
        jb = np.array([p[0] for p in jpeg])
        for mode in ("coded", "raw"):
            t0 = time.time()
            full = codec.compress(rgb, K, entropy_coding=mode == "coded")
            t1 = time.time()
            # One decoder pass gives every prefix's image (tested equal to decoding
            # each truncated file); the first image checks that here too.
            decoded = codec.decompress_progressive(full)
            for k in range(1, K + 1):
                data = truncate(full, k)
                out_img = decoded[k - 1]
                if path == files[0] and k in (1, K):
                    assert np.array_equal(codec.decompress(data), out_img)
                bpp = len(data) * 8 / pixels
                ms = metrics.msssim_db(metrics.msssim(rgb, out_img))
                rows[mode][k - 1].append({"bpp": bpp, "psnr": metrics.psnr(rgb, out_img), "msssim_db": ms})
                if mode == "coded":
                    jpeg_at[k - 1].append({
                        "msssim_db": float(np.interp(bpp, jb, [p[1] for p in jpeg])),
                        "psnr": float(np.interp(bpp, jb, [p[2] for p in jpeg])),
                        "extrapolated": bool(bpp < jb[0] or bpp > jb[-1])})
            log(f"{os.path.basename(path)} {mode}: encode {t1 - t0:.1f} s, decode {time.time() - t1:.1f} s, "
                f"K={K}: {rows[mode][K - 1][-1]['bpp']:.3f} bpp {rows[mode][K - 1][-1]['psnr']:.2f} dB")
    table = []
    for k in range(K):
        entry = {"iterations": k + 1}
        for mode in ("coded", "raw"):
            for key in ("bpp", "psnr", "msssim_db"):
                entry[f"{mode}_{key}"] = float(np.mean([r[key] for r in rows[mode][k]]))
        entry["jpeg_msssim_db_at_coded_bpp"] = float(np.mean([r["msssim_db"] for r in jpeg_at[k]]))
        entry["jpeg_psnr_at_coded_bpp"] = float(np.mean([r["psnr"] for r in jpeg_at[k]]))
        entry["jpeg_extrapolated_images"] = int(sum(r["extrapolated"] for r in jpeg_at[k]))
        entry["entropy_coding_saving"] = 1 - entry["coded_bpp"] / entry["raw_bpp"]
        table.append(entry)
    result = {"bundle": os.path.abspath(bundle_path), "model": codec.name, "identity": codec.identity,
              "images": len(files), "folder": os.path.abspath(images_folder), "seconds": time.time() - start,
              "table": table}
    log("K   raw bpp  coded bpp  saving  PSNR    MS-SSIM dB  JPEG MS-SSIM dB @ same bpp  JPEG PSNR")
    for e in table:
        log(f"{e['iterations']:<3} {e['raw_bpp']:.4f}   {e['coded_bpp']:.4f}     {100 * e['entropy_coding_saving']:4.1f}%  "
            f"{e['coded_psnr']:.2f}   {e['coded_msssim_db']:.2f}       {e['jpeg_msssim_db_at_coded_bpp']:.2f}"
            f"                       {e['jpeg_psnr_at_coded_bpp']:.2f}")
    if out:
        with open(out, "w") as f:
            json.dump(result, f, indent=2)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--images", default="/work/shared/data/kodak")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out", help="write the results as JSON")
    args = parser.parse_args(argv)
    measure(args.bundle, args.images, args.limit, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
