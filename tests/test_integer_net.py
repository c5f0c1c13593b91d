"""Integer entropy-parameter nets: close to the float net, exact and portable."""

import numpy as np
import pytest

from tfcodec.entropy.integer_net import IntegerNet, depth_to_space, to_fixed


@pytest.fixture(scope="module")
def nets():
    import keras

    from tfcodec.models import transforms

    keras.utils.set_random_seed(3)
    hyper = transforms.hyper_synthesis_transform(16, 24)
    slice_net = transforms.parameter_net((20, 12), 8, "p")
    return hyper, slice_net


def test_hyper_synthesis_matches_float(nets):
    hyper, _ = nets
    rng = np.random.default_rng(0)
    z = np.rint(rng.normal(0, 3, (2, 3, 5, 8))).astype(np.float32)
    reference = hyper(z).numpy()
    net = IntegerNet.from_keras(hyper, z, 0, 8)
    out = net(z.astype(np.int64)) / 256.0
    assert out.shape == reference.shape
    assert np.max(np.abs(out - reference)) < 0.01 * max(1.0, np.max(np.abs(reference)))


def test_fixed_point_inputs_and_serialisation(nets):
    _, slice_net = nets
    rng = np.random.default_rng(1)
    x = rng.normal(0, 4, (1, 6, 7, 5)).astype(np.float32)
    net = IntegerNet.from_keras(slice_net, [x, x[:, :3]], 8, 8)
    out = net(to_fixed(x, 8))
    assert np.max(np.abs(out / 256.0 - slice_net(x).numpy())) < 0.05
    again = IntegerNet.from_arrays(net.to_arrays("p"), "p")
    np.testing.assert_array_equal(again(to_fixed(x, 8)), out)


def test_results_do_not_depend_on_summation_order(nets):
    """Exact integers: evaluating position by position gives the same integers as a batch."""
    hyper, _ = nets
    z = np.rint(np.random.default_rng(2).normal(0, 3, (3, 2, 2, 8))).astype(np.int64)
    net = IntegerNet.from_keras(hyper, z.astype(np.float32), 0, 8)
    batch = net(z)
    singles = np.concatenate([net(z[i:i + 1]) for i in range(3)])
    np.testing.assert_array_equal(batch, singles)


def test_depth_to_space_matches_tensorflow():
    import tensorflow as tf

    x = np.arange(2 * 3 * 4 * 8).reshape(2, 3, 4, 8)
    np.testing.assert_array_equal(depth_to_space(x, 2), tf.nn.depth_to_space(x, 2).numpy())


def test_rejects_layers_without_integer_form():
    import keras

    model = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(3, 3, strides=2, padding="same")])
    with pytest.raises(ValueError, match="stride-1"):
        IntegerNet.from_keras(model, np.zeros((1, 4, 4, 2), np.float32), 0, 8)


@pytest.mark.parametrize("kernel,cin,cout", [(1, 7, 3), (3, 224, 32), (5, 80, 8)])
def test_exact_conv_equals_integer_arithmetic_at_the_extremes(kernel, cin, cout):
    """The float64 GEMM path returns the exact integer convolution, even with
    saturated activations and full-range 16-bit weights."""
    from tfcodec.entropy.integer_net import ACTIVATION_LIMIT, WEIGHT_BITS, _exact_conv

    rng = np.random.default_rng(kernel)
    wmax = 2**WEIGHT_BITS - 1
    x = rng.choice([-ACTIVATION_LIMIT, ACTIVATION_LIMIT, 0, 12345], (2, 6, 9, cin))
    weights = rng.choice([-wmax, wmax, 1, -7], (kernel, kernel, cin, cout))
    bias = rng.integers(-2**40, 2**40, cout)
    pad = kernel // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    expected = np.zeros((2, 6, 9, cout), np.int64) + bias
    for i in range(kernel):
        for j in range(kernel):
            expected += padded[:, i:i + 6, j:j + 9] @ weights[i, j]  # int64 matmul
    np.testing.assert_array_equal(_exact_conv(x, weights, bias), expected)
