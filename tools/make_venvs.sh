#!/usr/bin/env bash
# Virtual environments for the tools that write reference vectors with other frameworks.
# tfcodec itself never imports them. Usage: tools/make_venvs.sh [compressai ...]
# or [tfc] (no argument: all). Each venv has its own section, a function make_<name> listed in ALL.
set -euo pipefail

VENVS=${VENVS:-/work}

# --- compressai venv ---
# For tools/make_compressai_vectors.py. torch is the CPU wheel (from /opt/wheels here;
# elsewhere `pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu`).
# compressai 1.2.8 requires torchvision and torch-geometric, which would pull a CUDA torch,
# so it goes in with --no-deps, followed by what `import compressai.models, compressai.zoo`
# really needs. compressai/__init__ imports its datasets and registry, hence torch-geometric
# (pure Python, no torch requirement), pandas and requests. torchvision is left out: the
# PyPI wheel matching torch 2.13 (0.28.0) is a CUDA build whose operators fail to load
# beside torch+cpu ("operator torchvision::nms does not exist"), and compressai only lists
# its transforms in a registry, so make_compressai_vectors.py puts an empty stand-in in
# sys.modules when no working torchvision is installed. numpy stays below 2 as compressai
# asks. pip check then reports only the packages left out on purpose (torchvision,
# matplotlib, pybind11, tomli, wheel).
make_compressai() {
    local venv=$VENVS/compressai-venv
    [ -x "$venv/bin/python" ] || python3.11 -m venv "$venv"
    "$venv/bin/pip" install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
    "$venv/bin/pip" install --no-deps compressai==1.2.8
    "$venv/bin/pip" install "numpy<2" "pandas<3" scipy einops tqdm requests pillow \
        pytorch-msssim torch-geometric
    "$venv/bin/python" - <<'EOF'
import sys, types
try:
    import torchvision  # noqa: F401
except Exception:
    for n in [n for n in sys.modules if n.split(".")[0] == "torchvision"]:
        del sys.modules[n]
    stub = types.ModuleType("torchvision")
    stub.transforms = types.ModuleType("torchvision.transforms")
    sys.modules.update({"torchvision": stub, "torchvision.transforms": stub.transforms})
import torch, compressai, compressai.models, compressai.zoo
print("compressai", compressai.__version__, "torch", torch.__version__, compressai.available_entropy_coders())
EOF
}

# --- tfc venv ---
# TensorFlow Compression 2.14.1 (brings TensorFlow 2.14 with Keras 2), Python 3.11, with Pillow
# for the photos. Used by benchmarks/tfc_model.py, benchmarks/compare_tfc.py and
# tools/make_tfc_vectors.py.
make_tfc() {
    local venv=$VENVS/tfc-venv
    [ -x "$venv/bin/python" ] || python3.11 -m venv "$venv"
    "$venv/bin/pip" install --quiet tensorflow-compression==2.14.1 pillow
    "$venv/bin/python" -c "import tensorflow_compression as tfc; print('tfc venv:', tfc.__version__)"
}

# --- tflite214 venv ---
# A board image's Python as the tflite-runtime users have it: the last tflite-runtime (2.14.0,
# built from TensorFlow 2.14, with numpy < 2 as it needs), Pillow, nothing else; tfcodec's edge
# modules come from the checkout (PYTHONPATH), as if copied to the device. About 130 MB with
# pip itself (tflite-runtime is 2.4 MB). tests/test_runtime_targets.py runs exports in it; CI
# makes it in the checkout (VENVS=.), where the tests look for it.
make_tflite214() {
    local venv=$VENVS/.venv-tflite214
    [ -x "$venv/bin/python" ] || python3.11 -m venv "$venv"
    "$venv/bin/pip" install --quiet "numpy<2" tflite-runtime==2.14.0 pillow
    "$venv/bin/python" -c "import tflite_runtime, numpy; print('tflite214 venv:', tflite_runtime.__version__, 'numpy', numpy.__version__)"
}

ALL="compressai tfc tflite214"  # each venv section adds its name here

for name in "${@:-$ALL}"; do
    "make_$name"
done
