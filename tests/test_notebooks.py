"""The Colab notebooks (colab/*.ipynb) run top to bottom in smoke mode.

Each notebook has a cell tagged ``parameters`` (papermill's convention) with
``SMOKE = False``; like papermill, the test inserts a cell after it that sets
``SMOKE = True`` and points the data and output folders at a temporary folder
with small images it makes (never the shared data). Smoke mode shrinks steps,
images and sweeps to what a CPU finishes in a few minutes, and installs the
package from this checkout instead of the repository URL. The notebooks run in
a real Jupyter kernel through nbclient, so a cell that raises fails the test
with the cell's source and traceback.
"""

import json
import os
import time

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat", reason="pip install nbformat nbclient ipykernel (the [dev] extra)")
nbclient = pytest.importorskip("nbclient", reason="pip install nbformat nbclient ipykernel (the [dev] extra)")
pytest.importorskip("ipykernel", reason="pip install nbformat nbclient ipykernel (the [dev] extra)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLAB = os.path.join(ROOT, "colab")
NOTEBOOKS = ("train", "evaluate", "edge")
CELL_TIMEOUT = 900


def _images(folder, count, height=96, width=128, seed=0):
    """Small photo-like PNGs: gradients, an edge and noise (compressible, not trivial)."""
    from tfcodec.fileio import write_image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(count):
        base = np.stack([xx * 255 / width, yy * 255 / height, ((xx + 2 * yy + 40 * i) % 97) * 2.5], axis=-1)
        base[:, width // 2 + i:] *= 0.6
        image = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        write_image(os.path.join(folder, f"img{i:02d}.png"), image)
    return folder


def _load(name):
    return nbformat.read(os.path.join(COLAB, f"{name}.ipynb"), as_version=4)


def _execute(name, overrides, workdir):
    """Runs the notebook with `overrides` injected after its parameters cell; returns it executed."""
    nb = _load(name)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "# Injected by tests/test_notebooks.py\n" + "\n".join(f"{k} = {v!r}" for k, v in overrides.items())
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        # TFCODEC_NOTEBOOK_OUTPUTS=DIR keeps the executed notebooks (outputs, plots) for a look.
        keep = os.environ.get("TFCODEC_NOTEBOOK_OUTPUTS")
        if keep:
            os.makedirs(keep, exist_ok=True)
            nbformat.write(nb, os.path.join(keep, f"{name}.ipynb"))
    print(f"{name}.ipynb ran in {time.perf_counter() - start:.0f} s")
    return nb


def _text(nb):
    """Every stream and text output of an executed notebook, joined."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out and "text/plain" in out["data"]:
                parts.append(out["data"]["text/plain"])
    return "\n".join(parts)


def _images_shown(nb):
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_structure(name):
    """What keeps them usable: a tagged parameters cell with SMOKE = False, prose between the
    code, no stored outputs, and an install cell that can use the checkout or the repository."""
    nb = _load(name)
    nbformat.validate(nb)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    params = tagged[0].source
    assert "SMOKE = False" in params and "REPO_URL" in params and "LOCAL_CHECKOUT" in params
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 4
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                f"{name}.ipynb is committed with outputs; clear them"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "git+{REPO_URL}@{REF}" in code and '"-e", f"{checkout}' in code
    compile(code.replace("get_ipython()", "None"), f"{name}.ipynb", "exec")


@pytest.mark.slow
def test_train_notebook_smoke(tmp_path):
    data = _images(str(tmp_path / "train_images"), 6)
    workdir = tmp_path / "run"
    nb = _execute("train", {"SMOKE": True, "LOCAL_CHECKOUT": ROOT, "MODEL": "cw2020-small",
                            "DATA": "files:" + data, "WORKDIR": str(workdir)}, tmp_path)
    text = _text(nb)
    assert "strategy: default" in text
    assert "trained to step 2" in text
    weights = workdir / "cw2020-small.npz"
    assert weights.is_file() and weights.stat().st_size > 100_000
    assert (workdir / "config.json").is_file()
    assert _images_shown(nb) >= 2  # the training curves and the decoded images
    from tfcodec.weights import load_bundle
    bundle = load_bundle(str(weights))
    assert bundle.meta["model"] == "cw2020-small" and bundle.meta["step"] == 2


@pytest.mark.slow
def test_evaluate_notebook_smoke(tmp_path):
    data = _images(str(tmp_path / "test_images"), 2, height=64, width=96, seed=5)
    out = tmp_path / "eval"
    nb = _execute("evaluate", {"SMOKE": True, "LOCAL_CHECKOUT": ROOT, "DATA": data, "OUT": str(out),
                               "CODECS": "jpeg,webp,tfcodec:default", "ANCHOR": "jpeg",
                               "SETTINGS": ["jpeg=30,60,90", "webp=30,60,90", "tfcodec:default=0.2,0.6,1"]},
                  tmp_path)
    assert (out / "summary.md").is_file() and (out / "points.csv").is_file()
    with open(out / "results.json") as f:
        results = json.load(f)
    assert results
    text = _text(nb)
    assert "2 images in" in text
    assert _images_shown(nb) >= 1 or not any(p.endswith(".png") for p in os.listdir(out))


@pytest.mark.slow
def test_edge_notebook_smoke(tmp_path):
    calibration = _images(str(tmp_path / "calibration"), 3, seed=9)
    out = tmp_path / "edgetpu"
    nb = _execute("edge", {"SMOKE": True, "LOCAL_CHECKOUT": ROOT, "CALIBRATION": calibration,
                           "OUT": str(out)}, tmp_path)
    with open(out / "manifest.json") as f:
        manifest = json.load(f)
    assert manifest["mode"] == "edgetpu" and manifest["input_size"] == {"height": 64, "width": 128}
    assert all(check["ok"] for check in manifest["edgetpu_check"].values())
    for name in ("edge.tfc", "edge.png", "tf.png"):
        assert (out / "try" / name).is_file(), name
    assert _images_shown(nb) >= 1
    from tfcodec import container
    header, _ = container.unpack((out / "try" / "edge.tfc").read_bytes())
    assert header.model_id == manifest["model"] and header.weights_hash.hex() == manifest["weights_hash"]
