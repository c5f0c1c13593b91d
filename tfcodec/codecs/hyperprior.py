"""Real bitstreams for the hyperprior family (scale, mean-scale, channel-wise).

Encoder: analysis transform and hyper-analysis in TensorFlow (floating point is
fine there: only the encoder sees y and z). The hyper-latent is rounded and
coded with per-channel factorized tables. Everything the decoder must
recompute to pick tables — hyper-synthesis, slice means and scales — runs in
exact integer arithmetic (`IntegerNet`), so table indices cannot drift between
runtimes. Decoder: the same integer path, then latent residual prediction,
inverse gain and synthesis in floating point (they shape pixels, not symbols).

Strings in the container: S streams for z, then S streams per latent slice, in
slice order; S (a power of two) is chosen by the encoder from the expected
size and recovered by the decoder from the string count.
"""

import numpy as np

from tfcodec import container, rangecoder
from tfcodec.entropy import tables
from tfcodec.entropy.integer_net import PARAM_EXPONENT, IntegerNet, saturate
from tfcodec.errors import FormatError

STRIDE = 64
MAX_STREAMS = 32
# Bytes of payload per stream below which another stream costs more than it saves.
BYTES_PER_STREAM = 160
RATE_SCALE = 1000  # header rate field = quality * RATE_SCALE


def pad_image(rgb, multiple=STRIDE):
    """Edge-replicates to a multiple of the model's stride (cropped after decoding)."""
    h, w = rgb.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    return np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="edge")


def _streams_for(estimated_bytes, channels):
    streams = 1
    while streams * 2 <= MAX_STREAMS and channels % (streams * 2) == 0 \
            and estimated_bytes / (streams * 2) >= BYTES_PER_STREAM:
        streams *= 2
    return streams


def _ideal_bytes(lookup, index, value):
    """Expected coded size from the tables (to choose the stream count)."""
    precision = np.abs(lookup[:, 0]).astype(np.int64)
    width = lookup.shape[1] - 1
    escape = (value < 0) | (value >= width - 2)
    v = np.clip(value, 0, width - 2)
    freq = lookup[index, 2 + v].astype(np.int64) - lookup[index, 1 + v]
    bits = precision[index] - np.log2(np.maximum(freq, 1))
    return float(np.sum(bits) + 16 * np.sum(escape)) / 8


def _to_streams(array, streams):
    """(C, h, w) -> (streams, C/streams*h*w), channel groups per stream."""
    return array.reshape(streams, -1)


class HyperpriorCoder:
    """Compress/decompress with one hyperprior model bundle."""

    family = "hyperprior"

    def __init__(self, bundle):
        from tfcodec.models import build_model
        from tfcodec.weights import assign_keras_weights

        self.bundle = bundle
        self.name = bundle.model
        self.identity = bundle.hash.hex()
        self.model = build_model(bundle.model)
        assign_keras_weights(self.model, bundle.keras, f"weights {bundle.path or bundle.model}")
        self.config = self.model.config
        coding = bundle.coding
        self.gauss_lookup = np.asarray(coding["gaussian/lookup"], np.int32)
        self.gauss_offsets = np.asarray(coding["gaussian/offsets"], np.int64)
        self.z_lookup = np.asarray(coding["factorized/lookup"], np.int32)
        self.z_offsets = np.asarray(coding["factorized/offsets"], np.int64)
        self.hyper_synthesis = IntegerNet.from_arrays(coding, "int/hyper_synthesis")
        self.mean_nets = [IntegerNet.from_arrays(coding, f"int/mean_{i}")
                          for i in range(self.config.num_slices) if self.config.channelwise]
        self.scale_nets = [IntegerNet.from_arrays(coding, f"int/scale_{i}")
                           for i in range(self.config.num_slices) if self.config.channelwise]
        self._build_functions()

    @property
    def rate_settings(self):
        return [round(q, 3) for q in np.linspace(0.0, 1.0, 9)]

    # -- TensorFlow pieces -------------------------------------------------

    def _build_functions(self):
        import tensorflow as tf

        model = self.model

        @tf.function(input_signature=[tf.TensorSpec((1, None, None, 3), tf.float32),
                                      tf.TensorSpec((1,), tf.float32)])
        def analyse(x, quality):
            gain, _ = model.gains(quality)
            y = model.analysis(x) * gain[:, None, None, :]
            return y, model.hyper_analysis(y)

        @tf.function(input_signature=[tf.TensorSpec((1, None, None, None), tf.float32),
                                      tf.TensorSpec((1,), tf.float32)])
        def synthesise(y_hat, quality):
            _, inverse_gain = model.gains(quality)
            return model.synthesis(y_hat * inverse_gain[:, None, None, :])

        self._analyse = analyse
        self._synthesise = synthesise

    # -- the integer entropy-parameter path ----------------------------------

    def _features(self, z_int):
        """(mean features or None, scale features), fixed point at PARAM_EXPONENT."""
        features = self.hyper_synthesis(z_int)
        if self.config.predict_means:
            m = features.shape[-1] // 2
            return features[..., :m], features[..., m:]
        return None, features

    def _slice_parameters(self, i, mean_feat, scale_feat, decoded):
        """Fixed-point (mean, log-scale) of slice i, identical on encoder and decoder."""
        c = self.config
        width = c.latent_channels // c.num_slices
        if c.channelwise:
            mean = self.mean_nets[i](np.concatenate([mean_feat] + decoded, axis=-1))
            log_scale = self.scale_nets[i](np.concatenate([scale_feat] + decoded, axis=-1))
            return mean, log_scale
        lo, hi = i * width, (i + 1) * width
        mean = mean_feat[..., lo:hi] if mean_feat is not None else np.zeros_like(scale_feat[..., lo:hi])
        return mean, scale_feat[..., lo:hi]

    # -- public API ----------------------------------------------------------

    def compress(self, rgb, quality=0.5):
        """uint8 HxWx3 -> the bytes of a .tfc file."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise FormatError(f"expected an RGB uint8 image, got {rgb.dtype} of shape {rgb.shape}")
        if not 0.0 <= float(quality) <= 1.0:
            raise FormatError(f"quality must be in [0, 1], got {quality}")
        header, strings, _ = self.encode_latents(rgb, quality)
        return container.pack(header, strings)

    def encode_latents(self, rgb, quality):
        """(header, strings, decoded latents): the latents are what the decoder will rebuild."""
        import tensorflow as tf

        rate = int(round(float(quality) * RATE_SCALE))
        q = tf.constant([rate / RATE_SCALE], tf.float32)
        x = tf.constant(pad_image(rgb)[None].astype(np.float32) / 255.0)
        y, z = self._analyse(x, q)
        y = y.numpy().astype(np.float64)[0]
        z_int = np.rint(z.numpy()[0]).astype(np.int64)

        z_values = (z_int + self.z_offsets).transpose(2, 0, 1)  # (C, h, w)
        z_index = np.broadcast_to(np.arange(z_values.shape[0])[:, None, None], z_values.shape)
        mean_feat, scale_feat = self._features(z_int[None])
        slices = np.split(y, self.config.num_slices, axis=-1)
        coded, decoded = [], []
        for i, y_slice in enumerate(slices):
            mean, log_scale = self._slice_parameters(i, mean_feat, scale_feat, decoded)
            mean, log_scale = mean[0], log_scale[0]
            symbols = np.floor(y_slice - mean / 2.0**PARAM_EXPONENT + 0.5).astype(np.int64)
            index = tables.scale_indices(log_scale)
            coded.append(((symbols + self.gauss_offsets[index]).transpose(2, 0, 1),
                          index.transpose(2, 0, 1)))
            decoded.append(saturate(symbols * 2**PARAM_EXPONENT + mean)[None])

        total = _ideal_bytes(self.z_lookup, z_index.ravel(), z_values.ravel())
        total += sum(_ideal_bytes(self.gauss_lookup, i.ravel(), v.ravel()) for v, i in coded)
        streams = _streams_for(total / (1 + len(coded)), min(z_values.shape[0], coded[0][0].shape[0]))
        strings = list(rangecoder.encode_index(
            self.z_lookup, _to_streams(z_index, streams), _to_streams(z_values, streams), stream_rank=1))
        for values, index in coded:
            strings += rangecoder.encode_index(
                self.gauss_lookup, _to_streams(index, streams), _to_streams(values, streams), stream_rank=1)
        header = container.Header(self.name, self.bundle.hash, rgb.shape[0], rgb.shape[1], rate)
        return header, strings, decoded

    def check_header(self, header):
        if header.model_id != self.name:
            raise FormatError(f"stream was made by model {header.model_id!r}, not {self.name!r}: "
                              f"decode it with --model {header.model_id}")
        if header.weights_hash != self.bundle.hash:
            raise FormatError(f"stream was made with other weights of {self.name} "
                              f"(weights {header.weights_hash.hex()}, these are {self.bundle.hash.hex()})")
        if header.rate > RATE_SCALE:
            raise FormatError(f"corrupt stream: quality {header.rate / RATE_SCALE} outside [0, 1]")

    def decompress(self, data):
        """The bytes of a .tfc file -> uint8 HxWx3."""
        import tensorflow as tf

        header, strings = container.unpack(data)
        decoded, mean_feat = self.decode_latents(header, strings)
        c = self.config
        y_hat = [d.astype(np.float32) / 2**PARAM_EXPONENT for d in decoded]
        if c.channelwise:
            mean_float = tf.constant(mean_feat.astype(np.float32) / 2**PARAM_EXPONENT)
            y_hat = [y_hat[i] + self.model.latent_residual(i, mean_float, y_hat[:i + 1]).numpy()
                     for i in range(c.num_slices)]
        q = tf.constant([header.rate / RATE_SCALE], tf.float32)
        x_hat = self._synthesise(tf.constant(np.concatenate(y_hat, axis=-1)), q).numpy()[0]
        x_hat = x_hat[:header.height, :header.width]
        return np.clip(np.floor(x_hat * 255.0 + 0.5), 0, 255).astype(np.uint8)

    def decode_latents(self, header, strings):
        """The fixed-point latent slices (and mean features) a stream holds."""
        self.check_header(header)
        c = self.config
        groups = 1 + c.num_slices
        if len(strings) % groups or not strings:
            raise FormatError(f"corrupt stream: {len(strings)} coded strings for a model with {groups} parts")
        streams = len(strings) // groups
        if streams & (streams - 1) or streams > MAX_STREAMS:
            raise FormatError(f"corrupt stream: {streams} streams per part")
        ph, pw = -(-header.height // STRIDE) * STRIDE, -(-header.width // STRIDE) * STRIDE
        lh, lw = ph // 16, pw // 16
        zc = self.z_lookup.shape[0]
        z_index = np.broadcast_to(np.arange(zc)[:, None, None], (zc, lh // 4, lw // 4))
        z_values = rangecoder.decode_index(self.z_lookup, _to_streams(z_index, streams),
                                           strings[:streams], stream_rank=1)
        z_int = z_values.reshape(zc, lh // 4, lw // 4).transpose(1, 2, 0) - self.z_offsets
        mean_feat, scale_feat = self._features(z_int[None])
        width = c.latent_channels // c.num_slices
        decoded = []
        for i in range(c.num_slices):
            mean, log_scale = self._slice_parameters(i, mean_feat, scale_feat, decoded)
            index = tables.scale_indices(log_scale[0]).transpose(2, 0, 1)
            part = strings[streams * (i + 1):streams * (i + 2)]
            values = rangecoder.decode_index(self.gauss_lookup, _to_streams(index, streams), part,
                                             stream_rank=1).reshape(width, lh, lw)
            symbols = (values - self.gauss_offsets[index]).transpose(1, 2, 0)
            decoded.append(saturate(symbols * 2**PARAM_EXPONENT + mean[0])[None])
        return decoded, mean_feat

    def compress_for_bpp(self, rgb, bpp, tolerance=0.02):
        """The largest quality whose file stays at or under `bpp` (bisection on quality)."""
        pixels = rgb.shape[0] * rgb.shape[1]
        lo, hi, best = 0.0, 1.0, None
        for _ in range(10):
            mid = (lo + hi) / 2
            data = self.compress(rgb, mid)
            if len(data) * 8 / pixels <= bpp:
                lo, best = mid, data
                if bpp - len(data) * 8 / pixels < tolerance * bpp:
                    break
            else:
                hi = mid
        return best if best is not None else self.compress(rgb, 0.0)


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
