"""Export a trained recurrent model to a weights bundle, and measure it on real files.

    python tools/export_recurrent.py export rnn-gru-small /work/runs/rnn-gru-small \
        [--out tfcodec/weights/rnn-gru-small.npz] [--data /work/shared/data/train]
    python tools/export_recurrent.py measure tfcodec/weights/rnn-gru-small.npz \
        --images /work/shared/data/kodak [--out results.json]

`export_bundle` (what `tfcodec export-weights` can call for the recurrent
family) restores the latest checkpoint, fits the bit-probability net again on
the *deterministic* (sign) bits of random training crops — training saw the
stochastic binarizer's bits — quantises it to an `IntegerNet` on calibration
crops, fits the per-bin tables, and writes `tfcodec/weights/<name>.npz`. Only
training images are used; the test set (Kodak) is never seen.

`measure` compresses every image at every iteration count with real files
(bpp from the file's bytes), with and without entropy coding of the bits,
decodes them and reports PSNR and MS-SSIM (dB), plus JPEG (Pillow,
libjpeg-turbo) MS-SSIM interpolated at the same bpp.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _latest_checkpoint(checkpoint_dir):
    import tensorflow as tf

    for folder in (checkpoint_dir, os.path.join(checkpoint_dir, "checkpoints")):
        latest = tf.train.latest_checkpoint(folder)
        if latest:
            return latest
    raise SystemExit(f"no checkpoint under {checkpoint_dir}")


def _training_crops(folder, count, crop, seed):
    """`count` random crops (float, [0, 1]) of training images, with the training pipeline's downscale."""

    from tfcodec.train.data import training_dataset

    dataset = training_dataset(folder, patch=crop, batch=count, seed=seed)
    return next(iter(dataset)).numpy()


def fit_prob_net(model, crops, steps=1500, batch=16, learning_rate=1e-3, seed=0, log=print):
    """Trains only `model.prob_net` with cross-entropy on the sign bits of `crops`."""
    import keras
    import tensorflow as tf

    from tfcodec.codecs.recurrent import collect_bits

    bits = []
    for i in range(0, len(crops), 16):
        bits.append(collect_bits(model, crops[i:i + 16]))
    all_bits = [np.concatenate([b[t] for b in bits]) for t in range(model.config.iterations)]
    held = max(1, len(crops) // 8)
    train_bits = [b[held:].astype(np.float32) for b in all_bits]
    test_bits = [tf.constant(b[:held], tf.float32) for b in all_bits]
    variables = model.prob_net.trainable_variables
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(variables)

    @tf.function
    def train_step(batch_bits):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.reduce_sum(model.bit_cross_entropy(batch_bits), 0))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def held_out_ratio():
        ce = float(tf.reduce_sum(model.bit_cross_entropy(test_bits)))
        return ce / float(sum(np.prod(b.shape) for b in test_bits))

    before = held_out_ratio()
    rng = np.random.default_rng(seed)
    n = len(train_bits[0])
    for step in range(steps):
        pick = rng.integers(0, n, batch)
        loss = train_step([tf.constant(b[pick]) for b in train_bits])
        if (step + 1) % 250 == 0:
            log(f"  prob net step {step + 1}: train {float(loss):.1f} bits/crop, "
                f"held-out {held_out_ratio():.4f} bits/bit")
    after = held_out_ratio()
    return before, after


def export_bundle(model_name, checkpoint_dir, out_path=None, calibration_folder="/work/shared/data/train",
                  prob_steps=1500, crops=256, crop=128, calibration_crops=24, seed=0, log=print):
    """Latest checkpoint -> weights bundle; returns the bundle's path."""
    import tensorflow as tf

    from tfcodec.codecs.recurrent import build_coding_arrays
    from tfcodec.models import build_model, model_family
    from tfcodec.weights import PACKAGE_WEIGHTS, assign_keras_weights, keras_weights_of, save_bundle

    if model_family(model_name) != "recurrent":
        raise SystemExit(f"{model_name} is not a recurrent model")
    model = build_model(model_name)
    step = tf.Variable(0, dtype=tf.int64)
    latest = _latest_checkpoint(checkpoint_dir)
    tf.train.Checkpoint(model=model, step=step).restore(latest).expect_partial()
    log(f"restored {latest} (step {int(step)})")

    if prob_steps:
        data = _training_crops(calibration_folder, crops, crop, seed + 101)
        before, after = fit_prob_net(model, data, prob_steps, seed=seed, log=log)
        log(f"prob net on deterministic bits (held-out training crops): {before:.4f} -> {after:.4f} "
            f"bits per coded bit")
    # The shipped (possibly rounded) weights are the model: derive the coding arrays from them.
    assign_keras_weights(model, keras_weights_of(model))
    calibration = _training_crops(calibration_folder, calibration_crops, 256, seed + 202)
    arrays = build_coding_arrays(model, calibration)
    out_path = out_path or os.path.join(PACKAGE_WEIGHTS, f"{model_name}.npz")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    meta = {"model": model_name, "family": "recurrent", "config": json.loads(model.config.to_json()),
            "step": int(step), "checkpoint": os.path.abspath(latest),
            "trained_on": os.path.abspath(calibration_folder)}
    save_bundle(out_path, meta, keras_weights_of(model), arrays)
    log(f"wrote {out_path}")
    return out_path


# ----------------------------------------------------------------------------- measurement


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
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="checkpoint -> weights bundle")
    e.add_argument("model")
    e.add_argument("checkpoint_dir", help="the training workdir (or its checkpoints/ folder)")
    e.add_argument("--out", help="bundle path (default: tfcodec/weights/<model>.npz)")
    e.add_argument("--data", default="/work/shared/data/train", help="training images (never the test set)")
    e.add_argument("--prob-steps", type=int, default=1500, help="steps of prob-net fitting on sign bits (0: skip)")
    e.add_argument("--crops", type=int, default=256)
    m = sub.add_parser("measure", help="real files on a folder of images, every iteration count")
    m.add_argument("bundle")
    m.add_argument("--images", default="/work/shared/data/kodak")
    m.add_argument("--limit", type=int)
    m.add_argument("--out", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.command == "export":
        export_bundle(args.model, args.checkpoint_dir, args.out, args.data, args.prob_steps, args.crops)
    else:
        measure(args.bundle, args.images, args.limit, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
