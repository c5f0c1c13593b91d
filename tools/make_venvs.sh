#!/usr/bin/env bash
# Side virtual environments for tools/ and benchmarks/ scripts that need another framework next
# to tfcodec's own environment (tfcodec never imports them). Run from anywhere:
#
#     bash tools/make_venvs.sh
#
# Each block is independent; rerunning one replaces nothing it finds already installed.
set -euo pipefail

# --- tfc venv ---
# TensorFlow Compression 2.14.1 (brings TensorFlow 2.14 with Keras 2), Python 3.11. Used by
# benchmarks/tfc_model.py, benchmarks/compare_tfc.py and tools/make_tfc_vectors.py.
TFC_VENV=${TFC_VENV:-/work/tfc-venv}
if [ ! -x "$TFC_VENV/bin/python" ]; then
    python3.11 -m venv "$TFC_VENV"
fi
"$TFC_VENV/bin/pip" install --quiet tensorflow-compression==2.14.1
"$TFC_VENV/bin/python" -c "import tensorflow_compression as tfc; print('tfc venv:', tfc.__version__)"
