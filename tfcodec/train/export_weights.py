"""`tfcodec export-weights`: a training checkpoint -> the weights bundle the CLI loads.

The bundle carries the Keras weights and everything coding needs: CDF tables
and the integer entropy-parameter nets, calibrated on a few training images
(never on evaluation images).
"""

from tfcodec import fileio
from tfcodec.errors import FormatError


def calibration_crops(folder, count, size=256, seed=0):
    import numpy as np

    from tfcodec.fileio import read_image
    from tfcodec.train.data import list_images

    files = list_images(folder)
    rng = np.random.default_rng(seed)
    crops = []
    for path in rng.choice(files, size=min(count, len(files)), replace=False):
        rgb = read_image(str(path))
        h, w = rgb.shape[:2]
        s = min(size, h, w) // 64 * 64
        if s < 64:
            continue
        top, left = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        crops.append(rgb[top:top + s, left:left + s].astype(np.float32) / 255.0)
    return crops


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

    from tfcodec.models import build_model, model_family
    from tfcodec.train.loop import step_meta
    from tfcodec.weights import keras_weights_of, save_bundle

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
        crops = calibration_crops(calibration_folder, count)
    except ValueError as e:  # a missing or empty folder, local or URL alike
        raise FormatError(f"--calibration: {e}") from None
    model = build_model(name)
    checkpoints = fileio.join(workdir, "checkpoints")
    latest = tf.train.latest_checkpoint(checkpoints)
    if not latest:
        raise FormatError(f"no checkpoint in {checkpoints}")
    restore_model(model, latest)
    step = int(latest.rsplit("-", 1)[-1])
    # Round to the stored precision first: tables and integer nets must be
    # derived from exactly the weights that ship.
    from tfcodec.weights import assign_keras_weights
    assign_keras_weights(model, keras_weights_of(model))
    family = model_family(name)
    if family == "hyperprior":
        from tfcodec.codecs.hyperprior import build_coding_arrays
    else:
        from tfcodec.codecs.recurrent import build_coding_arrays
    coding = build_coding_arrays(model, crops)
    meta = {"model": name, "family": family, **step_meta(workdir, step)}
    if hasattr(model, "config") and hasattr(model.config, "to_json"):
        meta["config"] = json.loads(model.config.to_json())
    save_bundle(out, meta, keras_weights_of(model), coding)
    return meta["step"]
