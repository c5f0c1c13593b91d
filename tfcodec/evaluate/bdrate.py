"""Bjøntegaard deltas (BD-rate, BD-PSNR) with monotone PCHIP interpolation.

Method (as in the JVET CTC spreadsheets since JCTVC-L0242 / the AOM CTC and
the ``bjontegaard`` Python package), applied to the image-averaged curves:

* BD-rate: log(rate) as a function of quality. Each curve is interpolated with
  a piecewise cubic Hermite interpolant whose slopes are chosen by the
  Fritsch-Carlson rule (SciPy's ``PchipInterpolator``: monotone, no overshoot),
  integrated exactly over the overlapping quality interval of the two curves;
  the mean log-rate difference gives ``100 * (exp(mean diff) - 1)`` percent.
  Negative = the test codec needs fewer bits for the same quality.
* BD-PSNR (or BD-MS-SSIM-dB): quality as a function of log(rate), same
  interpolation, over the overlapping log-rate interval. Positive = better.

All points are used (not just four), sorted by the independent variable;
points with equal independent values are averaged. Fewer than two points or
no overlap gives ``None``. Implemented in numpy so it needs no SciPy.
"""

from __future__ import annotations

import math

import numpy as np

METHOD = (
    "Bjøntegaard delta on image-averaged curves; monotone piecewise cubic Hermite "
    "(PCHIP, Fritsch-Carlson slopes) interpolation, exact integral over the "
    "overlapping interval only; rates in natural log"
)


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson derivatives at the knots, matching SciPy's PchipInterpolator."""
    h = np.diff(x)
    m = np.diff(y) / h
    n = len(x)
    d = np.zeros(n)
    if n == 2:
        d[:] = m[0]
        return d
    for k in range(1, n - 1):
        if m[k - 1] * m[k] <= 0:
            d[k] = 0.0
        else:
            w1 = 2 * h[k] + h[k - 1]
            w2 = h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k])

    def edge(h0, h1, m0, m1):
        dd = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        if np.sign(dd) != np.sign(m0):
            return 0.0
        if np.sign(m0) != np.sign(m1) and abs(dd) > abs(3 * m0):
            return 3 * m0
        return dd

    d[0] = edge(h[0], h[1], m[0], m[1])
    d[-1] = edge(h[-1], h[-2], m[-1], m[-2])
    return d


def pchip_integral(x, y, lo: float, hi: float) -> float:
    """Integral over [lo, hi] (inside [x0, xn]) of the PCHIP interpolant of (x, y)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d = pchip_slopes(x, y)
    total = 0.0
    for k in range(len(x) - 1):
        a, b = max(lo, x[k]), min(hi, x[k + 1])
        if b <= a:
            continue
        h = x[k + 1] - x[k]
        m = (y[k + 1] - y[k]) / h
        c2 = (3 * m - 2 * d[k] - d[k + 1]) / h
        c3 = (d[k] + d[k + 1] - 2 * m) / h**2

        def antiderivative(t, k=k, c2=c2, c3=c3):
            return y[k] * t + d[k] * t**2 / 2 + c2 * t**3 / 3 + c3 * t**4 / 4

        total += antiderivative(b - x[k]) - antiderivative(a - x[k])
    return float(total)


def _prepare(xs, ys):
    """Sort by x, average duplicates, drop non-finite points."""
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    ux = np.unique(x)
    uy = np.array([y[x == v].mean() for v in ux])
    return ux, uy


def _delta(x1, y1, x2, y2):
    """Mean of (curve2 - curve1) over the overlap of their x ranges, or None."""
    x1, y1 = _prepare(x1, y1)
    x2, y2 = _prepare(x2, y2)
    if len(x1) < 2 or len(x2) < 2:
        return None
    lo, hi = max(x1[0], x2[0]), min(x1[-1], x2[-1])
    if not hi > lo:
        return None
    return (pchip_integral(x2, y2, lo, hi) - pchip_integral(x1, y1, lo, hi)) / (hi - lo)


def bd_rate(anchor_rate, anchor_quality, test_rate, test_quality) -> float | None:
    """BD-rate of test against anchor in percent (negative = test saves bits)."""
    ar, tr = np.asarray(anchor_rate, float), np.asarray(test_rate, float)
    if (ar <= 0).any() or (tr <= 0).any():
        raise ValueError("rates must be positive")
    diff = _delta(anchor_quality, np.log(ar), test_quality, np.log(tr))
    return None if diff is None else 100.0 * (math.exp(diff) - 1.0)


def bd_quality(anchor_rate, anchor_quality, test_rate, test_quality) -> float | None:
    """BD-PSNR (or BD in any quality unit) of test against anchor (positive = better)."""
    ar, tr = np.asarray(anchor_rate, float), np.asarray(test_rate, float)
    if (ar <= 0).any() or (tr <= 0).any():
        raise ValueError("rates must be positive")
    return _delta(np.log(ar), anchor_quality, np.log(tr), test_quality)
