"""The hyperprior family's codec: one pipeline from pixels to a .tfc file and back, over a backend.

    encode: check, pad -> analyse (y * gain) -> hyper-analyse (z) -> [refine]
            -> LatentCoder.encode -> container
    decode: container -> LatentCoder.decode -> LRP per slice -> synthesise -> crop to uint8

A backend runs the transforms and nothing else: `KerasBackend` (TensorFlow, a
weights bundle's model) or `LiteRTBackend` (an export folder's TFLite models:
`tfcodec.edge.EdgeCodec`). Floating point is fine there: the transforms shape
pixels or are seen by the encoder alone. Everything that picks a range-coder
table is integer numpy (`tfcodec.codecs.latent_coding`), so a stream from
either backend decodes on the other. No TensorFlow here: the edge runtime runs it.
"""

import numpy as np

from tfcodec import container
from tfcodec.codecs.latent_coding import RATE_SCALE, STRIDE, LatentCoder, dequantise
from tfcodec.entropy import tables
from tfcodec.entropy.integer_net import PARAM_EXPONENT
from tfcodec.errors import FormatError
from tfcodec.images import check_image, pad_image, to_uint8


def quality_to_rate(quality):
    if not 0.0 <= float(quality) <= 1.0:
        raise FormatError(f"quality must be in [0, 1], got {quality}")
    return int(round(float(quality) * RATE_SCALE))


def search_quality(compress, rgb, bpp, tolerance=0.02, steps=10):
    """The largest quality whose file stays at or under `bpp` (bisection)."""
    pixels = rgb.shape[0] * rgb.shape[1]
    lo, hi, best = 0.0, 1.0, None
    for _ in range(steps):
        mid = (lo + hi) / 2
        data = compress(rgb, mid)
        rate = len(data) * 8 / pixels
        if rate <= bpp:
            lo, best = mid, data
            if bpp - rate < tolerance * bpp:
                break
        else:
            hi = mid
    return best if best is not None else compress(rgb, 0.0)


class HyperpriorCodec:
    """Compress/decompress with one hyperprior model: a weights bundle on the TF backend."""

    family = "hyperprior"

    def __init__(self, bundle, refine_steps=0):
        """`refine_steps` > 0: the encoder refines each image's latents that many
        steps (`tfcodec.codecs.refine`); files decode as usual."""
        from tfcodec.codecs.keras_backend import KerasBackend

        self.bundle = bundle
        backend = KerasBackend.from_bundle(bundle)
        self.model = backend.model
        self._init_pipeline(backend, bundle.coding, bundle.model, bundle.hash, refine_steps)

    def _init_pipeline(self, backend, coding, name, weights_hash, refine_steps=0):
        """The pipeline over `backend`, coding with `coding` (tables and integer nets)."""
        if refine_steps < 0:
            raise ValueError(f"refine_steps must be >= 0, not {refine_steps}")
        self.backend = backend
        self.config = backend.config
        self.name = name
        self.identity = weights_hash.hex()
        self.latents = LatentCoder(self.config, coding, name, weights_hash)
        # Refinement needs a backend with gradients (`KerasBackend.refine`).
        self.refine_steps = int(refine_steps)
        # Called with (steps done, steps) while refining, e.g. to draw a progress bar.
        self.refine_progress = None

    @property
    def rate_settings(self):
        if self.config.fixed_rate:  # an imported model: one rate, whatever the quality
            return [1.0]
        return [round(q, 3) for q in np.linspace(0.0, 1.0, 9)]

    # -- encoder -----------------------------------------------------------------

    def analyse(self, rgb, quality):
        """(y * gain, z), float32 (h, w, C) each, of a checked RGB image: what
        `LatentCoder.encode` takes (refined, with refine_steps)."""
        x = pad_image(rgb, STRIDE).astype(np.float32) / np.float32(255.0)
        y = self.backend.analyse(x, quality)
        z = self.backend.hyper_analyse(y)
        if self.refine_steps:
            report = self.refine_progress
            done = None if report is None else (lambda t: report(t, self.refine_steps))
            y, z = self.backend.refine(x, y, z, quality, rgb.shape[0], rgb.shape[1], self.refine_steps, done)
        return y, z

    def encode_latents(self, rgb, quality):
        """(header, strings, decoded latents): the latents are what the decoder will rebuild."""
        rgb = check_image(rgb)
        rate = quality_to_rate(quality)
        y, z = self.analyse(rgb, rate / RATE_SCALE)
        return self.latents.encode(y, z, rgb.shape[0], rgb.shape[1], rate)

    def compress(self, rgb, quality=0.5):
        """uint8 HxWx3 -> the bytes of a .tfc file."""
        header, strings, _ = self.encode_latents(rgb, quality)
        return container.pack(header, strings)

    def compress_for_bpp(self, rgb, bpp):
        """The largest quality whose file stays at or under `bpp`."""
        return search_quality(self.compress, check_image(rgb), bpp)

    # -- decoder -----------------------------------------------------------------

    def decode_latents(self, header, strings):
        """(decoded latents, mean features), fixed point (`LatentCoder.decode`)."""
        return self.latents.decode(header, strings)

    def synthesise(self, decoded, mean_feat, quality):
        """Fixed-point latents -> float image (padded size) in [0, 1]: latent residual
        prediction per slice (channel-wise models), then the synthesis."""
        y_hat = [d[0] for d in dequantise(decoded)]
        if self.config.channelwise:
            mean_float = (mean_feat[0] / 2.0**PARAM_EXPONENT).astype(np.float32)
            y_hat = [y_hat[i] + self.backend.lrp(i, np.concatenate([mean_float] + y_hat[:i + 1], axis=-1))
                     for i in range(self.config.num_slices)]
        return self.backend.synthesise(np.concatenate(y_hat, axis=-1), quality)

    def decompress(self, data):
        """The bytes of a .tfc file -> uint8 HxWx3."""
        header, strings = container.unpack(data)
        decoded, mean_feat = self.latents.decode(header, strings)
        x_hat = self.synthesise(decoded, mean_feat, header.rate / RATE_SCALE)
        return to_uint8(x_hat, header.height, header.width)


def coding_tables(model):
    """The range coder's tables of a model: the Gaussian scale table (tfcodec's, or TFC's
    for a model imported from TFC), z's per-channel tables (about its bin centres) and,
    for an imported model, those centres and the thresholds that pick its Gaussian rows
    where they are not tfcodec's own (linear scales, TFC's rounding down: `LatentCoder`)."""
    from tfcodec.entropy.integer_net import to_fixed

    c = model.config
    arrays = {}
    lookup, offsets = tables.tfc_gaussian_tables() if c.tfc_gaussian_coding else tables.gaussian_tables()
    arrays["gaussian/lookup"], arrays["gaussian/offsets"] = lookup, offsets
    centres = model.z_offset.numpy() if c.z_offsets else None
    lookup, offsets = tables.factorized_tables(
        lambda support: model.hyper_prior.pmf_numpy(support, centres), c.hyper_channels)
    arrays["factorized/lookup"], arrays["factorized/offsets"] = lookup, offsets
    if c.z_offsets:
        arrays["factorized/centres"] = to_fixed(centres, PARAM_EXPONENT)
    if c.linear_scales or c.tfc_gaussian_coding:
        arrays["gaussian/thresholds"] = tables.scale_thresholds(c.linear_scales, c.tfc_gaussian_coding)
    return arrays


def z_exponent(config):
    """Fixed-point exponent of the hyper-synthesis' input: integers, or with bin centres
    off the integers, 1/256 steps."""
    return PARAM_EXPONENT if config.z_offsets else 0


def build_coding_arrays(model, calibration_images, qualities=(0.0, 0.25, 0.5, 0.75, 1.0), z_samples=()):
    """Tables and integer nets for a trained model, calibrated on training images
    (and on `z_samples`, hyper-latents drawn from its prior: `tfcodec.importers`)."""
    import tensorflow as tf

    from tfcodec.entropy.integer_net import IntegerNet

    c = model.config
    arrays = coding_tables(model)
    z_all, inputs = list(z_samples), {}
    for image in calibration_images:
        x = tf.constant(image[None], tf.float32)
        for q in qualities:
            gain, _ = model.gains(tf.constant([q]))
            y = model.analysis(x) * gain[:, None, None, :]
            z_hat = model.quantise_z(model.hyper_analysis(y))
            z_all.append(z_hat.numpy())
            if not c.channelwise:
                continue
            mean_feat, scale_feat = model.split_features(model.hyper_synthesis(z_hat))
            decoded = []
            for i, y_slice in enumerate(tf.split(y, c.num_slices, axis=-1)):
                inputs.setdefault(f"mean_{i}", []).append(tf.concat([mean_feat] + decoded, -1).numpy())
                inputs.setdefault(f"scale_{i}", []).append(tf.concat([scale_feat] + decoded, -1).numpy())
                mean, _ = model.slice_parameters(i, mean_feat, scale_feat, decoded)
                decoded.append(tf.round(y_slice - mean) + mean)
    net = IntegerNet.from_keras(model.hyper_synthesis, z_all, z_exponent(c), PARAM_EXPONENT)
    arrays.update(net.to_arrays("int/hyper_synthesis"))
    for i in range(c.num_slices if c.channelwise else 0):
        for kind, keras_net in (("mean", model.mean_nets[i]), ("scale", model.scale_nets[i])):
            net = IntegerNet.from_keras(keras_net, inputs[f"{kind}_{i}"], PARAM_EXPONENT, PARAM_EXPONENT)
            arrays.update(net.to_arrays(f"int/{kind}_{i}"))
    return arrays


def export_coding(model, calibration_folder, count, seed=0):
    """(coding arrays, bundle meta) of a trained model: the family record's export step."""
    from tfcodec.images import calibration_crops

    return build_coding_arrays(model, calibration_crops(calibration_folder, count, seed=seed)), {}
