"""Tests for `tfcodec train`: tfds input pipelines, keyed randomness, resumable runs,
checkpoint safety, NaN stop, validation/TensorBoard, XLA.

Images are generated in tmp folders (never /work/shared); the model is a tiny
hyperprior registered here for the tests only. Distribution tests (mirrored over
two logical CPUs, two workers) are in test_distributed.py.
"""

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfcodec.errors import FormatError
from tfcodec.models import build_model, family_named, register_family, register_model
from tfcodec.models.config import HyperpriorConfig
from tfcodec.train import data as data_lib
from tfcodec.train import loop
from tfcodec.train.randomness import example_uniform, keyed_random
from tiny_tfds import build_catalog_dataset

TINY = HyperpriorConfig("mbt2018-mean", 8, 8, 8, 8)
PATCH = 64
N = 3  # steps of each half of the resume test


def _build_nan(name, config):
    """The tiny model whose loss has become NaN (same variables: restores its checkpoints)."""
    from tfcodec.models.hyperprior import HyperpriorModel

    class Diverged(HyperpriorModel):
        def rd_loss(self, x, quality, training=True):
            loss, aux = super().rd_loss(x, quality, training)
            return loss + tf.constant(float("nan")), aux

    model = Diverged(config, name="test_train_tiny")
    model.forward(tf.zeros((1, 64, 64, 3)), tf.zeros((1,)), training=False)
    return model


register_model("test-train-tiny", TINY)
# A family of its own: one record with another builder is all a new family needs.
register_family(dataclasses.replace(family_named("hyperprior"), name="test-diverged",
                                    configs={"test-train-tiny-nan": TINY}, build="test_training:_build_nan"))


def write_images(folder, count=9, seed=0):
    """Smooth noisy colour images of assorted sizes and modes, some smaller than PATCH."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(folder, "nested", "deeper"), exist_ok=True)
    sizes = [(80, 120), (40, 50), (130, 90), (64, 64), (100, 200), (70, 66), (150, 100), (30, 90), (96, 128)]
    for i in range(count):
        h, w = sizes[i % len(sizes)]
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 / w, yy * 255 / h, 128 + 90 * np.sin((xx + yy) / 7 + i)], -1)
        rgb = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
        sub = ["", "nested", os.path.join("nested", "deeper")][i % 3]
        if i == 4:
            Image.fromarray(rgb[..., 0]).save(os.path.join(folder, sub, f"grey{i}.png"))
        elif i == 5:
            Image.fromarray(np.dstack([rgb, np.full((h, w), 200, np.uint8)])).save(
                os.path.join(folder, sub, f"alpha{i}.png"))
        elif i % 2:
            Image.fromarray(rgb).save(os.path.join(folder, sub, f"photo{i}.jpg"), quality=90)
        else:
            Image.fromarray(rgb).save(os.path.join(folder, sub, f"image{i}.png"))
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_images(str(tmp_path_factory.mktemp("photos")))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


def _config(workdir, images, data_dir, **overrides):
    values = {"model": "test-train-tiny", "data": images, "workdir": str(workdir), "steps": 2 * N, "batch": 4,
              "patch": PATCH, "checkpoint_every": N, "log_every": 2, "image_every": 1000, "data_dir": data_dir}
    return loop.TrainConfig(**{**values, **overrides})


def _run(config, **kwargs):
    losses = {}
    final = loop.train(config, progress=False,
                       on_step=lambda step, metrics: losses.__setitem__(step, metrics["loss"]), **kwargs)
    return final, losses


# ----------------------------------------------------------------------------- data


def test_folder_pipeline_through_tfds(images, data_dir):
    batches = list(data_lib.training_examples(images, PATCH, 4, seed=3, data_dir=data_dir).take(5))
    for crops, indices in batches:
        assert crops.shape == (4, PATCH, PATCH, 3) and crops.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(crops)) and float(tf.reduce_max(crops)) <= 1.0
    assert np.concatenate([i.numpy() for _, i in batches]).tolist() == list(range(20))
    # prepared once, as a tfds dataset under the data dir
    assert glob.glob(os.path.join(data_dir, "tfcodec_folders", "*", "tfcodec_image_folder", "1.0.0",
                                  "*.tfrecord*"))
    # static shapes for XLA, same signature as before, deterministic for a seed
    plain = data_lib.training_dataset(images, PATCH, 4, 3, 0, data_dir=data_dir)
    assert plain.element_spec.shape.as_list() == [4, PATCH, PATCH, 3]
    again = next(iter(plain))
    np.testing.assert_array_equal(again.numpy(), batches[0][0].numpy())
    other = next(iter(data_lib.training_dataset(images, PATCH, 4, 4, 0, data_dir=data_dir)))
    assert np.abs(other.numpy() - again.numpy()).max() > 0.05


def test_resume_skips_to_the_same_examples(images, data_dir):
    full = list(data_lib.training_examples(images, PATCH, 4, seed=1, data_dir=data_dir).take(7))
    resumed = list(data_lib.training_examples(images, PATCH, 4, seed=1, start_example=12,
                                              data_dir=data_dir).take(4))
    for a, b in zip(full[3:], resumed):
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())


def test_every_epoch_is_a_new_permutation(images, data_dir):
    source = data_lib.open_source(images, data_dir)
    n = source.num_examples
    assert n == 9
    records = [r.numpy() for _, r in data_lib._endless_records(source, 5, 0, 2048).take(3 * n)]
    digests = [hashlib.sha1(r).hexdigest() for r in records]
    epochs = [digests[k * n:(k + 1) * n] for k in range(3)]
    for epoch in epochs:
        assert sorted(epoch) == sorted(epochs[0]) and len(set(epoch)) == n
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]
    # small windows (big records) still visit everything once per epoch
    small = data_lib._endless_records(source, 5, 0, 4).take(2 * n)
    digests = [hashlib.sha1(r.numpy()).hexdigest() for _, r in small]
    assert sorted(digests[:n]) == sorted(digests[n:]) == sorted(epochs[0])


def test_pipeline_shards_make_up_the_global_batch(images, data_dir):
    whole = list(data_lib.training_examples(images, PATCH, 4, seed=2, data_dir=data_dir).take(3))
    shards = [list(data_lib.training_examples(images, PATCH, 4, seed=2, replica_batch=1, num_pipelines=2,
                                              pipeline_id=p, data_dir=data_dir).take(6)) for p in (0, 1)]
    for step in range(3):
        got = [shards[p][2 * step + r] for p in (0, 1) for r in (0, 1)]
        np.testing.assert_array_equal(np.concatenate([g[1].numpy() for g in got]), whole[step][1].numpy())
        np.testing.assert_array_equal(np.concatenate([g[0].numpy() for g in got]), whole[step][0].numpy())


def test_broken_and_unusual_files_are_handled(tmp_path, data_dir):
    folder = write_images(str(tmp_path / "mixed"), count=3)
    with open(os.path.join(folder, "broken.jpg"), "wb") as f:
        f.write(b"not an image")
    Image.fromarray(np.zeros((70, 80, 3), np.uint8) + 90).save(os.path.join(folder, "scan.tiff"))
    source = data_lib.open_source(folder, data_dir)
    assert source.num_examples == 4  # broken skipped, TIFF converted
    crops = next(iter(data_lib.training_dataset(folder, PATCH, 8, data_dir=data_dir)))
    assert crops.shape == (8, PATCH, PATCH, 3)
    validation = list(data_lib.validation_images(folder, size=96))
    assert len(validation) == 3 and all(v.shape == (1, 96, 96, 3) for v in validation)  # broken skipped


def test_tfds_spec_parsing():
    assert data_lib.parse_tfds_spec("clic") == ("clic", "train")
    assert data_lib.parse_tfds_spec("clic:validation") == ("clic", "validation")
    assert data_lib.parse_tfds_spec("clic:train[:90%]") == ("clic", "train[:90%]")
    assert data_lib.parse_tfds_spec("div2k/bicubic_x2:2.0.0") == ("div2k/bicubic_x2:2.0.0", "train")
    assert data_lib.parse_tfds_spec("div2k/bicubic_x2:2.0.0:validation") == (
        "div2k/bicubic_x2:2.0.0", "validation")


def test_tfds_catalog_dataset_by_name(tmp_path):
    data_dir = str(tmp_path / "catalog")
    build_catalog_dataset(data_dir)
    source = data_lib.open_source("tfds:tfcodec_test_sr", data_dir)  # read from its files, no code
    assert source.key == "hr" and source.num_examples == 6
    crops, indices = next(iter(data_lib.training_examples("tfds:tfcodec_test_sr:validation", PATCH, 4,
                                                          data_dir=data_dir)))
    assert crops.shape == (4, PATCH, PATCH, 3) and indices.numpy().tolist() == [0, 1, 2, 3]
    assert data_lib.open_source("tfds:tfcodec_test_sr:train[:50%]", data_dir).num_examples == 3
    with pytest.raises(ValueError, match="tfds:no_such_dataset_here"):
        data_lib.open_source("tfds:no_such_dataset_here", data_dir)


# ----------------------------------------------------------------------------- randomness


def test_keyed_randomness_ignores_batch_layout():
    a = example_uniform(7, tf.constant([10, 11, 12, 13], tf.int64), 3, [5, 2])
    b = example_uniform(7, tf.constant([12, 13], tf.int64), 3, [5, 2])
    np.testing.assert_array_equal(a.numpy()[2:], b.numpy())
    assert not np.array_equal(a.numpy()[0], a.numpy()[1])
    c = example_uniform(8, tf.constant([10], tf.int64), 3, [5, 2])
    assert not np.array_equal(a.numpy()[0], c.numpy()[0])
    big = example_uniform(0, tf.range(500, dtype=tf.int64), 1, [200]).numpy()
    assert abs(big.mean() - 0.5) < 0.01 and big.min() >= 0 and big.max() < 1

    from tfcodec.ops import random_uniform

    with keyed_random(7, tf.constant([12, 13], tf.int64)) as context:
        noise = random_uniform((2, 5, 2), -0.5, 0.5)
        other = random_uniform((3,))  # not per-example: passed through
    assert context["calls"] == 1 and context["unkeyed"] == 1 and other.shape == (3,)
    outside = random_uniform((2, 5, 2), -0.5, 0.5)  # the provider is gone after the block
    assert not np.allclose(outside.numpy(), noise.numpy())
    np.testing.assert_allclose(noise.numpy(), example_uniform(
        7, tf.constant([12, 13], tf.int64), 1000, [5, 2]).numpy() - 0.5, atol=1e-7)


# ----------------------------------------------------------------------------- runs


def _events(workdir):
    tags = set()
    for path in glob.glob(os.path.join(workdir, "logs", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(v.tag for v in event.summary.value)
    return tags


@pytest.fixture(scope="module")
def reference_run(images, data_dir, tmp_path_factory):
    """2N steps in one go, with validation, images and a learning-rate decay."""
    workdir = tmp_path_factory.mktemp("reference")
    config = _config(workdir, images, data_dir, validation=images, validate_every=N, validation_images=3,
                     validation_size=192, validation_qualities="0,1", image_every=N,
                     lr_decay_steps=2, lr_final_factor=0.5)
    final, losses = _run(config)
    return str(workdir), final, losses, config


def test_run_logs_checkpoints_and_validates(reference_run):
    workdir, final, losses, _ = reference_run
    assert final == 2 * N and sorted(losses) == list(range(1, 2 * N + 1))
    assert all(np.isfinite(v) for v in losses.values())
    assert os.path.exists(os.path.join(workdir, "config.json"))
    assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")).endswith(f"ckpt-{2 * N}")
    assert os.path.exists(os.path.join(workdir, "checkpoints", f"ckpt-{N}.index"))
    tags = _events(workdir)
    for tag in ("train/loss", "train/bpp", "train/psnr", "train/learning_rate", "train/steps_per_second",
                "val/estimated_bpp/q0.00", "val/psnr/q1.00", "val/ms_ssim/q1.00", "val/ms_ssim_db/q0.00",
                "reconstruction/quality_1.0"):
        assert tag in tags, (tag, sorted(tags))


def test_sigterm_checkpoint_and_resume_match_one_run(reference_run, images, data_dir, tmp_path):
    _, _, reference, config = reference_run
    config = dataclasses.replace(config, workdir=str(tmp_path / "interrupted"), validation="")

    def stop_at(step, metrics):
        got[step] = metrics["loss"]
        if step == N - 1:
            os.kill(os.getpid(), signal.SIGTERM)  # seen at the next step, by every worker

    got = {}
    first = loop.train(config, progress=False, on_step=stop_at)
    assert first == N  # checkpointed on the signal, and stopped
    assert tf.train.latest_checkpoint(os.path.join(config.workdir, "checkpoints")).endswith(f"ckpt-{N}")
    final, rest = _run(config)  # rerun = resume at N, on the same data and randomness
    assert final == 2 * N and min(rest) == N + 1
    got.update(rest)
    np.testing.assert_allclose([got[s] for s in sorted(reference)], [reference[s] for s in sorted(reference)],
                               rtol=1e-4)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_during_a_step_saves_that_step(images, data_dir, tmp_path, monkeypatch, signum):
    """A signal that comes while a step runs: one process saves right after that step.

    The step in flight read its stop flag before the signal; waiting for the flag to come back
    through the next step costs a whole extra step before the save (1-2 s for rnn-gru-small on a
    CPU), time in which a kill that follows SIGTERM can come first and leave no checkpoint.
    """
    make_train_call = loop.make_train_call

    def signalled_in_step_2(config, strategy, model, optimizer, step):
        train_call = make_train_call(config, strategy, model, optimizer, step)

        def run(iterator, count, stop):
            metrics = train_call(iterator, count, stop)
            if int(step.numpy()) == 2:
                # Sent only to a handler of ours: the default action would end pytest itself.
                assert signal.getsignal(signum) not in (signal.SIG_DFL, signal.SIG_IGN, None)
                os.kill(os.getpid(), signum)  # after step 2 read its flag, before the loop sees it
            return metrics

        return run

    monkeypatch.setattr(loop, "make_train_call", signalled_in_step_2)
    config = _config(tmp_path / "rnn", images, data_dir, model="rnn-tiny", steps=10, checkpoint_every=10)
    assert loop.train(config, progress=False) == 2
    assert tf.train.latest_checkpoint(os.path.join(config.workdir, "checkpoints")).endswith("ckpt-2")


def test_steps_per_execution_trains_the_same_steps(images, data_dir, tmp_path):
    """Four steps in one compiled call give the same losses, weights and checkpoints as four
    calls of one step: the loop inside the call reads the same batches and keys."""
    runs = {}
    for per_call in (1, 4):
        config = _config(tmp_path / f"spe{per_call}", images, data_dir, steps=8, checkpoint_every=4,
                         log_every=4, steps_per_execution=per_call)
        final, losses = _run(config)
        checkpoint, _ = _checkpoint_of()
        loop.restore_latest_good(checkpoint, os.path.join(config.workdir, "checkpoints"))
        runs[per_call] = (final, losses, [w.numpy() for w in checkpoint.model.weights],
                          sorted(os.listdir(os.path.join(config.workdir, "checkpoints"))))
    (final1, losses1, weights1, files1), (final4, losses4, weights4, files4) = runs[1], runs[4]
    assert final1 == final4 == 8 and sorted(losses4) == list(range(1, 9))
    np.testing.assert_allclose([losses4[s] for s in range(1, 9)], [losses1[s] for s in range(1, 9)], rtol=1e-5)
    assert losses1[1] != losses1[8]  # it trained
    for a, b in zip(weights4, weights1):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert files1 == files4 and "ckpt-4.index" in files4 and "ckpt-8.index" in files4
    with open(os.path.join(str(tmp_path / "spe4"), "config.json")) as f:
        saved = json.load(f)
    assert saved["steps_per_execution"] == 4 and saved["strategy"] == "auto"
    assert saved["resolved"] == {"strategy": "default", "tpu": "", "device": "cpu", "steps_per_execution": 4}


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(reference_run, tmp_path):
    workdir, _, _, config = reference_run
    copy = str(tmp_path / "diverging")
    shutil.copytree(workdir, copy)
    config = dataclasses.replace(config, workdir=copy, model="test-train-tiny-nan", steps=4 * N, validation="")
    before = sorted(os.listdir(os.path.join(copy, "checkpoints")))
    with pytest.raises(loop.NonFiniteLoss, match=f"non-finite training loss at step {2 * N + 1}.*ckpt-{2 * N}"):
        loop.train(config, progress=False)
    assert sorted(os.listdir(os.path.join(copy, "checkpoints"))) == before


def _checkpoint_of(model_name="test-train-tiny"):
    from tfcodec.models import build_model

    model = build_model(model_name)
    optimizer = loop.make_optimizer(loop.TrainConfig(model="", data="", workdir=""))
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64)
    return tf.train.Checkpoint(model=model, optimizer=optimizer, step=step), step


def test_corrupted_latest_checkpoint_falls_back(reference_run, tmp_path):
    workdir, *_ = reference_run
    copy = str(tmp_path / "corrupted")
    shutil.copytree(workdir, copy)
    directory = os.path.join(copy, "checkpoints")
    # a save that died before the index update: files of ckpt-99 that no index lists
    with open(os.path.join(directory, "ckpt-99.index"), "wb") as f:
        f.write(b"\x00partial")
    os.makedirs(os.path.join(directory, "ckpt-99_temp"))
    checkpoint, step = _checkpoint_of()
    assert loop.restore_latest_good(checkpoint, directory).endswith(f"ckpt-{2 * N}")
    assert int(step.numpy()) == 2 * N
    # the listed latest checkpoint damaged afterwards (truncated data): the one before is used
    data = glob.glob(os.path.join(directory, f"ckpt-{2 * N}.data-*"))[0]
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    checkpoint, step = _checkpoint_of()
    assert loop.restore_latest_good(checkpoint, directory).endswith(f"ckpt-{N}")
    assert int(step.numpy()) == N


def test_restores_checkpoints_of_the_first_version(tmp_path):
    """The layout the running jobs write (plain Keras Adam with global_clipnorm) restores here."""
    import keras

    from tfcodec.models import build_model

    keras.utils.set_random_seed(1)
    model = build_model("test-train-tiny")
    optimizer = keras.optimizers.Adam(3e-4, global_clipnorm=1.0)
    optimizer.build(model.trainable_variables)
    optimizer.apply([tf.ones_like(v) for v in model.trainable_variables])
    step = tf.Variable(17, dtype=tf.int64, name="step")
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model, optimizer=optimizer, step=step),
                                         str(tmp_path), max_to_keep=3)
    manager.save(checkpoint_number=17)
    checkpoint, restored_step = _checkpoint_of()
    assert loop.restore_latest_good(checkpoint, str(tmp_path)).endswith("ckpt-17")
    assert int(restored_step.numpy()) == 17
    for a, b in zip(checkpoint.optimizer.variables, optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(checkpoint.model.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_init_weights_from_a_bundle(tmp_path):
    import keras

    from tfcodec.models import build_model
    from tfcodec.weights import keras_weights_of, save_bundle

    keras.utils.set_random_seed(5)
    source = build_model("test-train-tiny")
    path = str(tmp_path / "start.npz")
    save_bundle(path, {"model": "test-train-tiny", "family": "hyperprior", "step": 0},
                keras_weights_of(source), {})
    keras.utils.set_random_seed(6)
    model = build_model("test-train-tiny")
    loop.load_initial_weights(model, path)
    for a, b in zip(model.weights, source.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b).astype(np.float16), rtol=1e-3)


def test_resume_does_not_need_the_init_bundle(images, data_dir, tmp_path):
    """A run started from a bundle resumes from its checkpoint after that bundle is gone
    (a shipped model replaced by its successor), and keeps the bundle's step count."""
    import keras

    from tfcodec.models import build_model
    from tfcodec.weights import keras_weights_of, save_bundle

    keras.utils.set_random_seed(5)
    start = str(tmp_path / "start.npz")
    save_bundle(start, {"model": "test-train-tiny", "family": "hyperprior", "step": 700},
                keras_weights_of(build_model("test-train-tiny")), {})
    workdir = tmp_path / "run"
    assert _run(_config(workdir, images, data_dir, steps=N, init_weights=start))[0] == N
    os.remove(start)
    final, losses = _run(_config(workdir, images, data_dir, steps=2 * N, init_weights=start))
    assert final == 2 * N and sorted(losses) == list(range(N + 1, 2 * N + 1))
    assert loop.initial_step(str(workdir)) == 700
    with pytest.raises(FormatError, match="does not exist"):  # a fresh run does need it
        _run(_config(tmp_path / "fresh", images, data_dir, steps=N, init_weights=start))


def test_init_weights_into_a_wider_rate_range_keeps_the_old_rates(tmp_path):
    """A bundle trained over one lambda range starts a model with more gain levels over
    a wider one: where the ranges overlap, the same lambda gives the same gains, hence
    the same latent and rate; outside, the gains extend the end levels' trend."""
    import json

    import keras

    from tfcodec.models import build_model
    from tfcodec.weights import keras_weights_of, save_bundle

    narrow = TINY
    step = np.log(narrow.lambda_max / narrow.lambda_min) / (narrow.gain_levels - 1)
    wide = dataclasses.replace(narrow, gain_levels=narrow.gain_levels + 3,
                               lambda_min=narrow.lambda_min * np.exp(-2 * step),
                               lambda_max=narrow.lambda_max * np.exp(step))
    register_model("test-train-tiny-wide", wide)
    keras.utils.set_random_seed(5)
    source = build_model("test-train-tiny")
    rng = np.random.default_rng(0)
    for variable in (source.gains.log_gain, source.gains.log_inverse_gain):
        variable.assign(rng.normal(0, 0.5, variable.shape).astype(np.float32))
    path = str(tmp_path / "narrow.npz")
    save_bundle(path, {"model": "test-train-tiny", "family": "hyperprior", "step": 0,
                       "config": json.loads(narrow.to_json())}, keras_weights_of(source), {})
    model = build_model("test-train-tiny-wide")
    loop.load_initial_weights(model, path)

    old = np.asarray(source.gains.log_gain)
    new = np.asarray(model.gains.log_gain)
    assert new.shape == (narrow.gain_levels + 3, old.shape[1])
    np.testing.assert_allclose(new[2:-1], old.astype(np.float16), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(new[0], 3 * old[0] - 2 * old[1], rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(new[-1], 2 * old[-1] - old[-2], rtol=1e-2, atol=1e-2)
    x = tf.random.stateless_uniform((1, 64, 64, 3), (1, 2))
    q_old = 3.0 / (narrow.gain_levels - 1)
    q_new = (3.0 + 2) / (wide.gain_levels - 1)
    a = source.forward(x, tf.constant([q_old]), training=False)
    b = model.forward(x, tf.constant([q_new]), training=False)
    np.testing.assert_allclose(float(b["y_bits"][0]), float(a["y_bits"][0]), rtol=0.05)


def test_mixed_bfloat16_keeps_the_latent_and_the_rate_path_in_float32():
    """Under mixed_bfloat16 only the wide layers compute in bfloat16: the layers that read
    or write the latent, the hyper transforms, slice nets, gains and densities stay
    float32, so the rate estimate and the loss follow the float32 model's closely."""
    import keras
    import tiny_models  # noqa: F401  registers test-cw-tiny

    from tfcodec.models import build_model
    from tfcodec.weights import assign_keras_weights, keras_weights_of

    keras.utils.set_random_seed(3)
    reference = build_model("test-cw-tiny")
    with loop.dtype_policy("mixed_bfloat16"):
        mixed = build_model("test-cw-tiny")
    assert keras.config.dtype_policy().name == "float32"
    assign_keras_weights(mixed, keras_weights_of(reference, np.float32))
    assert {v.dtype for v in mixed.weights} == {"float32"}

    def dtypes(sequential):
        return [layer.compute_dtype for layer in sequential.layers]

    assert dtypes(mixed.analysis)[:-1] == ["bfloat16"] * 6 and dtypes(mixed.analysis)[-1] == "float32"
    assert dtypes(mixed.synthesis)[0] == "float32" and set(dtypes(mixed.synthesis)[1:]) == {"bfloat16"}
    pinned = [mixed.hyper_analysis, mixed.hyper_synthesis, *mixed.mean_nets, *mixed.scale_nets,
              *mixed.lrp_nets]
    assert all(set(dtypes(s)) == {"float32"} for s in pinned)
    assert mixed.gains.compute_dtype == mixed.hyper_prior.compute_dtype == "float32"

    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 1, (2, 64, 64, 3)).astype(np.float32))
    quality = tf.constant([0.0, 1.0])
    (loss_ref, aux_ref), (loss_mixed, aux_mixed) = (
        m.rd_loss(x, quality, training=False) for m in (reference, mixed))
    assert loss_mixed.dtype == aux_mixed["x_hat"].dtype == tf.float32
    np.testing.assert_allclose(aux_mixed["bpp"], aux_ref["bpp"], rtol=0.02)
    np.testing.assert_allclose(aux_mixed["x_hat"], aux_ref["x_hat"], atol=0.02)


def test_mixed_bfloat16_run_resumes_in_float32(images, data_dir, tmp_path):
    import keras

    config = _config(tmp_path / "bf16", images, data_dir, steps=N, precision="mixed_bfloat16")
    final, losses = _run(config)
    assert final == N and np.isfinite(list(losses.values())).all()
    assert keras.config.dtype_policy().name == "float32"
    final, losses = _run(dataclasses.replace(config, steps=N + 1, precision="float32"))
    assert final == N + 1 and list(losses) == [N + 1]


def test_recurrent_mixed_bfloat16_pins_bits_reconstruction_and_probabilities(images, data_dir, tmp_path):
    """Under mixed_bfloat16 the recurrent cells compute in bfloat16; the binarizer, the
    decoder's output layer (so the residual of the next iteration) and the probability
    net stay float32, so the loss follows the float32 model's."""
    import keras

    from tfcodec.models import build_model
    from tfcodec.weights import assign_keras_weights, keras_weights_of

    keras.utils.set_random_seed(3)
    reference = build_model("rnn-tiny")
    with loop.dtype_policy("mixed_bfloat16"):
        mixed = build_model("rnn-tiny")
    assign_keras_weights(mixed, keras_weights_of(reference, np.float32))
    assert {v.dtype for v in mixed.weights} == {"float32"}
    pinned = [mixed.binarizer, mixed.decoder_out, *mixed.prob_net.layers]
    assert {layer.compute_dtype for layer in pinned} == {"float32"}
    wide = [mixed.stem, mixed.decoder_stem, *mixed.encoder_cells, *mixed.decoder_cells]
    assert {layer.compute_dtype for layer in wide} == {"bfloat16"}

    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 1, (2, 32, 32, 3)).astype(np.float32))
    (loss_ref, aux_ref), (loss_mixed, aux_mixed) = (
        m.rd_loss(x, training=False) for m in (reference, mixed))
    assert loss_mixed.dtype == aux_mixed["x_hat"].dtype == aux_mixed["bpp"].dtype == tf.float32
    np.testing.assert_allclose(loss_mixed, loss_ref, rtol=0.02)
    np.testing.assert_allclose(aux_mixed["x_hat"], aux_ref["x_hat"], atol=0.02)

    # A short run in bfloat16, resumed in float32: the checkpoints are the same.
    config = _config(tmp_path / "rnn-bf16", images, data_dir, steps=2, precision="mixed_bfloat16")
    config = dataclasses.replace(config, model="rnn-tiny", patch=32)
    final, losses = _run(config)
    assert final == 2 and np.isfinite(list(losses.values())).all()
    assert keras.config.dtype_policy().name == "float32"
    final, _ = _run(dataclasses.replace(config, steps=3, precision="float32"))
    assert final == 3


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="must be one of"):
        with loop.dtype_policy("float16"):
            pass


def test_learning_rate_decay():
    config = loop.TrainConfig(model="", data="", workdir="", steps=100, learning_rate=1e-3,
                              lr_decay_steps=40, lr_final_factor=0.01)
    rates = [float(loop.learning_rate_at(config, s)) for s in (0, 60, 80, 100, 150)]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-4, 1e-5, 1e-5], rtol=1e-5)
    constant = dataclasses.replace(config, lr_decay_steps=0)
    assert float(loop.learning_rate_at(constant, 99)) == pytest.approx(1e-3)


KILL_DURING_SAVE = textwrap.dedent("""
    import sys, tensorflow as tf
    big = tf.Variable(tf.zeros((24, 1024, 1024)))
    step = tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(big=big, step=step), sys.argv[1], max_to_keep=2)
    for k in range(1, 1000):
        step.assign(k)
        big.assign(tf.fill(big.shape, float(k)))
        print("saving", k, flush=True)
        manager.save(checkpoint_number=k)
""")


def test_kill_during_save_keeps_the_last_good_checkpoint(tmp_path):
    """SIGKILL a process while it writes a 100 MB checkpoint: the index still names a good one."""
    directory = str(tmp_path / "killed")
    process = subprocess.Popen([sys.executable, "-c", KILL_DURING_SAVE, directory],
                               stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if line.startswith("saving 3"):  # checkpoints 1 and 2 written, 3 being written
                time.sleep(0.1)
                process.kill()
                break
    finally:
        process.kill()
        process.wait()
    big = tf.Variable(tf.zeros((24, 1024, 1024)))
    step = tf.Variable(0, dtype=tf.int64)
    path = loop.restore_latest_good(tf.train.Checkpoint(big=big, step=step), directory)
    k = int(step.numpy())
    assert path.endswith(f"ckpt-{k}") and k >= 2
    assert float(tf.reduce_min(big)) == float(tf.reduce_max(big)) == float(k)


@pytest.mark.slow
def test_one_step_runs_under_xla(reference_run, images, data_dir, tmp_path):
    _, _, reference, _ = reference_run
    config = _config(tmp_path / "jit", images, data_dir, steps=1, jit_compile=True,
                     lr_decay_steps=2, lr_final_factor=0.5)
    final, losses = _run(config)
    assert final == 1
    np.testing.assert_allclose(losses[1], reference[1], rtol=1e-3)


def test_cli_flags():
    from tfcodec.cli import build_parser

    args = build_parser(only="train").parse_args(
        ["train", "--model", "cw2020-small", "--data", "tfds:clic", "--workdir", "w", "--strategy", "tpu",
         "--tpu", "grpc://10.0.0.2:8470", "--jit-compile", "--validation", "v", "--validate-every", "7",
         "--lr-decay-steps", "100", "--lr-final-factor", "0.1", "--data-dir", "d"])
    assert args.strategy == "tpu" and args.jit_compile is True and args.validate_every == 7
    assert args.lr_decay_steps == 100 and args.data_dir == "d" and args.data == "tfds:clic"
    assert build_parser(only="train").parse_args(["train", "--model", "m", "--data", "d", "--workdir", "w"]
                                                 ).strategy is None  # TrainConfig's default: auto


def test_config_file_from_a_previous_run(reference_run, tmp_path):
    """A run's config.json (with what `auto` resolved to) serves as --config; flags win."""
    from tfcodec.cli import build_parser
    from tfcodec.commands.train import config_from_args

    workdir, *_ = reference_run
    args = build_parser(only="train").parse_args(
        ["train", "--config", os.path.join(workdir, "config.json"), "--model", "test-train-tiny",
         "--data", "elsewhere", "--workdir", str(tmp_path / "again"), "--steps-per-execution", "2"])
    config = config_from_args(args)
    assert config.data == "elsewhere" and config.steps_per_execution == 2 and config.strategy == "auto"
    assert config.patch == PATCH and config.validation_size == 192  # from the file


def test_msssim_objective_on_small_crops_is_warned_about(monkeypatch):
    """Crops under 161 px train fewer MS-SSIM scales than the evaluation weighs."""
    import types

    warned = []
    monkeypatch.setattr(loop.logging, "warning", lambda msg, *args: warned.append(msg % args))
    msssim_model = types.SimpleNamespace(config=types.SimpleNamespace(distortion="msssim"))
    loop._warn_if_crops_too_small(msssim_model, 64)
    assert len(warned) == 1 and "holds 3 of the 5 MS-SSIM scales" in warned[0]
    loop._warn_if_crops_too_small(msssim_model, 161)
    loop._warn_if_crops_too_small(types.SimpleNamespace(config=types.SimpleNamespace(distortion="l1")), 64)
    loop._warn_if_crops_too_small(build_model("test-train-tiny"), 64)   # a hyperprior model: no distortion field
    assert len(warned) == 1
