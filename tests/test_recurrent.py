"""Tests for the recurrent family: model, bit coding, progressive streams, truncate CLI.

Everything runs on the tiny config with randomly initialised (seeded) weights:
the format and determinism properties do not depend on training.
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tfcodec import FormatError, container
from tfcodec.codecs import recurrent as rc
from tfcodec.models import build_model, family_of, model_config, model_names
from tfcodec.models.losses import msssim_log_loss
from tfcodec.models.recurrent import RecurrentModel, architecture, binarize
from tiny_models import RECURRENT_TINY as TINY


def make_image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([255 * xx / max(w, 1), 255 * yy / max(h, 1), 128 + 90 * np.sin((xx + yy) / 5.0)], -1)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(1)
    return build_model(TINY)


@pytest.fixture(scope="module")
def codec(model):
    rng = np.random.default_rng(0)
    calibration = np.stack([make_image(64, 64, s) for s in range(2)]).astype(np.float32) / 255.0
    calibration = np.clip(calibration + rng.normal(0, 0.05, calibration.shape), 0, 1).astype(np.float32)
    arrays = rc.build_coding_arrays(model, calibration)
    return rc.RecurrentCodec(model, arrays, b"\x01\x02\x03\x04\x05\x06\x07\x08", TINY)


@pytest.fixture(scope="module")
def image():
    return make_image(37, 51, seed=3)


@pytest.fixture(scope="module")
def full_stream(codec, image):
    return codec.compress(image, model_config(TINY).iterations)


# ----------------------------------------------------------------------------- model


def test_registry_names_the_recurrent_family():
    for name in ("rnn-lstm", "rnn-gru", "rnn-resgru", "rnn-lstm-small", "rnn-gru-small", "rnn-resgru-small"):
        assert name in model_names()
        assert family_of(name).name == "recurrent"


def test_shapes_and_bits_are_signs(model):
    c = model.config
    x = tf.random.uniform((2, 32, 48, 3), seed=1)
    for training in (False, True):
        bits, x_hats = model.run(x, training=training)
        assert len(bits) == len(x_hats) == c.iterations
        for b, xh in zip(bits, x_hats):
            assert b.shape == (2, 2, 3, c.bits)
            assert set(np.unique(b.numpy())) <= {-1.0, 1.0}
            assert xh.shape == x.shape
    loss, aux = model.rd_loss(x, tf.zeros((2,)), training=True)
    assert loss.shape == aux["bpp"].shape == aux["mse"].shape == (2,)
    assert aux["x_hat"].shape == x.shape
    assert model.forward(x, tf.zeros((2,)), training=False)["x_hat"].shape == x.shape


@pytest.mark.parametrize("cell,reconstruction", [("lstm", "additive"), ("resgru", "oneshot"),
                                                 ("gru", "additive")])
def test_other_cells_run(cell, reconstruction):
    config = dataclasses.replace(model_config(TINY), cell=cell, reconstruction=reconstruction)
    model = RecurrentModel(config, name=f"tiny_{cell}")
    x = tf.random.uniform((1, 32, 32, 3), seed=2)
    bits, x_hats = model.run(x, training=False, iterations=3)
    assert bits[0].shape == (1, 2, 2, config.bits) and x_hats[2].shape == x.shape
    if reconstruction == "additive":
        # x_hat_t = x_hat_{t-1} + D_t(b_t): the first step alone is not the final image
        assert not np.allclose(x_hats[0].numpy(), x_hats[2].numpy())


def test_paper_configs():
    for name in ("rnn-lstm", "rnn-gru", "rnn-resgru"):
        c = model_config(name)
        assert c.iterations == 16 and c.bits == 32 and c.encoder_units == (256, 512, 512)
        assert c.decoder_units == (512, 512, 256, 128)


def test_weight_paths_do_not_depend_on_build_order(model):
    a = [v.path for v in model.weights]
    b = [v.path for v in build_model(TINY).weights]
    assert a == b and len(set(a)) == len(a)


def test_training_checkpoints_hold_every_variable(model, tmp_path):
    """The training loop saves tf.train.Checkpoint(model=...): layers in lists or in a
    Sequential built by calling it must still be in there."""
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    saved = [n for n, _ in tf.train.list_variables(path) if n.startswith("model/")]
    assert len(saved) == len(model.weights)
    fresh = build_model(TINY)
    tf.train.Checkpoint(model=fresh).restore(path).assert_existing_objects_matched()
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_straight_through_gradient_reaches_the_encoder(model):
    x = tf.random.uniform((2, 32, 32, 3), seed=3)
    with tf.GradientTape() as tape:
        loss, _ = model.rd_loss(x, tf.zeros((2,)), training=True)
        total = tf.reduce_sum(loss)
    grads = tape.gradient(total, [model.stem.kernel, model.binarizer.kernel,
                                  model.prob_net.layers[0].kernel])
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_stochastic_binarizer_is_unbiased():
    x = tf.fill((200, 200), 0.4)
    bits = binarize(x, training=True)
    assert set(np.unique(bits.numpy())) <= {-1.0, 1.0}
    assert abs(float(tf.reduce_mean(bits)) - 0.4) < 0.02
    np.testing.assert_array_equal(binarize(tf.constant([-0.2, 0.0, 0.3]), training=False), [-1, 1, 1])


def test_context_planes_tf_and_numpy_agree(model):
    c = model.config
    rng = np.random.default_rng(4)
    bits = [rng.choice([-1, 1], (2, 3, 5, c.bits)) for _ in range(c.iterations)]
    tf_bits = [tf.constant(b, tf.float32) for b in bits]
    anchor = rc.checkerboard(3, 5)[None]
    for t in range(c.iterations):
        for second in (False, True):
            want = rc.context_planes_np(bits[t].shape, bits[:t], bits[t] * anchor if second else None,
                                        t, c.iterations, second)
            got = model.context_planes(tf_bits, t, second).numpy()
            np.testing.assert_array_equal(got, want)
            assert want.shape[-1] == c.context_channels


# ----------------------------------------------------------------------------- coding


def test_integer_prob_net_is_deterministic(codec, model):
    """Bins from the encoder's batched evaluation equal the decoder's one-by-one evaluation,
    and the integer logits track the float net."""
    c = model.config
    rng = np.random.default_rng(5)
    bits = [rng.choice([-1, 1], (1, 4, 6, c.bits)) for _ in range(c.iterations)]
    planes, _, _ = rc.context_batch(bits, c.iterations)
    batched = codec.coder.net(planes)
    single = np.concatenate([codec.coder.net(planes[i:i + 1]) for i in range(len(planes))])
    np.testing.assert_array_equal(batched, single)
    assert batched.dtype == np.int64
    float_logits = model.prob_net(planes.astype(np.float32)).numpy()
    assert np.max(np.abs(batched / 2**rc.PROB_EXPONENT - float_logits)) < 0.05
    # Decoding recovers exactly the bits that were coded (same bins on both sides).
    strings = codec.coder.encode([b[0] for b in bits])
    decoded = codec.coder.decode(strings, 4, 6)
    for a, b in zip(bits, decoded):
        np.testing.assert_array_equal(a[0], b)


@pytest.mark.parametrize("weights", ["tiny", "rnn-gru-small", "rnn-gru-small-msssim-late"])
def test_grouped_first_layer_gives_the_reference_bins(codec, weights):
    """The coder evaluates the net's first convolution group by group (earlier bits once
    per iteration, anchors, constant planes): exactly the bins of the full planes."""
    from tfcodec.weights import load_bundle, resolve

    if weights == "tiny":
        coder = codec.coder
    else:
        c = model_config(weights)
        coder = rc.BitCoder(c.iterations, c.bits, load_bundle(resolve(weights)).coding)
    assert coder._first is not None  # the grouped path is the one in use
    rng = np.random.default_rng(7)
    for h, w in ((1, 1), (3, 5), (6, 4)):
        bits = [np.where(rng.random((1, h, w, coder.bits)) < rng.random(), 1, -1) for _ in range(coder.iterations)]
        anchor = rc.checkerboard(h, w)[None].astype(np.int64)
        for t in range(coder.iterations):
            shared = coder._shared(bits[:t], bits[t].shape)
            for second in (False, True):
                anchors = bits[t] * anchor if second else None
                np.testing.assert_array_equal(
                    coder._bins(shared, bits[t].shape, bits[:t], anchors, t, second),
                    coder.reference_bins(bits[t].shape, bits[:t], anchors, t, second))


def test_rnn_steps_are_not_traced_per_image_size(codec):
    """The encoder/decoder steps are tf.functions: two traces each (first iteration,
    later ones), generalised to free sizes once a second size comes, never per size."""
    for shape in ((16, 16), (40, 24), (33, 50)):
        codec.decompress(codec.compress(make_image(*shape), 2))
    counts = [f.experimental_get_tracing_count() for f in (codec._encode_step, codec._decode_step)]
    assert max(counts) <= 4
    codec.decompress(codec.compress(make_image(70, 90), 3))
    assert [f.experimental_get_tracing_count() for f in (codec._encode_step, codec._decode_step)] == counts


def test_bins_use_integer_comparisons_only():
    thresholds = rc.default_thresholds()
    logits = np.array([-10**6, thresholds[0] - 1, thresholds[0], 0, thresholds[-1], 10**6])
    np.testing.assert_array_equal(rc.prob_bins(logits, thresholds), [0, 0, 1, 32, 63, 63])
    lookup = rc.default_lookup()
    assert lookup.shape == (rc.NUM_BINS, 4) and np.all(lookup[:, 0] == rc.PRECISION)


def test_stream_header_and_layout(codec, image, full_stream):
    header, strings = container.unpack(full_stream)
    assert header.model_id == TINY and header.rate == model_config(TINY).iterations
    assert (header.height, header.width) == image.shape[:2]
    assert len(strings) == 1 + 2 * header.rate and strings[0] == bytes([1, rc.MODE_CODED])
    assert codec.rate_settings == list(range(1, model_config(TINY).iterations + 1))
    assert codec.identity == "0102030405060708"


def test_truncation_equals_fewer_iterations(codec, image, full_stream):
    progressive = codec.decompress_progressive(full_stream)
    sizes = []
    for k in codec.rate_settings:
        short = codec.compress(image, k)
        cut = rc.truncate(full_stream, k)
        assert cut == short  # byte for byte
        decoded = codec.decompress(cut)
        np.testing.assert_array_equal(decoded, codec.decompress(short))
        np.testing.assert_array_equal(decoded, progressive[k - 1])
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        sizes.append(len(cut))
    assert sizes == sorted(sizes)
    assert codec.truncate(rc.truncate(full_stream, 3), 2) == rc.truncate(full_stream, 2)


def test_raw_bits_mode_decodes_to_the_same_image(codec, image, full_stream):
    raw = codec.compress(image, model_config(TINY).iterations, entropy_coding=False)
    assert container.unpack(raw)[1][0] == bytes([1, rc.MODE_RAW])
    np.testing.assert_array_equal(codec.decompress(raw), codec.decompress(full_stream))
    np.testing.assert_array_equal(codec.decompress(rc.truncate(raw, 2)),
                                  codec.decompress(rc.truncate(full_stream, 2)))


@pytest.mark.parametrize("shape", [(1, 1), (17, 33), (5, 70), (16, 16)])
def test_roundtrip_odd_sizes(codec, shape):
    img = make_image(*shape, seed=shape[0])
    data = codec.compress(img, 2)
    out = codec.decompress(data)
    assert out.shape == img.shape and out.dtype == np.uint8
    header, bits = codec.decode_bits(data)
    encoded = codec.encode_bits(img, 2)
    for a, b in zip(encoded, bits):
        np.testing.assert_array_equal(a, b)


def test_compress_for_bpp_picks_the_fewest_iterations_reaching_it(codec, image):
    pixels = image.shape[0] * image.shape[1]
    bpps = [len(codec.compress(image, k)) * 8 / pixels for k in codec.rate_settings]
    target = (bpps[1] + bpps[2]) / 2
    data = codec.compress_for_bpp(image, target)
    assert container.unpack(data)[0].rate == 3
    assert container.unpack(codec.compress_for_bpp(image, 1e6))[0].rate == codec.rate_settings[-1]
    assert container.unpack(codec.compress_for_bpp(image, 1e-6))[0].rate == 1


def test_bad_input_images_and_rates(codec, image):
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((0, 4, 3), np.uint8)):
        with pytest.raises(FormatError):
            codec.compress(bad, 1)
    for k in (0, model_config(TINY).iterations + 1, 1.5, True):
        with pytest.raises(FormatError):
            codec.compress(image, k)
    with pytest.raises(FormatError):
        codec.compress_for_bpp(image, 0)


def _repack(data, rate=None, strings=None, model_id=None, weights=None):
    header, old = container.unpack(data)
    header = container.Header(model_id or header.model_id, weights or header.weights_hash,
                              header.height, header.width, header.rate if rate is None else rate)
    return container.pack(header, old if strings is None else strings)


def test_corrupt_streams_raise_format_error(codec, full_stream):
    _, strings = container.unpack(full_stream)
    bad_streams = [
        b"", full_stream[:-1], full_stream[:20], b"not a stream at all",
        full_stream[:30] + bytes([full_stream[30] ^ 0x40]) + full_stream[31:],   # CRC mismatch
        _repack(full_stream, rate=2),                                             # count vs rate
        _repack(full_stream, rate=0, strings=strings[:1]),
        _repack(full_stream, strings=strings[:-1]),
        _repack(full_stream, strings=[b"\x02\x00"] + strings[1:]),                # layout version
        _repack(full_stream, strings=[b"\x01\x07"] + strings[1:]),                # mode
        _repack(full_stream, model_id="rnn-gru-small"),
        _repack(full_stream, weights=b"\xff" * 8),
        _repack(rc.truncate(full_stream, 1), rate=9,
                strings=[strings[0]] + [strings[1], strings[2]] * 9),             # too many iterations
        _repack(full_stream, strings=[b"\x01\x01"] + strings[1:]),               # coded bytes as raw bits
    ]
    for data in bad_streams:
        with pytest.raises(FormatError):
            codec.decompress(data)


def test_mutated_payloads_never_crash(codec, full_stream):
    """A payload corrupted behind a valid CRC decodes to some image or raises FormatError."""
    _, strings = container.unpack(full_stream)
    rng = np.random.default_rng(6)
    for trial in range(12):
        mutated = list(strings)
        i = int(rng.integers(1, len(strings)))
        s = bytearray(mutated[i])
        if s and trial % 3:
            s[int(rng.integers(len(s)))] ^= int(rng.integers(1, 256))
        else:
            s += bytes(rng.integers(0, 256, int(rng.integers(1, 5)), dtype=np.uint8))
        mutated[i] = bytes(s)
        try:
            out = codec.decompress(_repack(full_stream, strings=mutated))
            assert out.dtype == np.uint8
        except FormatError:
            pass


def test_truncate_refuses_bad_requests(full_stream):
    for k in (0, 5, -1):
        with pytest.raises(FormatError):
            rc.truncate(full_stream, k)
    with pytest.raises(FormatError):
        rc.truncate(full_stream[:-2], 1)


def test_truncate_cli(tmp_path, full_stream):
    from tfcodec.cli import main

    src = tmp_path / "in.tfc"
    src.write_bytes(full_stream)
    out = tmp_path / "out.tfc"
    assert main(["truncate", str(src), str(out), "--iterations", "2", "--quiet"]) == 0
    assert out.read_bytes() == rc.truncate(full_stream, 2)
    assert main(["truncate", str(src), str(src), "--iterations", "1"]) == 1  # never overwrites the input
    assert src.read_bytes() == full_stream
    assert main(["truncate", str(src), str(out), "--iterations", "9"]) == 1
    assert main(["truncate", str(tmp_path / "missing.tfc"), str(out), "--iterations", "1"]) == 1


def test_bundle_roundtrip(tmp_path, codec, model, image):
    from tfcodec.weights import keras_weights_of, load_bundle, save_bundle

    path = tmp_path / "tiny.npz"
    arrays = {k: v for k, v in codec.coder.net.to_arrays(rc.PROB_NET).items()}
    arrays["bits/thresholds"] = codec.coder.thresholds
    arrays["bits/lookup"] = codec.coder.lookup
    save_bundle(str(path), {"model": TINY, "family": "recurrent"}, keras_weights_of(model), arrays)
    bundle = load_bundle(str(path))
    loaded = rc.RecurrentCodec.from_bundle(bundle)
    assert loaded.identity == bundle.hash.hex() and loaded.name == TINY
    data = loaded.compress(image, 2)
    _, bits = loaded.decode_bits(data)
    for a, b in zip(loaded.encode_bits(image, 2), bits):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.decompress(data), loaded.decompress_progressive(data)[-1])
    # Stored (possibly rounded) weights stay close to the model's.
    close = codec.decompress(codec.compress(image, 2)).astype(int)
    assert np.abs(loaded.decompress(data).astype(int) - close).mean() < 8
    with pytest.raises(FormatError):
        codec.decompress(data)  # other weights hash


@pytest.mark.parametrize("target_iterations", [7, 3])
def test_weights_adapt_to_another_iteration_count(tmp_path, target_iterations):
    """--init-weights from a bundle trained with another number of iterations: every
    layer carries over, and the probability net predicts exactly as the source's for the
    iterations both have (then differs only where the source had nothing to say)."""
    import keras

    from tfcodec.models.recurrent import adapt_iterations
    from tfcodec.train import loop
    from tfcodec.weights import assign_keras_weights, keras_weights_of, load_bundle, save_bundle

    keras.utils.set_random_seed(4)
    source = build_model(TINY)
    weights = keras_weights_of(source, np.float32)
    # Non-zero everywhere, so that a misplaced plane shows.
    weights = {k: v + np.float32(0.01) for k, v in weights.items()}
    path = tmp_path / "source.npz"
    save_bundle(str(path), {"model": TINY, "family": "recurrent", "step": 9,
                            "config": dataclasses.asdict(source.config)}, weights, {})
    assign_keras_weights(source, load_bundle(str(path)).keras)  # the float16-rounded weights
    target_config = dataclasses.replace(source.config, iterations=target_iterations)
    target = RecurrentModel(target_config)
    target.run(tf.zeros((1, 32, 32, 3)), iterations=2)
    target.prob_net(target.context_planes([tf.zeros((1, 2, 2, 8))] * 2, 0, False))
    assert loop.load_initial_weights(target, str(path)) == 9

    rng = np.random.default_rng(0)
    bits = [tf.constant(rng.choice([-1.0, 1.0], (1, 4, 4, 8)), tf.float32) for _ in range(7)]
    shared = min(source.config.iterations, target_iterations)
    for t in range(shared):
        for second in (False, True):
            np.testing.assert_allclose(
                target.prob_net(target.context_planes(bits, t, second)).numpy(),
                source.prob_net(source.context_planes(bits, t, second)).numpy(), rtol=1e-5, atol=1e-5)
    x = tf.constant(rng.random((1, 32, 32, 3)), tf.float32)
    for a, b in zip(source.run(x, iterations=shared)[1], target.run(x, iterations=shared)[1]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="only the number of iterations"):
        adapt_iterations(weights, source.config, dataclasses.replace(target_config, bits=4))


def test_registered_names_are_the_shipped_models_and_the_sizes_users_train():
    assert [n for n in model_names() if n.startswith("rnn-") and n != TINY] == [
        "rnn-gru", "rnn-gru-small", "rnn-gru-small-msssim-late", "rnn-lstm", "rnn-lstm-small",
        "rnn-resgru", "rnn-resgru-small"]
    with pytest.raises(ValueError, match="unknown distortion"):
        dataclasses.replace(model_config(TINY), distortion="mse")


def test_iteration_weights_scale_each_iterations_distortion():
    """The weighted objective is the sum of each iteration's distortion times its weight:
    the same model and bits, measured with and without weights."""
    import keras

    keras.utils.set_random_seed(3)
    base = dataclasses.replace(model_config(TINY), distortion="msssim")
    weights = tuple(float(w) for w in np.linspace(0.2, 1.8, base.iterations))
    plain = RecurrentModel(base)
    weighted = RecurrentModel(dataclasses.replace(base, iteration_weights=weights))
    x = tf.random.stateless_uniform((2, 64, 64, 3), (4, 5))
    plain.rd_loss(x)
    weighted.rd_loss(x)
    weighted.set_weights(plain.get_weights())
    _, x_hats = plain.run(x)
    expected = sum(w * msssim_log_loss(x, xh) for w, xh in zip(weights, x_hats))
    _, aux = weighted.rd_loss(x, training=False)
    np.testing.assert_allclose(aux["distortion"].numpy(), expected.numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="iteration_weights"):
        dataclasses.replace(base, iteration_weights=(1.0,))
    late = model_config("rnn-gru-small-msssim-late")
    assert architecture(late) == architecture(model_config("rnn-gru-small"))
    assert late.iteration_weights[0] < late.iteration_weights[-1]
    assert abs(np.mean(late.iteration_weights) - 1.0) < 1e-3


def test_msssim_objective_trains_with_finite_gradients():
    import keras

    keras.utils.set_random_seed(3)
    model = RecurrentModel(dataclasses.replace(model_config(TINY), distortion="msssim"))
    x = tf.constant(np.stack([make_image(64, 64, seed=s) for s in (5, 6)]) / 255.0, tf.float32)
    with tf.GradientTape() as tape:
        loss, parts = model.rd_loss(x)
        total = tf.reduce_mean(loss)
    grads = tape.gradient(total, model.trainable_variables)
    assert np.all(np.isfinite(loss.numpy())) and loss.shape == (2,)
    assert all(g is None or np.all(np.isfinite(g.numpy())) for g in grads)
    assert sum(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads) > 5


def test_rnn_alias_loads_the_shipped_msssim_model():
    from tfcodec.api import load_codec

    codec = load_codec("rnn")
    assert codec.name == "rnn-gru-small-msssim-late" and codec.config.distortion == "msssim"
    img = make_image(40, 56, seed=9)
    data = codec.compress(img, 2)
    assert container.unpack(data)[0].model_id == "rnn-gru-small-msssim-late"
    out = codec.decompress(data)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).mean() < 40  # a real reconstruction, not noise
