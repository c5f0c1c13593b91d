"""Entropy coding of the hyperprior family's latents, in numpy alone.

The hyperprior pipeline (`tfcodec.codecs.hyperprior`) runs this on every
backend (TensorFlow, and LiteRT in the edge runtime), so a stream from either
decodes on the other: the same code with the same tables and integer nets.

The hyper-latent z is rounded and coded with per-channel factorized tables.
Everything the decoder must recompute to pick tables — hyper-synthesis, slice
means and scales — runs in exact integer arithmetic (`IntegerNet`), so table
indices cannot drift between runtimes. A latent element is coded as
round(y - mean) with the Gaussian row of its (integer) scale index.

Strings in the container: S streams for z, then S streams per latent slice, in
slice order; S (a power of two) is chosen by the encoder from the expected size
and recovered by the decoder from the string count.
"""

import numpy as np

from tfcodec import container, rangecoder
from tfcodec.entropy import blas_threads, tables
from tfcodec.entropy.integer_net import BAND_POSITIONS, PARAM_EXPONENT, IntegerNet, saturate
from tfcodec.errors import FormatError, OtherModelError
from tfcodec.models.config import HyperpriorConfig

STRIDE = 64            # total downsampling: images are padded to a multiple
LATENT_STRIDE = 16     # image -> y
HYPER_STRIDE = 4       # y -> z
MAX_STREAMS = 32
# Expected payload bytes per stream below which another stream costs more than it saves.
BYTES_PER_STREAM = 160
RATE_SCALE = 1000      # header rate field = quality * RATE_SCALE


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


def _pairs_fit(features):
    """Whether a slice's two nets may run at once: on latents that the nets take whole. Larger
    ones run in bands (`integer_net.BAND_POSITIONS`) one net after the other, as two nets' bands
    at once would double the work arrays (a 4000x3000 photo's decode: 991 MiB peak instead of 842)."""
    return features.shape[1] * features.shape[2] <= BAND_POSITIONS


def _to_streams(array, streams):
    """(C, h, w) -> (streams, C/streams*h*w): channel groups per stream."""
    return array.reshape(streams, -1)


class LatentCoder:
    """Codes (y, z) to strings and strings back to fixed-point latents."""

    def __init__(self, config: HyperpriorConfig, coding, model_id, weights_hash):
        self.config = config
        self.model_id = model_id
        self.weights_hash = weights_hash
        self.gauss_table = np.asarray(coding["gaussian/lookup"], np.int32)
        self.gauss_offsets = np.asarray(coding["gaussian/offsets"], np.int64)
        self.z_table = np.asarray(coding["factorized/lookup"], np.int32)
        self.z_offsets = np.asarray(coding["factorized/offsets"], np.int64)
        # Parsed once: the coder caches its search tables inside a Lookup.
        self.gauss_lookup = rangecoder.Lookup(self.gauss_table)
        self.z_lookup = rangecoder.Lookup(self.z_table)
        self.hyper_synthesis = IntegerNet.from_arrays(coding, "int/hyper_synthesis")
        # Imported models: z's bin centres (fixed point at the hyper-synthesis' input
        # exponent) and thresholds of linear scales (HyperpriorConfig.z_offsets, .linear_scales).
        self.z_centres = np.asarray(coding["factorized/centres"], np.int64) if "factorized/centres" in coding \
            else np.zeros(self.z_table.shape[0], np.int64)
        self.thresholds = np.asarray(coding["gaussian/thresholds"], np.int64) \
            if "gaussian/thresholds" in coding else tables.scale_thresholds()
        slices = range(config.num_slices) if config.channelwise else ()
        self.mean_nets = [IntegerNet.from_arrays(coding, f"int/mean_{i}") for i in slices]
        self.scale_nets = [IntegerNet.from_arrays(coding, f"int/scale_{i}") for i in slices]
        self._worker = None

    # -- the integer entropy-parameter path ----------------------------------

    def features(self, z_int):
        """(mean features or None, scale features), fixed point at PARAM_EXPONENT, of the
        coded hyper-latent (integers about the bin centres)."""
        features = self.hyper_synthesis(z_int * 2**self.hyper_synthesis.input_exponent + self.z_centres)
        # Saturated to 20 bits: int32 holds them, at half the memory of int64 (a 12-megapixel
        # photo's features are 96 MB in int64), and so do the slice nets' inputs made from them.
        features = features.astype(np.int32)
        if self.config.predict_means:
            m = features.shape[-1] // 2
            return features[..., :m], features[..., m:]
        return None, features

    def slice_parameters(self, i, mean_feat, scale_feat, decoded, paired=False):
        """Fixed-point (mean, log-scale) of slice i, identical on encoder and decoder.
        `paired` (inside `blas_threads.one_thread()`): the scale net runs on a second thread
        beside the mean net; the same integers, in less time (tfcodec.entropy.blas_threads)."""
        c = self.config
        if c.channelwise:
            mean_input = np.concatenate([mean_feat] + decoded, axis=-1)
            scale_input = np.concatenate([scale_feat] + decoded, axis=-1)
            if paired:
                log_scale = self._second_thread().submit(self.scale_nets[i], scale_input)
                return self.mean_nets[i](mean_input), log_scale.result()
            return self.mean_nets[i](mean_input), self.scale_nets[i](scale_input)
        width = c.latent_channels // c.num_slices
        lo, hi = i * width, (i + 1) * width
        mean = mean_feat[..., lo:hi] if mean_feat is not None else np.zeros_like(scale_feat[..., lo:hi])
        return mean, scale_feat[..., lo:hi]

    def _second_thread(self):
        """The worker that runs a slice's scale net beside its mean net, started on first use."""
        if self._worker is None:
            import concurrent.futures

            self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tfcodec-scale-net")
        return self._worker

    # -- coding ----------------------------------------------------------------

    def encode(self, y, z, height, width, rate):
        """y (h, w, M) and z (h/4, w/4, Z) floats -> (header, strings, decoded latents).

        The decoded latents (fixed point, one array per slice) are exactly what
        `decode` rebuilds from the strings.
        """
        y = np.asarray(y, np.float64)
        centres = self.z_centres / 2.0**self.hyper_synthesis.input_exponent
        z_int = np.rint(np.asarray(z, np.float64) - centres).astype(np.int64)
        z_values = (z_int + self.z_offsets).transpose(2, 0, 1)  # (C, h, w)
        z_index = np.broadcast_to(np.arange(z_values.shape[0])[:, None, None], z_values.shape)
        coded, decoded = [], []
        # The hyper-synthesis too: a GEMM on OpenBLAS's own threads just before would leave
        # them spinning on the cores that the two nets' threads need (tfcodec.entropy.blas_threads).
        with blas_threads.one_thread() as paired:
            mean_feat, scale_feat = self.features(z_int[None])
            paired = paired and _pairs_fit(scale_feat)
            for i, y_slice in enumerate(np.split(y, self.config.num_slices, axis=-1)):
                mean, log_scale = self.slice_parameters(i, mean_feat, scale_feat, decoded, paired)
                mean, log_scale = mean[0], log_scale[0]
                symbols = np.floor(y_slice - mean / 2.0**PARAM_EXPONENT + 0.5).astype(np.int64)
                index = tables.scale_indices(log_scale, self.thresholds)
                coded.append(((symbols + self.gauss_offsets[index]).transpose(2, 0, 1),
                              index.transpose(2, 0, 1)))
                decoded.append(saturate(symbols * 2**PARAM_EXPONENT + mean).astype(np.int32)[None])

        total = _ideal_bytes(self.z_table, z_index.ravel(), z_values.ravel())
        total += sum(_ideal_bytes(self.gauss_table, i.ravel(), v.ravel()) for v, i in coded)
        streams = _streams_for(total / (1 + len(coded)), min(z_values.shape[0], coded[0][0].shape[0]))
        strings = list(rangecoder.encode_index(
            self.z_lookup, _to_streams(z_index, streams), _to_streams(z_values, streams), stream_rank=1))
        for values, index in coded:
            strings += rangecoder.encode_index(
                self.gauss_lookup, _to_streams(index, streams), _to_streams(values, streams), stream_rank=1)
        header = container.Header(self.model_id, self.weights_hash, height, width, rate)
        return header, strings, decoded

    def check_header(self, header):
        if header.model_id != self.model_id:
            raise OtherModelError(header.model_id, self.model_id)
        if header.weights_hash != self.weights_hash:
            raise FormatError(f"stream was made with other weights of {self.model_id} "
                              f"(weights {header.weights_hash.hex()}, these are {self.weights_hash.hex()})")
        if header.rate > RATE_SCALE:
            raise FormatError(f"corrupt stream: quality {header.rate / RATE_SCALE} outside [0, 1]")

    def decode(self, header, strings):
        """(decoded latents, mean features): fixed-point arrays, as `encode` made them."""
        self.check_header(header)
        c = self.config
        groups = 1 + c.num_slices
        if len(strings) % groups or not strings:
            raise FormatError(f"corrupt stream: {len(strings)} coded strings for a model with {groups} parts")
        streams = len(strings) // groups
        if streams & (streams - 1) or streams > MAX_STREAMS:
            raise FormatError(f"corrupt stream: {streams} streams per part")
        lh = -(-header.height // STRIDE) * STRIDE // LATENT_STRIDE
        lw = -(-header.width // STRIDE) * STRIDE // LATENT_STRIDE
        zc = self.z_table.shape[0]
        if zc % streams or (c.latent_channels // c.num_slices) % streams:
            raise FormatError(f"corrupt stream: {streams} streams do not divide the channels")
        zh, zw = lh // HYPER_STRIDE, lw // HYPER_STRIDE
        z_index = np.broadcast_to(np.arange(zc)[:, None, None], (zc, zh, zw))
        z_values = rangecoder.decode_index(self.z_lookup, _to_streams(z_index, streams),
                                           strings[:streams], stream_rank=1)
        z_int = z_values.reshape(zc, zh, zw).transpose(1, 2, 0) - self.z_offsets
        width = c.latent_channels // c.num_slices
        decoded = []
        with blas_threads.one_thread() as paired:  # the hyper-synthesis inside too: see encode
            mean_feat, scale_feat = self.features(z_int[None])
            paired = paired and _pairs_fit(scale_feat)
            for i in range(c.num_slices):
                mean, log_scale = self.slice_parameters(i, mean_feat, scale_feat, decoded, paired)
                index = tables.scale_indices(log_scale[0], self.thresholds).transpose(2, 0, 1)
                part = strings[streams * (i + 1):streams * (i + 2)]
                values = rangecoder.decode_index(self.gauss_lookup, _to_streams(index, streams), part,
                                                 stream_rank=1).reshape(width, lh, lw)
                symbols = (values - self.gauss_offsets[index]).transpose(1, 2, 0)
                decoded.append(saturate(symbols * 2**PARAM_EXPONENT + mean[0]).astype(np.int32)[None])
        return decoded, mean_feat


def dequantise(decoded):
    """Fixed-point latents -> float32 arrays (exactly symbol + mean)."""
    return [d.astype(np.float32) / 2**PARAM_EXPONENT for d in decoded]
