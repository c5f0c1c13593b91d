"""Tiled transforms equal whole ones: the spans' invariants, and each hyperprior
transform's halo checked on its real layers (random weights, tiny tiles)."""

from fractions import Fraction

import numpy as np
import pytest

from tfcodec import tiling
from tfcodec.tiling import Geometry, TilingError, run_tiled, spans


@pytest.mark.parametrize("length,tile,halo,align", [
    (64, 64, 8, 4), (40, 64, 8, 4), (100, 40, 8, 4), (96, 32, 8, 8), (1024, 256, 32, 16),
    (37, 12, 4, 1), (13, 12, 4, 1), (200, 9, 4, 1),
])
def test_spans_partition_with_halo_and_fixed_tile_size(length, tile, halo, align):
    geometry = Geometry(Fraction(1), halo=halo, align=align)
    result = spans(length, tile, geometry)
    assert result[0][2] == 0 and result[-1][3] == length
    for (t0, t1, c0, c1), nxt in zip(result, result[1:] + [None]):
        assert t1 - t0 == min(tile, length)          # a static model's size, never padded
        assert 0 <= t0 <= c0 < c1 <= t1 <= length
        assert t0 % align == 0 and c0 % align == 0
        assert c0 - t0 >= halo or t0 == 0           # context wherever the tile edge is not the border
        assert t1 - c1 >= halo or t1 == length
        if nxt is not None:
            assert nxt[2] == c1                      # cores partition the axis
            assert nxt[0] > t0                       # no tile computed twice


def test_spans_refuse_a_tile_with_no_room_for_its_halo():
    with pytest.raises(TilingError, match="no core"):
        spans(64, 16, Geometry(Fraction(1, 4), halo=8, align=4))
    with pytest.raises(ValueError, match="multiples"):
        spans(30, 16, Geometry(Fraction(1, 4), halo=4, align=4))
    with pytest.raises(ValueError, match="whole outputs"):
        Geometry(Fraction(1, 16), halo=16, align=8)


def test_run_tiled_stitches_in_place():
    """A pointwise 'transform' that writes positions: every output comes from its own input."""
    array = np.arange(48 * 80, dtype=np.float64).reshape(48, 80, 1)
    calls = []

    def upsample(part):
        calls.append(part.shape)
        return np.repeat(np.repeat(part, 2, axis=0), 2, axis=1)

    out = run_tiled(upsample, array, (16, 24), Geometry(Fraction(2), halo=2, align=1))
    np.testing.assert_array_equal(out, upsample(array))
    assert len(calls) > 2 and all(s[:2] == (16, 24) for s in calls[:-1])


def _random_net(net, channels_in, seed):
    import keras

    keras.utils.set_random_seed(seed)
    net.build((1, None, None, channels_in))
    for w in net.weights:  # GDN's beta/gamma stay positive through their reparameterisation
        if "kernel" in w.path:
            w.assign(np.random.default_rng(seed).normal(0, 0.3, w.shape).astype(np.float32))
    return net


@pytest.mark.parametrize("which", ["analysis", "hyper_analysis", "synthesis", "parameter_net"])
def test_tiled_transform_equals_the_whole_one(which):
    """The halos in `tiling` cover the real layers' receptive fields: tiles far
    smaller than the input give the whole input's output."""
    from tfcodec.models import transforms

    rng = np.random.default_rng(1)
    if which == "analysis":
        net, geometry = transforms.analysis_transform(8, 12), tiling.ANALYSIS
        array, tile = rng.uniform(0, 1, (320, 448, 3)), (96, 128)
    elif which == "hyper_analysis":
        net, geometry = transforms.hyper_analysis_transform(8, 6), tiling.HYPER_ANALYSIS
        array, tile = rng.normal(0, 3, (40, 56, 12)), (20, 24)
    elif which == "synthesis":
        net, geometry = transforms.synthesis_transform(8), tiling.SYNTHESIS
        array, tile = rng.normal(0, 3, (20, 28, 12)), (9, 11)
    else:
        net, geometry = transforms.parameter_net((10, 7), 5, "p"), tiling.parameter_net_geometry(2)
        array, tile = rng.normal(0, 3, (20, 28, 12)), (8, 9)
    net = _random_net(net, array.shape[-1], seed=5)
    array = array.astype(np.float32)

    def fn(part):
        return net(part[None]).numpy()[0]

    whole = fn(array)
    tiled = run_tiled(fn, array, tile, geometry)
    assert tiled.shape == whole.shape
    np.testing.assert_allclose(tiled, whole, rtol=1e-4, atol=1e-4 * float(np.abs(whole).max()))
    # And the halo is needed: one element less of it shows at the seams.
    short = Geometry(geometry.scale, geometry.halo - geometry.align, geometry.align)
    if short.halo > 0:
        assert np.abs(run_tiled(fn, array, tile, short) - whole).max() > 1e-3 * np.abs(whole).max()
