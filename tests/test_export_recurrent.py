"""`tfcodec export-weights` of recurrent models: complete restores only, and never a worse
probability net (`tfcodec.train.prob_net_fit`)."""

import dataclasses
import functools

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tiny_models import ramp_image

from tfcodec.codecs import recurrent as rc
from tfcodec.models import build_model
from tfcodec.train import prob_net_fit as er
from tfcodec.train.export_weights import export_from_checkpoint
from tiny_models import RECURRENT_TINY as TINY


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(20):
        Image.fromarray(ramp_image(128, 128, seed=i)).save(folder / f"{i}.png")
    return folder


def copy_bits(count, iterations=4, bits=8, grid=4, seed=0, sign=1):
    """Bits that repeat (sign=1) or flip (sign=-1) the previous iteration's: a net that
    reads the most recent slot predicts them; iteration 0 is random."""
    rng = np.random.default_rng(seed)
    out = [rng.choice([-1, 1], (count, grid, grid, bits)).astype(np.int8)]
    for _ in range(iterations - 1):
        out.append((sign * out[-1]).astype(np.int8))
    return out


def copying_net(model):
    """Prob-net weights (rnn-tiny: one hidden layer of 8) whose logit for bit c is +4 when
    the previous iteration's bit c was +1 and -4 otherwise."""
    kernel0, bias0, kernel1, bias1 = (np.zeros_like(w) for w in model.prob_net.get_weights())
    for c in range(model.config.bits):
        kernel0[1, 1, c, c] = 1.0      # slot 0: the most recent iteration's bit c
        kernel1[0, 0, c, c] = 8.0
    bias1[:] = -4.0
    return [kernel0, bias0, kernel1, bias1]


def test_a_partial_checkpoint_is_refused(tmp_path, photos):
    model = build_model(TINY)
    # A checkpoint with the stem and binarizer under the model's own names, and nothing else.
    partial = tf.train.Checkpoint(model=tf.train.Checkpoint(stem=model.stem, binarizer=model.binarizer),
                                  step=tf.Variable(7, dtype=tf.int64))
    path = partial.save(str(tmp_path / "checkpoints" / "ckpt"))
    # What the export used to do takes it without a word, leaving the RNNs random ...
    tf.train.Checkpoint(model=build_model(TINY)).restore(path).expect_partial()
    # ... the export now refuses it and writes nothing.
    out = tmp_path / "out.npz"
    (tmp_path / "config.json").write_text('{"model": "%s"}' % TINY)
    with pytest.raises(RuntimeError, match="does not hold every variable"):
        export_from_checkpoint(tmp_path, out, photos, 1)
    assert not out.exists()


@pytest.mark.parametrize("order", [("good", "bad"), ("bad", "good")])
def test_the_prob_net_that_codes_held_out_bits_better_is_kept(order):
    model = build_model(TINY)
    nets = {"good": copying_net(model), "bad": [np.zeros_like(w) for w in model.prob_net.get_weights()]}
    candidates = {name: nets[name] for name in order}
    kept, arrays, costs = er.keep_better_prob_net(model, candidates, copy_bits(6, seed=1), copy_bits(4, seed=2))
    assert kept == "good" and costs["good"] < costs["bad"]
    for a, b in zip(model.prob_net.get_weights(), nets["good"]):
        np.testing.assert_array_equal(a, b)
    assert set(arrays) == set(rc.coding_arrays_from_bits(model, copy_bits(6, seed=1)))
    # A tie keeps the first (the checkpoint's) net.
    kept, _, _ = er.keep_better_prob_net(model, {"first": nets["bad"], "second": nets["bad"]},
                                         copy_bits(6, seed=1), copy_bits(4, seed=2))
    assert kept == "first"


def test_fitting_stops_where_validation_is_best():
    model = build_model(TINY)
    # Random hidden layer, zero output layer: every bit starts at exactly 1 bit.
    kernel0, bias0, kernel1, bias1 = model.prob_net.get_weights()
    start = [np.random.default_rng(0).normal(0, 0.1, kernel0.shape).astype(np.float32), bias0,
             np.zeros_like(kernel1), np.zeros_like(bias1)]
    # Validation bits that behave like the fitted ones: the fit helps and is kept.
    model.prob_net.set_weights(start)
    before, best, step = er.fit_prob_net(model, copy_bits(32), copy_bits(8, seed=3), steps=40, batch=8,
                                         learning_rate=1e-2, check_every=10)
    assert best < before and step > 0
    assert er.bits_per_bit(model, copy_bits(8, seed=3)) == pytest.approx(best)
    # Validation bits that do the opposite: every step hurts, the starting weights stay.
    model.prob_net.set_weights(start)
    before, best, step = er.fit_prob_net(model, copy_bits(32), copy_bits(8, seed=3, sign=-1), steps=40, batch=8,
                                         learning_rate=1e-2, check_every=10)
    assert step == 0 and best == before
    for a, b in zip(model.prob_net.get_weights(), start):
        np.testing.assert_array_equal(a, b)


def _train(workdir, photos, steps=2, **changes):
    from tfcodec.train.loop import TrainConfig, train

    config = TrainConfig(model=TINY, data=str(photos), workdir=str(workdir), steps=steps, batch=2, patch=32,
                         checkpoint_every=2, log_every=1, image_every=100, **changes)
    train(config, progress=False)


def test_export_of_a_training_checkpoint(tmp_path, photos, monkeypatch):
    """export-weights on a recurrent workdir: the family's export step fits the prob net
    again (a short fit here) and keeps whichever codes held-out crops better."""
    from tfcodec.train.export_weights import restore_model
    from tfcodec.weights import load_bundle

    monkeypatch.setattr(er, "export_coding", functools.partial(er.export_coding, steps=20))
    workdir = tmp_path / "run"
    _train(workdir, photos)
    out = tmp_path / "tiny.npz"
    assert export_from_checkpoint(workdir, out, photos, 2) == 2
    bundle = load_bundle(str(out))
    assert bundle.meta["step"] == 2 and "steps_of_this_run" not in bundle.meta
    assert bundle.meta["family"] == "recurrent" and bundle.meta["config"]["iterations"] == 4
    prob_net = bundle.meta["prob_net"]
    costs = prob_net["held_out_bits_per_coded_bit"]
    assert set(costs) >= {"checkpoint"}
    assert prob_net["kept"] == min(costs, key=lambda name: (costs[name], name != "checkpoint"))
    # The RNNs ship as trained (rounded to float16).
    trained = build_model(TINY)
    restore_model(trained, tf.train.latest_checkpoint(str(workdir / "checkpoints")))
    assert len(bundle.keras) == len(trained.weights)
    for key, variable in zip(sorted(bundle.keras), trained.weights):
        if not variable.path.startswith("prob_net/"):
            np.testing.assert_array_equal(bundle.keras[key], variable.numpy().astype(np.float16))
    codec = rc.RecurrentCodec.from_bundle(bundle)
    image = ramp_image(40, 56, seed=99)
    data = codec.compress(image, 3)
    assert codec.decompress(data).shape == image.shape


def test_export_counts_the_steps_behind_init_weights(tmp_path, photos, monkeypatch):
    """A run started from a bundle (--init-weights) continues its steps: the export's
    step is the bundle's plus this run's."""
    from tfcodec.weights import load_bundle

    monkeypatch.setattr(er, "export_coding", functools.partial(er.export_coding, steps=0))
    first = tmp_path / "first.npz"
    _train(tmp_path / "a", photos)
    export_from_checkpoint(tmp_path / "a", first, photos, 1)
    assert load_bundle(str(first)).meta["prob_net"] == {"kept": "checkpoint"}
    _train(tmp_path / "b", photos, steps=3, init_weights=str(first))
    second = tmp_path / "second.npz"
    export_from_checkpoint(tmp_path / "b", second, photos, 1)
    meta = load_bundle(str(second)).meta
    assert meta["step"] == 5 and meta["steps_of_this_run"] == 3
