"""Real bitstreams for the hyperprior family with TensorFlow transforms.

The analysis, hyper-analysis, latent residual prediction and synthesis run in
TensorFlow (floating point is fine there: they shape pixels or are seen by the
encoder alone). Everything that picks a range-coder table is numpy and integer
arithmetic in `tfcodec.codecs.latent_coding`, shared with the edge runtime.
"""

import numpy as np

from tfcodec import container, tiling
from tfcodec.codecs.latent_coding import (LatentCoder, check_image, dequantise, pad_image,
                                          quality_to_rate, search_quality, to_uint8, RATE_SCALE)
from tfcodec.entropy import tables
from tfcodec.entropy.integer_net import PARAM_EXPONENT


class HyperpriorCoder:
    """Compress/decompress with one hyperprior model bundle."""

    family = "hyperprior"

    def __init__(self, bundle, refine_steps=0):
        """`refine_steps` > 0: the encoder refines each image's latents that many
        steps (`tfcodec.codecs.refine`); files decode as usual."""
        from tfcodec.models import model_from_bundle

        self.bundle = bundle
        self.name = bundle.model
        self.identity = bundle.hash.hex()
        self.model = model_from_bundle(bundle)
        self.config = self.model.config
        self.latents = LatentCoder(self.config, bundle.coding, self.name, bundle.hash)
        self._build_functions()
        if refine_steps < 0:
            raise ValueError(f"refine_steps must be >= 0, not {refine_steps}")
        self.refine_steps = int(refine_steps)
        self._refiner = None
        # Called with (steps done, steps) while refining, e.g. to draw a progress bar.
        self.refine_progress = None

    @property
    def rate_settings(self):
        return [round(q, 3) for q in np.linspace(0.0, 1.0, 9)]

    def _build_functions(self):
        import tensorflow as tf

        model = self.model

        @tf.function(input_signature=[tf.TensorSpec((1, None, None, 3), tf.float32),
                                      tf.TensorSpec((1,), tf.float32)])
        def analyse(x, quality):
            gain, _ = model.gains(quality)
            return model.analysis(x) * gain[:, None, None, :]

        @tf.function(input_signature=[tf.TensorSpec((1, None, None, self.config.latent_channels),
                                                    tf.float32)])
        def hyper_analyse(y):
            return model.hyper_analysis(y)

        @tf.function(input_signature=[tf.TensorSpec((1, None, None, None), tf.float32),
                                      tf.TensorSpec((1,), tf.float32)])
        def synthesise(y_hat, quality):
            _, inverse_gain = model.gains(quality)
            return model.synthesis(y_hat * inverse_gain[:, None, None, :])

        self._analyse = analyse
        self._hyper_analyse = hyper_analyse
        self._synthesise = synthesise

    def compress(self, rgb, quality=0.5):
        """uint8 HxWx3 -> the bytes of a .tfc file."""
        header, strings, _ = self.encode_latents(rgb, quality)
        return container.pack(header, strings)

    def encode_latents(self, rgb, quality):
        """(header, strings, decoded latents): the latents are what the decoder will rebuild."""
        import tensorflow as tf

        rgb = check_image(rgb)
        rate = quality_to_rate(quality)
        x = pad_image(rgb).astype(np.float32) / 255.0
        q = tf.constant([rate / RATE_SCALE], tf.float32)
        # Large images go through the analysis in tiles (bounded memory, same y).
        y = tiling.run_tiled(lambda part: self._analyse(part[None], q)[0], x,
                             tiling.default_tile("analysis"), tiling.ANALYSIS)[None]
        z = self._hyper_analyse(y).numpy()
        if self.refine_steps:
            y, z = self._refine(tf.constant(x[None]), y, z, q, rgb.shape[0], rgb.shape[1])
        return self.latents.encode(y[0], z[0], rgb.shape[0], rgb.shape[1], rate)

    def _refine(self, x, y, z, quality, height, width):
        from tfcodec.codecs.refine import LatentRefiner

        if self._refiner is None:
            self._refiner = LatentRefiner(self.model)
        report = self.refine_progress
        done = None if report is None else (lambda t: report(t, self.refine_steps))
        return self._refiner.refine(x, y, z, quality, height, width, self.refine_steps, progress=done)

    def decode_latents(self, header, strings):
        return self.latents.decode(header, strings)

    def decompress(self, data):
        """The bytes of a .tfc file -> uint8 HxWx3."""
        import tensorflow as tf

        header, strings = container.unpack(data)
        decoded, mean_feat = self.latents.decode(header, strings)
        y_hat = dequantise(decoded)
        if self.config.channelwise:
            mean_float = tf.constant(mean_feat.astype(np.float32) / 2**PARAM_EXPONENT)
            y_hat = [y_hat[i] + self.model.latent_residual(i, mean_float, y_hat[:i + 1]).numpy()
                     for i in range(self.config.num_slices)]
        q = tf.constant([header.rate / RATE_SCALE], tf.float32)
        x_hat = tiling.run_tiled(lambda part: self._synthesise(part[None], q)[0],
                                 np.concatenate(y_hat, axis=-1)[0], tiling.default_tile("synthesis"),
                                 tiling.SYNTHESIS)
        return to_uint8(x_hat, header.height, header.width)

    def compress_for_bpp(self, rgb, bpp):
        """The largest quality whose file stays at or under `bpp`."""
        return search_quality(self.compress, check_image(rgb), bpp)


def build_coding_arrays(model, calibration_images, qualities=(0.0, 0.25, 0.5, 0.75, 1.0)):
    """Tables and integer nets for a trained model, calibrated on training images."""
    import tensorflow as tf

    from tfcodec.entropy.integer_net import IntegerNet

    c = model.config
    arrays = {}
    lookup, offsets = tables.gaussian_tables()
    arrays["gaussian/lookup"], arrays["gaussian/offsets"] = lookup, offsets
    lookup, offsets = tables.factorized_tables(model.hyper_prior.pmf_numpy, c.hyper_channels)
    arrays["factorized/lookup"], arrays["factorized/offsets"] = lookup, offsets

    z_all, inputs = [], {}
    for image in calibration_images:
        x = tf.constant(image[None], tf.float32)
        for q in qualities:
            gain, _ = model.gains(tf.constant([q]))
            y = model.analysis(x) * gain[:, None, None, :]
            z_hat = tf.round(model.hyper_analysis(y))
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
    net = IntegerNet.from_keras(model.hyper_synthesis, z_all, 0, PARAM_EXPONENT)
    arrays.update(net.to_arrays("int/hyper_synthesis"))
    for i in range(c.num_slices if c.channelwise else 0):
        for kind, keras_net in (("mean", model.mean_nets[i]), ("scale", model.scale_nets[i])):
            net = IntegerNet.from_keras(keras_net, inputs[f"{kind}_{i}"], PARAM_EXPONENT, PARAM_EXPONENT)
            arrays.update(net.to_arrays(f"int/{kind}_{i}"))
    return arrays


def export_coding(model, calibration_folder, count, seed=0):
    """(coding arrays, bundle meta) of a trained model: the family record's export step."""
    from tfcodec.train.export_weights import calibration_crops

    return build_coding_arrays(model, calibration_crops(calibration_folder, count, seed=seed)), {}
