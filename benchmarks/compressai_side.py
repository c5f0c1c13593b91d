"""The CompressAI half of benchmarks/compare_compressai.py: runs in the CompressAI venv only.

tfcodec never imports torch, so everything that needs torch and compressai lives
here and compare_compressai.py runs it as a subprocess with the venv's python
(/work/compressai-venv: torch CPU, compressai 1.2.8). Two subcommands:

    train  --arch A --out FILE.pth.tar --images LIST.txt [--steps 1200] [--n 64 --m 96]
           [--lmbda 0.0130] [--batch 8] [--crop 128] [--seed 0]
        Trains a small CompressAI model as CompressAI's examples/train.py does
        (Adam lr 1e-4 on the transforms, ReduceLROnPlateau on the loss, gradient
        norm clipped to 1, the aux loss on the entropy bottleneck's quantiles with
        its own Adam at lr 1e-3, loss lambda * 255^2 * MSE + bpp), on random crops
        of the photos listed in LIST.txt (one path a line: the caller leaves the
        held-out photos out), then `model.update(force=True)` and
        `torch.save(model.state_dict())`.

    code   --arch A --checkpoint FILE --images LIST.txt --png-dir DIR --out RESULT.json
        For each photo: pad to a multiple of 64 by edge replication (as tfcodec's
        images.pad_image does), `model.compress` -> the bytes of its y and z
        strings, `model.decompress` -> clamp to [0, 1], crop, floor(x * 255 + 0.5)
        as uint8, saved as DIR/<name>.png; also the eval forward's likelihood
        bits (CompressAI's own estimate of the rate) and the ideal code length of the
        symbols with CompressAI's own quantized CDFs and overflow (bypass) coding, so
        that its stream's size splits into tables and coder. Writes the results as JSON.
        FILE is a state dict (a zoo file, or what `train` writes) or a training
        checkpoint ({"state_dict": ...}); CompressAI's derived tables (CDFs) are
        rebuilt with update(force=True) when the file lacks them.

Torch runs on --threads threads (default 2; the benchmark machine is shared).
"""

import argparse
import json
import math
import os
import sys
import time
import types

import numpy as np
import torch
from PIL import Image

STRIDE = 64


def _import_compressai():
    """compressai imports torchvision only to list its transforms in a registry; where no
    working torchvision is installed (PyPI's wheels are CUDA builds that fail beside
    torch+cpu) an empty stand-in takes its place, as tools/make_compressai_vectors.py does."""
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 (ImportError, or RuntimeError from a CUDA build)
        for name in [n for n in sys.modules if n.split(".")[0] == "torchvision"]:
            del sys.modules[name]
        stub = types.ModuleType("torchvision")
        stub.transforms = types.ModuleType("torchvision.transforms")
        sys.modules.update({"torchvision": stub, "torchvision.transforms": stub.transforms})
    import compressai.models

    return compressai


compressai = _import_compressai()
ARCHS = {"bmshj2018-hyperprior": compressai.models.ScaleHyperprior,
         "mbt2018-mean": compressai.models.MeanScaleHyperprior}
DERIVED = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")


def read_list(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def load_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def pad_image(rgb, multiple=STRIDE):
    h, w = rgb.shape[:2]
    return np.pad(rgb, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="edge")


def to_tensor(rgb):
    return torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)[None].contiguous()


# -- training --------------------------------------------------------------------------


def random_crops(files, count, size, rng):
    """`count` random size x size crops (uint8), each from a random photo; a photo smaller
    than the crop is skipped."""
    crops = []
    while len(crops) < count:
        rgb = load_rgb(files[rng.integers(len(files))])
        h, w = rgb.shape[:2]
        if h < size or w < size:
            continue
        top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        crop = rgb[top:top + size, left:left + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crops.append(crop)
    return torch.from_numpy(np.stack(crops).astype(np.float32) / 255).permute(0, 3, 1, 2).contiguous()


def rd_loss(out, x, lmbda):
    """CompressAI's examples/train.py RateDistortionLoss (MSE)."""
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    bpp = sum(torch.log(lik).sum() for lik in out["likelihoods"].values()) / (-math.log(2) * pixels)
    mse = torch.nn.functional.mse_loss(out["x_hat"], x)
    return lmbda * 255**2 * mse + bpp, bpp, mse


def train(args):
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    files = read_list(args.images)
    model = ARCHS[args.arch](args.n, args.m)
    model.train()
    # examples/train.py's configure_optimizers: the quantiles apart, with their own optimizer.
    params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    aux_optimizer = torch.optim.Adam(aux_params, lr=args.aux_lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min")
    start, window = time.perf_counter(), []
    print(f"training {args.arch} N={args.n} M={args.m} lambda={args.lmbda} on {len(files)} photos: "
          f"{args.steps} steps of {args.batch} crops {args.crop}x{args.crop}, {torch.get_num_threads()} threads",
          flush=True)
    for step in range(1, args.steps + 1):
        x = random_crops(files, args.batch, args.crop, rng)
        optimizer.zero_grad()
        aux_optimizer.zero_grad()
        out = model(x)
        loss, bpp, mse = rd_loss(out, x, args.lmbda)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        aux_loss = model.aux_loss()
        aux_loss.backward()
        aux_optimizer.step()
        window.append((loss.item(), bpp.item(), mse.item(), aux_loss.item()))
        if step % args.log_every == 0 or step == args.steps:
            loss_m, bpp_m, mse_m, aux_m = np.mean(window, axis=0)
            # The example steps the scheduler once per epoch on the test loss; here once per
            # log window on the training loss (a short run never reaches its patience).
            scheduler.step(loss_m)
            elapsed = time.perf_counter() - start
            print(f"  step {step}/{args.steps}: loss {loss_m:.4f} bpp {bpp_m:.3f} "
                  f"psnr {10 * math.log10(1 / mse_m):.2f} dB aux {aux_m:.1f} "
                  f"lr {optimizer.param_groups[0]['lr']:.0e} ({elapsed:.0f} s, "
                  f"{elapsed / step:.2f} s/step)", flush=True)
            window = []
    model.update(force=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save(model.state_dict(), args.out)
    seconds = time.perf_counter() - start
    print(f"wrote {args.out} after {seconds:.0f} s", flush=True)
    if args.info:
        with open(args.info, "w") as f:
            json.dump({"arch": args.arch, "N": args.n, "M": args.m, "lmbda": args.lmbda, "steps": args.steps,
                       "batch": args.batch, "crop": args.crop, "lr": args.lr, "aux_lr": args.aux_lr,
                       "seed": args.seed, "threads": torch.get_num_threads(), "photos": len(files), "seconds": seconds,
                       "final_window": {"loss": float(loss_m), "bpp": float(bpp_m),
                                        "psnr": float(10 * math.log10(1 / mse_m)), "aux": float(aux_m)},
                       "torch": torch.__version__, "compressai": compressai.__version__}, f, indent=1)


# -- coding ----------------------------------------------------------------------------


def load_model(arch, path):
    obj = torch.load(path, map_location="cpu", weights_only=False)
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    model = ARCHS[arch](int(state["g_a.0.weight"].shape[0]), int(state["g_a.6.weight"].shape[0]))
    # Loaded strictly unless the file lacks the derived tables (then the transforms' keys are
    # checked here; the entropy bottleneck's old key spellings are CompressAI's to remap).
    fresh = model.state_dict()
    missing = [k for k in fresh if k not in state and k.endswith(DERIVED)]
    lacking = [k for k in fresh if k not in state and k.split(".")[0] in ("g_a", "g_s", "h_a", "h_s")]
    if lacking:
        raise SystemExit(f"{path} is not a CompressAI {arch} state dict: it lacks {lacking[:5]}")
    model.load_state_dict(state, strict=not missing)
    model.update(force=True)  # the same tables a zoo file holds; needed where it holds none
    return model.eval()


def table_bits(entropy_model, symbols, indexes):
    """(bits, escapes): the ideal code length of `symbols` with CompressAI's own quantized
    CDFs, as its rANS coder (cpp/rans/rans_interface.cpp) codes them: value = symbol -
    offset[index]; outside [0, max_value), max_value = cdf_length - 2, the overflow symbol
    max_value then the raw value (-2v - 1 below, 2(v - max_value) above) in 4-bit bypass
    chunks, their count first in 4-bit units (15 meaning "and more")."""
    cdf = entropy_model._quantized_cdf.numpy().astype(np.int64)
    lengths = entropy_model._cdf_length.numpy().astype(np.int64).ravel()
    offsets = entropy_model._offset.numpy().astype(np.int64).ravel()
    idx = np.asarray(indexes, np.int64).ravel()
    value = np.asarray(symbols, np.int64).ravel() - offsets[idx]
    max_value = lengths[idx] - 2
    low, high = value < 0, value >= max_value
    raw = np.where(low, -2 * value - 1, np.where(high, 2 * (value - max_value), 0))
    value = np.where(low | high, max_value, value)
    freq = cdf[idx, value + 1] - cdf[idx, value]
    bits = float(np.sum(16 - np.log2(freq)))
    escaped = raw[low | high]
    chunks = np.array([(int(r).bit_length() + 3) // 4 for r in escaped], np.int64)
    bits += float(np.sum(4 * (chunks // 15 + 1) + 4 * chunks))
    return bits, int(escaped.size)


def own_table_bits(model, x):
    """{"y": (bits, escapes), "z": ...} of CompressAI's compress of x, from its own tables."""
    mean_scale = isinstance(model, compressai.models.MeanScaleHyperprior)
    y = model.g_a(x)
    z = model.h_a(y if mean_scale else torch.abs(y))
    eb, gc = model.entropy_bottleneck, model.gaussian_conditional
    medians = eb._get_medians().detach().reshape(1, -1, 1, 1)
    z_symbols = eb.quantize(z, "symbols", medians)
    z_hat = eb.quantize(z, "dequantize", medians)
    z_index = torch.arange(z.shape[1])[None, :, None, None].expand_as(z)
    params = model.h_s(z_hat)
    scales, means = params.chunk(2, 1) if mean_scale else (params, None)
    y_symbols = gc.quantize(y, "symbols", means)
    return {"y": table_bits(gc, y_symbols.numpy(), gc.build_indexes(scales).numpy()),
            "z": table_bits(eb, z_symbols.numpy(), z_index.numpy())}


@torch.no_grad()
def code(args):
    model = load_model(args.arch, args.checkpoint)
    os.makedirs(args.png_dir, exist_ok=True)
    results = []
    for path in read_list(args.images):
        rgb = load_rgb(path)
        h, w = rgb.shape[:2]
        x = to_tensor(pad_image(rgb))
        start = time.perf_counter()
        stream = model.compress(x)
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        x_hat = model.decompress(stream["strings"], stream["shape"])["x_hat"]
        decode_s = time.perf_counter() - start
        decoded = np.floor(x_hat.clamp(0, 1)[0].permute(1, 2, 0).numpy()[:h, :w] * 255 + 0.5).astype(np.uint8)
        name = os.path.splitext(os.path.basename(path))[0]
        png = os.path.join(args.png_dir, f"{name}.png")
        Image.fromarray(decoded).save(png)
        out = model(x)
        bits = {k: float(-torch.log2(v).sum()) for k, v in out["likelihoods"].items()}
        own = own_table_bits(model, x)
        y_strings, z_strings = stream["strings"]
        record = {"image": path, "name": name, "height": h, "width": w, "decoded_png": png,
                  "y_bytes": sum(len(s) for s in y_strings), "z_bytes": sum(len(s) for s in z_strings),
                  "likelihood_bits": bits, "table_bits": {k: v[0] for k, v in own.items()},
                  "escapes": {k: v[1] for k, v in own.items()}, "encode_s": encode_s, "decode_s": decode_s}
        record["bytes"] = record["y_bytes"] + record["z_bytes"]
        results.append(record)
        print(f"  {name}: {w}x{h} {record['bytes']} bytes ({record['bytes'] * 8 / (h * w):.4f} bpp), "
              f"likelihoods {sum(bits.values()) / 8:.0f} bytes, its tables {sum(v[0] for v in own.values()) / 8:.0f} "
              f"bytes, {own['y'][1]} + {own['z'][1]} escapes", flush=True)
    with open(args.out, "w") as f:
        json.dump({"arch": args.arch, "checkpoint": args.checkpoint, "torch": torch.__version__,
                   "compressai": compressai.__version__, "images": results}, f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--arch", required=True, choices=ARCHS)
    p.add_argument("--images", required=True, help="text file: the training photos, one path a line")
    p.add_argument("--out", required=True)
    p.add_argument("--info", help="JSON file for the training's settings and final losses")
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--m", type=int, default=96)
    p.add_argument("--lmbda", type=float, default=0.0130)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--aux-lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=100)
    p.set_defaults(func=train)
    p = sub.add_parser("code")
    p.add_argument("--arch", required=True, choices=ARCHS)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--images", required=True, help="text file: the photos to code, one path a line")
    p.add_argument("--png-dir", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=code)
    for p in sub.choices.values():
        p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.func(args)


if __name__ == "__main__":
    main()
