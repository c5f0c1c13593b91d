"""Writes the test vectors of the Java codec core (android_demo/codec-core).

The Java side (``dev.tfcodec.core``) must read exactly what Python writes, so
this script uses the Python reference implementations, ``tfcodec.rangecoder``
and ``tfcodec.container``, to make three plain-text files under
``android_demo/codec-core/src/test/resources/vectors/``:

* ``rangecoder.txt``: CDF lookup tables and range-coded strings with their
  index arrays and decoded values (precisions 1..16, with and without overflow
  coding, values far outside the tables, both of the Python coder's paths, the
  coder's rare states, random tables), and corrupted strings with the Python
  decoder's verdict (values or an error). They are the Java encoder's only
  reference, byte for byte;
* ``containers.txt``: the container format's constants (``constants
  container``, from ``tfcodec.container``), then complete ``.tfc`` files with
  their header fields and the decoded values of every string;
* ``bad_containers.txt``: broken files (one per check of docs/format.md, plus
  every truncation and a set of random edits) with the exact message of
  ``tfcodec.container.unpack``, or its parse when it accepts the file.

Format (read by ``Vectors.java``): records, each a line ``<type> <name>``, then
lines ``<key> <value>`` and a line ``end``. Integers are decimal, separated by
single spaces; bytes are lowercase hex (``-`` for none). Everything is drawn
from fixed seeds, so running the script again writes identical files.

    python tools/make_java_vectors.py          # (re)write the files
    python tools/make_java_vectors.py --check  # exit 1 if they are out of date
"""

import argparse
import os
import sys
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from java_vector_records import Writer, hexs, ints

from tfcodec import container, rangecoder
from tfcodec.errors import FormatError

OUT_DIR = os.path.join(ROOT, "android_demo", "codec-core", "src", "test", "resources",
                       "vectors")
HEADER = ("# Written by tools/make_java_vectors.py from tfcodec's Python reference; "
          "do not edit.\n"
          "# Records: '<type> <name>', then '<key> <value>' lines, then 'end'.\n")


# -----------------------------------------------------------------------------
# Tables
# -----------------------------------------------------------------------------
def discretized_pmf(n, scale, center=None, kind="laplace"):
    """A smooth unimodal pmf over n symbols (float32, as TFC's op takes it)."""
    x = np.arange(n, dtype=np.float64)
    center = (n - 1) / 2 if center is None else center
    if kind == "laplace":
        w = np.exp(-np.abs(x - center) / scale)
    else:
        w = np.exp(-0.5 * ((x - center) / scale) ** 2)
    w = w / w.sum()
    return w.astype(np.float32)


def table_fields(lookup):
    lookup = np.asarray(lookup)
    fields = [("kind", "flat" if lookup.ndim == 1 else "rows")]
    if lookup.ndim == 1:
        fields.append(("row", ints(lookup)))
    else:
        fields += [("row", ints(r)) for r in lookup]
    return fields


def sample_values(rng, cdf, count):
    """Values drawn from a quantized CDF (never a zero-probability symbol)."""
    cdf = np.asarray(cdf, np.int64)
    u = rng.integers(0, cdf[-1], size=count)
    return np.searchsorted(cdf, u, side="right") - 1


def random_lookup(rng):
    """A padded table of 1 to 5 random rows: each its own precision, length and overflow flag.

    Every symbol gets a count of at least 1, so any in-table value can be coded.
    """
    rows = []
    for _ in range(int(rng.integers(1, 6))):
        precision = int(rng.integers(1, 17))
        overflow = bool(rng.integers(0, 2))
        total = 1 << precision
        n = min(total, (2 if overflow else 1) + int(rng.integers(0, 40)))
        weights = rng.integers(1, 1001, size=n)
        cumulative = np.concatenate([[0], np.cumsum(weights)[:-1]])
        cdf = cumulative * (total - n) // weights.sum() + np.arange(n)
        rows.append([-precision if overflow else precision] + cdf.tolist() + [total])
    width = max(len(r) for r in rows)
    return np.array([r + [1 << abs(r[0])] * (width - len(r)) for r in rows], np.int32)


def random_values(rng, lookup, index):
    """A value for each row in ``index``: any symbol of a plain row; for an overflow row
    mostly an in-table value, else an escape (below 0, or at or past the escape symbol) of
    a magnitude with a random bit length."""
    values = []
    for row in index:
        precision = int(lookup[row, 0])
        symbols = int(np.argmax(lookup[row, 1:] == 1 << abs(precision)))
        if precision > 0:
            values.append(int(rng.integers(0, symbols)))
            continue
        escape = symbols - 1  # the escape symbol's value, the first one out of the table
        pick = int(rng.integers(0, 10))
        if pick == 0:
            values.append(-int(rng.integers(0, 1 << int(rng.integers(0, 30)))))
        elif pick == 1:
            values.append(escape + int(rng.integers(0, 1 << int(rng.integers(0, 29)))))
        else:
            values.append(int(rng.integers(0, max(1, escape))))
    return values


# -----------------------------------------------------------------------------
# A model of the coder's interval (TFC's RangeEncoder without the output), used to
# steer test data into its rare paths. Plain (non-overflow) rows only.
# -----------------------------------------------------------------------------
MASK32 = 0xFFFFFFFF


def row_cdf(lookup, row):
    """Row ``row`` of a padded table: (precision, cdf from 0 to 2**precision)."""
    r = np.asarray(lookup)[row]
    p = int(r[0])
    assert p > 0, "the interval model handles plain rows only"
    body = r[1:]
    end = int(np.argmax(body == (1 << p)))
    return p, [int(c) for c in body[:end + 1]]


class IntervalModel:
    """Follows base and size through Encode(); counts the paths taken."""

    def __init__(self):
        self.base, self.sm1, self.pending, self.digit = 0, MASK32, False, 0
        self.shifts = 0  # renormalizations while the digit is pending: the fill bytes to come
        self.paths = {"pending_shift": 0, "resolve_up": 0, "resolve_down": 0,
                      "resolve_up_filled": 0, "resolve_down_filled": 0}

    def narrow(self, p, lower, upper):
        size = self.sm1 + 1
        a = (size * lower) >> p
        b = ((size * upper) >> p) - 1
        total = self.base + a
        carry = total > MASK32
        self.base, self.sm1 = total & MASK32, b - a
        if self.base + self.sm1 > MASK32:  # still straddling 2**32: digit stays pending
            if self.sm1 < 1 << 16:
                self.base = (self.base << 16) & MASK32
                self.sm1 = (self.sm1 << 16) | 0xFFFF
                self.paths["pending_shift"] += 1
                self.shifts += 1
            return
        if self.pending:
            self.paths["resolve_up" if carry else "resolve_down"] += 1
            if self.shifts:
                self.paths["resolve_up_filled" if carry else "resolve_down_filled"] += 1
            self.pending, self.shifts = False, 0
        if self.sm1 < 1 << 16:
            top = self.base >> 16
            self.base = (self.base << 16) & MASK32
            self.sm1 = (self.sm1 << 16) | 0xFFFF
            if self.base + self.sm1 > MASK32:
                self.pending, self.digit = True, top + 1

    def straddles(self):
        return self.base + self.sm1 > MASK32

    def ending(self):
        """Which of Finalize()'s branches the string ends in."""
        if self.pending:
            # The pending digit ends the string: two bytes, or one if its low byte is 0.
            return "pending_round" if self.digit & 0xFF == 0 else "pending"
        if self.base == 0:
            return "zero"
        upper = self.base + self.sm1
        if ((self.base - 1) >> 24) + 1 <= upper >> 24:
            return "byte"
        mid = ((self.base - 1) >> 16) + 1
        return "short" if mid & 0xFF else "short_round"


def straddling_sequences(rng, p, cdf, count, length, steered=None, paths=None):
    """Values for one row (precision p, CDF cdf) that keep the interval across 2**32.

    Whenever the interval straddles 2**32, the next value is the symbol whose
    sub-interval contains both sides of 2**32 (so the pending digit stays
    pending through renormalizations); otherwise a random one. With ``steered``,
    only the first ``steered`` values are chosen so: the random ones after them
    resolve the pending digit, with the fill bytes it held back. ``paths``, a
    dict, adds up the paths the sequences took.
    """
    out = []
    for _ in range(count):
        model, seq = IntervalModel(), []
        for i in range(length):
            v = None
            if model.straddles() and (steered is None or i < steered):
                size = model.sm1 + 1
                offset = (1 << 32) - model.base  # 2**32 relative to base, in (0, size)
                for k in range(len(cdf) - 1):
                    lo = (size * cdf[k]) >> p
                    hi = ((size * cdf[k + 1]) >> p) - 1
                    if lo <= offset - 1 and hi >= offset:
                        v = k
                        break
            if v is None:
                v = int(rng.integers(0, len(cdf) - 1))
            model.narrow(p, cdf[v], cdf[v + 1])
            seq.append(v)
        assert model.paths["pending_shift"] > 0, model.paths
        if paths is not None:
            for path, n in model.paths.items():
                paths[path] = paths.get(path, 0) + n
        out.append(seq)
    return out


def endings(rng, lookup, per_kind):
    """Random strings (shortest prefixes found) that end in each of Finalize()'s branches.

    The branch where the 16-bit round-up has a zero low byte is left out: it cannot
    happen (such a round-up is also a 24-bit one, which Finalize() tries first).
    """
    rows = len(np.asarray(lookup))
    cdfs = [row_cdf(lookup, r) for r in range(rows)]
    kinds = ("pending", "pending_round", "zero", "byte", "short")
    found = {k: ([], []) for k in kinds}
    for _ in range(5000):
        model, index, values = IntervalModel(), [], []
        for _ in range(300):
            r = int(rng.integers(0, rows))
            p, cdf = cdfs[r]
            v = int(rng.integers(0, len(cdf) - 1))
            model.narrow(p, cdf[v], cdf[v + 1])
            index.append(r)
            values.append(v)
            got = found.get(model.ending())
            if got is not None and len(got[0]) < per_kind:
                got[0].append(list(index))
                got[1].append(list(values))
                break
        if all(len(found[k][0]) >= per_kind for k in kinds):
            return found
    missing = [k for k in kinds if len(found[k][0]) < per_kind]
    raise AssertionError(f"no random string ends in {missing}")


# -----------------------------------------------------------------------------
# (a) range-coded strings
# -----------------------------------------------------------------------------
def make_rangecoder(rng):
    w = Writer(HEADER,
               "range-coded strings: 'table' records, then 'case' records that use them. "
               "A case with 'values' decodes to them (and 'reencode yes' means the string is "
               "exactly what the encoder writes for them); a case with 'error' must fail.")
    tables = {}

    def add_table(name, lookup):
        lookup = np.asarray(lookup, np.int32)
        rangecoder.Lookup(lookup)  # the Python side accepts it
        tables[name] = lookup
        w.record("table", name, table_fields(lookup))

    valid = []  # (name, table, index, values, string) for the corruption cases

    def add_case(name, table, index, values, stream_rank=0):
        """Encodes with Python, checks Python decodes it back, writes one case per stream."""
        lookup = tables[table]
        index = np.asarray(index, np.int32)
        values = np.asarray(values, np.int32)
        strings = rangecoder.encode_index(lookup, index, values, stream_rank=stream_rank)
        decoded = rangecoder.decode_index(lookup, index, strings, stream_rank=stream_rank)
        if not np.array_equal(decoded, values):
            raise AssertionError(f"Python does not round-trip {name}")
        if stream_rank == 0:
            streams = [(name, index.reshape(-1), values.reshape(-1), strings)]
        else:
            streams = [(f"{name}/stream{i}", index[i].reshape(-1), values[i].reshape(-1), s)
                       for i, s in enumerate(strings)]
        for sname, idx, val, s in streams:
            # The same string on its own (scalar path) must decode the same way too.
            again = rangecoder.decode_index(lookup, idx, s)
            if not np.array_equal(again, val):
                raise AssertionError(f"Python stream {sname} decodes differently alone")
            w.record("case", sname, [("table", table), ("index", ints(idx)),
                                     ("values", ints(val)), ("string", hexs(s)),
                                     ("reencode", "yes")])
            valid.append((sname, table, idx, val, s))

    # Every precision, from TFC's pmf_to_quantized_cdf, plain and with overflow.
    for p in range(1, 17):
        n = min(1 << p, 3 + 4 * p)
        scales = [0.3, 1.5, n / 3]
        pmfs = [discretized_pmf(n, s) for s in scales]
        cdfs = [rangecoder.pmf_to_quantized_cdf(pmf, p) for pmf in pmfs]
        add_table(f"p{p}", rangecoder.build_lookup(cdfs, p))
        add_table(f"p{p}o", rangecoder.build_lookup(cdfs, p, overflow=True))
        count = 150 if p in (1, 8, 16) else 60
        index = rng.integers(0, len(cdfs), size=count)
        values = np.array([sample_values(rng, cdfs[i], 1)[0] for i in index])
        add_case(f"p{p}", f"p{p}", index, values)
        # Overflow: in-table values plus escapes, near and far, both signs.
        ovalues = values.copy()
        esc = rng.random(count) < 0.3
        far = rng.choice([-1, -2, n - 1, n, n + 5, -(1 << 12), 1 << 12, -(1 << 29) - 5,
                          (1 << 29) + 5, (1 << 30) - 1 + n - 2, -((1 << 30) - 1)],
                         size=count)
        ovalues[esc] = far[esc]
        add_case(f"p{p}o", f"p{p}o", index, ovalues)

    # The vectorized coder (more than four streams at once), with and without escapes.
    for p in (4, 12, 16):
        index = rng.integers(0, 3, size=(6, 80))
        lookup = tables[f"p{p}"]
        plain = np.zeros_like(index)
        for (i, j), row in np.ndenumerate(index):
            cdf = lookup[row, 1:]
            cdf = cdf[:np.argmax(cdf == (1 << p)) + 1]
            plain[i, j] = sample_values(rng, cdf, 1)[0]
        add_case(f"lanes_p{p}", f"p{p}", index, plain, stream_rank=1)
        escaped = plain.copy()
        mask = rng.random(plain.shape) < 0.1
        escaped[mask] = rng.integers(-5000, 5000, size=mask.sum())
        add_case(f"lanes_p{p}o", f"p{p}o", index, escaped, stream_rank=1)

    # A model-like table: 16-bit Gaussian rows of many widths, overflow on, long string.
    gauss_cdfs, gauss_pmfs = [], []
    for scale in (0.11, 0.3, 0.8, 2.0, 5.0, 12.0):
        half = int(np.ceil(6 * scale)) + 1
        pmf = discretized_pmf(2 * half + 1, scale, kind="gauss")
        gauss_pmfs.append(pmf)
        gauss_cdfs.append(rangecoder.pmf_to_quantized_cdf(pmf, 16))
    add_table("gauss16o", rangecoder.build_lookup(gauss_cdfs, 16, overflow=True))
    index = rng.integers(0, len(gauss_cdfs), size=3000)
    values = np.empty(3000, np.int64)
    for k, row in enumerate(index):
        cdf = gauss_cdfs[row]
        values[k] = sample_values(rng, cdf, 1)[0]
    values[rng.random(3000) < 0.01] = 9999
    add_case("gauss16o_long", "gauss16o", index, values)

    # Hand-made tables: zero-probability symbols, padding, one-symbol rows, extreme skew,
    # the flat (rank-1) layout.
    add_table("zeros", [[6, 0, 0, 10, 10, 40, 64, 64, 64],
                        [-6, 0, 20, 20, 20, 63, 64, 64, 64],
                        [3, 0, 8, 8, 8, 8, 8, 8, 8],
                        [-3, 0, 8, 8, 8, 8, 8, 8, 8],
                        [16, 0, 1, 65535, 65536, 65536, 65536, 65536, 65536],
                        [-16, 0, 65535, 65536, 65536, 65536, 65536, 65536, 65536]])
    zrows = {0: [1, 3, 4], 1: [0, 3, 4, 99, -7], 2: [0], 3: [0, 5, -5], 4: [0, 1, 2],
             5: [0, 1, 1 << 20, -3]}
    index = rng.integers(0, 6, size=400)
    values = np.array([rng.choice(zrows[int(r)]) for r in index])
    add_case("zeros", "zeros", index, values)
    # Rarest symbols only: every step shrinks the interval to the minimum.
    index = np.full(200, 4)
    add_case("skew_rare", "zeros", index, np.where(np.arange(200) % 2 == 0, 0, 2))
    add_case("skew_rare_escape", "zeros", np.full(100, 5), np.full(100, 1))
    add_table("flat", [3, 0, 2, 5, 8, 8, 8, -4, 0, 1, 2, 3, 16, 2, 0, 1, 2, 3, 4])
    index = rng.integers(0, 3, size=200)
    fvals = {0: [0, 1, 2], 1: [0, 1, 2, 3, 40, -2], 2: [0, 1, 2, 3]}
    add_case("flat", "flat", index, [rng.choice(fvals[int(r)]) for r in index])
    # Edge cases: nothing at all, one value, escape of the only symbol.
    add_case("empty", "p8", np.zeros(0, np.int32), np.zeros(0, np.int32))
    add_case("single", "p8", [1], [3])
    add_case("escape_only", "zeros", [3, 3, 3], [0, 1000, -1000])

    # Rare paths of the coder, found by simulating its interval (no overflow rows here):
    # staying in the carry-pending state across renormalizations, and every way to end.
    # 85 symbols of 3/256 and one of 1/256: sizes that are not powers of two.
    thirds = list(range(0, 256, 3)) + [256]
    add_table("thirds8", [[8] + thirds])
    seqs = straddling_sequences(rng, 8, thirds, count=3, length=400)
    for k, seq in enumerate(seqs):
        add_case(f"straddle{k}", "thirds8", np.zeros(len(seq), np.int32), seq)
    add_case("straddle_lanes", "thirds8", np.zeros((6, 300), np.int32),
             np.array(straddling_sequences(rng, 8, thirds, count=6, length=300)),
             stream_rank=1)
    found = endings(rng, tables["p16"], per_kind=2)
    for kind, (index, values) in sorted(found.items()):
        for k, (idx, val) in enumerate(zip(index, values)):
            add_case(f"end_{kind}{k}", "p16", idx, val)

    # Corrupted strings: the Python decoder's verdict (values, or an error) on each.
    picks = [v for v in valid if len(v[4]) >= 6]
    order = rng.permutation(len(picks))
    for k, which in enumerate(order[:60]):
        name, table, idx, _, s = picks[which]
        s = bytearray(s)
        how = k % 6
        if how == 0:
            pos = int(rng.integers(0, len(s)))
            s[pos] ^= 1 << int(rng.integers(0, 8))
            what = f"flip byte {pos}"
        elif how == 1:
            cut = int(rng.integers(1, 4))
            s = s[:-cut]
            what = f"drop last {cut}"
        elif how == 2:
            s += bytes(rng.integers(0, 256, size=int(rng.integers(1, 6))).astype(np.uint8))
            what = "append bytes"
        elif how == 3:
            s = bytearray(rng.integers(0, 256, size=len(s)).astype(np.uint8).tobytes())
            what = "random bytes"
        elif how == 4:
            s = bytearray(len(s))
            what = "zero bytes"
        else:
            s = bytearray(b"\xff" * len(s))
            what = "0xff bytes"
        fields = [("table", table), ("index", ints(idx)), ("string", hexs(s)),
                  ("note", f"{what} of {name}")]
        try:
            out = rangecoder.decode_index(tables[table], idx, bytes(s))
            fields.append(("values", ints(out)))
        except FormatError as e:
            fields.append(("error", str(e)))
        w.record("case", f"corrupt{k:02d}", fields)

    # Random tables and values: many table shapes, for the Java encoder to match byte for byte.
    # Their own seed leaves every record above as it is.
    random_rng = np.random.default_rng(5)
    for k in range(40):
        name = f"random{k:02d}"
        add_table(name, random_lookup(random_rng))
        index = random_rng.integers(0, len(tables[name]), size=int(random_rng.integers(1, 300)))
        add_case(name, name, index, random_values(random_rng, tables[name], index))
    # A digit held pending through renormalizations, then resolved both ways (fill bytes).
    paths = {}
    seqs = straddling_sequences(random_rng, 8, thirds, count=6, length=300, steered=200,
                                paths=paths)
    assert paths["resolve_up_filled"] and paths["resolve_down_filled"], paths
    for k, seq in enumerate(seqs):
        add_case(f"straddle_resolved{k}", "thirds8", np.zeros(len(seq), np.int32), seq)
    return w.text(), tables


# -----------------------------------------------------------------------------
# (b) containers
# -----------------------------------------------------------------------------
HASH = bytes.fromhex("3fa1c0de00ff7e01")


def make_containers(rng):
    w = Writer(HEADER,
               "complete .tfc files: header fields, then per coded string one 'index' "
               "(or 'index_fill <row> <count>') and its decoded 'values', all with the "
               "record's 'table'.")
    w.record("constants", "container", [
        ("magic", hexs(container.MAGIC)), ("format_version", container.FORMAT_VERSION),
        ("max_strings", container.MAX_STRINGS), ("max_side", container.MAX_SIDE),
        ("max_pixels", container.MAX_PIXELS), ("weights_hash_bytes", len(container.weights_hash(b"")))])
    p = 16
    cdfs = [rangecoder.pmf_to_quantized_cdf(discretized_pmf(n, s, kind="gauss"), p)
            for n, s in ((7, 0.5), (15, 2.0), (41, 6.0))]
    lookup = rangecoder.build_lookup(cdfs, p, overflow=True)
    w.record("table", "model16", table_fields(lookup))
    uniform = np.arange(0, (1 << 16) + 1, 1 << 8)  # 256 equal symbols at 16 bits
    ulookup = rangecoder.build_lookup([uniform], 16)
    w.record("table", "uniform256", table_fields(ulookup))

    def string_for(count, escapes):
        index = rng.integers(0, len(cdfs), size=count)
        values = np.array([sample_values(rng, cdfs[i], 1)[0] for i in index], np.int64)
        if escapes:
            mask = rng.random(count) < 0.05
            values[mask] = rng.integers(-300, 300, size=mask.sum())
        s = rangecoder.encode_index(lookup, index, values)
        assert np.array_equal(rangecoder.decode_index(lookup, index, s), values)
        return s, [("index", ints(index)), ("values", ints(values))]

    def add(name, header, parts, table="model16"):
        strings = [s for s, _ in parts]
        data = container.pack(header, strings)
        parsed, got = container.unpack(data)
        assert parsed == header and got == strings
        fields = [("bytes", hexs(data)), ("table", table), ("model", header.model_id),
                  ("weights", header.weights_hash.hex()), ("height", header.height),
                  ("width", header.width), ("rate", header.rate), ("count", len(strings))]
        for _, f in parts:
            fields += f
        w.record("container", name, fields)

    H = container.Header
    add("no_strings", H("cw2020-small", HASH, 1, 1, 0), [])
    add("one_string", H("cw2020-small", HASH, 480, 640, 750),
        [string_for(200, escapes=True)])
    add("hyperprior_like", H("bmshj2018-hyperprior", container.weights_hash(b"weights"),
                             512, 768, 1500),
        [string_for(400, escapes=False), string_for(60, escapes=True)])
    add("with_empty_string", H("m", HASH, 7, 9, 65535),
        [string_for(30, escapes=True), (b"", [("index", ""), ("values", "")]),
         string_for(90, escapes=False)])
    add("largest_sides", H("r" * 255, HASH, 65536, 4096, 16), [string_for(5, escapes=True)])
    add("many_strings", H("toderici2017-recurrent", HASH, 32, 32, 16),
        [string_for(int(rng.integers(0, 12)), escapes=True) for _ in range(40)])
    # A string over 16383 bytes: a 3-byte length varint.
    count = 16500
    values = rng.integers(0, 256, size=count)
    s = rangecoder.encode_index(ulookup, np.zeros(count, np.int32), values)
    assert len(s) >= 1 << 14, len(s)
    add("three_byte_length", H("cw2020-small", HASH, 256, 256, 1000),
        [(s, [("index_fill", f"0 {count}"), ("values", ints(values))])], table="uniform256")
    return w.text()


# -----------------------------------------------------------------------------
# (c) bad containers
# -----------------------------------------------------------------------------
def verdict(data, max_pixels=None):
    """The Python reader's verdict as record fields."""
    kwargs = {} if max_pixels is None else {"max_pixels": max_pixels}
    fields = [("bytes", hexs(data))]
    if max_pixels is not None:
        fields.append(("max_pixels", max_pixels))
    try:
        header, strings = container.unpack(data, **kwargs)
    except FormatError as e:
        return fields + [("error", str(e))]
    return fields + [("model", header.model_id), ("weights", header.weights_hash.hex()),
                     ("height", header.height), ("width", header.width),
                     ("rate", header.rate),
                     ("lengths", ints([len(s) for s in strings]))]


def leb128(n):
    """Unsigned LEB128, as docs/format.md specifies the string lengths."""
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            return bytes(out)


def with_crc(body):
    return bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "big")


def fix_crc(data):
    return with_crc(bytes(data)[:-4])


def raw(version=1, model=b"cw", weights=HASH, height=16, width=16, rate=1, count=None,
        lengths=None, strings=(b"\x12\x34", b"\x56")):
    """A stream with any header values (pack refuses the absurd ones)."""
    strings = list(strings)
    count = len(strings) if count is None else count
    lengths = [len(s) for s in strings] if lengths is None else lengths
    body = (container.MAGIC + bytes([version, len(model)]) + model + weights
            + height.to_bytes(4, "big") + width.to_bytes(4, "big")
            + rate.to_bytes(2, "big") + count.to_bytes(2, "big")
            + b"".join(leb128(n) for n in lengths) + b"".join(strings))
    return with_crc(body)


def make_bad_containers(rng):
    w = Writer(HEADER,
               "broken or edited .tfc files: 'bytes' (and 'max_pixels' if not the default), "
               "then either the exact 'error' message or the parse ('model', 'weights', "
               "'height', 'width', 'rate', 'lengths').")
    good = raw()
    no_lengths = raw(count=1, lengths=[], strings=())[:-4]  # count 1, nothing after it
    cases = {
        "empty": b"",
        "wrong_magic_text": b"GIF89a\x01\x00",
        "wrong_magic_png": b"\x89PNG\r\n\x1a\n" + bytes(30),
        "wrong_magic_one_byte": b"T",
        "magic_prefix_1": container.MAGIC[:1],
        "magic_prefix_3": container.MAGIC[:3],
        "magic_only": container.MAGIC,
        "version_0": raw(version=0),
        "version_2": raw(version=2),
        "version_255_short": container.MAGIC + b"\xff",
        "version_2_bad_crc": raw(version=2)[:-1] + b"\x00",
        "short_header_5": container.MAGIC + b"\x01",
        "short_header_7": container.MAGIC + b"\x01\x00\x00",
        "crc_flip_last_byte": good[:-1] + bytes([good[-1] ^ 0x80]),
        "crc_flip_model": good[:7] + bytes([good[7] ^ 1]) + good[8:],
        "crc_flip_string": good[:-6] + bytes([good[-6] ^ 0x10]) + good[-5:],
        "crc_truncated_1": good[:-1],
        "crc_truncated_10": good[:-10],
        "crc_appended_zero": good + b"\x00",
        "crc_little_endian": good[:-4] + good[-4:][::-1],
        "model_not_ascii": raw(model=b"cw\xe92020"),
        "model_empty_accepted": raw(model=b""),
        "model_length_past_end": fix_crc(raw()[:5] + b"\xff" + raw()[6:]),
        "height_0": raw(height=0),
        "width_0": raw(width=0),
        "height_65537": raw(height=65537),
        "width_max_u32": raw(width=0xFFFFFFFF),
        "both_65536": raw(height=65536, width=65536),
        "pixels_over_2_28": raw(height=16385, width=16384),
        "pixels_exactly_2_28": raw(height=16384, width=16384),
        "count_4097": raw(count=4097),
        "count_65535": raw(count=65535),
        "count_too_high_for_lengths": raw(count=3),
        "count_too_low": raw(count=1),
        "lengths_sum_short": raw(lengths=[2, 0]),
        "lengths_sum_long": raw(lengths=[2, 2]),
        "length_huge": raw(lengths=[1 << 40, 1], strings=(b"\x12\x34", b"\x56")),
        "varint_six_bytes": raw(lengths=[1 << 35], strings=()),
        "varint_seven_bytes": with_crc(no_lengths + b"\x80" * 7),
        "varint_into_crc": with_crc(no_lengths + b"\x80\x80"),
        # Six lengths announced, none present: the reader runs through the CRC and off the end.
        "varint_runs_off_end": raw(count=6, lengths=[], strings=()),
        "only_version_and_crc": with_crc(container.MAGIC + b"\x01"),
        "header_ends_in_model_id": with_crc(raw(model=b"x" * 40)[:20]),
        "header_ends_in_weights": with_crc(raw()[:9]),
        "header_ends_in_fields": with_crc(raw()[:20]),
        "header_cut_after_fields": with_crc(raw()[:30]),
    }
    for name, data in cases.items():
        w.record("bad", name, verdict(data))
    w.record("bad", "max_pixels_lower", verdict(raw(height=100, width=100), max_pixels=9999))
    w.record("bad", "max_pixels_equal", verdict(raw(height=100, width=100), max_pixels=10000))

    # Every truncation of a small valid stream, as is and with its CRC made right again.
    small = container.pack(container.Header("cw2020-small", HASH, 30, 40, 750),
                           [b"\x01\x02\x03", b"", b"\x04" * 130])
    for n in range(len(small)):
        w.record("mutant", f"prefix{n:03d}", verdict(small[:n]))
    for n in range(len(small) - 4):
        w.record("mutant", f"prefix{n:03d}_crc", verdict(with_crc(small[:n])))
    # Random edits with the CRC made right: they reach the header checks.
    for k in range(100):
        data = bytearray(small)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(4, 46))  # the header and lengths
            data[pos] = int(rng.integers(0, 256))
        w.record("mutant", f"edit{k:03d}", verdict(fix_crc(data), max_pixels=1 << 20))
    return w.text()


def build():
    rng = np.random.default_rng(20240611)
    rc, _ = make_rangecoder(rng)
    return {
        "rangecoder.txt": rc,
        "containers.txt": make_containers(np.random.default_rng(7)),
        "bad_containers.txt": make_bad_containers(np.random.default_rng(11)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the files differ from what would be written")
    parser.add_argument("--out", default=OUT_DIR, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    files = build()
    stale = []
    for name, text in files.items():
        path = os.path.join(args.out, name)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old != text:
            stale.append(name)
            if not args.check:
                os.makedirs(args.out, exist_ok=True)
                with open(path, "w", encoding="utf-8", newline="\n") as f:
                    f.write(text)
    total = sum(len(t.encode()) for t in files.values())
    if args.check:
        if stale:
            print("out of date (run tools/make_java_vectors.py): " + ", ".join(stale))
            return 1
        print(f"vectors up to date ({total} bytes)")
        return 0
    print(f"wrote {len(files)} files, {total} bytes, to {args.out}"
          + (f" (changed: {', '.join(stale)})" if stale else " (unchanged)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
