"""CDF tables for the range coder, built once per model and stored with its weights.

Two kinds, both with overflow coding (negative precision) so that a value
outside a table is escaped instead of breaking the stream:

* the Gaussian scale table: one zero-mean discretised Gaussian per scale in a
  log-spaced table; a latent element is coded as round(y - mean) with the row
  of the smallest table scale at or above its predicted scale (or, for a model
  imported from TFC, the largest at or below it, as TFC chooses);
* per-channel tables of the hyper-latent's learned factorized density.

Indices are computed from fixed-point log-scales with integer comparisons
(`scale_indices`), so encoder and decoder agree bit for bit.
"""

import math

import numpy as np

from tfcodec.entropy.integer_net import PARAM_EXPONENT

PRECISION = 16
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64
# Gaussian rows cover +-TAIL_SIGMAS scales; the mass beyond goes to the escape.
TAIL_SIGMAS = 6.0
# Factorized rows cover the integers whose bin mass is above this.
FACTORIZED_TAIL = 2.0**-14


def scale_table():
    return np.exp(np.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS))


def scale_thresholds(linear=False, round_down=False):
    """Fixed-point thresholds of log-scales (or, `linear`, of scales themselves, as an
    imported CompressAI model predicts them): index = number of thresholds strictly below.
    That index is the smallest table scale >= the scale, or with `round_down` the largest
    table scale <= it."""
    table = scale_table()
    edges = table[1:] if round_down else table[:-1]
    fixed = np.floor((edges if linear else np.log(edges)) * 2**PARAM_EXPONENT).astype(np.int64)
    return fixed - 1 if round_down else fixed


def scale_indices(log_scale_fixed, thresholds=None):
    """Table row for each fixed-point log-scale (or scale, with linear `thresholds`):
    by default the smallest table scale >= the scale (`scale_thresholds`)."""
    if thresholds is None:
        thresholds = scale_thresholds()
    return np.searchsorted(thresholds, np.asarray(log_scale_fixed, np.int64), side="left")


def _normal_cdf(x):
    erfc = np.frompyfunc(math.erfc, 1, 1)
    return 0.5 * erfc(-np.asarray(x, np.float64) / math.sqrt(2.0)).astype(np.float64)


def _lookup_from_pmfs(pmfs, precision):
    """Rows [-precision, 0, c1..., 2**precision] padded with 2**precision: the coder's layout."""
    from tfcodec.rangecoder import pmf_to_quantized_cdf

    cdfs = [np.asarray(pmf_to_quantized_cdf(np.asarray(p, np.float64), precision), np.int64) for p in pmfs]
    width = max(len(c) for c in cdfs) + 1
    lookup = np.full((len(cdfs), width), 1 << precision, np.int32)
    for row, cdf in zip(lookup, cdfs):
        row[0] = -precision
        row[1:1 + len(cdf)] = cdf
    return lookup


def gaussian_tables(precision=PRECISION):
    """(lookup, offsets): row i codes round(y - mean) + offsets[i] for scale_table()[i]."""
    pmfs, offsets = [], []
    for scale in scale_table():
        radius = max(1, int(math.ceil(scale * TAIL_SIGMAS)))
        edges = np.arange(-radius, radius + 2) - 0.5
        cdf = _normal_cdf(edges / scale)
        pmf = np.diff(cdf)
        tail = max(1.0 - pmf.sum(), 0.0)
        pmfs.append(np.append(pmf, tail))
        offsets.append(radius)
    return _lookup_from_pmfs(pmfs, precision), np.asarray(offsets, np.int32)


# TFC's defaults for its entropy models' tables (tail_mass, range_coder_precision).
TFC_TAIL_MASS, TFC_PRECISION = 2.0**-8, 12


def tfc_gaussian_tables(tail_mass=TFC_TAIL_MASS, precision=TFC_PRECISION):
    """(lookup, offsets) of TFC's LocationScaleIndexedEntropyModel(NoisyNormal) over the same
    64 scales, built as TFC's `_build_tables` builds them: row i spans the integers from
    floor(s * q) to ceil(-s * q), q the normal's tail_mass / 2 quantile, then the overflow bin,
    quantised at `precision` bits. A model imported from TFC codes with these, so its latents
    cost what they cost in TFC (and escape as often)."""
    from statistics import NormalDist

    quantile = np.float32(NormalDist().inv_cdf(tail_mass / 2))
    log_min, log_max = math.log(SCALE_MIN), math.log(SCALE_MAX)
    scales = np.exp(np.float32(log_min) + np.float32((log_max - log_min) / (SCALE_LEVELS - 1))
                    * np.arange(SCALE_LEVELS, dtype=np.float32)).astype(np.float32)
    pmfs, offsets = [], []
    for scale in scales:
        lo = int(math.floor(np.float32(scale * quantile)))
        hi = int(math.ceil(np.float32(-scale * quantile)))
        values = np.abs(np.arange(lo, hi + 1, dtype=np.float64))
        pmf = (_normal_cdf((0.5 - values) / scale) - _normal_cdf((-0.5 - values) / scale)).astype(np.float32)
        tail = max(np.float32(1.0) - pmf.sum(dtype=np.float32), np.float32(0.0))
        pmfs.append(np.append(pmf, np.float32(tail)))
        offsets.append(-lo)
    return _lookup_from_pmfs(pmfs, precision), np.asarray(offsets, np.int32)


def factorized_tables(pmf_fn, channels, precision=PRECISION, search_radius=256):
    """(lookup, offsets) per channel for a density given as pmf_fn(support) -> (C, n):
    row c codes the integer v (z rounded about its channel's bin centre) as v + offsets[c]."""
    support = np.arange(-search_radius, search_radius + 1)
    pmf = pmf_fn(support)
    pmfs, offsets = [], []
    for c in range(channels):
        keep = np.nonzero(pmf[c] > FACTORIZED_TAIL)[0]
        if keep.size == 0:
            keep = np.array([int(np.argmax(pmf[c]))])
        lo, hi = keep[0], keep[-1]
        row = pmf[c, lo:hi + 1]
        tail = max(1.0 - row.sum(), 0.0)
        pmfs.append(np.append(row, tail))
        offsets.append(-support[lo])
    return _lookup_from_pmfs(pmfs, precision), np.asarray(offsets, np.int32)
