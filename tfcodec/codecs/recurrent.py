"""Real, progressive bitstreams for the recurrent family (Toderici et al.).

Stream layout inside the .tfc container (docs/recurrent.md):

    header.rate   = K, the number of iterations in the stream
    string 0      = 2 bytes: layout version (1), mode (0 = range-coded bits,
                    1 = raw bits, np.packbits order)
    string 1+2t   = iteration t, pass A: the bits at the anchor positions
                    ((i + j) even on the H/16 x W/16 grid), position-major
                    (row, column), then the C bits of the position
    string 2+2t   = iteration t, pass B: the bits at the other positions

Iteration t's strings depend only on the bits of iterations 0..t, so the
first K iterations of a stream are a complete K-iteration stream:
`truncate` keeps strings 0..2K and rewrites the header and CRC, and the result
is byte-for-byte what compressing with K iterations writes.

Bit probabilities come from the model's probability net evaluated as an
`IntegerNet` (exact integer arithmetic), whose fixed-point logit is binned by
integer comparisons against `thresholds`; bin b codes with CDF row b of the
binary `lookup`. The decoder recomputes the same bins from the same decoded
bits on any runtime. The float encoder/decoder RNNs only shape pixels.
"""

import numpy as np

from tfcodec import container, rangecoder
from tfcodec.entropy.integer_net import _CONV, IntegerNet, _exact_conv, _shift_round, saturate
from tfcodec.errors import FormatError, OtherModelError
from tfcodec.images import check_image, pad_image, to_uint8
from tfcodec.models.config import RECURRENT_STRIDE as STRIDE

LAYOUT_VERSION = 1
MODE_CODED, MODE_RAW = 0, 1
PROB_EXPONENT = 8          # the net's logit output: int = round(logit * 2**8)
NUM_BINS = 64
BIN_WIDTH = 64             # bin width in output units: 0.25 in logit
PRECISION = 16
PROB_NET = "int/prob_net"


def checkerboard(height, width):
    """1.0 at the anchor positions ((i + j) even) of an H/16 x W/16 grid, numpy (h, w, 1)."""
    i, j = np.mgrid[0:height, 0:width]
    return ((i + j) % 2 == 0).astype(np.float32)[..., None]


def context_planes_np(shape, past_bits, current_anchor_bits, t, iterations, second_pass):
    """The probability net's input for iteration t (0-based) and one pass, numpy int64.

    shape: (n, h, w, C) of one iteration's bits; past_bits: bits of iterations
    0..t-1, each (n, h, w, C) in {-1, +1}; current_anchor_bits: iteration t's
    bits with zeros off the anchors (pass B), or None (pass A). Layout:
    (iterations - 1) slots of past bits, most recent first, zero where there is
    no such iteration; C anchor planes; one-hot of t; one pass flag. Mirrors
    `RecurrentModel.context_planes` exactly.
    """
    n, h, w, c = shape
    slots = np.zeros((n, h, w, (iterations - 1) * c), np.int64)
    for s, bits in enumerate(reversed(past_bits)):
        slots[..., s * c:(s + 1) * c] = bits
    anchors = np.zeros((n, h, w, c), np.int64)
    if second_pass:
        anchors[...] = current_anchor_bits
    onehot = np.zeros((n, h, w, iterations), np.int64)
    onehot[..., t] = 1
    flag = np.full((n, h, w, 1), 1 if second_pass else 0, np.int64)
    return np.concatenate([slots, anchors, onehot, flag], axis=-1)


def default_thresholds():
    """Bin edges on the fixed-point logit: bin = number of edges <= logit."""
    return ((np.arange(1, NUM_BINS) - NUM_BINS // 2) * BIN_WIDTH).astype(np.int64)


def bin_centres(thresholds):
    edges = np.asarray(thresholds, np.float64) / 2**PROB_EXPONENT
    inner = (edges[1:] + edges[:-1]) / 2
    step = edges[1] - edges[0] if len(edges) > 1 else 1.0
    return np.concatenate([[edges[0] - step / 2], inner, [edges[-1] + step / 2]])


def lookup_from_probabilities(p_one):
    """Binary CDF rows (symbol 0 = bit -1, symbol 1 = bit +1) for P(bit = +1) per bin."""
    p_one = np.clip(np.asarray(p_one, np.float64), 1e-6, 1 - 1e-6)
    cdfs = rangecoder.pmf_to_quantized_cdf(np.stack([1 - p_one, p_one], -1).astype(np.float32), PRECISION)
    return rangecoder.build_lookup(list(cdfs), PRECISION)


def default_lookup(thresholds=None):
    centres = bin_centres(default_thresholds() if thresholds is None else thresholds)
    return lookup_from_probabilities(1 / (1 + np.exp(-centres)))


def prob_bins(logits, thresholds):
    """Integer logits -> bin indices by integer comparisons (identical everywhere)."""
    return np.searchsorted(np.asarray(thresholds, np.int64), np.asarray(logits, np.int64), side="right")


class BitCoder:
    """Codes and decodes the bits of every iteration; numpy only (no TensorFlow).

    The probability net's first convolution is linear in its input planes, and
    those planes are mostly the earlier iterations' bits: so it is evaluated
    group by group (earlier bits once per iteration for both passes, this
    iteration's anchors in pass B only, the constant one-hot and flag planes
    as convolutions of a plane of ones) instead of on the full planes, whose
    zero slots and repeated past bits make most of the work. Every part is an
    exact integer convolution (`integer_net._exact_conv`), so the sum is the
    very integer accumulator the full evaluation gives: the bins, and hence
    the stream, are unchanged (`reference_bins` is the full evaluation; tests
    compare the two).
    """

    def __init__(self, iterations, bits, coding):
        self.iterations = int(iterations)
        self.bits = int(bits)
        try:
            self.net = IntegerNet.from_arrays(coding, PROB_NET)
            self.thresholds = np.asarray(coding["bits/thresholds"], np.int64)
            self.lookup = np.asarray(coding["bits/lookup"], np.int32)
        except KeyError as e:
            raise FormatError(f"weights lack the recurrent coding array {e}") from None
        self.table = rangecoder.Lookup(self.lookup)
        if self.table.num_rows != len(self.thresholds) + 1:
            raise FormatError("weights: bit lookup rows do not match the probability bins")
        first = self.net.layers[0] if self.net.layers else {}
        channels = (self.iterations - 1) * self.bits + self.bits + self.iterations + 1
        if first.get("kind") == _CONV and first["weights"].shape[2] == channels:
            self._first = first
            self._tail = IntegerNet(self.net.layers[1:], 0, self.net.output_exponent)
            self._constant_cache = None
        else:  # not a net of the expected form: evaluate the full planes
            self._first = None

    # -- probability bins ------------------------------------------------------

    def reference_bins(self, shape, past, anchors, t, second_pass):
        """Bins (n, h, w, C) from the full context planes (the definition `_bins` must match)."""
        planes = context_planes_np(shape, past, anchors, t, self.iterations, second_pass)
        return prob_bins(self.net(planes), self.thresholds)

    def _constants(self, shape):
        """The first convolution of the constant planes (ones, zero padding) plus its bias:
        (iterations + 1, 1, h, w, F) int64, row t for the one-hot of t, the last for the flag
        (without the bias). Cached for the last grid size."""
        key = tuple(shape[1:3])
        cached = self._constant_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        h, w = key
        c, iterations = self.bits, self.iterations
        weights = self._first["weights"][:, :, iterations * c:]  # (kh, kw, iterations + 1, F)
        kh, kw = weights.shape[:2]
        inside = np.pad(np.ones((h, w)), ((kh // 2, kh // 2), (kw // 2, kw // 2)))
        taps = np.stack([inside[i:i + h, j:j + w] for i in range(kh) for j in range(kw)], -1)
        # Sums of at most kh * kw 16-bit weights: exact in float64.
        out = taps.reshape(h * w, kh * kw) @ weights.reshape(kh * kw, -1).astype(np.float64)
        out = out.astype(np.int64).reshape(h, w, iterations + 1, -1).transpose(2, 0, 1, 3)[:, None]
        out[:iterations] += self._first["bias"]
        self._constant_cache = (key, out)
        return out

    def _shared(self, past, shape):
        """What both passes of iteration t = len(past) share: the first convolution's
        exact accumulator over the earlier iterations' bits (int64, or 0 when t = 0)."""
        if self._first is None or not past:
            return 0
        x = np.concatenate(past[::-1], axis=-1)  # most recent first: the planes' slot order
        return _exact_conv(x, self._first["weights"][:, :, :x.shape[-1]], 0)

    def _bins(self, shared, shape, past, anchors, t, second_pass):
        """Bins (n, h, w, C) of iteration t, one pass; `shared` from `_shared(past, shape)`."""
        if self._first is None:
            return self.reference_bins(shape, past, anchors, t, second_pass)
        c, iterations = self.bits, self.iterations
        constants = self._constants(shape)
        acc = shared + constants[t]  # one-hot of t, bias
        if second_pass:  # the flag plane and this iteration's anchors
            anchor_weights = self._first["weights"][:, :, (iterations - 1) * c:iterations * c]
            acc = acc + constants[iterations] + _exact_conv(anchors, anchor_weights, 0)
        x = saturate(_shift_round(acc, self._first["shift"]))
        return prob_bins(self._tail(x), self.thresholds)

    # -- coding ------------------------------------------------------------------

    def encode_iteration(self, past, bits, mode=MODE_CODED):
        """Iteration t = len(past)'s two strings (pass A, pass B).

        past: the bits of iterations 0..t-1, bits: iteration t's, each (h, w, C) in {-1, +1}.
        """
        bits = np.asarray(bits, np.int64)[None]
        h, w = bits.shape[1:3]
        anchor = checkerboard(h, w)[..., 0] > 0
        symbols = [(bits[0][where] > 0).astype(np.int64).reshape(-1) for where in (anchor, ~anchor)]
        if mode == MODE_RAW:
            return [np.packbits(s.astype(np.uint8)).tobytes() for s in symbols]
        past = [np.asarray(p, np.int64)[None] for p in past]
        t = len(past)
        shared = self._shared(past, bits.shape)
        # Both passes' bins first, then both strings: the net's BLAS calls and the
        # range coder's Python loop take turns once per iteration, not per pass
        # (BLAS threads spinning after a call slow the coder on a busy machine).
        indexes = [self._bins(shared, bits.shape, past, None, t, False)[0][anchor],
                   self._bins(shared, bits.shape, past, bits * anchor[None, :, :, None], t, True)[0][~anchor]]
        return [rangecoder.encode_index(self.table, index.reshape(-1), s) for index, s in zip(indexes, symbols)]

    def encode(self, all_bits, mode=MODE_CODED):
        """List of K arrays (h, w, C) in {-1, +1} -> 2K strings."""
        return [s for t, bits in enumerate(all_bits) for s in self.encode_iteration(all_bits[:t], bits, mode)]

    def decode(self, strings, h, w, mode=MODE_CODED):
        """2K strings -> list of K arrays (h, w, C) int64 in {-1, +1}."""
        return list(self.iter_decode(strings, h, w, mode))

    def iter_decode(self, strings, h, w, mode=MODE_CODED):
        """`decode` one iteration at a time: yields each iteration's bits once its strings are read."""
        anchor = checkerboard(h, w)[..., 0] > 0
        decoded = []
        for t in range(len(strings) // 2):
            bits = np.zeros((1, h, w, self.bits), np.int64)
            shared = self._shared(decoded, bits.shape) if mode != MODE_RAW else None
            for k, (second_pass, where) in enumerate(((False, anchor), (True, ~anchor))):
                string = strings[2 * t + k]
                count = int(where.sum()) * self.bits
                if mode == MODE_RAW:
                    if len(string) != (count + 7) // 8:
                        raise FormatError(f"corrupt stream: iteration {t + 1} holds {len(string)} bytes "
                                          f"of raw bits, {(count + 7) // 8} expected")
                    unpacked = np.unpackbits(np.frombuffer(string, np.uint8))
                    if unpacked[count:].any():
                        raise FormatError(f"corrupt stream: iteration {t + 1} has stray padding bits")
                    symbols = unpacked[:count].astype(np.int64)
                else:
                    anchors = bits * anchor[None, :, :, None] if second_pass else None
                    index = self._bins(shared, bits.shape, decoded, anchors, t, second_pass)[0][where]
                    try:
                        symbols = rangecoder.decode_index(self.table, index.reshape(-1), string)
                    except FormatError as e:
                        raise FormatError(f"corrupt stream: iteration {t + 1}: {e}") from None
                    except ValueError as e:
                        raise FormatError(f"corrupt stream: iteration {t + 1} ({e})") from None
                bits[0][where] = 2 * np.asarray(symbols, np.int64).reshape(-1, self.bits) - 1
            decoded.append(bits)
            yield bits[0]


class _InOrder:
    """Runs calls one after another on one worker thread, in submission order, while
    the caller goes on: TensorFlow's RNN steps and the numpy bit coding overlap
    (both release the GIL in their heavy parts). Pending calls are cancelled when
    the `with` block raises."""

    def __init__(self):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tfcodec-recurrent")
        self._futures = []

    def submit(self, fn, *args):
        self._futures.append(self._pool.submit(fn, *args))

    def results(self):
        return [f.result() for f in self._futures]

    def __enter__(self):
        return self

    def __exit__(self, kind, value, trace):
        if kind is not None:
            for f in self._futures:
                f.cancel()
        self._pool.shutdown(wait=True)


class RecurrentCodec:
    """Compress/decompress with one recurrent model: one progressive stream for every rate."""

    family = "recurrent"

    def __init__(self, model, coding, weights_hash=b"\0" * 8, name=None):
        self.model = model
        self.config = model.config
        self.name = name or model.name.replace("_", "-")
        self.hash = bytes(weights_hash)
        self.identity = self.hash.hex()
        self.coder = BitCoder(self.config.iterations, self.config.bits, coding)
        self._build_functions()

    @classmethod
    def from_bundle(cls, bundle, refine_steps=0):
        """The codec of a recurrent weights bundle (the family record's codec)."""
        from tfcodec.models import model_from_bundle

        if refine_steps:
            raise FormatError(f"{bundle.model}: latent refinement is for hyperprior models, "
                              "not the recurrent family")
        return cls(model_from_bundle(bundle), bundle.coding, bundle.hash, bundle.model)

    @property
    def rate_settings(self):
        return list(range(1, self.config.iterations + 1))

    def _build_functions(self):
        """One iteration of the encoder RNN and of the decoder RNN, as graphs.

        Separate functions (rather than one encode step that also decodes) so
        that compressing skips the decoder after the last iteration and
        decompressing traces the same decoder. Each traces twice (the first
        iteration has no state) and, thanks to `reduce_retracing`, once more
        with free spatial sizes when a second image size comes, not per size.
        """
        import tensorflow as tf

        model = self.model

        def encode_step(residual, enc_states):
            return model.encode_step(residual, enc_states, training=False)

        def decode_step(bits, x_hat, dec_states):
            output, dec_states = model.decode_step(bits, dec_states)
            return model.combine(x_hat, output), dec_states

        self._encode_step = tf.function(encode_step, reduce_retracing=True)
        self._decode_step = tf.function(decode_step, reduce_retracing=True)

    # -- rate parameter -------------------------------------------------------

    def _check_iterations(self, iterations):
        if iterations is None:
            return max(1, self.config.iterations // 2)
        if isinstance(iterations, bool) or int(iterations) != iterations \
                or not 1 <= int(iterations) <= self.config.iterations:
            raise FormatError(f"iterations must be an integer in 1..{self.config.iterations}, got {iterations}")
        return int(iterations)

    # -- encoding ---------------------------------------------------------------

    def iter_encode_bits(self, rgb, iterations):
        """Yields the bits of each iteration, each (H/16, W/16, C) int8, as soon as it exists."""
        import tensorflow as tf

        target = tf.constant(pad_image(rgb, STRIDE)[None].astype(np.float32) / 255.0 - 0.5)
        x_hat, enc_states, dec_states = None, None, None
        for t in range(iterations):
            residual = target if x_hat is None else target - x_hat
            bits, enc_states = self._encode_step(residual, enc_states)
            if t + 1 < iterations:  # the last reconstruction is never used
                x_hat, dec_states = self._decode_step(bits, x_hat, dec_states)
            yield bits.numpy()[0].astype(np.int8)

    def encode_bits(self, rgb, iterations):
        """Padded image -> the bits of each iteration, each (H/16, W/16, C) int8."""
        return list(self.iter_encode_bits(rgb, iterations))

    def compress(self, rgb, iterations=None, entropy_coding=True):
        """uint8 HxWx3 -> the bytes of a .tfc file holding `iterations` iterations."""
        rgb = check_image(rgb)
        iterations = self._check_iterations(iterations)
        mode = MODE_CODED if entropy_coding else MODE_RAW
        all_bits = []
        with _InOrder() as coding:  # iteration t is coded while TensorFlow computes t + 1
            for bits in self.iter_encode_bits(rgb, iterations):
                coding.submit(self.coder.encode_iteration, tuple(all_bits), bits, mode)
                all_bits.append(bits)
            strings = [bytes([LAYOUT_VERSION, mode])] + [s for pair in coding.results() for s in pair]
        header = container.Header(self.name, self.hash, rgb.shape[0], rgb.shape[1], iterations)
        return container.pack(header, strings)

    def compress_for_bpp(self, rgb, bpp, entropy_coding=True):
        """The stream with the fewest iterations whose size reaches `bpp` (all of them if none does)."""
        rgb = check_image(rgb)
        if not bpp > 0:
            raise FormatError(f"target bpp must be positive, got {bpp}")
        full = self.compress(rgb, self.config.iterations, entropy_coding)
        pixels = rgb.shape[0] * rgb.shape[1]
        for k in self.rate_settings:
            data = truncate(full, k)
            if len(data) * 8 / pixels >= bpp:
                return data
        return full

    # -- decoding ---------------------------------------------------------------

    def parse(self, data):
        """Checks a stream against this model; returns (header, mode, iteration strings)."""
        header, strings = container.unpack(data)
        if header.model_id != self.name:
            raise OtherModelError(header.model_id, self.name)
        if header.weights_hash != self.hash:
            raise FormatError(f"stream was made with other weights of {self.name} "
                              f"({header.weights_hash.hex()}, these are {self.identity})")
        mode = _check_layout(header, strings)
        if header.rate > self.config.iterations:
            raise FormatError(f"corrupt stream: {header.rate} iterations, model {self.name} has at most "
                              f"{self.config.iterations}")
        return header, mode, strings[1:]

    def decode_bits(self, data):
        header, mode, strings = self.parse(data)
        hp, wp = -(-header.height // STRIDE), -(-header.width // STRIDE)
        return header, self.coder.decode(strings, hp, wp, mode)

    def reconstructions(self, header, all_bits, every=True):
        """The decoded image after each iteration (uint8, cropped); only the last one
        (a list of one) unless `every`."""
        steps = self._reconstruction_steps(header, len(all_bits), every)
        for bits in all_bits:
            steps(bits)
        return steps.images

    def _reconstruction_steps(self, header, count, every):
        """A callable that runs the decoder RNN on the next iteration's bits; the images
        land in its `images` (every iteration's, or only the last one's)."""
        import tensorflow as tf

        state = {"t": 0, "x_hat": None, "states": None}

        def step(bits):
            state["t"] += 1
            bits = tf.constant(np.asarray(bits)[None].astype(np.float32))
            x_hat, state["states"] = self._decode_step(bits, state["x_hat"], state["states"])
            state["x_hat"] = x_hat
            if every or state["t"] == count:
                step.images.append(to_uint8(x_hat.numpy()[0] + 0.5, header.height, header.width))

        step.images = []
        return step

    def _decompress(self, data, every):
        header, mode, strings = self.parse(data)
        hp, wp = -(-header.height // STRIDE), -(-header.width // STRIDE)
        steps = self._reconstruction_steps(header, len(strings) // 2, every)
        with _InOrder() as rnn:  # TensorFlow decodes iteration t while the bits of t + 1 are read
            for bits in self.coder.iter_decode(strings, hp, wp, mode):
                rnn.submit(steps, bits)
            rnn.results()
        return steps.images

    def decompress(self, data):
        """The bytes of a .tfc file -> uint8 HxWx3."""
        return self._decompress(data, every=False)[-1]

    def decompress_progressive(self, data):
        """Every prefix's image in one pass: [decompress(truncate(data, k)) for k = 1..K]."""
        return self._decompress(data, every=True)

    def truncate(self, data, iterations):
        return truncate(data, iterations)


def _check_layout(header, strings):
    if header.rate < 1:
        raise FormatError("corrupt stream: zero iterations")
    if len(strings) != 1 + 2 * header.rate:
        raise FormatError(f"corrupt stream: {len(strings)} coded strings for {header.rate} iterations "
                          f"(expected {1 + 2 * header.rate})")
    if len(strings[0]) != 2 or strings[0][0] != LAYOUT_VERSION or strings[0][1] not in (MODE_CODED, MODE_RAW):
        raise FormatError("corrupt stream: unknown recurrent stream layout")
    return strings[0][1]


def truncate(data, iterations):
    """A valid stream of the first `iterations` iterations, without re-encoding (no model needed)."""
    header, strings = container.unpack(data)
    _check_layout(header, strings)
    if isinstance(iterations, bool) or int(iterations) != iterations or not 1 <= int(iterations):
        raise FormatError(f"iterations must be a positive integer, got {iterations}")
    iterations = int(iterations)
    if iterations > header.rate:
        raise FormatError(f"the stream holds {header.rate} iterations; cannot truncate it to {iterations}")
    new_header = container.Header(header.model_id, header.weights_hash, header.height, header.width, iterations)
    return container.pack(new_header, strings[:1 + 2 * iterations])


# ----------------------------------------------------------------------------- coding arrays


def collect_bits(model, images, iterations=None):
    """Deterministic (inference) bits of every iteration for float images (B, H, W, 3) in [0, 1]."""
    import tensorflow as tf

    all_bits, _ = model.run(tf.constant(images, tf.float32), training=False, iterations=iterations)
    return [b.numpy().astype(np.int64) for b in all_bits]


def context_batch(all_bits, iterations):
    """Every (iteration, pass) context of a batch of bits: planes, target bits and pass masks."""
    n, h, w, c = all_bits[0].shape
    anchor = checkerboard(h, w)[None]
    planes, targets, masks = [], [], []
    for t in range(len(all_bits)):
        for second_pass in (False, True):
            anchors = all_bits[t] * anchor if second_pass else None
            planes.append(context_planes_np(all_bits[t].shape, all_bits[:t], anchors, t, iterations, second_pass))
            targets.append(all_bits[t])
            masks.append(np.broadcast_to(1 - anchor if second_pass else anchor, (n, h, w, 1)))
    return np.concatenate(planes), np.concatenate(targets), np.concatenate(masks)


def _calibration_batch(images, largest=256):
    images = [np.asarray(im) for im in images]
    images = [im.astype(np.float32) / 255.0 if im.dtype == np.uint8 else im.astype(np.float32) for im in images]
    if not images or any(im.ndim != 3 or im.shape[2] != 3 for im in images):
        raise ValueError("calibration images must be a non-empty list of HxWx3 images")
    side = min(largest, min(min(im.shape[:2]) for im in images) // STRIDE * STRIDE)
    side = max(side, STRIDE)
    out = []
    for im in images:
        im = np.pad(im, ((0, max(0, side - im.shape[0])), (0, max(0, side - im.shape[1])), (0, 0)), mode="edge")
        top, left = (im.shape[0] - side) // 2, (im.shape[1] - side) // 2
        out.append(im[top:top + side, left:left + side])
    return np.stack(out)


def build_coding_arrays(model, calibration_images, prior_weight=4.0):
    """Integer probability net and fitted bit tables for a trained model.

    calibration_images: a batch or a list of RGB images, float in [0, 1] or
    uint8, any sizes (training images, never the test set); they are
    centre-cropped to one common square (a multiple of 16, at most 256, padded
    if an image is smaller than 16). The net is quantised with the
    activations seen on their contexts; each bin's probability is the fitted
    frequency of +1 among the bits that fall in it, shrunk towards the bin's
    centre (`prior_weight` pseudo-counts).
    """
    return coding_arrays_from_bits(model, collect_bits(model, _calibration_batch(calibration_images)),
                                   prior_weight)


def coding_arrays_from_bits(model, all_bits, prior_weight=4.0):
    """`build_coding_arrays` on calibration bits already collected (`collect_bits`): an
    export compares probability nets on the same bits without running the RNNs again."""
    planes, targets, masks = context_batch(all_bits, model.config.iterations)
    net = IntegerNet.from_keras(model.prob_net, planes.astype(np.float32), 0, PROB_EXPONENT)
    thresholds = default_thresholds()
    bins = prob_bins(net(planes), thresholds)
    selected = np.broadcast_to(masks, bins.shape) > 0
    ones = np.bincount(bins[selected], weights=(targets[selected] > 0), minlength=NUM_BINS)
    counts = np.bincount(bins[selected], minlength=NUM_BINS)
    centres = 1 / (1 + np.exp(-bin_centres(thresholds)))
    p_one = (ones + prior_weight * centres) / (counts + prior_weight)
    arrays = net.to_arrays(PROB_NET)
    arrays["bits/thresholds"] = thresholds
    arrays["bits/lookup"] = lookup_from_probabilities(p_one)
    arrays["bits/calibration_counts"] = counts.astype(np.int64)
    return arrays


def code_length(coding, all_bits, iterations, chunk=16):
    """Ideal length in bits of coding `all_bits` (every iteration of a batch) with a bundle's
    integer probability net and bit table: what the range coder spends, less its flush bytes.

    This, not the float net's cross-entropy, is what a probability net is worth once
    shipped (quantised, its bins' probabilities refitted), so exports compare nets by it.
    """
    net = IntegerNet.from_arrays(coding, PROB_NET)
    thresholds = np.asarray(coding["bits/thresholds"], np.int64)
    lookup = np.asarray(coding["bits/lookup"], np.float64)
    # Binary rows: precision, then the CDF 0, P(bit -1), 1 at that precision.
    p_one = 1.0 - (lookup[:, 2] - lookup[:, 1]) / 2.0 ** lookup[:, 0]
    total = 0.0
    for i in range(0, len(all_bits[0]), chunk):
        planes, targets, masks = context_batch([b[i:i + chunk] for b in all_bits], iterations)
        p = p_one[prob_bins(net(planes), thresholds)]
        p = np.where(targets > 0, p, 1.0 - p)
        total -= float(np.log2(p[np.broadcast_to(masks, p.shape) > 0]).sum())
    return total
