"""Tiny randomly initialised models and bundles for format and CLI tests."""

import numpy as np

from tfcodec.models import HyperpriorConfig, RecurrentConfig, register_model

TINY = {  # the hyperprior family's
    "test-bmshj-tiny": HyperpriorConfig("bmshj2018", 8, 16, 8, 8, predict_means=False),
    "test-mean-tiny": HyperpriorConfig("mbt2018-mean", 8, 16, 8, 8),
    "test-cw-tiny": HyperpriorConfig("cw2020", 8, 16, 8, 8, num_slices=2, slice_hidden=(12,)),
}
for _name, _config in TINY.items():
    register_model(_name, _config)
# The recurrent family's: builds and runs in a second.
RECURRENT_TINY = "rnn-tiny"
register_model(RECURRENT_TINY, RecurrentConfig(
    cell="gru", iterations=4, bits=8, stem_filters=8, encoder_units=(8, 8, 8),
    decoder_stem=8, decoder_units=(8, 8, 8, 8), prob_hidden=(8,)))


def ramp_image(h, w, seed=0):
    """A smooth colour ramp with noise: enough structure for the codecs to work on."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def write_bundle(name, path, seed=0):
    """Writes a bundle of a freshly initialised tiny model, the way export-weights does."""
    import json

    import keras

    from tfcodec.codecs.hyperprior import build_coding_arrays
    from tfcodec.models import build_model
    from tfcodec.weights import assign_keras_weights, keras_weights_of, save_bundle

    keras.utils.set_random_seed(seed)
    model = build_model(name)
    weights = keras_weights_of(model)
    assign_keras_weights(model, weights)
    crops = [ramp_image(64, 64, s).astype(np.float32) / 255 for s in range(2)]
    meta = {"model": name, "family": "hyperprior", "step": 0, "config": json.loads(model.config.to_json())}
    save_bundle(str(path), meta, weights, build_coding_arrays(model, crops))
    return str(path)
