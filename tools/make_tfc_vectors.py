"""Golden vectors of a tiny TFC-built scale hyperprior, for `tfcodec import-weights --from tfc`.

Runs in the TensorFlow Compression venv (tools/make_venvs.sh, the `tfc venv` block), never in
tfcodec's own environment:

    /work/tfc-venv/bin/python tools/make_tfc_vectors.py [--gdn classic|simplified] [--seed 0]

Builds benchmarks/tfc_model.py's ScaleHyperprior small (N=16, M=24, hyper 16/16, 64 scales,
kernel_parameter="rdft") at a fixed seed, gives it non-trivial parameters (conv biases in
+-0.1, GDN beta in [0.5, 2] and off-diagonal gamma up to 0.02, latents spread over several
integers, scale indexes spanning most of 0..63 on the test image (each channel's
centred on the scale of its y), a hyperprior whose medians
are off zero), and writes

    tests/data/tfc/bmshj2018-tiny/ckpt-1.{index,data-00000-of-00001}, checkpoint
        tf.train.Checkpoint(model=model) (variable names: benchmarks/tfc_model.py's docstring)
    tests/data/tfc/bmshj2018-tiny.npz   (np.savez_compressed; load with allow_pickle=False)
        x              (1, 128, 192, 3) float32: tests/data/golden_image.png (120x176) on the
                       [0, 1] scale, edge-padded at the bottom and right (tfcodec.images' way)
        y              analysis_transform(x)                      (1, 8, 12, 24)
        z              hyper_analysis_transform(|y|)              (1, 2, 3, 16)
        z_offset       the z entropy model's quantization_offset  (16,)
        z_hat          round(z - z_offset) + z_offset, as TFC's compress/decompress gives it
        indexes        hyper_synthesis_transform(z_hat), float    (1, 8, 12, 24)
        y_hat          round(y) (no offset for the indexed model)
        x_hat          synthesis_transform(y_hat), unclamped, [0, 1] scale
        x_decompressed the model's decompress(compress(x)): TFC's range coder both ways
        stream_bytes   total bytes of TFC's strings (y and z)
        y_stream_bytes, z_stream_bytes
        likelihood_bits  -log2 of the likelihoods of y_hat and z_hat (TFC entropy models,
                       training=False: continuous indexes clipped to [0, 63]); also
                       likelihood_bits_y, likelihood_bits_z; bits_y and bits_z hold them per
                       element. The model is untrained, so the hyper-synthesis does not predict
                       y: a few y elements (about 80 of 2304) lie far in their Gaussians' tails
                       (up to ~300 bits each, ~3700 in all), which TFC's range coder codes
                       through its cheap overflow escape, so stream_bytes * 8 < likelihood_bits
        scales         scale_fn(0..63), the 64 scales of the y entropy model
        config         JSON string: the model's sizes and options
        var/<name>     every checkpoint variable, by its tf.train.list_variables name

The GDN form is "classic" (x / sqrt(beta + x^2 @ gamma), tfcodec's) unless --gdn simplified
(tfc.GDN's default, x / (beta + |x| @ gamma)), which writes bmshj2018-tiny-simplified{/,.npz}.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import tfc_model  # noqa: E402

IMAGE = os.path.join(ROOT, "tests", "data", "golden_image.png")
OUT_DIR = os.path.join(ROOT, "tests", "data", "tfc")
SIZES = dict(num_filters=16, latent_channels=24, hyper_filters=16, hyper_channels=16, num_scales=64)


def load_image(path, multiple=64):
    rgb = tf.io.decode_png(tf.io.read_file(path), channels=3).numpy()
    h, w = rgb.shape[:2]
    rgb = np.pad(rgb, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="edge")
    return (rgb.astype(np.float32) / 255.0)[None]


def _conv_layers(seq):
    return [l for l in seq.layers if hasattr(l, "kernel_parameter")]


def _scale_kernel(layer, factor):
    """Multiplies the effective kernel by factor: a scalar, or one per output channel."""
    factor = np.asarray(factor, np.float32)
    p = layer.kernel_parameter
    if hasattr(p, "real"):   # RDFT: real and imag are (in, out, kh, kw // 2 + 1)
        for v in (p.real, p.imag):
            v.assign(v * (factor[None, :, None, None] if factor.ndim else factor))
    else:                    # the kernel itself, (kh, kw, in, out)
        p.assign(p * factor)


def _randomise(model, x, rng):
    """Non-trivial parameters, set in the order the data flows so each step sees the last."""
    pedestal = (2.0 ** -18) ** 2
    for seq in (model.analysis_transform, model.synthesis_transform,
                model.hyper_analysis_transform, model.hyper_synthesis_transform):
        for layer in seq.layers:
            if getattr(layer, "use_bias", False) and hasattr(layer, "bias_parameter"):
                b = layer.bias_parameter
                b.assign(rng.uniform(-0.1, 0.1, b.shape).astype(np.float32))
            if hasattr(layer, "gamma_parameter"):
                c = layer.beta.shape[0]
                beta = rng.uniform(0.5, 2.0, c)
                gamma = rng.uniform(0.0, 0.02, (c, c))
                np.fill_diagonal(gamma, rng.uniform(0.05, 0.2, c))
                layer.beta_parameter.variable.assign(np.sqrt(beta + pedestal).astype(np.float32))
                layer.gamma_parameter.variable.assign(np.sqrt(gamma + pedestal).astype(np.float32))

    # y: channel standard deviations spread from 0.3 to 8 (so some channels quantise mostly to
    # zero and others span a dozen integers); z: standard deviation about 2.5.
    last = _conv_layers(model.analysis_transform)[-1]
    y = model.analysis_transform(x).numpy()
    target_std = rng.permutation(np.geomspace(0.3, 8.0, y.shape[-1]))
    factor = target_std / np.std(y, axis=(0, 1, 2))
    _scale_kernel(last, factor)
    last.bias_parameter.assign(last.bias_parameter * factor)
    y = model.analysis_transform(x)
    last = _conv_layers(model.hyper_analysis_transform)[-1]
    z = model.hyper_analysis_transform(tf.abs(y))
    _scale_kernel(last, 2.5 / float(tf.math.reduce_std(z)))
    z = model.hyper_analysis_transform(tf.abs(y))

    # Hyperprior: random but monotone (softplus matrices), medians moved off zero by shifting
    # the first layer's bias: F(x) becomes F(x - c) with c = shift.
    base = model.hyperprior.base
    for v in base._matrices:
        v.assign(v + rng.normal(0, 0.3, v.shape).astype(np.float32))
    for v in base._factors:
        v.assign(rng.normal(0, 0.7, v.shape).astype(np.float32))
    for v in base._biases:
        v.assign(v + rng.normal(0, 0.3, v.shape).astype(np.float32))
    c = int(z.shape[-1])
    shift = (np.mean(z, axis=(0, 1, 2)) + rng.uniform(-1.5, 1.5, c)).astype(np.float32)
    m0 = tf.nn.softplus(base._matrices[0]).numpy()            # (C, F1, 1)
    base._biases[0].assign(base._biases[0] - m0 * shift[:, None, None])

    # Scale indexes: the last hyper-synthesis layer is linear, so scaling its kernel by a and its
    # bias by a plus b (per channel) maps idx to a * idx + b. Per channel, put the median at the
    # index whose scale is that channel's standard deviation of y (kept in 14..50), and the 2nd..98th percentiles
    # 24 indexes apart: over all channels the indexes then span most of 0..63 while the scales
    # stay plausible for y (so no likelihood is absurdly small).
    em_z = tfc_model.tfc.ContinuousBatchedEntropyModel(model.hyperprior, coding_rank=3, compression=False)
    z_hat = em_z.quantize(z)
    idx = model.hyper_synthesis_transform(z_hat).numpy()
    lo, med, hi = np.percentile(idx, [2, 50, 98], axis=(0, 1, 2))
    step = np.log(model.scale_max / model.scale_min) / (model.num_scales - 1)
    centre = np.clip(np.log(np.std(y, axis=(0, 1, 2)) / model.scale_min) / step, 14, 50)
    a = 24.0 / (hi - lo)
    b = centre - a * med
    last = _conv_layers(model.hyper_synthesis_transform)[-1]
    _scale_kernel(last, a)
    last.bias_parameter.assign(last.bias_parameter * a + b)

    # x_hat: the IGDNs grow with y, so bring the output back to about the image's spread.
    y_hat = tf.round(y)
    last = _conv_layers(model.synthesis_transform)[-1]
    _scale_kernel(last, 0.3 / float(tf.math.reduce_std(model.synthesis_transform(y_hat))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gdn", choices=tfc_model.GDN_FORMS, default="classic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image", default=IMAGE)
    args = parser.parse_args(argv)

    name = "bmshj2018-tiny" + ("" if args.gdn == "classic" else "-" + args.gdn)
    tf.keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    config = dict(SIZES, scale_min=0.11, scale_max=256.0, kernel_parameter="rdft", gdn=args.gdn,
                  pixel_scale="[0, 1]", padding="edge, bottom/right, to a multiple of 64")
    model = tfc_model.ScaleHyperprior(
        **SIZES, scale_min=0.11, scale_max=256.0, kernel_parameter="rdft", gdn=args.gdn)
    x = load_image(args.image)
    _randomise(model, x, rng)

    ckpt_dir = os.path.join(OUT_DIR, name)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    prefix = tfc_model.save(model, os.path.join(ckpt_dir, "ckpt"))   # also builds the coders
    em_y, em_z = model.coders

    y = model.analysis_transform(x)
    z = model.hyper_analysis_transform(tf.abs(y))
    z_offset = em_z.quantization_offset.numpy()
    z_hat = em_z.quantize(z)
    indexes = model.hyper_synthesis_transform(z_hat)
    y_hat = em_y.quantize(y)
    x_hat = model.synthesis_transform(y_hat)
    _, bits_z = em_z(z, training=False)
    _, bits_y = em_y(y, indexes, training=False)
    # The same bits element by element (TFC's priors evaluated directly), so a comparison can
    # leave out the few far-tail elements whose likelihood a lower bound would change.
    scales = model.scale_fn(tf.clip_by_value(indexes, 0.0, model.num_scales - 1.0))
    bits_y_el = -tfc_model.tfc.NoisyNormal(loc=0.0, scale=scales).log_prob(y_hat) / np.log(2.0)
    bits_z_el = -model.hyperprior.log_prob(z_hat) / np.log(2.0)
    assert np.isclose(bits_y_el.numpy().sum(), bits_y.numpy().sum(), rtol=1e-4)
    assert np.isclose(bits_z_el.numpy().sum(), bits_z.numpy().sum(), rtol=1e-4)
    y_strings, z_strings = model.compress(x)
    x_dec = model.decompress([y_strings, z_strings], x.shape[1:3])
    y_bytes = sum(len(s) for s in y_strings.numpy())
    z_bytes = sum(len(s) for s in z_strings.numpy())

    # Self-checks: TFC's own round trip agrees with the step-by-step values.
    assert np.allclose(em_z.decompress(z_strings, z.shape[1:3]), z_hat), "z_hat"
    assert np.allclose(x_dec, x_hat, atol=1e-5), np.abs(x_dec - x_hat).max()

    arrays = dict(
        x=x, y=y, z=z, z_hat=z_hat, z_offset=z_offset, indexes=indexes, y_hat=y_hat, x_hat=x_hat,
        x_decompressed=x_dec, stream_bytes=np.int64(y_bytes + z_bytes),
        y_stream_bytes=np.int64(y_bytes), z_stream_bytes=np.int64(z_bytes),
        likelihood_bits=np.float32(bits_y.numpy().sum() + bits_z.numpy().sum()),
        likelihood_bits_y=np.float32(bits_y.numpy().sum()),
        likelihood_bits_z=np.float32(bits_z.numpy().sum()),
        bits_y=bits_y_el, bits_z=bits_z_el,
        scales=model.scale_fn(tf.range(64, dtype=tf.float32)),
        config=np.array(json.dumps(config, sort_keys=True)),
    )
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k in ("x", "y", "z", "z_hat", "z_offset", "indexes", "y_hat", "x_hat", "x_decompressed", "scales",
              "bits_y", "bits_z"):
        arrays[k] = arrays[k].astype(np.float32)
    reader = tf.train.load_checkpoint(prefix)
    for var, _ in tfc_model.checkpoint_variables(prefix):
        arrays["var/" + var] = reader.get_tensor(var)
    out = os.path.join(OUT_DIR, name + ".npz")
    np.savez_compressed(out, **arrays)

    idx = indexes.numpy()
    print(f"wrote {prefix}.* and {out}")
    print(f"  y std {np.std(y):.3f}, |y_hat| max {np.abs(y_hat).max():.0f}; z std {np.std(z):.3f}; "
          f"z_offset {np.round(z_offset, 4).tolist()}")
    print(f"  indexes min {idx.min():.2f} max {idx.max():.2f}, floor(clip) covers "
          f"{len(np.unique(np.floor(np.clip(idx, 0, 63))))} of 64 scales")
    print(f"  y elements over 16 bits: {int((bits_y_el.numpy() > 16).sum())} "
          f"({float(bits_y_el.numpy()[bits_y_el.numpy() > 16].sum()):.0f} bits)")
    print(f"  stream bytes {y_bytes} + {z_bytes} = {y_bytes + z_bytes}; likelihood bits "
          f"{arrays['likelihood_bits']:.1f} ({arrays['likelihood_bits'] / 8:.1f} bytes)")
    print(f"  x_hat range [{x_hat.numpy().min():.3f}, {x_hat.numpy().max():.3f}]; "
          f"|x_decompressed - x_hat| max {np.abs(x_dec - x_hat).max():.2e}")


if __name__ == "__main__":
    main()
