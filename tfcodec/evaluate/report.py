"""Results on disk: one JSON with everything, a CSV of all points, a Markdown summary.

The JSON is the source of truth (it carries the method notes, codec
identities and settings); the CSV is for spreadsheets; the Markdown is for
reading and pasting into docs.
"""

from __future__ import annotations

import csv
import io
import json
import math

from tfcodec.evaluate import bdrate
from tfcodec.fileio import write_atomic

CSV_FIELDS = ["codec", "setting", "image", "n_images", "height", "width", "bytes", "bpp", "psnr",
              "msssim", "msssim_db", "msssim_scales", "encode_s", "decode_s"]

METHOD_NOTES = [
    "Rate: whole compressed file (headers/containers included) x 8 / pixels.",
    "PSNR: tf.image.psnr on RGB 0-255 per image, averaged over images (dB); identical images capped at 100 dB.",
    "MS-SSIM: tf.image.ssim_multiscale on RGB, max_val 255, 5 scales; MS-SSIM dB = -10 log10(1 - mean MS-SSIM "
    "over images). Images with short side < 161 px use fewer scales (renormalised weights): see msssim_scales.",
    "Times: wall-clock seconds per image for compress (to bytes) and decompress (from bytes), one process, "
    "library default threading; indicative only.",
    "BD: " + bdrate.METHOD + ".",
]


def build_curves(averaged: list[dict], published: list[dict]) -> dict[str, dict]:
    """label -> {kind, settings, bpp, psnr, msssim_db}, measured codecs then published ones."""
    curves: dict[str, dict] = {}
    for p in averaged:
        c = curves.setdefault(p["codec"], {"kind": "measured", "settings": [], "bpp": [], "psnr": [],
                                           "msssim_db": []})
        c["settings"].append(p["setting"])
        c["bpp"].append(p["bpp"])
        c["psnr"].append(p["psnr"])
        c["msssim_db"].append(p["msssim_db"])
    for pub in published:
        label = pub["name"] if pub["name"] not in curves else f"{pub['name']} (published)"
        curves[label] = {"kind": "published", "settings": None, "bpp": pub["bpp"], "psnr": pub["psnr"],
                         "msssim_db": pub["msssim_db"], "source": pub.get("source")}
    return curves


def choose_anchor(curves: dict, wanted: str) -> tuple[str | None, str | None]:
    """(anchor label, warning). Falls back to the first measured curve if ``wanted`` is absent."""
    if wanted in curves:
        return wanted, None
    if not curves:
        return None, None
    fallback = next((k for k, c in curves.items() if c["kind"] == "measured"), next(iter(curves)))
    return fallback, f"anchor {wanted!r} not evaluated; using {fallback!r} as the BD anchor"


def _bd(fn, anchor, test, metric):
    if anchor.get(metric) is None or test.get(metric) is None:
        return None
    try:
        return fn(anchor["bpp"], anchor[metric], test["bpp"], test[metric])
    except ValueError:
        return None


def bd_table(curves: dict, anchor: str | None) -> list[dict]:
    """BD-rate (%) and BD-quality (dB) of every curve against the anchor, for PSNR and MS-SSIM dB."""
    if anchor is None:
        return []
    a = curves[anchor]
    rows = []
    for label, c in curves.items():
        rows.append(
            {
                "codec": label,
                "anchor": anchor,
                "bd_rate_psnr": _bd(bdrate.bd_rate, a, c, "psnr"),
                "bd_psnr": _bd(bdrate.bd_quality, a, c, "psnr"),
                "bd_rate_msssim": _bd(bdrate.bd_rate, a, c, "msssim_db"),
                "bd_msssim_db": _bd(bdrate.bd_quality, a, c, "msssim_db"),
            }
        )
    return rows


def _clean(x):
    """JSON-safe: NaN/inf -> None."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def write_json(path, payload: dict) -> None:
    """Written atomically; ``path`` may be local or a URL (gs://, ...), as for every file here."""
    write_atomic(path, (json.dumps(_clean(payload), indent=1, ensure_ascii=False) + "\n").encode())


def write_csv(path, points: list[dict], averaged: list[dict]) -> None:
    """Every per-image point, then the averaged rows (image == "MEAN"); settings JSON-encoded."""
    f = io.StringIO(newline="")
    w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
    w.writeheader()
    for p in list(points) + list(averaged):
        row = dict(p)
        row["setting"] = json.dumps(p["setting"])
        w.writerow(row)
    write_atomic(path, f.getvalue().encode())


def _f(x, digits):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def _signed(x, digits, unit=""):
    return "n/a" if x is None else f"{x:+.{digits}f}{unit}"


def markdown(payload: dict) -> str:
    """The human summary: method, BD table, then one table per codec."""
    lines = ["# tfcodec eval", ""]
    cfg = payload["config"]
    lines += [
        f"Data: `{cfg['data']}` — {cfg['n_images']} images. Codecs: {', '.join(payload['codecs'])}.",
        "",
        "## Method",
        "",
    ]
    lines += [f"- {n}" for n in payload["method"]]
    lines += [""]
    for w in payload.get("warnings", []):
        lines += [f"> warning: {w}", ""]
    anchor = payload.get("anchor")
    if anchor:
        lines += [
            f"## Bjøntegaard deltas against `{anchor}`",
            "",
            "PCHIP (monotone piecewise cubic) interpolation over the overlapping range; "
            "BD-rate < 0 and BD-PSNR > 0 mean better than the anchor. n/a = no overlap.",
            "",
            "| codec | BD-rate (PSNR) | BD-PSNR | BD-rate (MS-SSIM dB) | BD-MS-SSIM |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in payload["bd"]:
            lines.append(
                f"| {r['codec']} | {_signed(r['bd_rate_psnr'], 1, ' %')} | {_signed(r['bd_psnr'], 2, ' dB')} | "
                f"{_signed(r['bd_rate_msssim'], 1, ' %')} | {_signed(r['bd_msssim_db'], 2, ' dB')} |"
            )
        lines.append("")
    lines += ["## Averaged points", ""]
    for label, c in payload["curves"].items():
        if c["kind"] != "measured":
            continue
        info = payload["codec_info"].get(label, {})
        lines += [f"### {label}", "", f"{info.get('describe', '')}  ", f"`{info.get('identity', '')}`", ""]
        lines += ["| setting | bpp | PSNR (dB) | MS-SSIM | MS-SSIM (dB) | encode (s) | decode (s) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for p in payload["averaged"]:
            if p["codec"] != label:
                continue
            lines.append(
                f"| {json.dumps(p['setting'])} | {_f(p['bpp'], 4)} | {_f(p['psnr'], 2)} | {_f(p['msssim'], 5)} | "
                f"{_f(p['msssim_db'], 2)} | {_f(p['encode_s'], 3)} | {_f(p['decode_s'], 3)} |"
            )
        lines.append("")
    pubs = {k: c for k, c in payload["curves"].items() if c["kind"] == "published"}
    if pubs:
        lines += ["## Published curves", ""]
        for label, c in pubs.items():
            lines += [f"### {label}", "", f"Source: {c.get('source')}", "",
                      "| bpp | PSNR (dB) | MS-SSIM (dB) |", "|---:|---:|---:|"]
            for i, b in enumerate(c["bpp"]):
                ps = c["psnr"][i] if c["psnr"] else None
                ms = c["msssim_db"][i] if c["msssim_db"] else None
                lines.append(f"| {_f(b, 4)} | {_f(ps, 2)} | {_f(ms, 2)} |")
            lines.append("")
    lines += ["## Files", "", "- `results.json`: everything (per-image and averaged points, BD, identities)",
              "- `points.csv`: per-image rows and averaged rows (image = MEAN)",
              "- `psnr_vs_bpp.png`, `msssim_db_vs_bpp.png`: averaged curves", ""]
    return "\n".join(lines)


def write_markdown(path, payload: dict) -> None:
    write_atomic(path, markdown(payload).encode())
