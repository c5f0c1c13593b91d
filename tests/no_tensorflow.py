"""Runs a command in a fresh Python and reports whether it imported TensorFlow or Keras.

A sitecustomize.py put first on PYTHONPATH prints at exit which of them
reached sys.modules ("HEAVY-MODULES []" when none did). With block=True it
also sets their sys.modules entries to None first, which `import` and
importlib.util.find_spec read as "not installed", as on a device.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("tensorflow", "keras", "tf_keras")

BLOCK = f"sys.modules.update(dict.fromkeys({HEAVY!r}))\n"
REPORT = f"""
atexit.register(lambda: print("HEAVY-MODULES", sorted(
    name for name, module in sys.modules.items() if module is not None and name.split(".")[0] in {HEAVY!r})))
"""


def run_python(args, site_dir, block=True, cwd=None):
    """`python *args`; site_dir is a folder for the sitecustomize.py."""
    os.makedirs(site_dir, exist_ok=True)
    with open(os.path.join(site_dir, "sitecustomize.py"), "w") as f:
        f.write("import atexit, sys\n" + (BLOCK if block else "") + REPORT)
    path = [str(site_dir), ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(path)), cwd=cwd, check=False)
