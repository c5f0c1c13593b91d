"""The Colab notebooks (colab/*.ipynb) run top to bottom in smoke mode.

Each notebook has a cell tagged ``parameters`` (papermill's convention) with
``SMOKE = False``; like papermill, the test inserts a cell after it that sets
``SMOKE = True`` and points the data and output folders at a temporary folder
with small images it makes (never the shared data), or at a tiny tensorflow-datasets
dataset prepared there (`tiny_tfds`). Smoke mode shrinks steps, images and
sweeps to what a CPU finishes in a few minutes, installs the package from this
checkout instead of the repository URL, and leaves TensorFlow as it is (the
install cell prints the pip commands it would run). The notebooks run in a real
Jupyter kernel through nbclient, so a cell that raises fails the test with the
cell's source and traceback.
"""

import json
import os
import shlex
import time

import numpy as np
import pytest
from tiny_tfds import NAME as TFDS_NAME, build_catalog_dataset, hr_shape, photo_like

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
    for i in range(count):
        write_image(os.path.join(folder, f"img{i:02d}.png"), photo_like(height, width, i, rng))
    return folder


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """A tfds data dir holding the tiny div2k-like dataset (`hr`/`lr` features, no `image`)."""
    return build_catalog_dataset(str(tmp_path_factory.mktemp("tfds")))


def _load(name):
    return nbformat.read(os.path.join(COLAB, f"{name}.ipynb"), as_version=4)


def _tagged(nb, tag):
    return next(i for i, c in enumerate(nb.cells) if tag in c.metadata.get("tags", []))


def _execute(name, overrides, workdir, until=None, then=None):
    """Runs the notebook with `overrides` injected after its parameters cell; returns it executed.
    `until`: stop after the cell with that tag; `then`: code of a cell to run after that."""
    nb = _load(name)
    if until:
        del nb.cells[_tagged(nb, until) + 1:]
    if then:
        nb.cells.append(nbformat.v4.new_code_cell(then))
    source = "# Injected by tests/test_notebooks.py\n" + "\n".join(f"{k} = {v!r}" for k, v in overrides.items())
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(_tagged(nb, "parameters") + 1, cell)
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
    # The accelerator decision is tfcodec's (accelerators.choose), not a copy in the notebook; the
    # TensorFlow build comes from an extra, never from a wheel index of Google's.
    for gone in ("def on_tpu", "def gpu_count", "--jit-compile", "libtpu-tf-releases", 'example["image"]',
                 "tfds.load("):
        assert gone not in code, f"{name}.ipynb still has {gone!r}"
    assert "installed_tensorflow_builds()" in code and "detect_hardware()" in code


def test_notebooks_share_their_install_cells():
    """The install cells (tfcodec, then TensorFlow for the machine) are the same code in every
    notebook, so a fix to one is a fix to all."""
    cells = {}
    for name in NOTEBOOKS:
        code = [c.source for c in _load(name).cells if c.cell_type == "code"]
        cells[name] = ([c for c in code if "def find_checkout" in c], [c for c in code if "detect_hardware()" in c])
    first = cells[NOTEBOOKS[0]]
    assert len(first[0]) == 1 and len(first[1]) == 1
    for name in NOTEBOOKS[1:]:
        assert cells[name] == first, f"{name}.ipynb's install cells differ from {NOTEBOOKS[0]}.ipynb's"


def test_train_notebook_strategy_cell():
    nb = _load("train")
    tagged = [c for c in nb.cells if "strategy" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "choose(" in tagged[0].source
    train = next(c.source for c in nb.cells if c.cell_type == "code" and '"tfcodec", "train"' in c.source)
    for flag in ("--strategy", "--steps-per-execution", "--precision", "--data-dir", "--tpu"):
        assert f'"{flag}"' in train, flag


def _lines(text):
    return [line.rstrip() for line in text.splitlines()]


def test_train_notebook_decides_tpu_on_a_simulated_tpu_vm(tmp_path, monkeypatch):
    """On a TPU VM (v5e: the chip is a VFIO group, the runtime sets TPU_ACCELERATOR_TYPE) with a
    TPU build of TensorFlow (a `libtpu` module), the notebook picks the [tpu] extra and the
    strategy `tpu` with resolver target 'local', up to the cell tagged "strategy": without
    importing TensorFlow (nothing connects to a TPU before `tfcodec train`) and, in smoke mode,
    without touching the TensorFlow install (it prints the pip commands instead)."""
    from tfcodec.train.accelerators import installed_tensorflow_builds

    root = tmp_path / "machine"
    (root / "dev" / "vfio").mkdir(parents=True)
    for name in ("0", "vfio"):
        (root / "dev" / "vfio" / name).touch()
    fake = tmp_path / "site"
    (fake / "libtpu").mkdir(parents=True)
    (fake / "libtpu" / "__init__.py").write_text("")
    # The kernel nbclient starts inherits this environment.
    monkeypatch.setenv("TFCODEC_DEVICE_ROOT", str(root))
    monkeypatch.setenv("TPU_ACCELERATOR_TYPE", "v5litepod-1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(fake), os.environ.get("PYTHONPATH")])))
    for name in ("TPU_NAME", "COLAB_TPU_ADDR", "TF_CONFIG", "TPU_LOAD_LIBRARY"):
        monkeypatch.delenv(name, raising=False)
    before = installed_tensorflow_builds()
    nb = _execute("train", {"SMOKE": True, "LOCAL_CHECKOUT": ROOT, "DATA": "tfds:clic",
                            "WORKDIR": str(tmp_path / "run")}, tmp_path, until="strategy",
                  then="import sys\nprint('tensorflow imported:', 'tensorflow' in sys.modules)\n"
                       "print('TPU_LOAD_LIBRARY:', os.environ.get('TPU_LOAD_LIBRARY'), sorted(KERNEL_ONLY))")
    text = _text(nb)
    strategy = [line for line in _lines(text) if line.startswith("strategy: ")]
    assert len(strategy) == 1 and strategy[0].startswith("strategy: tpu | "), text
    assert "v5litepod-1" in strategy[0] and "resolver target 'local'" in strategy[0]
    assert "note: training on the CPU" not in text
    assert "precision: float32" in text  # smoke mode; mixed_bfloat16 otherwise
    assert "tensorflow imported: False" in text
    assert "TPU_LOAD_LIBRARY: 0 ['TPU_LOAD_LIBRARY']" in text  # the kernel keeps off the chips
    # The TensorFlow install: what it would run, printed, and nothing run.
    assert "-> tfcodec[tpu]" in text
    lines = _lines(text)
    assert not [line for line in lines if line.startswith("$ ")], "smoke mode ran a command"
    planned = [shlex.split(line[len("  $ "):]) for line in lines if line.startswith("  $ ")]
    assert [cmd[1:5] for cmd in planned] == [["-m", "pip", "uninstall", "-y"], ["-m", "pip", "install", "-q"]]
    assert planned[0][5:] == sorted(before)  # every build goes (they share files) ...
    assert planned[1][5:] == ["-e", f"{ROOT}[eval,tpu]"]  # ... then one pip call puts tensorflow-tpu in
    assert installed_tensorflow_builds() == before and len(before) == 1


@pytest.mark.slow
def test_train_notebook_smoke(catalog, tmp_path):
    """The whole notebook on a tfds dataset by name (--data-dir): its calibration images come from
    the feature `tfcodec train` reads (`hr` here; the dataset has no `image`). Folders as --data
    are tests/test_training.py's."""
    workdir = tmp_path / "run"
    nb = _execute("train", {"SMOKE": True, "LOCAL_CHECKOUT": ROOT, "MODEL": "cw2020-small",
                            "DATA": f"tfds:{TFDS_NAME}", "DATA_DIR": catalog, "WORKDIR": str(workdir)}, tmp_path)
    text = _text(nb)
    assert "-> tfcodec[tf]" in text and "smoke mode: TensorFlow is left as it is" in text
    assert "strategy: default | CPU" in text
    assert "--strategy auto --steps-per-execution 0 --precision float32" in text
    assert f"--data-dir {catalog}" in text
    assert any(line.startswith("INFO:absl:strategy default") and "1 step(s) per call" in line
               for line in _lines(text)), "tfcodec train's own log line of its strategy"
    assert "trained to step 2" in text
    calibration = sorted((workdir / "calibration").iterdir())
    assert [p.suffix for p in calibration] == [".png", ".png"]
    from tfcodec.fileio import read_image
    shapes = {hr_shape(i) for i in range(6)}
    assert all(read_image(str(p)).shape[:2] in shapes for p in calibration)  # hr, not lr
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
def test_edge_notebook_smoke(catalog, tmp_path):
    """With CALIBRATION empty the notebook takes its calibration images from a tfds split slice
    (here of the tiny dataset, `hr` feature), as it takes them from CLIC in Colab."""
    out = tmp_path / "edgetpu"
    nb = _execute("edge", {"SMOKE": True, "LOCAL_CHECKOUT": ROOT, "CALIBRATION": "",
                           "CALIBRATION_DATA": f"tfds:{TFDS_NAME}:train[:3]", "DATA_DIR": catalog,
                           "OUT": str(out)}, tmp_path)
    calibration = tmp_path / "tfcodec-calibration"
    assert len(list(calibration.glob("*.png"))) == 2  # CALIBRATION_IMAGES in smoke mode
    assert f"2 calibration images in {calibration}" in _text(nb)
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
