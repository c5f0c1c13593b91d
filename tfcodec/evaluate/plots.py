"""Rate-distortion plots (PNG, matplotlib Agg): PSNR and MS-SSIM dB against bpp.

Measured curves are solid lines with markers; published curves are dashed,
so a paper's numbers are never mistaken for ones measured here.
"""

from __future__ import annotations

import io
import os

import numpy as np

from tfcodec.fileio import join, write_atomic

PLOTS = {
    "psnr": ("psnr_vs_bpp.png", "PSNR (dB, RGB)"),
    "msssim_db": ("msssim_db_vs_bpp.png", "MS-SSIM (dB, RGB)"),
}


def plot_curves(curves: dict, metric: str, path, title: str = "", max_bpp: float | None = None) -> bool:
    """Plot ``metric`` vs bpp for every curve that has it; returns False if none had it.

    The PNG is written atomically; ``path`` may be local or a URL (gs://, ...).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ylabel = PLOTS[metric][1]
    fig, ax = plt.subplots(figsize=(8, 6), dpi=120)
    drawn = False
    for label, c in curves.items():
        ys = c.get(metric)
        if not ys:
            continue
        x = np.asarray(c["bpp"], dtype=float)
        y = np.asarray(ys, dtype=float)
        order = np.argsort(x)
        style = {"linestyle": "--", "marker": "x"} if c["kind"] == "published" else {"marker": "o", "markersize": 3}
        ax.plot(x[order], y[order], label=label, linewidth=1.3, **style)
        drawn = True
    if max_bpp is not None:
        ax.set_xlim(0, max_bpp)
        _fit_y(ax, curves, metric, max_bpp)
    ax.set_xlabel("bits per pixel (whole file)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=os.path.splitext(os.fspath(path))[1][1:].lower() or "png")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
    return drawn


def _fit_y(ax, curves, metric, max_bpp):
    ys = [y for c in curves.values() if c.get(metric) for b, y in zip(c["bpp"], c[metric]) if b <= max_bpp]
    if ys:
        lo, hi = min(ys), max(ys)
        pad = 0.03 * (hi - lo or 1.0)
        ax.set_ylim(lo - pad, hi + pad)


def write_plots(curves: dict, out_dir, title: str = "", max_bpp: float | None = None) -> list:
    """Both plots into ``out_dir`` (local or a URL); returns the paths written."""
    written = []
    for metric, (name, _label) in PLOTS.items():
        path = join(os.fspath(out_dir), name)
        if plot_curves(curves, metric, path, title=title, max_bpp=max_bpp):
            written.append(path)
    return written
