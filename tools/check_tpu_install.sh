#!/usr/bin/env bash
# Checks that the TPU install in docs/training.md and colab/*.ipynb resolves from the package
# index as written and brings exactly one TensorFlow build: tensorflow-tpu, never `tensorflow`
# beside it (both install the same `tensorflow` module, and the second breaks the first).
#
# It resolves with `pip install --dry-run --ignore-installed` (nothing is installed), so it runs
# on any x86-64 Linux with Python 3.10-3.12, TPU or not. Usage: tools/check_tpu_install.sh [EXTRA]
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-tpu}"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
python3 -m pip install --quiet --dry-run --ignore-installed --report "$report" ".[$extra]" 2>/dev/null
python3 - "$report" "$extra" <<'PY'
import json
import sys

report, extra = sys.argv[1], sys.argv[2]
resolved = {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
            for item in json.load(open(report))["install"]}
builds = {name: version for name, version in resolved.items()
          if name in ("tensorflow", "tensorflow-cpu", "tensorflow-tpu", "tf-nightly", "tf-nightly-tpu")}
print(f"tfcodec[{extra}] resolves to: " + ", ".join(f"{n}=={v}" for n, v in sorted(builds.items()))
      + (f", libtpu=={resolved['libtpu']}" if "libtpu" in resolved else ""))
wanted = {"tpu": "tensorflow-tpu", "tf": "tensorflow", "gpu": "tensorflow"}[extra]
if list(builds) != [wanted]:
    sys.exit(f"FAILED: expected exactly one TensorFlow build, {wanted}; got {builds}")
print("OK: one TensorFlow build")
PY
