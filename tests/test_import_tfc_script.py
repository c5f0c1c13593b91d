"""A SavedModel of TFC's own training script's layout (models/bmshj2018.py), for the TFC importer.

Golden vectors: `tools/make_tfc_vectors.py --model script` (TFC venv) writes
tests/data/tfc/bmshj2018-script/ (model.save: a Keras SavedModel; GDN as each conv's activation,
TFC's simplified GDN, Lambda x / 255 and x * 255 at the ends, a "variable"-kernel hyper-synthesis)
and bmshj2018-script.npz. Its x_hat and x_decompressed are on TFC's 0..255 output scale; x is on
[0, 1]. Keras's SavedModel names the variables variables/<n>/.ATTRIBUTES/VARIABLE_VALUE; the npz's
`object_paths` maps them to their attribute paths (from the checkpoint's object graph).
"""

import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

DATA = os.path.join(os.path.dirname(__file__), "data", "tfc")
SAVED_MODEL = os.path.join(DATA, "bmshj2018-script")


@pytest.fixture(scope="module")
def golden():
    with np.load(os.path.join(DATA, "bmshj2018-script.npz")) as npz:
        return {k: npz[k] for k in npz.files}


def _close(actual, expected, what, tolerance=2e-5):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    error = float(np.max(np.abs(actual - expected))) / max(float(np.max(np.abs(expected))), 1e-6)
    assert error < tolerance, f"{what}: max error {error:.2e} of its range"


def test_savedmodel_variables_read_without_tfc(golden):
    prefix = os.path.join(SAVED_MODEL, "variables", "variables")
    names = [n for n, _ in tf.train.list_variables(prefix) if n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert len(names) == 63 and all(n.startswith("variables/") for n in names)
    reader = tf.train.load_checkpoint(prefix)
    for name in names:
        np.testing.assert_array_equal(reader.get_tensor(name), golden["var/" + name])
    paths = json.loads(str(golden["object_paths"]))
    by_path = {p: k for k, p in paths.items()}
    assert sorted(paths) == sorted(names)
    gdn = [p for p in by_path if "/_activation/_beta_parameter/variable" in p]
    assert len(gdn) == 6   # 3 GDN in the analysis, 3 IGDN in the synthesis, all conv activations
    offset = reader.get_tensor(by_path["side_entropy_model/_quantization_offset"])
    np.testing.assert_array_equal(offset, golden["z_offset"])
    assert by_path["hyper_synthesis_transform/layer_with_weights-2/_kernel_parameter"]   # "variable"


def test_transforms_compute_tfc_script_model(golden):
    from tfcodec.importers.tfc import model_from_checkpoint

    _, model = model_from_checkpoint(SAVED_MODEL, lmbda=0.01)
    _close(model.analysis(tf.constant(golden["x"])), golden["y"], "analysis")
    _close(model.hyper_analysis(tf.constant(golden["y"])), golden["z"], "hyper-analysis (of |y|)")
    _close(model.z_offset, golden["z_offset"], "quantisation offsets", 1e-6)
    step = (math.log(256.0) - math.log(0.11)) / 63
    _close(model.hyper_synthesis(tf.constant(golden["z_hat"])), math.log(0.11) + step * golden["indexes"],
           "log-scales (TFC's indexes, folded)")
    _close(model.synthesis(tf.constant(golden["y_hat"])), golden["x_hat"] / 255.0, "synthesis ([0, 1])")


def test_latents_are_coded_with_tfcs_tables_and_rows(golden):
    """The imported model's Gaussian tables are TFC's, integer for integer (the SavedModel
    keeps its entropy model's CDFs), and each element takes the row TFC's compress() takes:
    its continuous scale index cast to an integer, i.e. the largest table scale <= its scale."""
    from tfcodec.codecs.hyperprior import coding_tables
    from tfcodec.entropy import tables
    from tfcodec.entropy.integer_net import PARAM_EXPONENT
    from tfcodec.importers.tfc import model_from_checkpoint

    paths = {p: k for k, p in json.loads(str(golden["object_paths"])).items()}
    cdf = golden["var/" + paths["entropy_model/_cdf"]]
    cdf_offset = golden["var/" + paths["entropy_model/_cdf_offset"]]
    _, model = model_from_checkpoint(SAVED_MODEL)
    arrays = coding_tables(model)
    lookup, offsets = arrays["gaussian/lookup"], arrays["gaussian/offsets"]
    rows = np.split(cdf, np.flatnonzero(cdf == -tables.TFC_PRECISION)[1:])
    assert len(rows) == len(lookup) == 64
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(lookup[i, :len(row)], row, err_msg=f"row {i}")
        assert np.all(lookup[i, len(row):] == 2**tables.TFC_PRECISION)
    np.testing.assert_array_equal(offsets, -cdf_offset)

    log_scale = model.hyper_synthesis(tf.constant(golden["z_hat"])).numpy().astype(np.float64)
    fixed = np.floor(log_scale * 2**PARAM_EXPONENT).astype(np.int64)
    chosen = tables.scale_indices(fixed, arrays["gaussian/thresholds"])
    index = np.clip(golden["indexes"], 0, 63)
    # Away from a row boundary: log-scales are fixed point at 2^-8, 0.03 of an index step.
    clear = np.abs(index - np.round(index)) > 0.05
    assert clear.mean() > 0.85
    np.testing.assert_array_equal(chosen[clear], np.floor(index[clear]).astype(np.int64))


def test_stream_decodes_like_tfc_script(golden, tmp_path):
    """As TFC's script model: the tfcodec file decodes within 0.1 dB of its own decompress
    output and the payload is within 2 % of its strings."""
    from tfcodec import api, container
    from tfcodec.evaluate.metrics import psnr
    from tfcodec.importers.bundle import save_imported
    from tfcodec.importers.tfc import model_from_checkpoint

    name, model = model_from_checkpoint(SAVED_MODEL)
    save_imported(model, name, str(tmp_path / "m.npz"), {"from": "tfc"})
    codec = api.load_codec(str(tmp_path / "m.npz"))
    original = np.floor(golden["x"][0, :120, :176] * 255 + 0.5).astype(np.uint8)
    data = codec.compress(original)
    theirs = golden["x_decompressed"][0, :120, :176].astype(np.uint8)
    assert abs(psnr(original, codec.decompress(data)) - psnr(original, theirs)) < 0.1
    payload = sum(len(s) for s in container.unpack(data)[1])
    assert abs(payload / int(golden["stream_bytes"]) - 1) < 0.02, (payload, int(golden["stream_bytes"]))
