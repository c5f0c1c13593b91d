"""export-weights: the bundle holds exactly the trained variables, every one of them."""

import numpy as np
from PIL import Image

from tiny_models import ramp_image


def test_bundle_holds_every_trained_variable(tmp_path):
    import tensorflow as tf

    from tfcodec.train.export_weights import export_from_checkpoint
    from tfcodec.train.loop import TrainConfig, train
    from tfcodec.weights import load_bundle

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        Image.fromarray(ramp_image(96, 96, seed=i)).save(photos / f"{i}.png")
    workdir = tmp_path / "run"
    config = TrainConfig(model="test-cw-tiny", data=str(photos), workdir=str(workdir), steps=3,
                         batch=2, patch=64, checkpoint_every=3, log_every=1, image_every=100,
                         learning_rate=1e-2)
    train(config, progress=False)
    out = tmp_path / "tiny.npz"
    export_from_checkpoint(str(workdir), str(out), str(photos), count=2)

    bundle = load_bundle(str(out))
    latest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
    reader = tf.train.load_checkpoint(latest)
    saved = reader.get_variable_to_shape_map()
    stored = [bundle.keras[k] for k in sorted(bundle.keras)]
    checked = 0
    for i, value in enumerate(stored):
        key = f"optimizer/_trainable_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE"
        if key in saved:
            trained = reader.get_tensor(key)
            np.testing.assert_array_equal(value, trained.astype(np.float16))
            checked += 1
    # Everything but the variables the checkpoint keys under the model itself (the gains).
    assert checked >= len(stored) - 2

    # A checkpoint of another architecture is refused, not half-loaded.
    import pytest

    from tfcodec.models import build_model
    from tfcodec.train.export_weights import restore_model

    with pytest.raises(RuntimeError, match="does not hold every variable"):
        restore_model(build_model("test-mean-tiny"), latest)


def test_a_run_from_a_bundle_continues_its_step_count(tmp_path):
    """--init-weights W: the exported bundle's step is W's steps plus this run's, also after
    W's file is overwritten by that export (the count is recorded at the run's start)."""
    import dataclasses
    import json

    from tfcodec.train.export_weights import export_from_checkpoint
    from tfcodec.train.loop import TrainConfig, train
    from tfcodec.weights import load_bundle

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(ramp_image(80, 80, seed=i)).save(photos / f"{i}.png")
    first = TrainConfig(model="test-cw-tiny", data=str(photos), workdir=str(tmp_path / "a"), steps=2,
                        batch=2, patch=64, checkpoint_every=2, log_every=1, image_every=100)
    train(first, progress=False)
    bundle = tmp_path / "w.npz"
    assert export_from_checkpoint(first.workdir, str(bundle), str(photos), count=1) == 2
    assert "steps_of_this_run" not in load_bundle(str(bundle)).meta

    second = dataclasses.replace(first, workdir=str(tmp_path / "b"), steps=3, init_weights=str(bundle))
    train(second, progress=False)
    with open(tmp_path / "b" / "init.json") as f:
        assert json.load(f)["initial_step"] == 2
    assert export_from_checkpoint(second.workdir, str(bundle), str(photos), count=1) == 5
    train(dataclasses.replace(second, steps=4), progress=False)   # resumed: the record stays
    assert export_from_checkpoint(second.workdir, str(bundle), str(photos), count=1) == 6
    meta = load_bundle(str(bundle)).meta
    assert meta["step"] == 6 and meta["steps_of_this_run"] == 4
