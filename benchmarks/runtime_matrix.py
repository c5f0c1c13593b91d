"""Which export loads in which runtime: the compatibility matrix of docs/edge.md, measured.

    python benchmarks/runtime_matrix.py --calibration ../shared/data/train --work /tmp/matrix \\
        --venv tflite-runtime-2.14=.venv-tflite214 --venv android-litert-1.0=/tmp/litert101 \\
        --out benchmarks/results/runtime_matrix.md

Exports the shipped default model once per row (reusing folders already in
--work): --float32, --float16, --int8 for the default runtime, --int8 for each
other runtime (`--runtime NAME`), and --edgetpu (512x512, for the Coral stack).
Then, for every export and every runtime of `tfcodec.export.runtimes`:

* the table check: does the runtime register every (op, version) of every
  model? (`runtimes.unregistered`, on the flatbuffers as written);
* where an interpreter of that runtime is at hand (this process's ai-edge-litert
  for `litert`; a venv per --venv NAME=DIR, with tfcodec's modules from this
  checkout on PYTHONPATH, as copied to a device): `python -m tfcodec.edge
  compress` and `decompress` of one training photo, and the stream decoded again by
  `tfcodec decompress` to the same size. A refusal is recorded as the
  one line the runtime printed.

venvs: `VENVS=. tools/make_venvs.sh tflite214` makes .venv-tflite214. The
Android app's LiteRT 1.0.1 cannot run here (an Android AAR), but its release
has a Linux build on PyPI: `python3 -m venv DIR && DIR/bin/pip install
ai-edge-litert==1.0.1 'numpy<2'`. The Coral stack (tflite_runtime 2.5.0.post1,
Edge TPU compiler 16, libedgetpu) cannot be installed here.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

EDGETPU_SIZE = (512, 512)


def rows(runtimes):
    """[(row label, folder name, export arguments)]."""
    out = [("--float32", "float32", ["--float32"]),
           ("--float16", "float16", ["--float16"]),
           (f"--int8 (default: --runtime {runtimes.DEFAULT})", "int8", ["--int8"])]
    for name in runtimes.RUNTIMES:
        if name != runtimes.DEFAULT:
            out.append((f"--int8 --runtime {name}", f"int8-{name}", ["--int8", "--runtime", name]))
    out.append((f"--edgetpu {EDGETPU_SIZE[0]}x{EDGETPU_SIZE[1]} (default: --runtime coral)", "edgetpu",
                ["--edgetpu", "--height", str(EDGETPU_SIZE[0]), "--width", str(EDGETPU_SIZE[1])]))
    return out


def export(folder, arguments, calibration):
    if os.path.exists(os.path.join(folder, "manifest.json")):
        return
    command = [sys.executable, "-m", "tfcodec.export", "--model", "default", "--out", folder, "--quiet",
               *arguments]
    if "--int8" in arguments or "--edgetpu" in arguments:
        command += ["--calibration", calibration]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    print(f"exported {folder} in {time.perf_counter() - start:.0f} s", flush=True)


def table_check(folder, runtime):
    from tfcodec.export import runtimes
    from tfcodec.export.flatbuffer import read_model

    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    for model in manifest["models"].values():
        missing = runtimes.unregistered(read_model(os.path.join(folder, model["file"])), runtime)
        if missing:
            return f"{model['file']}: {', '.join(f'{op} v{v}' for op, v in missing)}"
    return None


def run_on(python, folder, image, work):
    """None when compress + decompress work in that interpreter and tfcodec decodes the stream;
    else the one line of the failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = ROOT
    os.makedirs(work, exist_ok=True)
    stream, edge_png, tf_png = (os.path.join(work, n) for n in ("s.tfc", "edge.png", "tf.png"))
    for f in (stream, edge_png, tf_png):
        if os.path.exists(f):
            os.remove(f)
    for args in (["compress", image, stream, "--quality", "0.5"], ["decompress", stream, edge_png]):
        proc = subprocess.run([python, "-m", "tfcodec.edge", *args, "--models", folder], capture_output=True,
                              text=True, env=env, check=False, timeout=600)
        if proc.returncode:
            return (proc.stderr.strip().splitlines() or ["exit " + str(proc.returncode)])[-1]
    proc = subprocess.run([sys.executable, "-m", "tfcodec", "decompress", stream, tf_png, "--quiet"],
                          capture_output=True, text=True, check=False, timeout=600, cwd=ROOT)
    if proc.returncode:
        return "tfcodec decompress: " + (proc.stderr.strip().splitlines() or ["failed"])[-1]
    from tfcodec.fileio import read_image

    if read_image(tf_png).shape != read_image(edge_png).shape:
        return "tfcodec decompress gave another size"
    return None


def main():
    from tfcodec.export import runtimes

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calibration", required=True, help="training images (never Kodak)")
    p.add_argument("--work", required=True, help="folder for the exports and runs (kept; exports reused)")
    p.add_argument("--venv", action="append", default=[], metavar="RUNTIME=DIR",
                   help="a venv holding that runtime's interpreter")
    p.add_argument("--image", help="photo to code (default: the first training image)")
    p.add_argument("--out", help="also write the markdown here")
    args = p.parse_args()
    from tfcodec.train.data import list_images

    image = os.path.abspath(args.image or list_images(args.calibration)[0])
    pythons = {runtimes.DEFAULT: sys.executable}
    for entry in args.venv:
        name, _, folder = entry.partition("=")
        runtimes.get(name)
        pythons[name] = os.path.join(os.path.abspath(folder), "bin", "python")
    lines = [f"| export | {' | '.join(runtimes.RUNTIMES)} |", "| --- |" + " --- |" * len(runtimes.RUNTIMES)]
    for label, name, arguments in rows(runtimes):
        folder = os.path.join(os.path.abspath(args.work), name)
        export(folder, arguments, args.calibration)
        cells = []
        for runtime in runtimes.RUNTIMES.values():
            missing = table_check(folder, runtime)
            cell = f"table: missing {missing}" if missing else "table: ok"
            if runtime.name in pythons:
                failure = run_on(pythons[runtime.name], folder, image,
                                 os.path.join(args.work, "runs", f"{name}-{runtime.name}"))
                cell += "; ran: " + ("coded and decoded" if failure is None else f"refused: {failure}")
            cells.append(cell)
            print(f"{label} on {runtime.name}: {cell}", flush=True)
        lines.append(f"| `{label}` | {' | '.join(cells)} |")
    interpreters = ", ".join(f"{name}: {python}" for name, python in pythons.items())
    text = "\n".join(lines) + f"\n\nimage {os.path.basename(image)}; interpreters {interpreters}\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
