"""The hyperprior codec family in Keras 3: scale, mean-scale and channel-wise.

Training path only lives here (noisy/straight-through quantisation and
likelihoods). Coding with real streams is in `tfcodec.codecs.hyperprior`, which
reuses these transforms and the integer entropy-parameter path.

Quantisation proxy ("mixed", the default): the rate term sees y + uniform noise,
while the decoder and the slice context see round(y - mean) + mean with a
straight-through gradient, as in Minnen & Singh 2020. "noise" feeds the noisy
latents to the decoder too (y and z), as Ballé 2018 and tensorflow-compression's
model scripts train: benchmarks/compare_tfc.py uses it for a like-for-like run.

Precision: the wide layers of the analysis and synthesis transforms follow
Keras's dtype policy, so training under `mixed_bfloat16` runs them in bfloat16
with float32 variables (a training step 1.3x faster on a CPU with AVX512-BF16;
see docs/training.md). The layers that touch the latent, the hyper transforms
(`transforms`), the gains, the slice nets and the densities are pinned to
float32, and each transform's output is cast to float32 before it meets them:
the rate estimate and the loss stay float32 computations.
"""

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tfcodec.entropy.densities import (SCALE_MAX, SCALE_MIN, DeepFactorized, gaussian_likelihood,
                                      gaussian_log_likelihood, scale_from_log)
from tfcodec.models import transforms
from tfcodec.models.config import HyperpriorConfig
from tfcodec.models.gains import RATE_RANGE_FIELDS, QualityGains, adapt_gain_table, lambda_for_quality
from tfcodec.ops import bounded, random_uniform, round_straight_through

# Downsampling of the whole model: images are padded to a multiple of this.
STRIDE = 64


def _float32(x):
    return tf.cast(x, tf.float32)


def _uniform_noise(x):
    return x + random_uniform(tf.shape(x), -0.5, 0.5, dtype=x.dtype)


@keras.saving.register_keras_serializable("tfcodec")
class HyperpriorModel(keras.Model):
    """bmshj2018 / mbt2018-mean / channel-wise, chosen by the config."""

    def __init__(self, config: HyperpriorConfig, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = HyperpriorConfig.from_dict(config)
        self.config = config
        c = config
        imported = c.layout != "tfcodec"
        self.analysis = transforms.analysis_transform(c.num_filters, c.latent_channels, centered=imported,
                                                      gdn=c.gdn)
        self.synthesis = transforms.synthesis_transform(c.num_filters, centered=imported, gdn=c.gdn)
        self.hyper_analysis = transforms.hyper_analysis_transform(
            c.hyper_filters, c.hyper_channels, config=c if imported else None)
        feature_channels = c.latent_channels * (2 if c.predict_means else 1)
        self.hyper_synthesis = (transforms.imported_hyper_synthesis(c, feature_channels) if imported else
                                transforms.hyper_synthesis_transform(c.hyper_filters, feature_channels))
        self.hyper_prior = DeepFactorized(c.prior_filters, name="hyper_prior", dtype="float32")
        self.gains = QualityGains(c.latent_channels, c.gain_levels, name="gains", dtype="float32")
        if c.latent_channels % c.num_slices:
            raise ValueError("latent_channels must divide into num_slices")
        self.slice_channels = c.latent_channels // c.num_slices
        self.mean_nets, self.scale_nets, self.lrp_nets = [], [], []
        if c.channelwise:
            for i in range(c.num_slices):
                for nets, role in ((self.mean_nets, "mean"), (self.scale_nets, "scale"), (self.lrp_nets, "lrp")):
                    nets.append(transforms.parameter_net(c.slice_hidden, self.slice_channels, f"{role}_{i}"))
        if c.z_offsets:
            # Per-channel centre of z's quantisation bins (see HyperpriorConfig.z_offsets).
            self.z_offset = self.add_weight(name="z_offset", shape=(c.hyper_channels,),
                                            initializer="zeros", trainable=False, dtype="float32")

    def get_config(self):
        return {"config": self.config.to_json()}

    @classmethod
    def from_config(cls, config):
        import json
        return cls(HyperpriorConfig.from_dict(json.loads(config["config"])))

    # -- pieces shared with the coding path --------------------------------

    def quantise_z(self, z):
        """z rounded to its bins' centres: the integers, or round(z - offset) + offset."""
        if not self.config.z_offsets:
            return tf.round(z)
        return tf.round(z - self.z_offset) + self.z_offset

    def scales(self, scale_features, revive=True):
        """Gaussian scales from the hyper-synthesis' scale features, bounded as the tables are
        (`revive`: with the gradient that brings a scale back into range; `scale_from_log`)."""
        if self.config.linear_scales:
            if revive:
                return bounded(scale_features, SCALE_MIN, SCALE_MAX)
            return tf.clip_by_value(scale_features, SCALE_MIN, SCALE_MAX)
        return scale_from_log(scale_features, revive)

    def split_features(self, features):
        """Hyper-synthesis output -> (mean features or None, scale features)."""
        if self.config.predict_means:
            return tf.split(features, 2, axis=-1)
        return None, features

    def slice_parameters(self, i, mean_features, scale_features, decoded):
        """(mean, log_scale) of slice i given the slices decoded before it."""
        c = self.config
        lo, hi = i * self.slice_channels, (i + 1) * self.slice_channels
        if not c.channelwise:
            mean = mean_features[..., lo:hi] if mean_features is not None else None
            return mean, scale_features[..., lo:hi]
        mean_in = tf.concat([mean_features] + decoded, axis=-1)
        scale_in = tf.concat([scale_features] + decoded, axis=-1)
        return self.mean_nets[i](mean_in), self.scale_nets[i](scale_in)

    def latent_residual(self, i, mean_features, decoded_through_i):
        """Latent residual prediction: a bounded correction of slice i from context."""
        lrp_in = tf.concat([mean_features] + decoded_through_i, axis=-1)
        return 0.5 * tf.tanh(self.lrp_nets[i](lrp_in))

    # -- training -----------------------------------------------------------

    def call(self, inputs, training=False):
        x, quality = inputs
        return self.forward(x, quality, training=training)

    def forward(self, x, quality, training=True, proxy="mixed"):
        """x in [0, 1], (B, H, W, 3); quality (B,). Returns x_hat and bits per image.
        `proxy`: the quantisation proxy in training, "mixed" or "noise" (module docstring)."""
        gain, _ = self.gains(quality)
        y = _float32(self.analysis(x)) * gain[:, None, None, :]
        z = _float32(self.hyper_analysis(y))
        return self.forward_latents(y, z, quality, training=training, proxy=proxy)

    def forward_latents(self, y, z, quality, training=True, proxy="mixed", revive_scales=True):
        """`forward` from the gained latent y and hyper-latent z on.

        Split out so that an encoder can search for better latents than the
        analysis gives (`tfcodec.codecs.refine`) through the training objective;
        such a search passes `revive_scales=False`, the true gradient of the
        clipped scales (`scales`), since the file pays the clipped ones.
        """
        c = self.config
        if proxy not in ("mixed", "noise"):
            raise ValueError(f"proxy must be 'mixed' or 'noise', not {proxy!r}")
        noise_only = training and proxy == "noise"
        _, inverse_gain = self.gains(quality)
        if c.z_offsets:
            z_hat = round_straight_through(z - self.z_offset) + self.z_offset
        else:
            z_hat = round_straight_through(z)
        z_tilde = _uniform_noise(z) if training else z_hat
        if c.log_space_rate:
            z_log_lik = self.hyper_prior.log_likelihood(z_tilde)
        else:
            z_log_lik = tf.math.log(self.hyper_prior(z_tilde))
        z_bits = -tf.reduce_sum(z_log_lik, axis=(1, 2, 3))
        features = _float32(self.hyper_synthesis(z_tilde if noise_only else z_hat))
        mean_features, scale_features = self.split_features(features)

        y_slices = tf.split(y, c.num_slices, axis=-1)
        decoded, reconstructed, y_log_lik = [], [], 0.0
        for i, y_slice in enumerate(y_slices):
            mean, log_scale = self.slice_parameters(i, mean_features, scale_features, decoded)
            if mean is None:
                mean = tf.zeros_like(y_slice)
            scale = self.scales(log_scale, revive_scales)
            y_rate = _uniform_noise(y_slice) if training else tf.round(y_slice - mean) + mean
            if c.log_space_rate:
                log_lik = gaussian_log_likelihood(y_rate, mean, scale)
            else:
                log_lik = tf.math.log(gaussian_likelihood(y_rate, mean, scale))
            y_log_lik += tf.reduce_sum(log_lik, axis=(1, 2, 3))
            y_hat = y_rate if noise_only else round_straight_through(y_slice - mean) + mean
            decoded.append(y_hat)
            if c.channelwise:
                y_hat = y_hat + self.latent_residual(i, mean_features, decoded)
            reconstructed.append(y_hat)
        y_hat = tf.concat(reconstructed, axis=-1) * inverse_gain[:, None, None, :]
        x_hat = _float32(self.synthesis(y_hat))
        ln2 = tf.math.log(2.0)
        return {"x_hat": x_hat, "y_bits": -y_log_lik / ln2, "z_bits": z_bits / ln2}

    def rd_loss(self, x, quality, training=True, proxy="mixed"):
        """Per-image loss bpp + lambda(q) * MSE (0-255 scale), and its parts."""
        out = self.forward(x, quality, training=training, proxy=proxy)
        pixels = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], tf.float32)
        bpp = (out["y_bits"] + out["z_bits"]) / pixels
        mse = tf.reduce_mean(tf.square(out["x_hat"] - x), axis=(1, 2, 3)) * 255.0**2
        lmbda = lambda_for_quality(quality, self.config.lambda_min, self.config.lambda_max)
        loss = bpp + lmbda * mse
        return loss, {"bpp": bpp, "mse": mse, "x_hat": out["x_hat"]}


def build(name, config):
    """A built model (every variable created) of `config`, named after `name`."""
    model = HyperpriorModel(config, name=name.replace("-", "_"))
    model.forward(tf.zeros((1, STRIDE, STRIDE, 3)), tf.zeros((1,)), training=False)
    return model


def warm_start_weights(model, bundle):
    """A hyperprior bundle's Keras weights for `model`, which may cover another rate range:
    its gain tables are then re-laid for the model's (`gains.adapt_gain_table`), so
    training starts from the old rates where the two ranges overlap."""
    from tfcodec.models import bundle_config

    source, target = bundle_config(bundle), model.config
    if all(getattr(source, k) == getattr(target, k) for k in RATE_RANGE_FIELDS):
        return bundle.keras
    logging.info("initial weights: %d gain levels over lambda %g..%g laid out for %d over %g..%g",
                 *(getattr(source, k) for k in RATE_RANGE_FIELDS),
                 *(getattr(target, k) for k in RATE_RANGE_FIELDS))
    return {key: adapt_gain_table(value, source, target) if key.endswith(("/log_gain", "/log_inverse_gain"))
            else np.asarray(value) for key, value in bundle.keras.items()}
