"""Range coder throughput on the codec's own calls, against constriction in the same run.

    python benchmarks/bench_rangecoder.py [--images ../shared/data/kodak] [--qualities 0.1 0.5 0.9]
        [--repeat 3] [--cache /tmp/tfcodec_rc_workload.npz] [--java] [--out FILE]

The workload is real: the shipped default model compresses and decompresses every image (the 24
Kodak images by default, evaluation only) at each quality, and every call that ``compress`` makes
to ``rangecoder.encode_index`` and that ``decompress`` makes to ``rangecoder.decode_index`` is
recorded as it was made: the same lookup table, the same index and value arrays (dtype and
stream split included) and the strings that came out. The recording is kept in ``--cache``;
``--rerecord`` makes it again.

Each round then replays every call, timed in process CPU time, with:

* tfcodec's compiled coder (``tfcodec/rangecoder/_native.c``), where built;
* tfcodec's numpy coder, the reference that runs everywhere;
* constriction's ``RangeEncoder``/``RangeDecoder`` (queue), one stream per call, with one
  ``Categorical`` model per lookup row holding that row's exact quantised probabilities, so every
  symbol is coded under the same distribution as ours. Symbols are grouped by row (the grouping
  is timed: a decoder has to do it too), and each call's values come back scattered into place.
  Escaped values (rare) are coded as the escape symbol without their Elias-gamma payload, which
  flatters constriction slightly.

Every replay is checked: our strings must equal the recorded ones byte for byte, decoded values
the recorded values, constriction's round trip its input. The figures are the best of
``--repeat`` rounds; every round runs every coder once, so drift on a shared machine falls on
all alike. Sizes: our bytes against the ideal -sum log2 p of the same symbols (escape payloads
counted), per image, i.e. what the split into streams and their endings cost.

``--java`` also writes the decode calls to a file and runs the Android demo's Java range decoder
on it (``RangeDecoderWorkloadTest``, JUnit, printing its Msym/s; needs a JDK and JUnit 4).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tfcodec import rangecoder  # noqa: E402
from tfcodec.rangecoder import native  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK = time.process_time


# --- recording ---------------------------------------------------------------------------------

def record(paths, qualities, model="default"):
    """Compresses and decompresses every image at every quality, recording the coder calls.

    Returns (tables, calls, images): the lookup tables (int32 arrays), and per call a dict with
    kind ('encode'/'decode'), table, index, value, strings, stream_rank, image and quality."""
    from PIL import Image
    from tqdm import tqdm

    from tfcodec import api

    codec = api.load_codec(model)
    tables, table_ids, calls = [], {}, []
    state = {}
    real_encode, real_decode = rangecoder.encode_index, rangecoder.decode_index

    def table_number(lookup):
        key = id(lookup)
        if key not in table_ids:
            lk = rangecoder.Lookup(lookup)
            rows = []
            for r in range(lk.num_rows):
                cdf16 = lk._cdf16[lk._start[r]:lk._start[r] + lk.num_symbols[r] + 1]
                cdf = (cdf16 >> np.uint64(16 - abs(int(lk.precision[r])))).astype(np.int64)
                rows.append(np.concatenate([[int(lk.precision[r])], cdf]))
            width = max(len(r) for r in rows)
            table = np.array([np.pad(r, (0, width - len(r)), constant_values=r[-1]) for r in rows], np.int32)
            table_ids[key] = len(tables)
            tables.append((lookup, table))
        return table_ids[key]

    def encode_index(lookup, index, value, stream_rank=0, packed=False):
        out = real_encode(lookup, index, value, stream_rank, packed)
        calls.append(dict(kind="encode", table=table_number(lookup), index=np.array(index), value=np.array(value),
                          strings=list(out), stream_rank=stream_rank, **state))
        return out

    def decode_index(lookup, index, strings, stream_rank=0, strict=False):
        out = real_decode(lookup, index, strings, stream_rank, strict)
        calls.append(dict(kind="decode", table=table_number(lookup), index=np.array(index), value=out.copy(),
                          strings=list(strings), stream_rank=stream_rank, **state))
        return out

    file_bytes = {}
    rangecoder.encode_index, rangecoder.decode_index = encode_index, decode_index
    try:
        for path in tqdm(paths, desc="recording", unit="image"):
            rgb = np.asarray(Image.open(path).convert("RGB"))
            for q in qualities:
                state.update(image=os.path.basename(path), quality=q)
                data = codec.compress(rgb, quality=q)
                codec.decompress(data)
                file_bytes[(state["image"], q)] = (len(data), rgb.shape[0] * rgb.shape[1])
    finally:
        rangecoder.encode_index, rangecoder.decode_index = real_encode, real_decode
    # The recorded tables are checked to parse to the very rows the codec used.
    for lookup, table in tables:
        a, b = rangecoder.Lookup(lookup), rangecoder.Lookup(table)
        assert np.array_equal(a._cdf16, b._cdf16) and np.array_equal(a.precision, b.precision)
    return [t for _, t in tables], calls, file_bytes


def save(path, tables, calls, file_bytes, key):
    arrays = {f"table{i}": t for i, t in enumerate(tables)}
    arrays["key"] = np.array(key)
    meta = []
    for i, c in enumerate(calls):
        arrays[f"c{i}/index"] = c["index"]
        arrays[f"c{i}/value"] = c["value"]
        lengths = np.array([len(s) for s in c["strings"]], np.int64)
        arrays[f"c{i}/lengths"] = lengths
        arrays[f"c{i}/data"] = np.frombuffer(b"".join(c["strings"]), np.uint8)
        meta.append((c["kind"], c["table"], c["stream_rank"], c["image"], c["quality"]))
    arrays["meta"] = np.array([repr(m) for m in meta])
    arrays["files"] = np.array([repr((k, v)) for k, v in sorted(file_bytes.items())])
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load(path):
    import ast

    with np.load(path) as f:
        tables = [f[f"table{i}"] for i in range(sum(k.startswith("table") for k in f.files))]
        calls = []
        for i, m in enumerate(f["meta"]):
            kind, table, rank, image, quality = ast.literal_eval(str(m))
            data, lengths = f[f"c{i}/data"].tobytes(), f[f"c{i}/lengths"]
            ends = np.cumsum(lengths).tolist()
            strings = [data[s:e] for s, e in zip([0] + ends[:-1], ends)]
            calls.append(dict(kind=kind, table=table, stream_rank=rank, image=image, quality=quality,
                              index=f[f"c{i}/index"], value=f[f"c{i}/value"], strings=strings))
        file_bytes = dict(ast.literal_eval(str(x)) for x in f["files"])
    return tables, calls, file_bytes


# --- the coders --------------------------------------------------------------------------------

def replay_tfcodec(lookups, calls, kind, backend):
    """Replays the calls of one kind; returns the CPU time and checks every result."""
    context = native.numpy_only if backend == "numpy" else contextlib.nullcontext
    total = 0.0
    with context():
        for c in calls:
            lookup = lookups[c["table"]]
            if kind == "encode":
                t0 = CLOCK()
                out = rangecoder.encode_index(lookup, c["index"], c["value"], c["stream_rank"])
                total += CLOCK() - t0
                if list(out) != c["strings"]:
                    raise AssertionError(f"{backend} encoder: other bytes than recorded ({c['image']})")
            else:
                t0 = CLOCK()
                out = rangecoder.decode_index(lookup, c["index"], c["strings"], c["stream_rank"])
                total += CLOCK() - t0
                if not np.array_equal(out, c["value"]):
                    raise AssertionError(f"{backend} decoder: other values than recorded ({c['image']})")
    return total


class ConstrictionCalls:
    """The same calls for constriction: one Categorical per lookup row, one stream per call."""

    def __init__(self, lookups, calls):
        import constriction

        self.cs = constriction
        self.models = []
        for lk in lookups:
            rows = []
            for r in range(lk.num_rows):
                c = lk._cdf16[lk._start[r]:lk._start[r] + lk.num_symbols[r] + 1].astype(np.float64)
                rows.append(constriction.stream.model.Categorical(np.diff(c) / 65536.0, perfect=False))
            self.models.append(rows)
        self.jobs = []
        self.escapes = 0
        for c in calls:
            if c["kind"] != "encode":
                continue
            lk = lookups[c["table"]]
            rows = np.asarray(c["index"]).reshape(-1).astype(np.uint16 if lk.num_rows > 255 else np.uint8)
            values = np.asarray(c["value"]).reshape(-1).astype(np.int64)
            last = lk.num_symbols[rows] - 1
            escaped = lk.overflow[rows] & ((values < 0) | (values >= last))
            self.escapes += int(escaped.sum())
            values = np.where(escaped, last, values).astype(np.int32)
            self.jobs.append((c["table"], rows, values))

    def encode(self):
        out, total = [], 0.0
        for table, rows, values in self.jobs:
            t0 = CLOCK()
            order = np.argsort(rows, kind="stable")
            counts = np.bincount(rows, minlength=len(self.models[table]))
            grouped = values[order]
            enc = self.cs.stream.queue.RangeEncoder()
            start = 0
            models = self.models[table]
            for r in np.flatnonzero(counts).tolist():
                end = start + int(counts[r])
                enc.encode(grouped[start:end], models[r])
                start = end
            out.append(enc.get_compressed())
            total += CLOCK() - t0
        return total, out

    def decode(self, compressed):
        total = 0.0
        for (table, rows, values), data in zip(self.jobs, compressed):
            t0 = CLOCK()
            order = np.argsort(rows, kind="stable")
            counts = np.bincount(rows, minlength=len(self.models[table]))
            dec = self.cs.stream.queue.RangeDecoder(data)
            grouped = np.empty(len(rows), np.int32)
            start = 0
            models = self.models[table]
            for r in np.flatnonzero(counts).tolist():
                end = start + int(counts[r])
                grouped[start:end] = dec.decode(models[r], end - start)
                start = end
            out = np.empty_like(grouped)
            out[order] = grouped
            total += CLOCK() - t0
            if not np.array_equal(out, values):
                raise AssertionError("constriction: round trip failed")
        return total


def ideal_bits(lk, index, value):
    """-sum log2 p of the symbols under their rows, with the escapes' Elias-gamma payloads."""
    rows = np.asarray(index).reshape(-1)
    values = np.asarray(value).reshape(-1).astype(np.int64)
    n = lk.num_symbols[rows]
    escaped = lk.overflow[rows] & ((values < 0) | (values >= n - 1))
    sym = np.where(escaped, n - 1, values)
    pos = lk._start[rows] + sym
    width = lk._cdf16[pos + 1].astype(np.float64) - lk._cdf16[pos]
    bits = float(np.sum(16 - np.log2(width)))
    if escaped.any():
        gamma = np.where(values[escaped] < 0, -values[escaped], values[escaped] - (n[escaped] - 1) + 1)
        bits += float(np.sum(2 * np.floor(np.log2(gamma)) + 2))
    return bits


# --- Java --------------------------------------------------------------------------------------

def write_java_workload(path, tables, calls):
    """The decode calls for RangeDecoderWorkloadTest: big-endian ints, see that class."""
    decodes = [c for c in calls if c["kind"] == "decode"]
    with open(path, "wb") as f:
        f.write(b"TFRW" + struct.pack(">ii", 1, len(tables)))
        for t in tables:
            f.write(struct.pack(">ii", *t.shape))
            f.write(np.ascontiguousarray(t, ">i4").tobytes())
        f.write(struct.pack(">i", len(decodes)))
        for c in decodes:
            index = np.asarray(c["index"])
            lanes = len(c["strings"])
            per = index.size // lanes
            f.write(struct.pack(">iii", c["table"], lanes, per))
            f.write(np.ascontiguousarray(index.reshape(lanes, per), ">i4").tobytes())
            f.write(np.ascontiguousarray(np.asarray(c["value"]).reshape(lanes, per), ">i4").tobytes())
            for s in c["strings"]:
                f.write(struct.pack(">i", len(s)) + s)


def run_java(workload):
    """Compiles the codec core and RangeDecoderWorkloadTest and runs it on ``workload``."""
    junit = os.environ.get("JUNIT_JAR", "/usr/share/java/junit4.jar")
    hamcrest = os.environ.get("HAMCREST_JAR", "/usr/share/java/hamcrest-core.jar")
    if not (shutil.which("javac") and os.path.exists(junit)):
        return "Java: skipped (needs javac and JUnit 4)"
    core = os.path.join(ROOT, "android_demo", "codec-core")
    with tempfile.TemporaryDirectory() as work:
        main = glob.glob(os.path.join(core, "src/main/java/**/*.java"), recursive=True)
        test = os.path.join(core, "src/test/java/dev/tfcodec/core/RangeDecoderWorkloadTest.java")
        cp = f"{work}:{junit}:{hamcrest}"
        subprocess.run(["javac", "-encoding", "UTF-8", "-d", work, "-cp", cp, *main, test], check=True)
        proc = subprocess.run(["java", "-cp", cp, "org.junit.runner.JUnitCore",
                               "dev.tfcodec.core.RangeDecoderWorkloadTest"],
                              env={**os.environ, "TFCODEC_RC_WORKLOAD": workload},
                              capture_output=True, text=True)
    lines = [line[line.index("Java"):] for line in proc.stdout.splitlines() if "Java range decoder" in line]
    if proc.returncode or not lines:
        raise RuntimeError("Java workload run failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    return "\n".join(lines)


# --- report ------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", default=os.path.join(ROOT, "..", "shared", "data", "kodak"),
                   help="a folder of images (default: ../shared/data/kodak)")
    p.add_argument("--qualities", type=float, nargs="+", default=[0.1, 0.5, 0.9])
    p.add_argument("--model", default="default")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "tfcodec_rc_workload.npz"))
    p.add_argument("--rerecord", action="store_true")
    p.add_argument("--java", action="store_true", help="also run the Java range decoder on the decode calls")
    p.add_argument("--out", help="also write the report to this file")
    args = p.parse_args(argv)

    paths = sorted(glob.glob(os.path.join(args.images, "*.png")))
    if not paths:
        p.error(f"no .png images in {args.images}")
    key = repr((args.model, [os.path.basename(x) for x in paths], args.qualities))
    cached = None
    if os.path.exists(args.cache) and not args.rerecord:
        with np.load(args.cache) as f:
            cached = str(f["key"]) if "key" in f.files else None
    if cached != key:
        tables, calls, file_bytes = record(paths, args.qualities, args.model)
        save(args.cache, tables, calls, file_bytes, key)
    tables, calls, file_bytes = load(args.cache)
    lookups = [rangecoder.Lookup(t) for t in tables]

    encodes = [c for c in calls if c["kind"] == "encode"]
    decodes = [c for c in calls if c["kind"] == "decode"]
    symbols = sum(np.asarray(c["index"]).size for c in encodes)
    strings = sum(len(c["strings"]) for c in encodes)
    images = len({(c["image"], c["quality"]) for c in encodes})
    lines = [f"workload: {images} images x qualities ({len(paths)} images, qualities {args.qualities}), "
             f"model {args.model}: {len(encodes)} encode_index calls and {len(decodes)} decode_index calls, "
             f"{symbols:,} symbols in {strings:,} strings ({symbols / images:,.0f} symbols and "
             f"{strings / images:.0f} strings per image)"]

    contestants = []
    if native.available():
        contestants.append("native")
    contestants.append("numpy")
    try:
        constriction = ConstrictionCalls(lookups, calls)
        contestants.append("constriction")
    except ImportError:
        constriction = None
        lines.append("constriction is not installed: no baseline (pip install constriction)")
    best = {name: [math.inf, math.inf] for name in contestants}
    for _ in range(args.repeat):
        for name in contestants:
            if name == "constriction":
                te, compressed = constriction.encode()
                td = constriction.decode(compressed)
            else:
                for lk in lookups:  # each round from a freshly parsed table, as a new process has
                    lk._native_cache = None
                te = replay_tfcodec(lookups, encodes, "encode", name)
                td = replay_tfcodec(lookups, decodes, "decode", name)
            best[name] = [min(best[name][0], te), min(best[name][1], td)]

    head = f"{'coder':<34}{'encode Msym/s':>14}{'decode Msym/s':>14}{'enc ms/image':>13}{'dec ms/image':>13}"
    lines += ["", head, "-" * len(head)]
    names = {"native": "tfcodec, compiled (_native.c)", "numpy": "tfcodec, numpy (reference)",
             "constriction": "constriction, Categorical per row"}
    for name in contestants:
        te, td = best[name]
        lines.append(f"{names[name]:<34}{symbols / te / 1e6:>14.2f}{symbols / td / 1e6:>14.2f}"
                     f"{1e3 * te / images:>13.2f}{1e3 * td / images:>13.2f}")
    if constriction is not None:
        lines.append("")
        ce, cd = best["constriction"]
        for name in contestants[:-1]:
            te, td = best[name]
            lines.append(f"{names[name]} / constriction throughput: encode {ce / te:.2f}x, decode {cd / td:.2f}x")
        lines.append(f"(constriction coded {constriction.escapes} escaped values as the bare escape symbol)")

    # Sizes: what the split into strings costs over the ideal, per image, at each quality.
    lines += ["", f"{'quality':>8}{'bpp (file)':>12}{'file B':>10}{'strings B':>11}{'ideal B':>10}"
                  f"{'over ideal':>12}{'of file':>9}"]
    for q in args.qualities:
        mine = [c for c in encodes if c["quality"] == q]
        coded = sum(sum(len(s) for s in c["strings"]) for c in mine)
        ideal = sum(ideal_bits(lookups[c["table"]], c["index"], c["value"]) for c in mine) / 8
        sizes = [v for (img, qq), v in file_bytes.items() if qq == q]
        n = len(sizes)
        fb = sum(b for b, _ in sizes) / n
        bpp = sum(8 * b / px for b, px in sizes) / n
        lines.append(f"{q:>8.2f}{bpp:>12.3f}{fb:>10.0f}{coded / n:>11.0f}{ideal / n:>10.0f}"
                     f"{(coded - ideal) / n:>11.1f}B{100 * (coded - ideal) / n / fb:>8.2f}%")
    lines.append("")
    lines.append(f"times: best of {args.repeat} rounds, process CPU time, one thread; "
                 f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if args.java:
        path = args.cache + ".java.bin"
        write_java_workload(path, tables, calls)
        lines.append(run_java(path))
    report = "\n".join(lines)
    print(report)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(report + "\n")
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
