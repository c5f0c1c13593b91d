"""Export a trained recurrent model to a weights bundle, and measure it on real files.

    python tools/export_recurrent.py export rnn-gru-small /work/runs/rnn-gru-small \
        [--out tfcodec/weights/rnn-gru-small.npz] [--data /work/shared/data/train]
    python tools/export_recurrent.py measure tfcodec/weights/rnn-gru-small.npz \
        --images /work/shared/data/kodak [--out results.json]

`export_bundle` restores the latest checkpoint, refusing one that lacks any
model variable (`tfcodec.train.export_weights.restore_model`), rounds the
weights to the shipped precision, fits the bit-probability net again on the
*deterministic* (sign) bits of training crops — training saw the stochastic
binarizer's bits — with early stopping on validation crops, and ships the
re-fitted net only if it codes held-out crops in fewer bits than the
checkpoint's, both measured as shipped (quantised to an `IntegerNet`, per-bin
tables fitted on calibration crops). Only training images are used, each crop
from a different one; the test set (Kodak) is never seen.

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


def _training_crops(folder, count, crop, seed, start_example=0):
    """`count` random crops (float, [0, 1]) of training images from the training pipeline's
    order for `seed` (with its downscale), starting at example `start_example`."""
    from tfcodec.train.data import training_dataset

    dataset = training_dataset(folder, patch=crop, batch=count, seed=seed, start_example=start_example)
    return next(iter(dataset)).numpy()


def _sign_bits(model, crops, batch=16):
    """Every iteration's deterministic bits of `crops`, int8 (they are many)."""
    from tfcodec.codecs.recurrent import collect_bits

    parts = [collect_bits(model, crops[i:i + batch]) for i in range(0, len(crops), batch)]
    return [np.concatenate([p[t] for p in parts]).astype(np.int8) for t in range(model.config.iterations)]


def _split(all_bits, start, stop):
    return [b[start:stop] for b in all_bits]


def bits_per_bit(model, all_bits, batch=64):
    """The float prob net's cross-entropy on `all_bits`, in bits per coded bit."""
    import tensorflow as tf

    total = 0.0
    for i in range(0, len(all_bits[0]), batch):
        part = [tf.constant(b[i:i + batch], tf.float32) for b in all_bits]
        total += float(tf.reduce_sum(model.bit_cross_entropy(part)))
    return total / sum(b.size for b in all_bits)


def fit_prob_net(model, fit_bits, validation_bits, steps=1500, batch=16, learning_rate=1e-3,
                 check_every=50, patience=6, seed=0, log=print):
    """Trains only `model.prob_net` with cross-entropy on sign bits and leaves it at the
    weights that did best on `validation_bits`, the starting ones included.

    The net has some 190k weights and a few hundred crops are cheap to collect: it
    overfits within a few hundred steps (ckpt-3208, 224 crops, this learning rate:
    held-out 0.925 -> 0.891 bits per bit at step 100, then back up to 0.975 at step
    1500). Early stopping on crops it does not train on keeps the gain.
    Returns (validation bits per bit at the start, the best one, its step).
    """
    import keras
    import tensorflow as tf

    variables = model.prob_net.trainable_variables
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(variables)

    @tf.function
    def train_step(batch_bits):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.reduce_sum(model.bit_cross_entropy(batch_bits), 0))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    start = best = bits_per_bit(model, validation_bits)
    best_step, best_weights = 0, model.prob_net.get_weights()
    rng = np.random.default_rng(seed)
    n = len(fit_bits[0])
    for step in range(1, steps + 1):
        pick = rng.integers(0, n, batch)
        loss = train_step([tf.constant(b[pick], tf.float32) for b in fit_bits])
        if step % check_every and step != steps:
            continue
        current = bits_per_bit(model, validation_bits)
        log(f"  prob net step {step}: train {float(loss):.1f} bits/crop, validation {current:.4f} bits/bit")
        if current < best:
            best, best_step, best_weights = current, step, model.prob_net.get_weights()
        elif step - best_step >= patience * check_every:
            break
    model.prob_net.set_weights(best_weights)
    return start, best, best_step


def keep_better_prob_net(model, candidates, calibration_bits, held_out_bits, log=print):
    """Leaves `model.prob_net` at the candidate weights that code `held_out_bits` in the
    fewest bits as shipped (integer net and bit tables calibrated on `calibration_bits`);
    returns (its name, its coding arrays, {name: bits per coded bit}).

    Candidates come in order of preference: a later one must be strictly better, so a
    re-fit never replaces the checkpoint's net unless it codes unseen crops better.
    """
    from tfcodec.codecs.recurrent import code_length, coding_arrays_from_bits

    coded = sum(b.size for b in held_out_bits)
    best, costs = None, {}
    for name, weights in candidates.items():
        model.prob_net.set_weights(weights)
        arrays = coding_arrays_from_bits(model, calibration_bits)
        costs[name] = code_length(arrays, held_out_bits, model.config.iterations) / coded
        log(f"  prob net {name}: held-out {costs[name]:.4f} bits per coded bit as shipped "
            f"(float net {bits_per_bit(model, held_out_bits):.4f})")
        if best is None or costs[name] < costs[best[0]]:
            best = (name, arrays)
    model.prob_net.set_weights(candidates[best[0]])
    log(f"kept the {best[0]} prob net")
    return best[0], best[1], costs


def export_bundle(model_name, checkpoint_dir, out_path=None, data_folder="/work/shared/data/train",
                  prob_steps=1500, crops=768, crop=128, calibration_crops=24, calibration_crop=256,
                  learning_rate=1e-3, seed=0, log=print):
    """Latest checkpoint -> weights bundle; returns the bundle's path.

    Every crop is of a different training image (one stretch of the training pipeline's
    order): calibration, then the crops the prob net is judged on (held out), validated
    on, and fitted on, so no choice is made on the data that shaped it.
    """
    import tensorflow as tf

    from tfcodec.models import build_model, model_family
    from tfcodec.train.data import list_images
    from tfcodec.train.export_weights import restore_model
    from tfcodec.train.loop import step_meta
    from tfcodec.weights import PACKAGE_WEIGHTS, assign_keras_weights, keras_weights_of, save_bundle

    if model_family(model_name) != "recurrent":
        raise SystemExit(f"{model_name} is not a recurrent model")
    folder = os.path.abspath(data_folder.removeprefix("files:"))
    needed = calibration_crops + (crops if prob_steps else 0)
    available = len(list_images(folder))
    if available < needed:
        raise SystemExit(f"{data_folder} has {available} images; the export needs {needed} different ones")
    model = build_model(model_name)
    latest = _latest_checkpoint(checkpoint_dir)
    restore_model(model, latest)
    step = int(tf.train.load_checkpoint(latest).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
    log(f"restored all {len(model.weights)} variables of {latest} (step {step})")
    # Round to the shipped precision first: the bits everything below is fitted and
    # calibrated on must be those the shipped encoder makes.
    assign_keras_weights(model, keras_weights_of(model))
    calibration_bits = _sign_bits(model, _training_crops(data_folder, calibration_crops, calibration_crop, seed))
    prob_net = {"kept": "checkpoint"}
    if prob_steps:
        pool = _sign_bits(model, _training_crops(data_folder, crops, crop, seed, start_example=calibration_crops))
        held = max(1, crops // 8)
        held_out, validation, fit = _split(pool, 0, held), _split(pool, held, 2 * held), _split(pool, 2 * held, None)
        candidates = {"checkpoint": model.prob_net.get_weights()}
        start, best, best_step = fit_prob_net(model, fit, validation, prob_steps, learning_rate=learning_rate,
                                              seed=seed, log=log)
        log(f"prob net on sign bits: validation {start:.4f} -> {best:.4f} bits per coded bit (step {best_step})")
        if best_step:
            assign_keras_weights(model, keras_weights_of(model))
            candidates["re-fitted"] = model.prob_net.get_weights()
        kept, arrays, costs = keep_better_prob_net(model, candidates, calibration_bits, held_out, log)
        prob_net = {"kept": kept, "held_out_bits_per_coded_bit": costs, "fit_steps": best_step}
    else:
        from tfcodec.codecs.recurrent import coding_arrays_from_bits

        arrays = coding_arrays_from_bits(model, calibration_bits)
    out_path = out_path or os.path.join(PACKAGE_WEIGHTS, f"{model_name}.npz")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    workdir = os.path.dirname(os.path.dirname(os.path.abspath(latest)))
    meta = {"model": model_name, "family": "recurrent", "config": json.loads(model.config.to_json()),
            **step_meta(workdir, step), "checkpoint": os.path.abspath(latest), "trained_on": folder,
            "prob_net": prob_net}
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
    e.add_argument("--prob-steps", type=int, default=1500,
                   help="most steps of prob-net fitting on sign bits (0: keep the checkpoint's net)")
    e.add_argument("--crops", type=int, default=768,
                   help="training crops for the prob net (1/8 held out, 1/8 validation)")
    e.add_argument("--learning-rate", type=float, default=1e-3)
    m = sub.add_parser("measure", help="real files on a folder of images, every iteration count")
    m.add_argument("bundle")
    m.add_argument("--images", default="/work/shared/data/kodak")
    m.add_argument("--limit", type=int)
    m.add_argument("--out", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.command == "export":
        export_bundle(args.model, args.checkpoint_dir, args.out, args.data, args.prob_steps, args.crops,
                      learning_rate=args.learning_rate)
    else:
        measure(args.bundle, args.images, args.limit, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
