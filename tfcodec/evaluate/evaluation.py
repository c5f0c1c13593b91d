"""`tfcodec eval`'s whole run: resolve the codecs, sweep them over the images, write
results.json, points.csv, summary.md and the plots (flags: tfcodec/commands/eval.py).

TensorFlow is loaded when metrics are first computed (a fully cached run never loads it).
"""

from __future__ import annotations

import os
import sys

DEFAULT_ANCHOR = "heic"
ANCHOR_REASON = (
    "HEVC intra (HEIC/x265, the codec inside BPG) is the anchor most learned-compression papers "
    "report against, and its curve spans the whole 0.05-2 bpp range, so overlaps with other "
    "codecs are wide; JPEG starts near 0.1-0.2 bpp and is so weak at low rates that "
    "percentages against it are huge and unstable"
)


def _distinct_labels(specs_and_entries):
    """Entries with labels that tell weights files of one model apart: two files of
    `cw2020-small` (checkpoints to compare) become `tfcodec:cw2020-small@<file stem>`."""
    import collections
    import dataclasses

    from tfcodec.evaluate.runner import is_file

    counts = collections.Counter(e.label for _, e in specs_and_entries)
    out = []
    for spec, entry in specs_and_entries:
        ref = spec[len("tfcodec:"):]
        if counts[entry.label] > 1 and spec.startswith("tfcodec:") and is_file(ref):
            entry = dataclasses.replace(entry, label=f"{entry.label}@{os.path.splitext(os.path.basename(ref))[0]}")
        out.append(entry)
    return out


def evaluate(args) -> dict:
    """The whole evaluation; returns the payload written to results.json."""
    import datetime
    import platform
    import warnings
    from importlib.metadata import PackageNotFoundError, version

    import tfcodec
    from tfcodec import fileio
    from tfcodec.evaluate import bdrate, plots, report, runner

    explicit = args.codecs is not None
    specs = runner.split_codecs(args.codecs if explicit else runner.DEFAULT_CODECS)
    if not specs:
        raise runner.EvalError("--codecs is empty")
    if len(set(specs)) != len(specs):
        raise runner.EvalError(f"--codecs lists a codec twice: {','.join(specs)}")
    overrides = runner.parse_settings_overrides(args.settings)
    normalised = {s if s.startswith("tfcodec:") else s.lower() for s in specs}
    unknown = [k for k in overrides if k not in normalised]
    if unknown:
        raise runner.EvalError(f"--settings for codecs not in --codecs: {', '.join(unknown)}")

    notes: list[str] = []
    entries = []
    for spec in specs:
        key = spec if spec.startswith("tfcodec:") else spec.lower()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                entry = runner.resolve_codec(spec, overrides.get(key))
            except runner.EvalError as e:
                if explicit or not spec.startswith("tfcodec:"):
                    raise
                notes.append(f"skipped {spec} (default codec list): {e}")
                continue
        notes.extend(str(w.message) for w in caught)
        if not entry.settings:
            raise runner.EvalError(f"{spec}: no rate settings to sweep")
        entries.append((spec, entry))
    entries = _distinct_labels(entries)
    labels = [e.label for e in entries]
    if len(set(labels)) != len(labels):
        raise runner.EvalError(f"two codecs share a label: {', '.join(labels)}")
    for n in notes:
        print(f"tfcodec eval: warning: {n}", file=sys.stderr)

    published = []
    for path in args.published:
        published.extend(runner.load_published(path))

    images = runner.load_images(args.data, args.limit)
    out = os.fspath(args.out).rstrip("/") or "/"
    try:
        fileio.makedirs(out)
    except Exception as e:  # noqa: BLE001 - OSError locally, a TensorFlow OpError on URLs
        raise runner.EvalError(f"--out {out}: cannot create the folder ({getattr(e, 'message', e)})") from None
    cache_dir = None if args.no_cache else args.cache if args.cache else fileio.join(out, "cache")
    cache = runner.PointCache(cache_dir)
    small = [im.name for im in images if min(im.rgb.shape[:2]) < 161]
    if small:
        notes.append(f"{len(small)} image(s) have a short side < 161 px: MS-SSIM uses fewer than 5 scales there")

    stats = runner.SweepStats()
    points = runner.run_sweep(entries, images, cache, progress=not args.quiet, stats=stats)
    averaged = runner.average_points(points)
    curves = report.build_curves(averaged, published)
    anchor, warn = report.choose_anchor(curves, args.anchor)
    if warn:
        notes.append(warn)
        print(f"tfcodec eval: warning: {warn}", file=sys.stderr)

    def _v(dist):
        try:
            return version(dist)
        except PackageNotFoundError:
            return None

    payload = {
        "tool": "tfcodec eval",
        "tfcodec_version": tfcodec.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": {
            "data": str(args.data),
            "n_images": len(images),
            "images": [{"name": im.name, "height": int(im.rgb.shape[0]), "width": int(im.rgb.shape[1]),
                        "sha256": im.sha256} for im in images],
            "codecs": specs,
            "settings_overrides": overrides,
            "anchor_requested": args.anchor,
            "cache": None if cache_dir is None else str(cache_dir),
        },
        "environment": {"python": platform.python_version(), "tensorflow": _v("tensorflow"),
                        "numpy": _v("numpy"), "pillow": _v("pillow"), "pillow-heif": _v("pillow-heif"),
                        "pillow-jxl-plugin": _v("pillow-jxl-plugin"), "machine": platform.machine()},
        "method": report.METHOD_NOTES,
        "bd_method": bdrate.METHOD,
        "anchor": anchor,
        "anchor_reason": ANCHOR_REASON if anchor == DEFAULT_ANCHOR else "chosen with --anchor",
        "warnings": notes,
        "codecs": labels,
        "codec_info": {e.label: {"kind": e.kind, "describe": e.describe, "identity": e.identity,
                                 "settings": e.settings} for e in entries},
        "stats": {"points_computed": stats.computed, "points_from_cache": stats.cached},
        "curves": curves,
        "bd": report.bd_table(curves, anchor),
        "averaged": averaged,
        "points": points,
    }
    report.write_json(fileio.join(out, "results.json"), payload)
    report.write_csv(fileio.join(out, "points.csv"), points, averaged)
    report.write_markdown(fileio.join(out, "summary.md"), payload)
    data_name = os.path.basename(os.fspath(args.data).rstrip("/"))
    plots.write_plots(curves, out, title=f"{data_name or args.data} ({len(images)} images)",
                      max_bpp=args.max_bpp or None)

    print(f"{stats.computed} points computed, {stats.cached} from cache; results in {out}/ "
          "(summary.md, results.json, points.csv, psnr_vs_bpp.png, msssim_db_vs_bpp.png)")
    if anchor:
        print(f"BD against {anchor} (PCHIP):  codec: BD-rate(PSNR) BD-PSNR | BD-rate(MS-SSIM) BD-MS-SSIM")
        for r in payload["bd"]:
            print(f"  {r['codec']}: {report._signed(r['bd_rate_psnr'], 1, '%')} {report._signed(r['bd_psnr'], 2, 'dB')}"
                  f" | {report._signed(r['bd_rate_msssim'], 1, '%')} {report._signed(r['bd_msssim_db'], 2, 'dB')}")
    return payload
