"""tfcodec against tensorflow-compression (TFC) 2.14.1, step for step: the same model, data and optimiser.

    PYTHONPATH=. python benchmarks/compare_tfc.py --steps 2000 --lr 3e-4 --keyed-noise \
        --lambdas 0.0035 0.013 0.0483 --work /tmp/ctfc

Ballé 2018's scale hyperprior (N=64, M=96, hyper 64/64) is built twice: with TFC's public layers
(benchmarks/tfc_model.py, run in the TFC venv --tfc-python by benchmarks/compare_tfc_side.py; tfcodec
never imports TFC) and as tfcodec's bmshj2018 in TFC's layout. Both start from the same weights: TFC's
model is built and saved first, and tfcodec's is that checkpoint imported
(`tfcodec.importers.tfc.model_from_checkpoint`, which computes TFC's model exactly). Parity settings:
TFC `kernel_parameter="variable"`, `gdn="classic"`; tfcodec trains with `rd_loss(..., proxy="noise")`
(uniform noise on y and z for both rate and decoder, as TFC) with its gains frozen (TFC has none); in
TFC's layout its rate is TFC's, in log space without a floor (HyperpriorConfig.log_space_rate).
--keyed-noise draws both frameworks' training noise from the same stateless keys, so that the two
trainings compute the same thing step for step (without it, the noise draws alone move a short
run's BD-rate by tens of percent: --repeat-seed measures that).

Each (framework, lambda) trains in its own process, one after another, on the same pool of 128x128
crops (fixed seed, a uint8 .npy in --work) in the same order, batches of 8, Adam(--lr, 3e-4: three times
TFC's script, so that a CPU run gets past the first phase), tfcodec's scale layer stepped in TFC's index
units (worker_train). Held-out photos:
the last 16 of bsds500 by name (never trained on), coded at full size (edge-padded to a multiple of 64,
cropped back). Then --speed-rounds short trainings at the middle lambda, the frameworks taking turns,
time steps/s with the machine's drift falling on both. Writes benchmarks/results/compare_tfc.{md,json}
and compare_tfc_loss.png (--results). The driver resumes: what --work already holds is not redone.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "..", "shared", "data", "train")
RESULTS = os.path.join(HERE, "results")
HELD_OUT = 16
SIZES = dict(num_filters=64, latent_channels=96, hyper_filters=64, hyper_channels=64)


def _photos(folder):
    return sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg", ".png")))


def split_photos():
    """(training photo paths, held-out photo paths): held out = the last 16 of bsds500 by name."""
    bsds = os.path.join(DATA, "bsds500")
    names = _photos(bsds)
    held = [os.path.join(bsds, n) for n in names[-HELD_OUT:]]
    train = [os.path.join(bsds, n) for n in names[:-HELD_OUT]]
    inet = os.path.join(DATA, "imagenet-sample-715")
    train += [os.path.join(inet, n) for n in _photos(inet)]
    if any("kodak" in p.lower() for p in train + held):
        raise SystemExit("kodak is never used here")
    return train, held


def make_crops(paths, out, per_photo, size, seed):
    from tfcodec.fileio import read_image

    rng = np.random.default_rng(seed)
    crops = []
    for path in paths:
        rgb = read_image(path)
        h, w = rgb.shape[:2]
        if h < size or w < size:
            continue
        for _ in range(per_photo):
            top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
            crops.append(rgb[top:top + size, left:left + size])
    crops = np.stack(crops)[rng.permutation(len(crops))]
    np.save(out, crops)
    return crops.shape


def _run(cmd, log):
    print("$", " ".join(cmd), flush=True)
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            f.write(line)
            if line.startswith("[") or "Error" in line or "error" in line:
                print(line, end="", flush=True)
        if proc.wait():
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}; see {log}")


# --- tfcodec side (a worker process per training / coding run) --------------------------------------

def worker_train(args):
    import math

    import compare_tfc_loop
    import tensorflow as tf
    import keras

    from tfcodec.importers.tfc import model_from_checkpoint

    keras.utils.set_random_seed(args.seed)
    _, model = model_from_checkpoint(args.init, lmbda=args.lmbda, gdn=args.gdn)
    model.gains.trainable = False
    optimizer = keras.optimizers.Adam(args.lr)
    variables = model.trainable_variables
    # The importer folds TFC's scale-index output layer into log-scales: log s = log 0.11 + step * index,
    # step = ln(256 / 0.11) / 63, so the layer's kernel and bias are TFC's times `step`. Adam moves each
    # parameter by about lr whatever its scale, so in log-scale units the folded layer would move
    # 1 / step = 8.1 times as fast as TFC's. An Adam of lr * step and epsilon / step for those two
    # variables takes exactly TFC's steps: their gradients are TFC's divided by `step`, and Adam's
    # update lr * m / (sqrt(v) + epsilon) is invariant to that only if epsilon scales with them. (Many
    # of this layer's gradients are near 1e-7 early on, so the epsilon matters: with Keras' 1e-7 the
    # kernel's first update was 39 % off TFC's.) --scale-units log trains them at lr, as a tfcodec
    # model of its own does.
    index_vars = []
    if args.scale_units == "index":
        last = model.hyper_synthesis.layers[-1]
        index_vars = [last.kernel, last.bias]
        step_size = (math.log(256.0) - math.log(0.11)) / 63
        index_optimizer = keras.optimizers.Adam(args.lr * step_size, epsilon=optimizer.epsilon / step_size)
    ids = {id(v) for v in index_vars}
    others = [v for v in variables if id(v) not in ids]

    from tfcodec.ops import uniform_provider

    step_number = tf.Variable(0, dtype=tf.int32, trainable=False)
    draws = []

    def keyed_uniform(shape, minval, maxval, dtype):
        # As compare_tfc_side.py's --keyed-noise: key (seed, step * 16 + draw), z's draw first.
        if not args.keyed_noise:
            return None
        draws.append(None)
        key = tf.stack([tf.constant(args.seed, tf.int32), step_number * 16 + len(draws)])
        return tf.random.stateless_uniform(shape, key, minval, maxval, dtype=dtype)

    @tf.function
    def step(x):
        draws.clear()
        quality = tf.ones((tf.shape(x)[0],), tf.float32)
        with tf.GradientTape() as tape, uniform_provider(keyed_uniform):
            loss, parts = model.rd_loss(x, quality, training=True, proxy="noise")
            loss = tf.reduce_mean(loss)
        grads = tape.gradient(loss, others + index_vars)
        optimizer.apply_gradients(zip(grads[:len(others)], others))
        if index_vars:
            index_optimizer.apply_gradients(zip(grads[len(others):], index_vars))
        return {"loss": loss, "bpp": tf.reduce_mean(parts["bpp"]), "mse": tf.reduce_mean(parts["mse"])}

    losses, bpps, mses, steps_per_s, wall_s = compare_tfc_loop.train(step, step_number, args, "tfcodec")
    names = sorted(v.path for v in variables)
    np.savez(args.out, **{v.path: v.numpy() for v in model.weights})
    info = {"framework": "tfcodec", "lmbda": args.lmbda, "steps": args.steps, "batch": args.batch, "lr": args.lr,
            "proxy": "noise", "skip": args.skip,
            "scale_units": args.scale_units, "gdn": args.gdn, "keyed_noise": args.keyed_noise,
            "steps_per_s": steps_per_s,
            "wall_s": wall_s, "loss": losses, "bpp": bpps, "mse": mses, "weights": args.out,
            "trainable": names, "trainable_parameters": int(sum(np.prod(v.shape) for v in variables)),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}
    with open(args.log, "w") as f:
        json.dump(info, f)


def worker_code(args):
    from tfcodec import api, container
    from tfcodec.importers.bundle import save_imported
    from tfcodec.importers.tfc import model_from_checkpoint, quantization_offsets

    if args.tfc_checkpoint:
        # Cross-coding: TFC's trained model imported and coded by tfcodec, which separates what
        # the coders do from what the trainings did.
        name, model = model_from_checkpoint(args.tfc_checkpoint, lmbda=args.lmbda, gdn=args.gdn)
    else:
        name, model = model_from_checkpoint(args.init, lmbda=args.lmbda, gdn=args.gdn)
        with np.load(args.weights) as saved:
            for v in model.weights:
                v.assign(saved[v.path])
    model.z_offset.assign(quantization_offsets(model.hyper_prior, SIZES["hyper_channels"]).astype(np.float32))
    save_imported(model, name, args.bundle, {"from": "compare_tfc", "lmbda": args.lmbda})
    codec = api.load_codec(args.bundle)
    images = np.load(args.images)
    decoded, sizes = {}, {}
    for key in sorted(images.files):
        rgb = images[key]
        data = codec.compress(rgb)
        _, strings = container.unpack(data)
        decoded[key] = codec.decompress(data)
        sizes[key] = {"file_bytes": len(data), "payload_bytes": sum(len(s) for s in strings),
                      "strings": [len(s) for s in strings]}
    np.savez(args.out, **decoded)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(sizes, f)


def worker(argv):
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=("train", "code"))
    p.add_argument("--init", required=True)
    p.add_argument("--lmbda", type=float, required=True)
    p.add_argument("--crops")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--skip", type=int, default=20)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log")
    p.add_argument("--out", required=True)
    p.add_argument("--weights")
    p.add_argument("--tfc-checkpoint", help="code TFC's trained checkpoint instead of --weights")
    p.add_argument("--bundle")
    p.add_argument("--images")
    p.add_argument("--scale-units", choices=("index", "log"), default="index")
    p.add_argument("--gdn", choices=("classic", "simplified"), default="classic")
    p.add_argument("--keyed-noise", action="store_true")
    args = p.parse_args(argv)
    (worker_train if args.command == "train" else worker_code)(args)


# --- the comparison -----------------------------------------------------------------------------------

def _evaluate(images, decoded_npz, sizes, payload_key):
    from tfcodec.evaluate.metrics import psnr

    decoded = np.load(decoded_npz)
    rows = []
    for key in sorted(images.files):
        rgb = images[key]
        pixels = rgb.shape[0] * rgb.shape[1]
        s = sizes[key]
        payload = payload_key(s)
        rows.append({"image": key, "psnr": psnr(rgb, decoded[key]), "payload_bytes": payload,
                     "file_bytes": s.get("file_bytes", payload), "bpp": 8.0 * payload / pixels,
                     "file_bpp": 8.0 * s.get("file_bytes", payload) / pixels})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "bpp", "file_bpp", "payload_bytes", "file_bytes")}
    return {"mean": mean, "images": rows}


def _load(path):
    with open(path) as f:
        return json.load(f)


def machine():
    info = {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info["loadavg"] = os.getloadavg()
    return info


def run(args):
    os.makedirs(args.work, exist_ok=True)
    log = os.path.join(args.work, "subprocesses.log")
    started = time.time()
    train, held = split_photos()
    crops_path = os.path.join(args.work, "crops.npy")
    if not os.path.exists(crops_path):
        print("crops:", make_crops(train, crops_path, args.crops_per_photo, args.crop, args.seed), flush=True)
    held_path = os.path.join(args.work, "heldout.npz")
    if not os.path.exists(held_path):
        from tfcodec.fileio import read_image
        np.savez(held_path, **{os.path.basename(p): read_image(p) for p in held})
    side = [args.tfc_python, os.path.join(HERE, "compare_tfc_side.py")]
    kp = ["--kernel-parameter", args.kernel_parameter, "--gdn", args.gdn]
    init_prefix = os.path.join(args.work, "init", "ckpt")
    if not os.path.exists(init_prefix + "-1.index"):
        _run(side + ["init", "--out", init_prefix, "--seed", str(args.seed)] + kp, log)
    init = init_prefix + "-1"
    me = [sys.executable, os.path.abspath(__file__), "worker"]
    common = ["--crops", crops_path, "--steps", str(args.steps), "--batch", str(args.batch), "--lr", str(args.lr),
              "--skip", str(args.skip)]
    keyed = ["--keyed-noise"] if args.keyed_noise else []
    common += keyed
    ours = ["--gdn", args.gdn, "--scale-units", args.scale_units]
    loads = []
    for lmbda in args.lambdas:
        tag = f"{lmbda:g}"
        tdir, cdir = os.path.join(args.work, f"tfc-{tag}"), os.path.join(args.work, f"tfcodec-{tag}")
        os.makedirs(tdir, exist_ok=True)
        os.makedirs(cdir, exist_ok=True)
        frameworks = [("tfc", tdir), ("tfcodec", cdir)]
        if args.tfcodec_first:
            frameworks.reverse()
        for fw, d in frameworks:
            if os.path.exists(os.path.join(d, "train.json")):
                continue
            loads.append(("before", fw, tag, os.getloadavg()[0]))
            if fw == "tfc":
                _run(side + ["train", "--init", init, "--lmbda", str(lmbda), "--out", os.path.join(d, "ckpt"),
                             "--log", os.path.join(d, "train.json")] + common + kp, log)
            else:
                _run(me + ["train", "--init", init, "--lmbda", str(lmbda), "--out",
                           os.path.join(d, "weights.npz"), "--log", os.path.join(d, "train.json")] + common + ours,
                     log)
        if not os.path.exists(os.path.join(tdir, "coded.json")):
            _run(side + ["code", "--ckpt", _load(os.path.join(tdir, "train.json"))["prefix"],
                         "--images", held_path, "--out", os.path.join(tdir, "coded.npz")] + kp, log)
        if not os.path.exists(os.path.join(cdir, "coded.json")):
            _run(me + ["code", "--init", init, "--lmbda", str(lmbda), "--weights", os.path.join(cdir, "weights.npz"),
                       "--bundle", os.path.join(cdir, "bundle.npz"), "--images", held_path,
                       "--out", os.path.join(cdir, "coded.npz"), "--gdn", args.gdn], log)
        if args.repeat_seed is not None:
            # TFC again, from the same weights on the same batches, with other noise draws: how far
            # two runs of one framework land apart, the yardstick for tfcodec's distance from TFC.
            rdir = os.path.join(args.work, f"tfc-repeat-{tag}")
            os.makedirs(rdir, exist_ok=True)
            if not os.path.exists(os.path.join(rdir, "train.json")):
                _run(side + ["train", "--init", init, "--lmbda", str(lmbda), "--out", os.path.join(rdir, "ckpt"),
                             "--log", os.path.join(rdir, "train.json"), "--seed", str(args.repeat_seed)]
                     + common + kp, log)
            if not os.path.exists(os.path.join(rdir, "coded.json")):
                _run(side + ["code", "--ckpt", _load(os.path.join(rdir, "train.json"))["prefix"],
                             "--images", held_path, "--out", os.path.join(rdir, "coded.npz")] + kp, log)
        if not os.path.exists(os.path.join(tdir, "tfcodec-coded.json")):
            _run(me + ["code", "--init", init, "--lmbda", str(lmbda), "--tfc-checkpoint",
                       _load(os.path.join(tdir, "train.json"))["prefix"], "--bundle",
                       os.path.join(tdir, "tfcodec-bundle.npz"), "--images", held_path,
                       "--out", os.path.join(tdir, "tfcodec-coded.npz"), "--gdn", args.gdn], log)
    if args.speed_rounds:
        # Steps/s, alternating: the long trainings above run one after another for an hour, and
        # this machine's speed drifts by 10-15 % over that time (other tenants), which lands on
        # whichever framework happens to run then. Short trainings at the middle lambda, the
        # frameworks taking turns (order swapped every round), put the drift on both alike.
        # Without --keyed-noise: that is the comparison's instrument, not how either trains, and
        # it costs the two sides differently (docs/training.md).
        lmbda = args.lambdas[len(args.lambdas) // 2]
        short = ["--crops", crops_path, "--steps", str(args.speed_steps), "--batch", str(args.batch),
                 "--lr", str(args.lr), "--skip", str(args.skip)]
        for r in range(args.speed_rounds):
            order = ("tfc", "tfcodec") if r % 2 == 0 else ("tfcodec", "tfc")
            for fw in order:
                d = os.path.join(args.work, f"speed-{fw}-{r}")
                os.makedirs(d, exist_ok=True)
                if os.path.exists(os.path.join(d, "train.json")):
                    continue
                if fw == "tfc":
                    _run(side + ["train", "--init", init, "--lmbda", str(lmbda), "--out", os.path.join(d, "ckpt"),
                                 "--log", os.path.join(d, "train.json")] + short + kp, log)
                else:
                    _run(me + ["train", "--init", init, "--lmbda", str(lmbda), "--out", os.path.join(d, "weights.npz"),
                               "--log", os.path.join(d, "train.json")] + short + ours, log)
    report(args, loads, time.time() - started)


def _speed_rounds(args):
    """Steps/s of each framework in the alternating rounds (`--speed-rounds`), or None."""
    out = {"tfc": [], "tfcodec": []}
    for r in range(args.speed_rounds):
        for fw in out:
            path = os.path.join(args.work, f"speed-{fw}-{r}", "train.json")
            if os.path.exists(path):
                out[fw].append(_load(path)["steps_per_s"])
    if not all(len(v) == args.speed_rounds for v in out.values()) or not args.speed_rounds:
        return None
    return out


def report(args, loads=(), seconds=None):
    from tfcodec.evaluate.bdrate import bd_rate

    images = np.load(os.path.join(args.work, "heldout.npz"))
    rows = []
    for lmbda in args.lambdas:
        tag = f"{lmbda:g}"
        row = {"lmbda": lmbda}
        for fw in ("tfc", "tfcodec"):
            d = os.path.join(args.work, f"{fw}-{tag}")
            if not os.path.exists(os.path.join(d, "coded.json")):
                continue
            t = _load(os.path.join(d, "train.json"))
            sizes = _load(os.path.join(d, "coded.json"))
            key = (lambda s: s["y_bytes"] + s["z_bytes"]) if fw == "tfc" else (lambda s: s["payload_bytes"])
            row[fw] = {"eval": _evaluate(images, os.path.join(d, "coded.npz"), sizes, key),
                       "steps_per_s": t["steps_per_s"], "wall_s": t["wall_s"], "steps": t["steps"],
                       "loss": t["loss"], "final_loss": float(np.mean(t["loss"][-100:])),
                       "final_bpp": float(np.mean(t["bpp"][-100:])), "final_mse": float(np.mean(t["mse"][-100:]))}
            repeat = os.path.join(args.work, f"tfc-repeat-{tag}")
            if fw == "tfc" and os.path.exists(os.path.join(repeat, "coded.json")):
                row["tfc"]["repeat"] = _evaluate(images, os.path.join(repeat, "coded.npz"),
                                                 _load(os.path.join(repeat, "coded.json")),
                                                 lambda s: s["y_bytes"] + s["z_bytes"])
                repeat_train = _load(os.path.join(repeat, "train.json"))
                row["tfc"]["repeat_steps_per_s"] = repeat_train["steps_per_s"]
                row["tfc_repeat"] = {"loss": repeat_train["loss"]}
            cross = os.path.join(d, "tfcodec-coded.json")
            if fw == "tfc" and os.path.exists(cross):
                row["tfc"]["coded_by_tfcodec"] = _evaluate(images, os.path.join(d, "tfcodec-coded.npz"), _load(cross),
                                                           lambda s: s["payload_bytes"])
        rows.append(row)
    done = [r for r in rows if "tfc" in r and "tfcodec" in r]
    bd = None
    if len(done) >= 3:
        bd = bd_rate([r["tfc"]["eval"]["mean"]["bpp"] for r in done], [r["tfc"]["eval"]["mean"]["psnr"] for r in done],
                     [r["tfcodec"]["eval"]["mean"]["bpp"] for r in done],
                     [r["tfcodec"]["eval"]["mean"]["psnr"] for r in done])
        bd_file = bd_rate([r["tfc"]["eval"]["mean"]["file_bpp"] for r in done],
                          [r["tfc"]["eval"]["mean"]["psnr"] for r in done],
                          [r["tfcodec"]["eval"]["mean"]["file_bpp"] for r in done],
                          [r["tfcodec"]["eval"]["mean"]["psnr"] for r in done])
    else:
        bd_file = None
    # Coders apart from trainings: TFC's trained weights coded by tfcodec, against TFC's own coding
    # (same weights: the payload ratio) and against tfcodec's training (same coder: a BD-rate).
    crossed = [r for r in done if "coded_by_tfcodec" in r["tfc"]]
    coder_percent = training_bd = None
    if crossed:
        coder_percent = [100 * (r["tfc"]["coded_by_tfcodec"]["mean"]["payload_bytes"]
                                / r["tfc"]["eval"]["mean"]["payload_bytes"] - 1) for r in crossed]
    if len(crossed) >= 3:
        training_bd = bd_rate([r["tfc"]["coded_by_tfcodec"]["mean"]["bpp"] for r in crossed],
                              [r["tfc"]["coded_by_tfcodec"]["mean"]["psnr"] for r in crossed],
                              [r["tfcodec"]["eval"]["mean"]["bpp"] for r in crossed],
                              [r["tfcodec"]["eval"]["mean"]["psnr"] for r in crossed])
    repeated = [r for r in done if "repeat" in r["tfc"]]
    repeat_bd = None
    if len(repeated) >= 3:
        repeat_bd = bd_rate([r["tfc"]["eval"]["mean"]["bpp"] for r in repeated],
                            [r["tfc"]["eval"]["mean"]["psnr"] for r in repeated],
                            [r["tfc"]["repeat"]["mean"]["bpp"] for r in repeated],
                            [r["tfc"]["repeat"]["mean"]["psnr"] for r in repeated])
    speed = {fw: float(np.mean([r[fw]["steps_per_s"] for r in done])) for fw in ("tfc", "tfcodec")} if done else {}
    rounds = _speed_rounds(args)
    if rounds:
        # The criterion takes the alternating rounds' medians (see run()).
        speed_criterion = {fw: float(np.median(v)) for fw, v in rounds.items()}
    else:
        speed_criterion = speed
    partial = len(done) < len(args.lambdas) or len(done) < 3
    summary = {"partial": partial, "bd_rate_payload_percent": bd, "bd_rate_file_percent": bd_file,
               "tfcodec_coder_on_tfc_weights_percent": coder_percent, "bd_rate_training_only_percent": training_bd,
               "bd_rate_tfc_repeat_percent": repeat_bd,
               "steps_per_s_mean": speed, "steps_per_s_rounds": rounds, "steps_per_s_criterion": speed_criterion,
               "settings": vars(args), "machine": machine(), "loads": list(loads),
               "seconds": seconds,
               "criteria": {"bd_rate_within_2_percent": None if bd is None else abs(bd) <= 2.0,
                            "tfcodec_steps_per_s_at_least_tfc":
                                (speed_criterion["tfcodec"] >= speed_criterion["tfc"]) if speed_criterion else None},
               "lambdas": [{k: ({kk: vv for kk, vv in v.items() if kk != "loss"} if isinstance(v, dict) else v)
                            for k, v in r.items()} for r in rows]}
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "compare_tfc.json"), "w") as f:
        json.dump(summary, f, indent=1)
    _plot(rows, os.path.join(args.results, "compare_tfc_loss.png"))
    _markdown(summary, rows, os.path.join(args.results, "compare_tfc.md"), args)
    print(json.dumps({k: summary[k] for k in ("partial", "bd_rate_payload_percent", "bd_rate_file_percent",
                                                "tfcodec_coder_on_tfc_weights_percent",
                                                "bd_rate_training_only_percent", "bd_rate_tfc_repeat_percent",
                                                "steps_per_s_mean", "steps_per_s_criterion", "criteria")},
                     indent=1))


def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, r in enumerate(rows):
        for fw, style in (("tfc", "-"), ("tfcodec", "--"), ("tfc_repeat", ":")):
            if fw not in r:
                continue
            loss = np.asarray(r[fw]["loss"])
            k = 20
            smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
            ax.plot(np.arange(k, len(loss) + 1), smooth, style, color=colours[i % len(colours)],
                    label=f"{fw} lambda={r['lmbda']:g}")
    ax.set_yscale("log")
    ax.set_xlabel("step (batch 8, 128x128 crops)")
    ax.set_ylabel("training loss bpp + lambda*MSE (20-step mean)")
    ax.set_title("TFC 2.14.1 (solid; dotted: other noise draws) vs tfcodec (dashed)\nsame init, crops and order")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _markdown(summary, rows, path, args):
    m = summary["machine"]
    lines = ["# tfcodec vs tensorflow-compression 2.14.1, step for step", ""]
    if summary["partial"]:
        lines += ["**PARTIAL RESULTS**: not every lambda finished; no BD-rate over fewer than three.", ""]
    lines += [f"Ballé 2018 scale hyperprior, N={SIZES['num_filters']}, M={SIZES['latent_channels']}, hyper "
              f"{SIZES['hyper_filters']}/{SIZES['hyper_channels']}; {args.steps} steps per lambda, batch {args.batch} "
              f"of {args.crop}x{args.crop} crops, Adam(lr {args.lr:g}); TFC kernel_parameter="
              f"`{args.kernel_parameter}`, gdn=`{args.gdn}`; tfcodec proxy=`noise`, gains frozen, scale layer "
              f"trained in `{args.scale_units}` units. Held out: the last "
              f"{HELD_OUT} bsds500 photos by name, full size. Loss curves: `compare_tfc_loss.png`.", "",
              "| lambda | TFC bpp | TFC PSNR | TFC payload B | tfcodec bpp | tfcodec PSNR | tfcodec payload B "
              "| tfcodec file B | TFC steps/s | tfcodec steps/s | TFC final loss | tfcodec final loss |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "tfc" not in r or "tfcodec" not in r:
            lines.append(f"| {r['lmbda']:g} | (not run) |||||||||||")
            continue
        a, b = r["tfc"], r["tfcodec"]
        ea, eb = a["eval"]["mean"], b["eval"]["mean"]
        lines.append(f"| {r['lmbda']:g} | {ea['bpp']:.4f} | {ea['psnr']:.3f} | {ea['payload_bytes']:.0f} | "
                     f"{eb['bpp']:.4f} | {eb['psnr']:.3f} | {eb['payload_bytes']:.0f} | {eb['file_bytes']:.0f} | "
                     f"{a['steps_per_s']:.3f} | {b['steps_per_s']:.3f} | {a['final_loss']:.4f} | {b['final_loss']:.4f} |")
    lines += ["", "bpp, PSNR and bytes are means over the held-out photos; bpp counts the payload (TFC: its y and z "
              "strings, no shape information; tfcodec: the strings of its file, without the header). "
              "tfcodec file B is the whole .tfc file, header included. Final loss: mean of the last 100 steps.", ""]
    bd, bdf = summary["bd_rate_payload_percent"], summary["bd_rate_file_percent"]
    lines.append(f"BD-rate of tfcodec against TFC (anchor), payload: **{bd:+.2f} %**" if bd is not None
                 else "BD-rate: not available (fewer than three lambdas done)")
    if bdf is not None:
        lines.append(f"(whole tfcodec files against TFC's strings: {bdf:+.2f} %)")
    cp, tb = summary["tfcodec_coder_on_tfc_weights_percent"], summary["bd_rate_training_only_percent"]
    if cp:
        lines += ["", "Coders apart from trainings: TFC's trained models coded by tfcodec have payloads "
                  + ", ".join(f"{c:+.2f} %" for c in cp) + " against TFC's own coding (per lambda, same weights)"
                  + (f"; tfcodec's trainings against TFC's, both coded by tfcodec: BD-rate **{tb:+.2f} %**."
                     if tb is not None else ".")]
    rb = summary["bd_rate_tfc_repeat_percent"]
    if rb is not None:
        lines += ["", f"Run-to-run spread: TFC trained again with other noise draws (--repeat-seed "
                  f"{args.repeat_seed}), same weights and batches, against the first TFC run: BD-rate "
                  f"**{rb:+.2f} %**."]
    sp = summary["steps_per_s_mean"]
    if sp:
        lines += ["", f"Mean steps/s: TFC {sp['tfc']:.3f}, tfcodec {sp['tfcodec']:.3f} "
                  f"(wall clock, first {args.skip} steps excluded, one process at a time)."]
    rounds = summary.get("steps_per_s_rounds")
    if rounds:
        crit = summary["steps_per_s_criterion"]
        lines += ["", f"Steps/s in {len(rounds['tfc'])} alternating rounds of {args.speed_steps} steps at lambda "
                  f"{args.lambdas[len(args.lambdas) // 2]:g} (the frameworks taking turns, order swapped each round; "
                  f"each drawing its own noise): "
                  f"TFC {', '.join(f'{v:.3f}' for v in rounds['tfc'])}; tfcodec "
                  f"{', '.join(f'{v:.3f}' for v in rounds['tfcodec'])}. Medians: TFC {crit['tfc']:.3f}, "
                  f"tfcodec {crit['tfcodec']:.3f} (the criterion's figures)."]
    c = summary["criteria"]
    lines += ["", f"Criteria: BD-rate within +-2 %: {c['bd_rate_within_2_percent']}; tfcodec steps/s >= TFC: "
              f"{c['tfcodec_steps_per_s_at_least_tfc']}.", "",
              f"Machine: {m.get('cpu', '?')}, {m['cpus']} CPUs, {m['platform']}; load average at the end "
              f"{m['loadavg'][0]:.2f}." + (f" Run took {summary['seconds'] / 60:.1f} min." if summary["seconds"] else
                                           " (Report rewritten from --work.)"), "",
              "Command:", "", "```",
              f"PYTHONPATH=. python benchmarks/compare_tfc.py --steps {args.steps} --lr {args.lr:g} --gdn {args.gdn} "
              f"--scale-units {args.scale_units} "
              + (f"--repeat-seed {args.repeat_seed} " if args.repeat_seed is not None else "")
              + ("--keyed-noise " if getattr(args, "keyed_noise", False) else "")
              + (f"--speed-rounds {args.speed_rounds} " if getattr(args, "speed_rounds", 0) != 3 else "")
              + "--lambdas " + " ".join(f"{l:g}" for l in args.lambdas)
              + f" --work {args.work}", "```", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        return worker(argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lambdas", type=float, nargs="+", default=[0.0035, 0.013, 0.0483])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--crops-per-photo", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--skip", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gdn", choices=("classic", "simplified"), default="classic")
    p.add_argument("--scale-units", choices=("index", "log"), default="index",
                   help="units of Adam's steps for tfcodec's scale layer: TFC's (index) or its own (log)")
    p.add_argument("--kernel-parameter", choices=("variable", "rdft"), default="variable")
    p.add_argument("--repeat-seed", type=int, help="also train TFC again with this noise seed (run-to-run spread)")
    p.add_argument("--speed-rounds", type=int, default=3,
                   help="then time both in this many alternating short trainings (0: none); the speed criterion")
    p.add_argument("--speed-steps", type=int, default=220, help="steps of each speed round's training")
    p.add_argument("--keyed-noise", action="store_true",
                   help="both frameworks draw their training noise from the same stateless keys")
    p.add_argument("--tfcodec-first", action="store_true")
    p.add_argument("--tfc-python", default="/work/tfc-venv/bin/python")
    p.add_argument("--work", default="/tmp/compare_tfc")
    p.add_argument("--results", default=RESULTS)
    p.add_argument("--report-only", action="store_true", help="rewrite the report from --work")
    args = p.parse_args(argv)
    if args.report_only:
        return report(args)
    run(args)


if __name__ == "__main__":
    main()
