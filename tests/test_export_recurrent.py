"""tools/export_recurrent.py export: complete restores only, and never a worse probability net."""

import dataclasses
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tiny_models import ramp_image

from tfcodec.codecs import recurrent as rc
from tfcodec.models import build_model

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import export_recurrent as er

TINY = "rnn-tiny"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(20):
        Image.fromarray(ramp_image(48, 48, seed=i)).save(folder / f"{i}.png")
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
    path = partial.save(str(tmp_path / "ckpt"))
    # What the export used to do takes it without a word, leaving the RNNs random ...
    tf.train.Checkpoint(model=build_model(TINY)).restore(path).expect_partial()
    # ... the export now refuses it and writes nothing.
    out = tmp_path / "out.npz"
    with pytest.raises(RuntimeError, match="does not hold every variable"):
        er.export_bundle(TINY, str(tmp_path), str(out), f"files:{photos}", prob_steps=0, calibration_crops=1,
                         calibration_crop=32, log=lambda *_: None)
    assert not out.exists()


@pytest.mark.parametrize("order", [("good", "bad"), ("bad", "good")])
def test_the_prob_net_that_codes_held_out_bits_better_is_kept(order):
    model = build_model(TINY)
    nets = {"good": copying_net(model), "bad": [np.zeros_like(w) for w in model.prob_net.get_weights()]}
    candidates = {name: nets[name] for name in order}
    kept, arrays, costs = er.keep_better_prob_net(model, candidates, copy_bits(6, seed=1), copy_bits(4, seed=2),
                                                  log=lambda *_: None)
    assert kept == "good" and costs["good"] < costs["bad"]
    for a, b in zip(model.prob_net.get_weights(), nets["good"]):
        np.testing.assert_array_equal(a, b)
    assert set(arrays) == set(rc.coding_arrays_from_bits(model, copy_bits(6, seed=1)))
    # A tie keeps the first (the checkpoint's) net.
    kept, _, _ = er.keep_better_prob_net(model, {"first": nets["bad"], "second": nets["bad"]},
                                         copy_bits(6, seed=1), copy_bits(4, seed=2), log=lambda *_: None)
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
                                         learning_rate=1e-2, check_every=10, log=lambda *_: None)
    assert best < before and step > 0
    assert er.bits_per_bit(model, copy_bits(8, seed=3)) == pytest.approx(best)
    # Validation bits that do the opposite: every step hurts, the starting weights stay.
    model.prob_net.set_weights(start)
    before, best, step = er.fit_prob_net(model, copy_bits(32), copy_bits(8, seed=3, sign=-1), steps=40, batch=8,
                                         learning_rate=1e-2, check_every=10, log=lambda *_: None)
    assert step == 0 and best == before
    for a, b in zip(model.prob_net.get_weights(), start):
        np.testing.assert_array_equal(a, b)


def test_export_of_a_training_checkpoint(tmp_path, photos):
    from tfcodec.train.export_weights import restore_model
    from tfcodec.train.loop import TrainConfig, train
    from tfcodec.weights import load_bundle

    workdir = tmp_path / "run"
    train(TrainConfig(model=TINY, data=f"files:{photos}", workdir=str(workdir), steps=2, batch=2, patch=32,
                      checkpoint_every=2, log_every=1, image_every=100), progress=False)
    out = tmp_path / "tiny.npz"
    er.export_bundle(TINY, str(workdir), str(out), f"files:{photos}", prob_steps=20, crops=16, crop=32,
                     calibration_crops=2, calibration_crop=32, log=lambda *_: None)
    bundle = load_bundle(str(out))
    assert bundle.meta["step"] == 2 and "steps_of_this_run" not in bundle.meta
    prob_net = bundle.meta["prob_net"]
    costs = prob_net["held_out_bits_per_coded_bit"]
    assert prob_net["kept"] == min(costs, key=lambda name: (costs[name], name != "checkpoint"))
    # The RNNs ship as trained (rounded to float16).
    trained = build_model(TINY)
    restore_model(trained, tf.train.latest_checkpoint(str(workdir / "checkpoints")))
    assert len(bundle.keras) == len(trained.weights)
    for key, variable in zip(sorted(bundle.keras), trained.weights):
        if not variable.path.startswith("prob_net/"):
            np.testing.assert_array_equal(bundle.keras[key], variable.numpy().astype(np.float16))
    codec = rc.RecurrentCoder.from_bundle(bundle)
    image = ramp_image(40, 56, seed=99)
    data = codec.compress(image, 3)
    assert codec.decompress(data).shape == image.shape


def test_export_counts_the_steps_behind_init_weights(tmp_path, photos):
    """A run started from a bundle (--init-weights) continues its steps: the export's
    step is the bundle's plus this run's, as for export-weights."""
    from tfcodec.train.loop import TrainConfig, train
    from tfcodec.weights import load_bundle

    first = tmp_path / "first.npz"
    workdir = tmp_path / "a"
    config = TrainConfig(model=TINY, data=f"files:{photos}", workdir=str(workdir), steps=2, batch=2,
                         patch=32, checkpoint_every=2, log_every=1, image_every=100)
    train(config, progress=False)
    er.export_bundle(TINY, str(workdir), str(first), f"files:{photos}", prob_steps=0,
                     calibration_crops=1, calibration_crop=32, log=lambda *_: None)
    second_dir = tmp_path / "b"
    train(dataclasses.replace(config, workdir=str(second_dir), steps=3, init_weights=str(first)),
          progress=False)
    second = tmp_path / "second.npz"
    er.export_bundle(TINY, str(second_dir / "checkpoints"), str(second), f"files:{photos}",
                     prob_steps=0, calibration_crops=1, calibration_crop=32, log=lambda *_: None)
    meta = load_bundle(str(second)).meta
    assert meta["step"] == 5 and meta["steps_of_this_run"] == 3
