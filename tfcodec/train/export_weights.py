"""A training checkpoint -> the weights bundle the CLI loads (`tfcodec export-weights`).

The bundle carries the Keras weights and everything coding needs, made by the
model family's export step (its record's `export_coding`): for the hyperprior
family CDF tables and integer entropy-parameter nets, for the recurrent family
the bit-probability net fitted again on the bits it will code; calibrated on
training images only, never evaluation images.
"""

from tfcodec import fileio
from tfcodec.errors import FormatError


def _checkpoint_reader(path):
    """tf.train.load_checkpoint, but a checkpoint prefix is read as one even where the
    filesystem calls it a folder (ram:// calls any prefix of a file a folder)."""
    import tensorflow as tf

    if fileio.exists(f"{path}.index"):
        return tf.compat.v1.train.NewCheckpointReader(path)
    return tf.train.load_checkpoint(path)


def restore_model(model, path):
    """Loads every model variable of a training checkpoint, or fails saying which are missing.

    tf.train.Checkpoint does not follow the Python lists in which the models
    keep some layers (slice nets, factorized-density parameters), but the
    optimizer tracks every trainable variable: restoring through an optimizer
    built on the model's variables (as the training loop builds it) reaches
    them all. The check afterwards makes a silent partial restore impossible.
    """
    import keras
    import tensorflow as tf

    saved = _checkpoint_reader(path).get_variable_to_shape_map()
    # Each model variable is saved once, under the model or under the optimizer's
    # list of the variables it trains; everything else is optimizer or loop state.
    state = ("optimizer/_variables/", "optimizer/_iterations/", "optimizer/_learning_rate/",
             "save_counter/", "step/")
    held = [k for k in saved if k.endswith("/.ATTRIBUTES/VARIABLE_VALUE") and not k.startswith(state)]
    if len(held) != len(model.weights):
        raise RuntimeError(f"checkpoint {path} does not hold every variable of {model.name}: it has "
                           f"{len(held)} model variables, the model {len(model.weights)} "
                           f"(another architecture?)")
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    status = tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as e:
        raise RuntimeError(f"checkpoint {path} does not hold every variable of {model.name} "
                           f"(another architecture?): {str(e)[:300]}") from None


def export_from_checkpoint(workdir, out, calibration_folder, count=16):
    """Writes the bundle of `workdir`'s latest checkpoint to `out`; returns its step.

    Every path may be a local one or a URL of any filesystem TensorFlow reads
    (gs://, file://, ram://, ...).
    """
    import json
    import os

    import tensorflow as tf

    from tfcodec.models import build_model, family_of
    from tfcodec.images import calibration_files
    from tfcodec.train.loop import step_meta
    from tfcodec.weights import assign_keras_weights, keras_weights_of, save_bundle

    workdir, out, calibration_folder = (os.fspath(p) for p in (workdir, out, calibration_folder))
    config_path = fileio.join(workdir, "config.json")
    try:
        name = json.loads(fileio.read_bytes(config_path))["model"]
    except FileNotFoundError:
        raise FormatError(f"{config_path} does not exist: --workdir is not a training workdir") from None
    except OSError as e:
        raise FormatError(f"cannot read {config_path}: {e.strerror or e}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise FormatError(f"{config_path} is not a training config ({type(e).__name__}: {e})") from None
    try:
        calibration_files(calibration_folder)  # checked before the slow part
    except FormatError as e:
        raise FormatError(f"--calibration: {e}") from None
    family = family_of(name)
    model = build_model(name)
    checkpoints = fileio.join(workdir, "checkpoints")
    latest = tf.train.latest_checkpoint(checkpoints)
    if not latest:
        raise FormatError(f"no checkpoint in {checkpoints}")
    restore_model(model, latest)
    step = int(latest.rsplit("-", 1)[-1])
    # Round to the stored precision first: tables and integer nets must be
    # derived from exactly the weights that ship.
    assign_keras_weights(model, keras_weights_of(model))
    coding, extra = family.load("export_coding")(model, calibration_folder, count)
    meta = {"model": name, "family": family.name, "config": json.loads(model.config.to_json()),
            **step_meta(workdir, step), **extra}
    save_bundle(out, meta, keras_weights_of(model), coding)
    return meta["step"]
