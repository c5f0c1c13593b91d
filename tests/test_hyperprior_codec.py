"""Real bitstreams of the hyperprior family, on tiny randomly initialised models.

Format properties only (quality needs trained weights: see benchmarks/ and the
README's Kodak table). The decoder must rebuild exactly the latent symbols the
encoder coded, for every model variant, image size and stream split.
"""

import numpy as np
import pytest

from tfcodec import FormatError, container
from tiny_models import TINY, ramp_image as _image, write_bundle


def make_coder(name, seed=0, folder=None):
    import tempfile

    from tfcodec.codecs.hyperprior import HyperpriorCodec
    from tfcodec.weights import load_bundle

    folder = folder or tempfile.mkdtemp()
    return HyperpriorCodec(load_bundle(write_bundle(name, f"{folder}/{name}-{seed}.npz", seed)))


@pytest.fixture(scope="module", params=sorted(TINY))
def coder(request):
    return make_coder(request.param)


@pytest.mark.parametrize("size", [(64, 64), (37, 101), (130, 70)])
def test_decoder_rebuilds_encoder_symbols(coder, size):
    rgb = _image(*size, seed=size[0])
    for quality in (0.0, 0.6, 1.0):
        header, strings, encoded = coder.encode_latents(rgb, quality)
        decoded, _ = coder.decode_latents(header, strings)
        for a, b in zip(encoded, decoded):
            np.testing.assert_array_equal(a, b)


def test_round_trip_file(coder):
    rgb = _image(50, 77)
    data = coder.compress(rgb, 0.5)
    header, _ = container.unpack(data)
    assert (header.height, header.width, header.rate) == (50, 77, 500)
    out = coder.decompress(data)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, coder.decompress(data))


def test_large_images_are_coded_in_tiles_like_whole_ones(coder, monkeypatch):
    """Above tiling.TILE_PIXELS the transforms run in tiles (bounded memory): the
    latents are the whole image's up to float rounding, so the file and the pixels
    match those of a whole-image pass."""
    from tfcodec import tiling

    rgb = _image(300, 200, seed=9)
    whole = coder.compress(rgb, 0.8)
    pixels_whole = coder.decompress(whole)
    calls = []
    backend = coder.backend
    analyse, synthesise = backend._analyse, backend._synthesise
    monkeypatch.setattr(backend, "_analyse", lambda x, q: calls.append("a") or analyse(x, q))
    monkeypatch.setattr(backend, "_synthesise", lambda y, q: calls.append("s") or synthesise(y, q))
    monkeypatch.setattr(tiling, "TILE_PIXELS", 128)
    tiled = coder.compress(rgb, 0.8)
    pixels_tiled = coder.decompress(tiled)
    assert calls.count("a") > 4 and calls.count("s") > 4
    assert len(tiled) == len(whole)
    np.testing.assert_array_equal(coder.decompress(whole), pixels_whole)
    assert np.abs(pixels_tiled.astype(int) - pixels_whole).max() <= 1


def test_every_stream_split_decodes(coder, monkeypatch):
    from tfcodec.codecs import latent_coding

    rgb = _image(64, 128, seed=5)
    header, strings, encoded = coder.encode_latents(rgb, 1.0)
    for target in (1, 4, 8):
        monkeypatch.setattr(latent_coding, "_streams_for", lambda *_: target)
        header, strings, encoded = coder.encode_latents(rgb, 1.0)
        assert len(strings) == target * (1 + coder.config.num_slices)
        decoded, _ = coder.decode_latents(header, strings)
        for a, b in zip(encoded, decoded):
            np.testing.assert_array_equal(a, b)


def test_refuses_other_weights_and_other_models():
    first = make_coder("test-cw-tiny", seed=1)
    second = make_coder("test-cw-tiny", seed=2)
    other = make_coder("test-mean-tiny", seed=1)
    data = first.compress(_image(64, 64), 0.3)
    with pytest.raises(FormatError, match="other weights"):
        second.decompress(data)
    with pytest.raises(FormatError, match="test-cw-tiny"):
        other.decompress(data)


def test_bad_quality_and_bad_images(coder):
    with pytest.raises(FormatError, match="quality"):
        coder.compress(_image(8, 8), 1.5)
    with pytest.raises(FormatError, match="RGB"):
        coder.compress(np.zeros((8, 8), np.uint8), 0.5)
    with pytest.raises(FormatError, match="larger than 65536 pixels a side"):
        coder.compress(np.zeros((1, 65537, 3), np.uint8), 0.5)


def test_corrupt_payload_with_valid_crc_raises_format_error_only(coder):
    """Garbage that passes the CRC still reaches the range decoder: FormatError or a decode, nothing else."""
    rgb = _image(64, 64)
    header, strings = container.unpack(coder.compress(rgb, 0.7))
    rng = np.random.default_rng(0)
    for trial in range(60):
        mutated = [bytearray(s) for s in strings]
        k = rng.integers(len(mutated))
        if trial % 3 == 0:
            mutated[k] = mutated[k][:rng.integers(len(mutated[k]) + 1)]
        elif mutated[k]:
            pos = rng.integers(len(mutated[k]))
            mutated[k][pos] ^= 1 << int(rng.integers(8))
        else:
            mutated[k] += bytes([int(rng.integers(256))])
        if trial % 10 == 9:
            mutated = mutated[:-1]  # a missing string
        data = container.pack(header, [bytes(m) for m in mutated])
        try:
            out = coder.decompress(data)
            assert out.shape == rgb.shape
        except FormatError:
            pass


def test_bpp_search_stays_under_target(coder):
    rgb = _image(64, 64, seed=9)
    sizes = [len(coder.compress(rgb, q)) for q in (0.0, 1.0)]
    target = (sum(sizes) / 2) * 8 / rgb.shape[0] / rgb.shape[1]
    data = coder.compress_for_bpp(rgb, target)
    assert len(data) * 8 / 64 / 64 <= target or len(data) == sizes[0]


def test_streams_from_float16_bundle_are_stable():
    """The bundle's float16 weights are the model: two loads decode identically."""
    a, b = make_coder("test-bmshj-tiny", seed=4), make_coder("test-bmshj-tiny", seed=4)
    data = a.compress(_image(64, 64), 0.5)
    np.testing.assert_array_equal(a.decompress(data), b.decompress(data))
