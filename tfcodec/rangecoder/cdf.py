"""Quantising pmfs to CDFs exactly as TFC's ``pmf_to_quantized_cdf`` does.

The integers must match TFC's to the last count, or tables built here would
code different bytes than TFC's: the rounding fix-up replays TFC's greedy
loop, with ties ordered as libstdc++'s ``std::sort`` orders them
(:mod:`tfcodec.rangecoder.introsort`).
"""

from __future__ import annotations

import bisect
import math
from operator import itemgetter

import numpy as np

from tfcodec.rangecoder.introsort import libstdcxx_sort


def pmf_to_quantized_cdf(pmf, precision: int) -> np.ndarray:
    """TFC's ``pmf_to_quantized_cdf``: int32 CDFs ``[..., n + 1]`` summing to 2**precision.

    Every symbol keeps frequency >= 1. The rounding fix-up replays TFC's greedy
    loop, including libstdc++'s (unstable) ``std::sort`` order for ties, so the
    result is identical integer for integer. It takes one step per unit of
    rounding error, so pass (roughly) normalized pmfs.
    """
    precision = int(precision)
    if not 1 <= precision <= 16:
        raise ValueError(f"precision={precision} not in [1, 16]")
    pmf = np.asarray(pmf, np.float32)
    if pmf.ndim < 1:
        raise ValueError("pmf should be at least 1-D")
    n = pmf.shape[-1]
    if n < 2:
        raise ValueError("pmf size should be at least 2 in the last axis")
    if not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
        raise ValueError("pmf has non-finite or negative elements")
    normalizer = 1 << precision
    if n > normalizer:
        raise ValueError(f"{n} symbols cannot all get a nonzero count at precision "
                         f"{precision}")
    rows = pmf.reshape(-1, n)
    # float32 product and round-half-even, as ``std::rint(float * int)``.
    q = np.rint(rows * np.float32(normalizer))
    if np.any(q >= 2.0 ** 31) or np.any(np.maximum(q, 1).sum(axis=1) >= 2.0 ** 31):
        raise ValueError("pmf values too large (TFC's int32 arithmetic would overflow)")
    counts = np.maximum(q.astype(np.int64), 1)
    cdf = np.zeros((rows.shape[0], n + 1), np.int64)
    for i in range(rows.shape[0]):
        freq = counts[i].tolist()
        total = sum(freq)
        if total != normalizer:
            _rebalance(freq, rows[i].astype(np.float64).tolist(), total, normalizer)
        cdf[i, 1:] = np.cumsum(freq)
    return cdf.astype(np.int32).reshape(pmf.shape[:-1] + (n + 1,))


def _rebalance(freq, mass, total, normalizer):
    """Greedy +-1 steps with the smallest log-loss change (TFC's PerShard)."""
    log2 = math.log2
    if total > normalizer:
        def cost(i):
            v = freq[i]
            return math.inf if v <= 1 else mass[i] * (log2(v) - log2(v - 1))
        queue = [[cost(i), i] for i in range(len(freq))]
        libstdcxx_sort(queue, lambda x, y: x[0] < y[0])
        key = itemgetter(0)
        for _ in range(total - normalizer):
            head = queue[0]
            freq[head[1]] -= 1
            head[0] = cost(head[1])
            # TFC's find_if for the first later item with a larger penalty;
            # queue[1:] is sorted, so a binary search finds the same place.
            k = bisect.bisect_right(queue, head[0], 1, key=key)
            # std::rotate(begin, begin + 1, begin + k): the head moves to k - 1.
            queue.insert(k - 1, queue.pop(0))
    else:
        def gain(i):
            v = freq[i]
            return -math.inf if v < 1 else mass[i] * (log2(v + 1) - log2(v))
        queue = [[gain(i), i] for i in range(len(freq))]
        libstdcxx_sort(queue, lambda x, y: x[0] > y[0])
        def key(item):
            return -item[0]
        for _ in range(normalizer - total):
            head = queue[0]
            freq[head[1]] += 1
            head[0] = gain(head[1])
            k = bisect.bisect_right(queue, -head[0], 1, key=key)  # descending gains
            queue.insert(k - 1, queue.pop(0))
