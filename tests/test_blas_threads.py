"""A slice's two integer nets on two threads (tfcodec.entropy.blas_threads, LatentCoder): the same
integers as one after the other, and OpenBLAS's thread count restored after the block."""

import numpy as np
import pytest

from tfcodec.codecs.latent_coding import LatentCoder
from tfcodec.entropy import blas_threads
from tfcodec.models import bundle_config
from tfcodec.weights import load_bundle, resolve


def test_one_thread_sets_and_restores_openblas():
    functions = blas_threads._openblas()
    if functions is None:
        with blas_threads.one_thread() as paired:
            assert paired is False  # another BLAS: callers run one net after the other
        pytest.skip("numpy's BLAS here is not an OpenBLAS this module can find")
    set_threads, get_threads = functions
    before = get_threads()
    with blas_threads.one_thread() as outer:
        assert outer and get_threads() == 1
        with blas_threads.one_thread() as inner:  # overlapping blocks (two codecs in two threads)
            assert inner and get_threads() == 1
        assert get_threads() == 1  # the outer block still holds it
    assert get_threads() == before


def test_paired_nets_give_the_same_latents_and_streams():
    bundle = load_bundle(resolve("cw2020-small-full-range"))
    coder = LatentCoder(bundle_config(bundle), bundle.coding, bundle.model, bundle.hash)
    rng = np.random.default_rng(0)
    y = rng.normal(0, 3, (8, 12, 128)).astype(np.float32)
    z = rng.normal(0, 2, (2, 3, 64)).astype(np.float32)
    header, strings, decoded = coder.encode(y, z, 128, 192, 500)
    mean_feat, scale_feat = coder.features(np.rint(z).astype(np.int64)[None])
    one_by_one, paired = [], []
    for i in range(4):
        one_by_one.append(coder.slice_parameters(i, mean_feat, scale_feat, decoded[:i], paired=False))
        paired.append(coder.slice_parameters(i, mean_feat, scale_feat, decoded[:i], paired=True))
    for a, b in zip(one_by_one, paired):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    again, _ = coder.decode(header, strings)
    for a, b in zip(decoded, again):
        np.testing.assert_array_equal(a, b)
