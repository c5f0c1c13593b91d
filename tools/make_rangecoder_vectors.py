"""Writes tests/data/rangecoder_vectors.npz from tensorflow-compression 2.14.

Run with the separate TFC venv (never a runtime dependency of tfcodec):

    python3.11 -m venv /work/tfc-venv
    /work/tfc-venv/bin/pip install tensorflow-compression==2.14.1
    /work/tfc-venv/bin/python tools/make_rangecoder_vectors.py

The file holds, per case, TFC's inputs and outputs so the tests can check
that tfcodec.rangecoder reproduces TFC's bytes and decoded values exactly.
Byte strings are stored as one uint8 blob plus lengths (no pickles).
Key layout: ``<case>/<field>``; ``kind`` is ``code``, ``pmf``, ``table``
(lookup validity) or ``garbage`` (TFC decoding arbitrary bytes).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
import tensorflow_compression as tfc

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                   "rangecoder_vectors.npz")


def blob(strings):
    strings = [bytes(s) for s in strings]
    data = np.frombuffer(b"".join(strings), np.uint8).copy()
    return data, np.array([len(s) for s in strings], np.int64)


def tfc_encode(lookup, index, value, stream_rank):
    shape = np.array(index.shape[:stream_rank], np.int32)
    handle = tfc.create_range_encoder(shape, tf.constant(lookup, tf.int32))
    handle = tfc.entropy_encode_index(handle, tf.constant(index, tf.int32),
                                      tf.constant(value, tf.int32))
    enc = tfc.entropy_encode_finalize(handle).numpy()
    return [enc] if stream_rank == 0 else list(np.asarray(enc).reshape(-1))


def tfc_decode(lookup, index, strings, stream_rank):
    stream_shape = index.shape[:stream_rank]
    enc = np.array(strings, dtype=object).reshape(stream_shape)
    handle = tfc.create_range_decoder(tf.constant(enc, tf.string),
                                      tf.constant(lookup, tf.int32))
    handle, out = tfc.entropy_decode_index(
        handle, tf.constant(index, tf.int32),
        tf.constant(index.shape[stream_rank:], tf.int32), tf.int32)
    ok = tfc.entropy_decode_finalize(handle).numpy()
    return out.numpy(), np.asarray(ok).reshape(-1)


class Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.arrays = {}
        self.names = []

    def _name(self, kind):
        name = f"{kind}{len(self.names):03d}"
        self.names.append(name)
        return name

    # -- random tables ---------------------------------------------------------
    def random_cdf(self, precision, nsym, zero_prob=0.0):
        """CDF of nsym symbols; some inner symbols may get zero probability."""
        total = 1 << precision
        nsym = max(1, min(nsym, total))
        cuts = np.sort(self.rng.choice(np.arange(1, total), nsym - 1, replace=False))
        cdf = np.concatenate([[0], cuts, [total]]).astype(np.int64)
        if zero_prob and nsym > 2:
            # Repeat some inner cut points: zero-probability symbols, allowed by TFC.
            for k in range(1, nsym - 1):
                if self.rng.random() < zero_prob:
                    cdf[k + 1] = cdf[k]
        return cdf

    def gaussian_cdf(self, scale, precision, tail=7.0):
        from math import erf, sqrt
        k = max(1, int(np.ceil(scale * tail)))
        xs = np.arange(-k, k + 1)
        up = np.array([0.5 * (1 + erf((x + 0.5) / (scale * sqrt(2)))) for x in xs])
        lo = np.array([0.5 * (1 + erf((x - 0.5) / (scale * sqrt(2)))) for x in xs])
        pmf = (up - lo).astype(np.float32)
        cdf = tfc.pmf_to_quantized_cdf(tf.constant(pmf), precision=precision).numpy()
        return cdf.astype(np.int64)

    @staticmethod
    def table2d(cdfs, precisions):
        width = 1 + max(len(c) for c in cdfs)
        tab = np.zeros((len(cdfs), width), np.int32)
        for i, (c, p) in enumerate(zip(cdfs, precisions)):
            tab[i, 0] = p
            tab[i, 1:1 + len(c)] = c
            tab[i, 1 + len(c):] = 1 << abs(p)
        return tab

    def table1d(self, cdfs, precisions, max_pad=3):
        parts = []
        for c, p in zip(cdfs, precisions):
            pad = int(self.rng.integers(0, max_pad + 1))
            parts.append(np.concatenate([[p], c, [1 << abs(p)] * pad]))
        return np.concatenate(parts).astype(np.int32)

    def random_values(self, cdfs, precisions, index, far=0):
        """Values with positive probability; overflow rows also get escapes."""
        value = np.zeros(index.shape, np.int64)
        flat_i = index.reshape(-1)
        flat_v = value.reshape(-1)
        for n, r in enumerate(flat_i):
            cdf = cdfs[r]
            freq = np.diff(cdf)
            pos = np.flatnonzero(freq > 0)
            if precisions[r] < 0:
                maxv = len(cdf) - 2
                u = self.rng.random()
                if u < 0.15:
                    flat_v[n] = -int(self.rng.integers(1, max(2, far or 40)))
                elif u < 0.3:
                    flat_v[n] = maxv + int(self.rng.integers(0, max(2, far or 40)))
                else:
                    pos = pos[pos < maxv]
                    if len(pos) == 0:
                        flat_v[n] = maxv + int(self.rng.integers(0, 5))
                    else:
                        flat_v[n] = int(self.rng.choice(pos))
            else:
                # Draw proportionally to the coded probabilities.
                p = freq / freq.sum()
                flat_v[n] = int(self.rng.choice(len(freq), p=p))
        return value

    # -- case writers ----------------------------------------------------------
    def add_code(self, lookup, index, value, stream_rank, note):
        index = np.asarray(index, np.int32)
        value = np.asarray(value, np.int32)
        strings = tfc_encode(lookup, index, value, stream_rank)
        if index.size:
            decoded, ok = tfc_decode(lookup, index, strings, stream_rank)
            assert np.array_equal(decoded, value), note
            assert ok.all(), note
        name = self._name("code")
        data, lens = blob(strings)
        self.arrays.update({
            f"{name}/lookup": np.asarray(lookup, np.int32),
            f"{name}/index": index,
            f"{name}/value": value,
            f"{name}/stream_rank": np.array(stream_rank, np.int64),
            f"{name}/data": data,
            f"{name}/lengths": lens,
            f"{name}/note": np.array(note),
        })
        return strings

    def add_pmf(self, pmf, precision, note):
        pmf = np.asarray(pmf, np.float32)
        cdf = tfc.pmf_to_quantized_cdf(tf.constant(pmf), precision=precision).numpy()
        name = self._name("pmf")
        self.arrays.update({
            f"{name}/pmf": pmf,
            f"{name}/precision": np.array(precision, np.int64),
            f"{name}/cdf": cdf.astype(np.int32),
            f"{name}/note": np.array(note),
        })

    def add_table(self, lookup, note):
        lookup = np.asarray(lookup, np.int32)
        try:
            tfc.create_range_encoder(tf.constant([1], tf.int32),
                                     tf.constant(lookup, tf.int32))
            ok = True
        except tf.errors.InvalidArgumentError:
            ok = False
        name = self._name("table")
        self.arrays.update({
            f"{name}/lookup": lookup,
            f"{name}/valid": np.array(ok),
            f"{name}/note": np.array(note),
        })

    def add_garbage(self, lookup, index, strings, note):
        """TFC's decode of arbitrary bytes (non-overflow tables only: TFC's
        escape decoder can loop forever on garbage)."""
        index = np.asarray(index, np.int32)
        decoded, ok = tfc_decode(lookup, index, strings, 1)
        name = self._name("garbage")
        data, lens = blob(strings)
        self.arrays.update({
            f"{name}/lookup": np.asarray(lookup, np.int32),
            f"{name}/index": index,
            f"{name}/data": data,
            f"{name}/lengths": lens,
            f"{name}/decoded": decoded.astype(np.int32),
            f"{name}/ok": ok.astype(np.bool_),
            f"{name}/note": np.array(note),
        })


def build(b: Builder):
    rng = b.rng
    # 1. Every precision, with and without overflow, 2-D and 1-D lookups.
    for precision in range(1, 17):
        for overflow in (False, True):
            for rank1d in (False, True):
                rows = int(rng.integers(1, 6))
                cdfs = [b.random_cdf(precision, int(rng.integers(1, 24)),
                                     zero_prob=0.2) for _ in range(rows)]
                precs = [-precision if overflow else precision] * rows
                lookup = b.table1d(cdfs, precs) if rank1d else b.table2d(cdfs, precs)
                streams = int(rng.integers(1, 7))
                index = rng.integers(0, rows, (streams, int(rng.integers(1, 90))))
                far = int(rng.choice([40, 1000, 1 << 20]))
                value = b.random_values(cdfs, precs, index, far=far)
                b.add_code(lookup, index, value, 1,
                           f"p={precision} overflow={overflow} 1d={rank1d}")

    # 2. Mixed precisions and overflow flags in one lookup.
    for _ in range(6):
        rows = int(rng.integers(2, 9))
        precs = [int(rng.integers(1, 17)) * int(rng.choice([-1, 1])) for _ in range(rows)]
        cdfs = [b.random_cdf(abs(p), int(rng.integers(1, 30)), zero_prob=0.1)
                for p in precs]
        # TFC's 1-D scan would read a precision equal to the previous 2**p as
        # padding, so only use 1-D when no neighbours collide.
        collide = any(precs[i + 1] == 1 << abs(precs[i]) for i in range(rows - 1))
        if rng.random() < 0.5 or collide:
            lookup = b.table2d(cdfs, precs)
        else:
            lookup = b.table1d(cdfs, precs)
        index = rng.integers(0, rows, (int(rng.integers(1, 12)), 3, int(rng.integers(1, 20))))
        b.add_code(lookup, index, b.random_values(cdfs, precs, index, far=300), 1,
                   "mixed precisions")

    # 3. Values far outside the table (gamma up to 2**30 - 1).
    cdf = b.random_cdf(12, 10)
    lookup = b.table2d([cdf], [-12])
    maxv = len(cdf) - 2
    extremes = [-(1 << 30) + 1, (1 << 30) - 2 + maxv, -1, maxv, maxv + 1,
                -(1 << 29), (1 << 29) + maxv, -12345678, 98765432, 0, 3]
    value = np.array(extremes * 3)
    b.add_code(lookup, np.zeros_like(value), value, 0, "far escapes, one stream")
    b.add_code(lookup, np.zeros((3, 11), np.int64), value.reshape(3, 11), 1,
               "far escapes, three streams")

    # 4. One-symbol tables (everything is free, or everything escapes).
    for p in (1, 8, 16):
        one = np.array([[p, 0, 1 << p]])
        b.add_code(one, np.zeros((2, 7)), np.zeros((2, 7)), 1, f"one symbol p={p}")
        one_ovf = np.array([[-p, 0, 1 << p]])
        v = rng.integers(-50, 50, (3, 9))
        b.add_code(one_ovf, np.zeros_like(v), v, 1, f"one symbol overflow p={p}")

    # 5. Empty inputs.
    cdf = b.random_cdf(8, 5)
    lookup = b.table2d([cdf], [8])
    b.add_code(lookup, np.zeros(0), np.zeros(0), 0, "empty, rank 0")
    b.add_code(lookup, np.zeros((3, 0)), np.zeros((3, 0)), 1, "empty streams")
    b.add_code(lookup, np.zeros((2, 0, 4)), np.zeros((2, 0, 4)), 1, "empty streams 3d")

    # 6. Gaussian tables at precision 16, long single stream and many streams:
    # lots of renormalizations, carries and long delayed states.
    scales = np.exp(np.linspace(np.log(0.11), np.log(256.0), 12))
    gcdfs = [b.gaussian_cdf(s, 16, tail=5.0) for s in scales]
    gprecs = [16] * len(gcdfs)
    lookup = b.table2d(gcdfs, gprecs)
    index = rng.integers(0, len(gcdfs), 6000)
    b.add_code(lookup, index, b.random_values(gcdfs, gprecs, index), 0,
               "gaussian p=16, one long stream")
    index = rng.integers(0, len(gcdfs), (64, 40))
    b.add_code(lookup, index, b.random_values(gcdfs, gprecs, index), 1,
               "gaussian p=16, 64 streams")
    lookup_ovf = lookup.copy()
    lookup_ovf[:, 0] = -16
    gprecs_ovf = [-16] * len(gcdfs)
    index = rng.integers(0, len(gcdfs), (16, 100))
    b.add_code(lookup_ovf, index, b.random_values(gcdfs, gprecs_ovf, index, far=5000),
               1, "gaussian p=-16 with escapes, 16 streams")

    # 7. Skewed tables: probability 1/2**16 symbols force a renormalization on
    # every step; near-certain symbols keep the coder straddling 2**32.
    skew = np.array([0, 1, 2, 3, 65533, 65534, 65535, 65536])
    lookup = b.table2d([skew, np.array([0, 65535, 65536]), np.array([0, 1, 65536])],
                       [16, 16, 16])
    for t in range(4):
        index = rng.integers(0, 3, (8, 500))
        vals = np.where(index == 0, rng.integers(0, 7, index.shape),
                        rng.integers(0, 2, index.shape))
        if t % 2:
            vals = np.where(index == 0, 6, 0)
        b.add_code(lookup, index, vals, 1, "skewed p=16")

    # 8. Higher-rank streams (stream_rank 2).
    cdfs = [b.random_cdf(10, 20) for _ in range(3)]
    lookup = b.table2d(cdfs, [10] * 3)
    index = rng.integers(0, 3, (2, 3, 25))
    b.add_code(lookup, index, b.random_values(cdfs, [10] * 3, index), 2, "stream_rank 2")
    index = rng.integers(0, 3, (4, 5, 6))
    b.add_code(lookup, index, b.random_values(cdfs, [10] * 3, index), 0,
               "rank 0 on 3-d input")

    # 9. TFC decoding arbitrary bytes (must match ours when TFC's finalize
    # says OK; ours must raise when it says not OK).
    cdfs = [b.random_cdf(int(p), int(rng.integers(2, 40))) for p in (4, 9, 16)]
    lookup = b.table2d(cdfs, [4, 9, 16])
    for n in (1, 3, 10, 40):
        index = rng.integers(0, 3, (64, n))
        strings = [rng.bytes(int(rng.integers(0, 2 * n + 8))) for _ in range(64)]
        b.add_garbage(lookup, index, strings, f"random bytes, {n} symbols")
        value = b.random_values(cdfs, [4, 9, 16], index)
        good = tfc_encode(lookup, index, value, 1)
        mutated = []
        for s in good:
            s = bytearray(s)
            op = rng.integers(0, 3)
            if op == 0 and s:
                s[int(rng.integers(0, len(s)))] ^= 1 << int(rng.integers(0, 8))
            elif op == 1:
                s = s[:int(rng.integers(0, len(s) + 1))]
            else:
                s += rng.bytes(int(rng.integers(1, 4)))
            mutated.append(bytes(s))
        b.add_garbage(lookup, index, mutated, f"mutated streams, {n} symbols")

    # 10. pmf_to_quantized_cdf.
    for precision in range(1, 17):
        for _ in range(4):
            n = int(rng.integers(2, min(1 << precision, 64) + 1))
            pmf = rng.random(n) ** 3
            pmf /= pmf.sum()
            b.add_pmf(pmf, precision, "random")
    for n, precision in ((17, 8), (40, 10), (200, 12), (1000, 16), (3000, 16), (33, 6)):
        b.add_pmf(np.full(n, 1.0 / n), precision, "uniform (ties)")
        b.add_pmf(np.full(n, 0.7 / n), precision, "uniform under-normalized (ties)")
        b.add_pmf(np.full(n, 1.3 / n), precision, "uniform over-normalized (ties)")
        x = np.arange(n) - (n - 1) / 2
        g = np.exp(-0.5 * (x / (n / 6)) ** 2)
        b.add_pmf(g / g.sum(), precision, "symmetric gaussian (ties)")
        z = rng.random(n)
        z[rng.random(n) < 0.3] = 0.0
        z[0] = 1.0
        b.add_pmf(z / z.sum(), precision, "with zeros")
        b.add_pmf(np.round(rng.random(n) * 4) / (2 * n), precision, "coarse (many ties)")
    # Many rows at once, and a batch shape.
    pmf = rng.random((5, 3, 30))
    b.add_pmf(pmf / pmf.sum(-1, keepdims=True), 9, "batched")
    b.add_pmf(rng.random((4, 10)) * 0.5, 5, "unnormalized batch")
    b.add_pmf(np.array([0.5, 0.5, 0.0, 0.0]), 2, "zeros get 1")
    b.add_pmf(np.array([1e-9, 1 - 2e-9, 1e-9]), 16, "tiny tails")
    b.add_pmf(np.array([3.0, 1.0, 0.5]), 4, "greater than one")

    # 11. Lookup validity, as TFC decides it.
    good = b.table2d([np.array([0, 3, 8])], [3])
    b.add_table(good, "valid")
    b.add_table(np.array([3, 0, 3, 8, 8, 8, 2, 0, 1, 4]), "1-D with padding")
    b.add_table(np.array([1, 0, 1, 2, 2, 0, 1, 4]), "1-D: next precision equals padding")
    b.add_table(np.array([[0, 0, 1]]), "precision 0")
    b.add_table(np.array([[17, 0, 1 << 17]]), "precision 17")
    b.add_table(np.array([[-17, 0, 1 << 17]]), "precision -17")
    b.add_table(np.array([[3, 1, 8]]), "does not start with 0")
    b.add_table(np.array([[3, 0, 5, 4, 8]]), "not monotonic")
    b.add_table(np.array([[3, 0, 5, 7, 7]]), "does not reach 2**p")
    b.add_table(np.array([[3, 0, 5, 8, 9]]), "bad padding")
    b.add_table(np.array([[3, 0, 8, 5, 8]]), "bad padding 2")
    b.add_table(np.array([[3, 0]]), "too short")
    b.add_table(np.array([3, 0]), "1-D too short")
    b.add_table(np.array([3, 0, 4, 8, 3, 0]), "1-D second too short")
    b.add_table(np.array([[3, 0, 0, 8]]), "zero-probability first symbol")
    b.add_table(np.array([[3, 0, 9, 8]]), "overshoot")
    b.add_table(np.zeros((0, 5)), "empty 2-D")
    b.add_table(np.zeros(0), "empty 1-D")
    b.add_table(np.array([[3, 0, 8], [2, 0, 4]]), "two rows")
    b.add_table(np.array([[3, 0, 8, 8], [2, 0, 3, 4]]), "two rows, padding")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args(argv)
    b = Builder(args.seed)
    build(b)
    b.arrays["cases"] = np.array(b.names)
    b.arrays["tfc_version"] = np.array(importlib.metadata.version("tensorflow-compression"))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    np.savez_compressed(args.out, **b.arrays)
    print(f"wrote {len(b.names)} cases to {args.out} "
          f"({os.path.getsize(args.out) / 1e6:.2f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
