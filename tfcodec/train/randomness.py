"""Training randomness keyed by the global example position, not by the replica.

Every random number a training step draws for an example (its quality, the
quantisation noise on its latents, the recurrent codec's stochastic bits) is a
hash of (run seed, stream, the example's global position in the data order,
the element's position inside the tensor). So the numbers an example gets do
not depend on which replica, worker or host it lands on, nor on how the global
batch is split: one CPU, `MirroredStrategy` over N devices, several workers or a
TPU pod see the same training trajectory for the same global batch (up to
floating-point summation order), and a resumed run draws what the uninterrupted
run would have drawn.

The hash is "lowbias32" (C. Wellons' integer hash, an avalanche-tested
xorshift-multiply mix) on uint32: a few integer ops per number, stateless, the
same on CPU, GPU and under XLA/TPU, with no random-op state to checkpoint.

The models draw their noise through ``tfcodec.ops.random_uniform``
(hyperprior: uniform quantisation noise; recurrent: stochastic binarisation).
`keyed_random` installs a provider there (per thread; MirroredStrategy traces
its replicas in parallel threads): a draw with a static leading batch
dimension equal to the number of examples gets keyed numbers, any other draw
falls back to ``tf.random.uniform``.
"""

import contextlib

import tensorflow as tf

# Stream ids: distinct hash inputs for distinct uses of randomness.
QUALITY_STREAM = 1
NOISE_STREAM_BASE = 1000

_M1 = 0x7FEB352D
_M2 = 0x846CA68B
_GOLDEN = 0x9E3779B9


def _u32(value):
    return tf.constant(value, tf.uint32)


def _xor(a, b):
    return tf.bitwise.bitwise_xor(a, b)


def mix32(x):
    """lowbias32 on a uint32 tensor (wrapping arithmetic)."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u32(16)))
    x = x * _u32(_M1)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u32(15)))
    x = x * _u32(_M2)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u32(16)))


def _low_high(value):
    """int64 tensor -> (low 32 bits, high 32 bits) as uint32."""
    value = tf.cast(value, tf.int64)
    low = tf.cast(tf.bitwise.bitwise_and(value, tf.constant(0xFFFFFFFF, tf.int64)), tf.uint32)
    high = tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(value, tf.constant(32, tf.int64)),
                                          tf.constant(0xFFFFFFFF, tf.int64)), tf.uint32)
    return low, high


def example_keys(seed, indices, stream):
    """One uint32 key per example: hash of (seed, stream, global example index)."""
    seed_lo, seed_hi = _low_high(tf.convert_to_tensor(seed, tf.int64))
    idx_lo, idx_hi = _low_high(indices)
    key = mix32(_xor(seed_lo, mix32(seed_hi + _u32(_GOLDEN))))
    key = mix32(_xor(key, _u32(stream & 0xFFFFFFFF)))
    key = mix32(_xor(key, idx_lo))
    return mix32(_xor(key, mix32(idx_hi + _u32(_GOLDEN))))


def _to_unit(bits, dtype):
    """uint32 -> uniform in [0, 1) with 24 random bits (exact in float32)."""
    mantissa = tf.cast(tf.bitwise.right_shift(bits, _u32(8)), tf.float32)
    return tf.cast(mantissa * (1.0 / (1 << 24)), dtype)


def example_uniform(seed, indices, stream, shape=(), dtype=tf.float32):
    """Uniform [0, 1) numbers of `shape` per example, keyed by (seed, stream, index).

    Returns (len(indices),) + shape. Element j of example i depends only on
    (seed, stream, indices[i], j).
    """
    indices = tf.reshape(tf.cast(indices, tf.int64), (-1,))
    keys = example_keys(seed, indices, stream)
    shape = tf.cast(tf.convert_to_tensor(shape, tf.int64), tf.int32)
    count = tf.reduce_prod(shape)
    positions = tf.cast(tf.range(count), tf.uint32)
    bits = mix32(_xor(keys[:, None], mix32(positions * _u32(_GOLDEN) + _u32(0x632BE5AB))[None, :]))
    out_shape = tf.concat([tf.shape(indices), shape], axis=0)
    return tf.reshape(_to_unit(bits, dtype), out_shape)


# -- keying the models' draws (tfcodec.ops.random_uniform) ---------------------


@contextlib.contextmanager
def keyed_random(seed, indices):
    """Inside: the models' random_uniform((batch, ...)) draws are keyed by the examples' indices.

    `indices` must have a static length (the per-replica batch). The n-th such
    draw in the traced function gets stream NOISE_STREAM_BASE + n, so draws are
    independent of each other and stable across traces. Yields a dict whose
    "calls"/"unkeyed" counters say how many draws were keyed / passed through.
    """
    from tfcodec.ops import uniform_provider

    batch = indices.shape[0]
    if batch is None:
        raise ValueError("keyed_random needs a static batch size (batch with drop_remainder=True)")
    context = {"seed": seed, "indices": indices, "batch": int(batch), "calls": 0, "unkeyed": 0}

    def keyed(shape, minval, maxval, dtype):
        dtype = tf.as_dtype(dtype)
        static = tf.get_static_value(tf.convert_to_tensor(shape))
        if not dtype.is_floating or static is None or len(static) == 0 or int(static[0]) != context["batch"]:
            context["unkeyed"] += 1
            return None
        stream = NOISE_STREAM_BASE + context["calls"]
        context["calls"] += 1
        u = example_uniform(context["seed"], context["indices"], stream, [int(s) for s in static[1:]], dtype)
        return tf.cast(minval, dtype) + (tf.cast(maxval, dtype) - tf.cast(minval, dtype)) * u

    with uniform_provider(keyed):
        yield context
