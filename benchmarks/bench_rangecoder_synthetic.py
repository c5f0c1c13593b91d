"""Range coder throughput on a synthetic hyperprior-shaped workload, vs constriction.

Synthetic: one tensor split into thousands of streams, the shape the numpy
coder's lock-step loops are fastest on, not what the codec's own calls look
like. For those, see benchmarks/bench_rangecoder.py (the real workload).
tfcodec's rows use the numpy coder unless ``--backend native``.

    python benchmarks/bench_rangecoder_synthetic.py [--repeat 5] [--streams 192,1536,...]
        [--no-packed] [--no-interleaved]

Workload: 192 channels x 32 x 48 = 294,912 symbols; 64 Gaussian tables at
precision 16 (scales exp(linspace(log 0.11, log 256, 64)), support +-ceil(6
sigma), quantized with our TFC-exact pmf_to_quantized_cdf); each position
picks a random table and its symbol is drawn from that quantized table, so
the ideal size -sum log2 p is exact for every coder.

The tensor is split into S independent streams for tfcodec (stream_rank=1
on a [S, 294912 / S] view) in two ways: blocks along its leading axes
(stream i codes a contiguous run of symbols, like the hyperprior codec's
channel groups), and interleaved (stream i codes flat positions i, i + S,
...: the coder reads one symbol of every stream per step, which is the
data's own memory order here, so no transposing copy is needed). constriction's queue
RangeEncoder codes one stream (it has no multi-stream API) with:

* ``categorical``: one ``Categorical(perfect=False)`` per table holding the
  same quantized probabilities; symbols are grouped by table (one encode /
  decode call per table). Grouping (a radix argsort of the uint8 table ids)
  and scattering back are timed: the decoder has to do them too. This is
  constriction's fastest way to code this workload and the ratio baseline.
* ``coder only``: the same, grouping done once outside the timing (a lower
  bound for constriction's time, not a usable pipeline).
* ``gaussian``: ``QuantizedGaussian`` family with a per-symbol std, i.e.
  the model is evaluated per symbol (how a Gaussian conditional is often
  coded with constriction); different quantization, so its size differs.

tfcodec gets int32 index/value arrays (TFC's dtype) and a prebuilt
``Lookup`` (its bounds and decoder tables are cached after the first call,
like constriction's models, which are also built outside the timing).
Both sides are single-threaded. Times are the best of ``--repeat`` rounds,
each round running every coder once (interleaved, so drift on a shared
machine hits all coders alike), in process CPU time (``--wall`` for
wall-clock): on a shared machine CPU time is the stabler measure.
Rows marked ``packed`` use tfcodec's ``packed=True`` output (one buffer and
the lengths, like constriction's one compressed array) instead of the list
of bytes that TFC's API returns.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tfcodec import rangecoder
from tfcodec.rangecoder import native

SHAPE = (192, 32, 48)
NUM_TABLES = 64
PRECISION = 16
# CPU time of this process: the numbers stay meaningful on a shared machine
# (both coders are single-threaded). --wall switches to wall-clock time.
CLOCK = time.process_time
BACKEND = native.numpy_only  # --backend


def make_tables():
    scales = np.exp(np.linspace(math.log(0.11), math.log(256.0), NUM_TABLES))
    cdfs, supports = [], []
    for s in scales:
        k = max(1, math.ceil(6.0 * s))
        edges = (np.arange(-k, k + 2) - 0.5) / (s * math.sqrt(2.0))
        cum = 0.5 * (1.0 + np.array([math.erf(e) for e in edges]))
        pmf = np.diff(cum)
        pmf[0] += cum[0]  # fold the tails into the edge bins
        pmf[-1] += 1.0 - cum[-1]
        cdfs.append(rangecoder.pmf_to_quantized_cdf(pmf, PRECISION).astype(np.int64))
        supports.append(k)
    return scales, cdfs, supports


def make_data(cdfs, seed=0):
    rng = np.random.default_rng(seed)
    n = math.prod(SHAPE)
    index = rng.integers(0, NUM_TABLES, n)
    value = np.empty(n, np.int64)
    u = rng.integers(0, 1 << PRECISION, n)
    for t, cdf in enumerate(cdfs):
        sel = index == t
        value[sel] = np.searchsorted(cdf, u[sel], side="right") - 1
    return index.reshape(SHAPE), value.reshape(SHAPE)


def ideal_bytes(cdfs, index, value):
    bits = 0.0
    for t, cdf in enumerate(cdfs):
        v = value[index == t]
        freq = cdf[v + 1] - cdf[v]
        bits -= np.log2(freq / float(1 << PRECISION)).sum()
    return bits / 8.0


class Coder:
    """One contestant: ``encode()`` -> compressed, ``decode(compressed)`` ->
    values (checked against the input), ``size(compressed)`` in bytes."""

    def __init__(self, name, streams, encode, decode, size, expected):
        self.name, self.streams = name, streams
        self.encode, self.decode, self.size, self.expected = encode, decode, size, expected


def race(coders, repeat):
    """Best encode and decode time of every coder over ``repeat`` rounds.

    Each round runs every coder once, so drift on a shared machine (other
    jobs, the allocator's state) falls on all of them alike rather than on
    whichever ran last. Returns {name: (encode s, decode s, bytes)}."""
    best = {c.name: [math.inf, math.inf, 0] for c in coders}
    for _ in range(repeat):
        for c in coders:
            t0 = CLOCK()
            compressed = c.encode()
            t1 = CLOCK()
            decoded = c.decode(compressed)
            t2 = CLOCK()
            if not np.array_equal(decoded, c.expected):
                raise AssertionError(f"{c.name}: round trip failed")
            entry = best[c.name]
            entry[0], entry[1] = min(entry[0], t1 - t0), min(entry[1], t2 - t1)
            entry[2] = c.size(compressed)
    return best


def tfcodec_coder(lookup, index, value, streams, packed=False, interleaved=False):
    if interleaved:
        # Stream i codes flat positions i, i + S, i + 2S, ...: a [S, n / S]
        # view of the C-order data that tfcodec reads one position at a time
        # without a transposing copy.
        idx = index.reshape(-1, streams).T
        val = value.reshape(-1, streams).T
    else:
        idx = index.reshape(streams, -1)
        val = value.reshape(streams, -1)
    rank = 1
    if streams == 1:
        idx, val, rank = idx[0], val[0], 0
    def size(enc):
        if packed:
            return len(enc.data)
        return len(enc) if rank == 0 else sum(len(x) for x in enc)

    name = "tfcodec" + (" interleaved" if interleaved else "") + (" packed" if packed else "")
    def encode():
        with BACKEND():
            return rangecoder.encode_index(lookup, idx, val, rank, packed=packed)

    def decode(enc):
        with BACKEND():
            return rangecoder.decode_index(lookup, idx, enc, rank)

    return Coder(f"{name} {streams}", streams, encode, decode, size, val)


def constriction_categorical(cdfs, index, value, include_grouping=True):
    import constriction

    models = [constriction.stream.model.Categorical(
        (np.diff(c) / float(1 << PRECISION)).astype(np.float64), perfect=False)
        for c in cdfs]
    flat_i = index.reshape(-1).astype(np.uint8)  # uint8: numpy radix-sorts it
    flat_v = value.reshape(-1).astype(np.int32)

    def group():
        order = np.argsort(flat_i, kind="stable")
        bounds = np.zeros(NUM_TABLES + 1, np.int64)
        np.cumsum(np.bincount(flat_i, minlength=NUM_TABLES), out=bounds[1:])
        return order, bounds

    pre = group()

    def encode():
        order, bounds = group() if include_grouping else pre
        grouped = flat_v[order]
        enc = constriction.stream.queue.RangeEncoder()
        for t in range(NUM_TABLES):
            enc.encode(grouped[bounds[t]:bounds[t + 1]], models[t])
        return enc.get_compressed()

    def decode(compressed):
        order, bounds = group() if include_grouping else pre
        dec = constriction.stream.queue.RangeDecoder(compressed)
        grouped = np.empty(len(flat_i), np.int32)
        for t in range(NUM_TABLES):
            grouped[bounds[t]:bounds[t + 1]] = dec.decode(models[t], int(bounds[t + 1] - bounds[t]))
        out = np.empty_like(grouped)
        out[order] = grouped
        return out

    name = "constriction categorical" if include_grouping else "  coder only (no grouping)"
    return Coder(name, 1, encode, decode, lambda comp: comp.nbytes, flat_v)


def constriction_gaussian(scales, supports, index, value):
    import constriction

    k = max(supports)
    family = constriction.stream.model.QuantizedGaussian(-k, k)
    # Table symbols are offsets from -support; constriction wants the integer.
    flat_v = (value - np.asarray(supports)[index]).reshape(-1).astype(np.int32)
    stds = scales[index.reshape(-1)].astype(np.float64)
    means = np.zeros_like(stds)

    def encode():
        enc = constriction.stream.queue.RangeEncoder()
        enc.encode(flat_v, family, means, stds)
        return enc.get_compressed()

    def decode(compressed):
        dec = constriction.stream.queue.RangeDecoder(compressed)
        return dec.decode(family, means, stds)

    return Coder("constriction gaussian", 1, encode, decode, lambda comp: comp.nbytes, flat_v)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--streams", default="1,192,768,1536,3072,6144,12288",
                        help="comma-separated stream counts (must divide 294912)")
    parser.add_argument("--no-gaussian", action="store_true",
                        help="skip constriction's QuantizedGaussian baseline")
    parser.add_argument("--wall", action="store_true", help="time with wall-clock")
    parser.add_argument("--backend", choices=("numpy", "native"), default="numpy",
                        help="tfcodec's coder: the numpy lock-step one (default) or the compiled one")
    parser.add_argument("--packed", action=argparse.BooleanOptionalAction, default=True,
                        help="also time tfcodec's packed output (one buffer + lengths)")
    parser.add_argument("--interleaved", action=argparse.BooleanOptionalAction, default=True,
                        help="also time interleaved streams (stream i codes positions "
                             "i, i+S, ...; read without a transposing copy)")
    args = parser.parse_args(argv)
    global CLOCK, BACKEND
    if args.wall:
        CLOCK = time.perf_counter
    if args.backend == "native" and not native.available():
        parser.error("the compiled range coder is not built here")
    BACKEND = native.numpy_only if args.backend == "numpy" else contextlib.nullcontext

    scales, cdfs, supports = make_tables()
    index, value = make_data(cdfs)
    n = index.size
    lookup = rangecoder.Lookup(rangecoder.build_lookup(cdfs, PRECISION))
    ideal = ideal_bytes(cdfs, index, value)
    print(f"workload: {n} symbols {SHAPE}, {NUM_TABLES} tables @ precision {PRECISION}, "
          f"ideal {ideal:,.0f} bytes ({8 * ideal / n:.3f} bits/symbol)")

    coders = [constriction_categorical(cdfs, index, value),
              constriction_categorical(cdfs, index, value, include_grouping=False)]
    if not args.no_gaussian:
        coders.append(constriction_gaussian(scales, supports, index, value))
    index32, value32 = index.astype(np.int32), value.astype(np.int32)  # TFC's dtype
    slow = []
    for s in (int(x) for x in args.streams.split(",")):
        if n % s:
            print(f"skipping {s} streams: does not divide {n}")
            continue
        # One stream runs the pure-Python coder (seconds): once, outside the race.
        (slow if s == 1 else coders).append(tfcodec_coder(lookup, index32, value32, s))
        if s > 1 and args.packed:
            coders.append(tfcodec_coder(lookup, index32, value32, s, packed=True))
        if s > 1 and args.interleaved:
            coders.append(tfcodec_coder(lookup, index32, value32, s, interleaved=True))
            if args.packed:
                coders.append(tfcodec_coder(lookup, index32, value32, s, packed=True,
                                            interleaved=True))
    best = race(coders, args.repeat)
    best.update(race(slow, 1))
    c_enc, c_dec, _ = best[coders[0].name]
    ours = sorted((c for c in coders + slow if c.name.startswith("tfcodec")),
                  key=lambda c: (c.streams, c.name))
    rows = [(c.name.rsplit(" ", 1)[0] if c in ours else c.name, c.streams, *best[c.name])
            for c in [c for c in coders if c not in ours] + ours]

    head = (f"{'coder':<27}{'streams':>8}{'enc Msym/s':>11}{'dec Msym/s':>11}"
            f"{'enc ratio':>10}{'dec ratio':>10}{'bytes':>10}{'vs ideal':>9}{'B/stream':>9}")
    print(head)
    print("-" * len(head))
    for name, s, te, td, size in rows:
        over = size - ideal
        print(f"{name:<27}{s:>8}{n / te / 1e6:>11.2f}{n / td / 1e6:>11.2f}"
              f"{c_enc / te:>10.2f}{c_dec / td:>10.2f}{size:>10,}"
              f"{100 * over / ideal:>8.2f}%{over / s:>9.2f}")
    print("ratio = throughput / 'constriction categorical' throughput (>1: faster); "
          f"times: best of {args.repeat} interleaved rounds, "
          f"{'wall-clock' if args.wall else 'process CPU'}")


if __name__ == "__main__":
    main()
