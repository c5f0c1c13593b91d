#!/usr/bin/env bash
# Runs the whole test suite on TensorFlow 2.20.
#
# Why: CI tests on TensorFlow 2.21, but 2.20 is the newest release with a TPU build
# (tensorflow-tpu), so the TPU extra (`pip install -e '.[tpu]'`) gives 2.20. setup.py accepts
# both (`tensorflow>=2.20,<2.22`); this script is how 2.20 keeps passing too.
#
# It creates (or reuses) a virtual environment, installs the checkout with its [dev] extra and
# TensorFlow pinned to 2.20 in a single pip call (so the resolver cannot move it to 2.21),
# checks the version, then runs pytest from the repository root. Arguments go to pytest:
#
#   bash tools/test_tf220.sh                 # the whole suite
#   bash tools/test_tf220.sh -x -q           # stop at the first failure
#   bash tools/test_tf220.sh tests/test_edge.py -k static
#
# TFCODEC_TF220_VENV overrides the venv's location (default: .venv-tf220 in the repository
# root, ignored by .gitignore). The Java decoder tests also need javac and Debian's junit4
# (see .ci/run); without them they skip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TFCODEC_TF220_VENV:-$ROOT/.venv-tf220}"
cd "$ROOT"

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"

"$PY" -m pip install -q -e '.[dev]' 'tensorflow==2.20.*'

"$PY" -c "import tensorflow as tf, keras; print(tf.__version__, keras.__version__)"
if ! "$PY" -c "import sys, tensorflow as tf; sys.exit(0 if tf.__version__.startswith('2.20') else 1)"; then
  echo "error: $VENV has TensorFlow $("$PY" -c 'import tensorflow as tf; print(tf.__version__)'), not 2.20" >&2
  exit 1
fi

exec "$PY" -m pytest -q "$@"
