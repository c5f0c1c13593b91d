"""Writes CompressAI checkpoints and reference outputs for tfcodec's CompressAI importer.

Run from the repository root with the CompressAI venv (tools/make_venvs.sh):

    /work/compressai-venv/bin/python tools/make_compressai_vectors.py

For bmshj2018-hyperprior (compressai.models.ScaleHyperprior) and mbt2018-mean
(MeanScaleHyperprior), with N=16, M=24 at fixed seeds, it builds a model whose
parameters are not the trivial ones a fresh model has, so an importer that drops a
bias, a reparametrization or the median shift fails the comparison:

- conv and deconv biases uniform in [-0.1, 0.1] (weights as torch initializes them);
- GDN: effective beta in U(0.5, 2), effective gamma 0.1*I plus U(0, 0.02) off the
  diagonal, stored through the layers' own NonNegativeParametrizer (stored != effective);
- entropy bottleneck: its density shifted by about +-1.3 per channel, then its quantiles
  fitted with the aux loss (Adam), so the medians are non-zero and non-integer;
- on the test image, per channel (2% to 98% quantiles): the last layer of g_a rescaled so
  y spans about +-6 (torch's default weights leave it within +-0.3, all zeros once
  quantized), g_s's first layer shrunk to match, g_s's last layer mapped to 0.05..0.95, and
  the last layer of h_s mapped so the predicted scales span about 0.2..20 (some fall
  outside: ScaleHyperprior's h_s ends in a ReLU, MeanScaleHyperprior's does not, and the
  Gaussian conditional's LowerBound lifts either to 0.11);
- then model.update(force=True), which builds the scale table and the CDFs.

The input is tests/data/golden_image.png (176x120) padded by edge replication on the
bottom and right to 192x128, as float in [0, 1]. Written to tests/data/compressai/:

- <arch>.pth.tar: torch.save(model.state_dict()) in the zip format; bmshj2018-hyperprior's
  whole, as a zoo file is, the other files without the buffers CompressAI derives on
  update() (the CDFs: the Gaussian conditional's alone is 800 kB), which tfcodec rebuilds;
- bmshj2018-hyperprior-legacy.pth.tar: the same with _use_new_zipfile_serialization=False;
- mbt2018-mean-checkpoint.pth.tar: what CompressAI's examples/train.py saves (epoch,
  state_dict, loss, optimizer, aux_optimizer, lr_scheduler), with optimizer states that
  hold tensors;
- <arch>.npz (no pickles): NHWC x_uint8 (the input is x_uint8 / 255), float32 y, z (h_a(|y|) for the scale model, h_a(y) for
  the mean-scale one, as each model does), z_hat, medians, scales_hat (and
  means_hat for mbt2018-mean), y_hat, x_hat (g_s(y_hat), not clamped), x_decompressed
  (CompressAI's compress then decompress, as uint8: floor(x * 255 + 0.5)), stream_bytes, likelihood_bits (of the
  eval forward), N, M, and every state-dict entry as state/<key> in its own dtype;
- dtypes.pth.tar, dtypes-legacy.pth.tar and dtypes.npz: a few small tensors of each dtype,
  views (transposed, sliced, expanded, a scalar, an empty one) and a Parameter, and the
  arrays torch gives for them, for the reader's tests.
"""

import copy
import os
import sys
import types

import numpy as np
import torch
from PIL import Image
from torch import nn


def _import_compressai():
    """compressai imports torchvision only to list its transforms in a registry. PyPI's
    torchvision wheels are CUDA builds that fail to load beside torch+cpu, so when no working
    torchvision is installed an empty stand-in takes its place (nothing here uses it)."""
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 (ImportError, or RuntimeError from a CUDA build)
        for name in [n for n in sys.modules if n.split(".")[0] == "torchvision"]:
            del sys.modules[name]
        stub = types.ModuleType("torchvision")
        stub.transforms = types.ModuleType("torchvision.transforms")
        sys.modules.update({"torchvision": stub, "torchvision.transforms": stub.transforms})
    import compressai.layers
    import compressai.models

    return compressai


compressai = _import_compressai()
GDN = compressai.layers.GDN

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "compressai")
N, M = 16, 24
ARCHS = {"bmshj2018-hyperprior": compressai.models.ScaleHyperprior,
         "mbt2018-mean": compressai.models.MeanScaleHyperprior}


def test_image():
    x = np.asarray(Image.open(os.path.join(ROOT, "tests", "data", "golden_image.png")).convert("RGB"), np.float32) / 255
    x = np.pad(x, ((0, 128 - x.shape[0]), (0, 192 - x.shape[1]), (0, 0)), mode="edge")
    return torch.from_numpy(x).permute(2, 0, 1)[None].contiguous()


def randomize_layers(model):
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module.bias.uniform_(-0.1, 0.1)
        elif isinstance(module, GDN):
            c = module.beta.numel()
            beta = torch.empty(c).uniform_(0.5, 2)
            gamma = 0.1 * torch.eye(c) + torch.rand(c, c) * 0.02 * (1 - torch.eye(c))
            module.beta.copy_(module.beta_reparam.init(beta))
            module.gamma.copy_(module.gamma_reparam.init(gamma))


def fit_entropy_bottleneck(model):
    """Moves each channel's density so its median is about +-1.3 (the cumulative's first layer is
    softplus(matrix0) * x + bias0, so x -> x - d is bias0 -= softplus(matrix0) * d; the medians
    of the initial density, found by bisection, are anywhere in -14..11), then fits the
    quantiles to it with the aux loss as training does. Returns the aux optimizer."""
    eb = model.entropy_bottleneck
    with torch.no_grad():
        initial = eb.quantiles.detach().clone()
        eb._update_quantiles()
        target = torch.where(torch.rand(N) < 0.5, -1.0, 1.0) * torch.empty(N).uniform_(1.1, 1.45)
        shift = target - eb.quantiles[:, 0, 1]
        eb.biases[0] -= nn.functional.softplus(eb.matrices[0]) * shift[:, None, None]
        eb.quantiles.copy_(initial)
    # The tails start at +-10 and end near +-215: a large step first, then a small one.
    aux_optimizer = torch.optim.Adam([eb.quantiles], lr=2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(aux_optimizer, 300, eta_min=1e-3)
    for _ in range(300):
        aux_optimizer.zero_grad()
        model.aux_loss().backward()
        aux_optimizer.step()
        schedule.step()
    medians = eb.quantiles[:, 0, 1].detach()
    assert ((medians - target).abs() < 0.02).all() and model.aux_loss().item() < 0.1, (medians, target)
    return aux_optimizer


def per_channel_range(t, lo, hi):
    """The (a, b) per channel of t (NCHW) that map its 2% and 98% quantiles to lo and hi."""
    t = t[0].reshape(t.shape[1], -1)
    q2, q98 = torch.quantile(t, 0.02, dim=1), torch.quantile(t, 0.98, dim=1)
    a = (hi - lo) / (q98 - q2)
    return a, lo - a * q2


def rescale(layer, a, b, channels=slice(None)):
    """Makes the conv's output channels a * output + b (a deconv's weight is (in, out, kh, kw))."""
    weight = layer.weight if isinstance(layer, nn.Conv2d) else layer.weight.transpose(0, 1)
    weight[channels] *= a[:, None, None, None]
    layer.bias[channels] = a * layer.bias[channels] + b


def rescale_transforms(model, x, mean_scale):
    """With torch's default weights y is within +-0.3, so every y_hat of the scale model
    would be 0. This gives y a spread of about +-6 per channel (g_s's first layer shrinks
    by the same factor, so g_s sees what it did), x_hat the range 0.05..0.95 (so the clamped
    decompressed image is not all 0 and 1), and the predicted scales 0.2..20."""
    y = model.g_a(x)
    a, _ = per_channel_range(y, -6.0, 6.0)
    rescale(model.g_a[6], a, torch.zeros_like(a))
    model.g_s[0].weight /= a[:, None, None, None]
    y = model.g_a(x)
    a, b = per_channel_range(model.g_s(y), 0.05, 0.95)
    rescale(model.g_s[6], a, b)
    z_hat, _ = model.entropy_bottleneck(model.h_a(y if mean_scale else torch.abs(y)))
    t = model.h_s[:4](z_hat)
    scales = nn.functional.conv2d(t, model.h_s[4].weight[:M], model.h_s[4].bias[:M], padding=1)
    a, b = per_channel_range(scales, 0.2, 20.0)
    rescale(model.h_s[4], a, b, slice(0, M))


def build(arch, seed):
    torch.manual_seed(seed)
    model = ARCHS[arch](N, M)
    x = test_image()
    with torch.no_grad():
        randomize_layers(model)
    aux_optimizer = fit_entropy_bottleneck(model)
    model.eval()
    with torch.no_grad():
        rescale_transforms(model, x, mean_scale=arch == "mbt2018-mean")
    model.update(force=True)
    return model, x, aux_optimizer


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)


@torch.no_grad()
def reference(model, x, arch):
    y = model.g_a(x)
    z = model.h_a(torch.abs(y)) if arch == "bmshj2018-hyperprior" else model.h_a(y)
    z_hat, _ = model.entropy_bottleneck(z)
    medians = model.entropy_bottleneck._get_medians().reshape(-1)
    params = model.h_s(z_hat)
    scales, means = (params, None) if arch == "bmshj2018-hyperprior" else params.chunk(2, 1)
    y_hat = model.gaussian_conditional.quantize(y, "dequantize", means)
    out = model(x)
    assert torch.equal(out["x_hat"], model.g_s(y_hat))
    bits = sum(-torch.log2(lik).sum().item() for lik in out["likelihoods"].values())
    stream = model.compress(x)
    decoded = model.decompress(stream["strings"], stream["shape"])["x_hat"]
    # The input and the decoded image are 8-bit images: stored as such (x = x_uint8 / 255 exactly).
    arrays = {"x_uint8": np.round(nhwc(x) * 255).astype(np.uint8), "y": nhwc(y), "z": nhwc(z), "z_hat": nhwc(z_hat),
              "medians": medians.numpy().astype(np.float32), "scales_hat": nhwc(scales), "y_hat": nhwc(y_hat),
              "x_hat": nhwc(out["x_hat"]), "x_decompressed": np.floor(nhwc(decoded) * 255 + 0.5).astype(np.uint8),
              "stream_bytes": np.int64(sum(len(s) for strings in stream["strings"] for s in strings)),
              "likelihood_bits": np.float64(bits), "N": np.int64(N), "M": np.int64(M)}
    if means is not None:
        arrays["means_hat"] = nhwc(means)
    s = scales.flatten()
    print(f"  scales {s.min():.3f}..{s.max():.3f} (2%..98%: {s.quantile(0.02):.3f}..{s.quantile(0.98):.3f}), "
          f"|y| max {y.abs().max():.2f}, nonzero y_hat {(y_hat != 0).float().mean():.2f}, medians "
          f"{medians.min():.3f}..{medians.max():.3f}, {arrays['stream_bytes']} bytes, {bits:.0f} bits")
    return arrays


DERIVED = ("_quantized_cdf", "_offset", "_cdf_length")


def without_derived(state):
    """A state dict without the coding tables update() derives (the importer rebuilds its own)."""
    return type(state)((k, v) for k, v in state.items() if not k.endswith(DERIVED))


def training_checkpoint(model, aux_optimizer):
    """What examples/train.py saves after an epoch. The main optimizer steps a copy of the model,
    on a loss of g_s's last layer only, so its state holds tensors but stays small."""
    trained = copy.deepcopy(model)
    optimizer = torch.optim.Adam((p for n, p in trained.named_parameters() if not n.endswith(".quantiles")), lr=1e-4)
    optimizer.zero_grad(set_to_none=True)
    trained.g_s[6](torch.ones(1, N, 4, 4)).square().mean().backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min")
    scheduler.step(1.25)
    return {"epoch": 3, "state_dict": without_derived(model.state_dict()), "loss": 1.25, "optimizer": optimizer.state_dict(),
            "aux_optimizer": aux_optimizer.state_dict(), "lr_scheduler": scheduler.state_dict()}


def dtype_cases():
    """Small tensors of every dtype the reader handles, views and a Parameter, to check it
    against real torch.save output (dtypes.npz holds them as numpy has them; bfloat16 as float32)."""
    torch.manual_seed(7)
    base = torch.randn(4, 6)
    cases = {f"{d}": (base * 50).to(getattr(torch, d)) for d in
             ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")}
    cases.update(transposed=base.t(), sliced=base[1:3, ::2], scalar=base[2, 3], empty=base[:0],
                 expanded=base[0:1].expand(3, 6), parameter=nn.Parameter(base[1]))
    expected = {k: (v.detach().float() if v.dtype == torch.bfloat16 else v.detach()).numpy() for k, v in cases.items()}
    torch.save(cases, os.path.join(OUT, "dtypes.pth.tar"))
    torch.save(cases, os.path.join(OUT, "dtypes-legacy.pth.tar"), _use_new_zipfile_serialization=False)
    np.savez_compressed(os.path.join(OUT, "dtypes.npz"), **expected)
    return ["dtypes.pth.tar", "dtypes-legacy.pth.tar", "dtypes.npz"]


def main():
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    written = []
    for seed, arch in enumerate(ARCHS):
        print(arch)
        model, x, aux_optimizer = build(arch, seed)
        state = model.state_dict()
        if arch != "bmshj2018-hyperprior":
            state = without_derived(state)
        paths = {f"{arch}.pth.tar": state}
        if arch == "bmshj2018-hyperprior":
            torch.save(without_derived(state), os.path.join(OUT, f"{arch}-legacy.pth.tar"),
                       _use_new_zipfile_serialization=False)
            written.append(f"{arch}-legacy.pth.tar")
        else:
            paths[f"{arch}-checkpoint.pth.tar"] = training_checkpoint(model, aux_optimizer)
        for name, obj in paths.items():
            torch.save(obj, os.path.join(OUT, name))
            written.append(name)
        arrays = reference(model, x, arch)
        arrays.update({f"state/{k}": v.numpy() for k, v in state.items()})
        np.savez_compressed(os.path.join(OUT, f"{arch}.npz"), **arrays)
        written.append(f"{arch}.npz")
        print("  state dict:")
        for k, v in state.items():
            print(f"    {k} {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}")
    written += dtype_cases()
    total = 0
    for name in written:
        size = os.path.getsize(os.path.join(OUT, name))
        total += size
        print(f"wrote tests/data/compressai/{name} ({size / 1e3:.0f} kB)")
    print(f"total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
