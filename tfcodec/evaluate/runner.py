"""The sweep: every codec x rate setting x image, with a cache and a progress bar.

Each point is a real round trip: ``compress`` returns the file's bytes (the
rate is their length, headers included) and ``decompress`` gets only those
bytes back. Points are cached one JSON file each, keyed on the codec's name
and identity (library versions and options, or a learned model's weights
hash), the setting, the image's pixel hash and the metrics version, so adding
a codec, a setting or an image computes only what is new, and upgrading a
library or retraining a model recomputes only that codec.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfcodec import fileio
from tfcodec.errors import FormatError
from tfcodec.evaluate import metrics
from tfcodec.evaluate.classical import CLASSICAL, get_classical

IMAGE_SUFFIXES = (".png", ".ppm", ".pnm", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp")
DEFAULT_CODECS = ",".join(CLASSICAL) + ",tfcodec:default"


class EvalError(Exception):
    """A problem with the evaluation's inputs that a person should read (no traceback)."""


@dataclass
class EvalImage:
    name: str
    rgb: np.ndarray  # uint8 HxWx3
    sha256: str

    @property
    def pixels(self) -> int:
        return int(self.rgb.shape[0] * self.rgb.shape[1])


def image_hash(rgb: np.ndarray) -> str:
    """Hash of the pixels and shape (not the file), so re-saved copies share cache entries."""
    h = hashlib.sha256()
    h.update(repr(tuple(rgb.shape)).encode())
    h.update(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
    return h.hexdigest()


def _basename(path) -> str:
    return os.path.basename(os.fspath(path).rstrip("/"))


def list_folder(data_dir) -> list[str]:
    """Full paths of the image files directly in ``data_dir`` (local or a URL), sorted by name."""
    data_dir = os.fspath(data_dir)
    if fileio.is_url(data_dir):
        import tensorflow as tf

        names = [n for n in tf.io.gfile.listdir(data_dir) if not n.endswith("/")]
        paths = [fileio.join(data_dir, n) for n in names]
        paths = [p for p in paths if not tf.io.gfile.isdir(p)]
    else:
        paths = [os.path.join(data_dir, n) for n in os.listdir(data_dir)]
        paths = [p for p in paths if os.path.isfile(p)]
    return sorted((p for p in paths if os.path.splitext(p)[1].lower() in IMAGE_SUFFIXES), key=_basename)


def load_images(data_dir, limit: int | None = None) -> list[EvalImage]:
    """The images in ``data_dir`` (not recursive; a local folder or a gs://, file://, ...
    URL), sorted by name, as 8-bit RGB."""
    import io

    from PIL import Image

    data_dir = os.fspath(data_dir)
    if not fileio.isdir(data_dir):
        raise EvalError(f"--data {data_dir}: not a directory")
    files = list_folder(data_dir)
    if limit is not None:
        files = files[:limit]
    if not files:
        raise EvalError(f"--data {data_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    images = []
    for path in files:
        try:
            source = io.BytesIO(fileio.read_bytes(path)) if fileio.is_url(path) else path
            with Image.open(source) as im:
                rgb = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
        except OSError as e:
            raise EvalError(f"cannot read image {path}: {e}") from e
        images.append(EvalImage(_basename(path), rgb, image_hash(rgb)))
    return images


def is_file(path) -> bool:
    """Whether ``path`` names a file (local or a URL); False for a model name."""
    path = os.fspath(path)
    if fileio.is_url(path):
        return fileio.exists(path) and not fileio.isdir(path)
    return os.path.isfile(path)


# ----------------------------------------------------------------------------- codecs


def split_codecs(spec: str) -> list[str]:
    """``"jpeg,webp,tfcodec:NAME"`` -> list of codec specs (empty items dropped)."""
    return [s.strip() for s in spec.split(",") if s.strip()]


def _file_sha256(path) -> str:
    if fileio.is_url(path):
        return hashlib.sha256(fileio.read_bytes(path)).hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class CodecEntry:
    """A codec to sweep, with the label it gets in tables and plots."""

    label: str
    codec: object
    identity: str
    settings: list
    kind: str  # "classical" or "learned"
    describe: str


def _check_available(name: str) -> None:
    from PIL import features

    needs = {
        "jpeg": ("jpg", "Pillow built with libjpeg"),
        "webp": ("webp", "Pillow built with libwebp"),
        "jp2": ("jpg_2000", "Pillow built with OpenJPEG"),
        "avif": ("avif", "Pillow >= 11.3 built with libavif"),
    }
    if name in needs:
        feature, what = needs[name]
        if not features.check(feature):
            raise EvalError(f"codec {name} needs {what}")
    elif name == "heic":
        try:
            import pillow_heif  # noqa: F401
        except ImportError as e:
            raise EvalError("codec heic needs pillow-heif (pip install pillow-heif)") from e
    elif name == "jxl":
        try:
            import pillow_jxl  # noqa: F401
        except ImportError as e:
            raise EvalError("codec jxl needs pillow-jxl-plugin (pip install pillow-jxl-plugin)") from e


def _split_refinement(spec: str, ref: str) -> tuple[str, int]:
    """``NAME+refine=N`` -> (NAME, N): the encoder refines latents N steps."""
    name, sep, steps = ref.rpartition("+refine=")
    if not sep:
        return ref, 0
    if not name or not steps.isdigit() or int(steps) < 1:
        raise EvalError(f"{spec}: write the refinement as tfcodec:NAME+refine=STEPS, STEPS >= 1")
    return name, int(steps)


def resolve_codec(spec: str, settings: list | None = None) -> CodecEntry:
    """Turn a ``--codecs`` item into a codec: a classical name or ``tfcodec:NAME``."""
    if spec.startswith("tfcodec:"):
        ref = spec[len("tfcodec:"):]
        if not ref:
            raise EvalError("tfcodec: needs a model name or weights path, e.g. tfcodec:default")
        try:
            from tfcodec.api import load_codec
        except ImportError as e:
            raise EvalError(f"{spec}: the learned-codec API (tfcodec.api) is not available: {e}") from e
        ref, refine_steps = _split_refinement(spec, ref)
        try:
            codec = load_codec(ref, refine_steps=refine_steps) if refine_steps else load_codec(ref)
        except (OSError, KeyError, ValueError, FormatError) as e:
            raise EvalError(f"{spec}: cannot load the model: {e}") from e
        identity = getattr(codec, "identity", None)
        if callable(identity):
            identity = identity()
        if not identity:
            if is_file(ref):
                identity = f"weights-sha256:{_file_sha256(ref)}"
            else:
                import tfcodec

                identity = f"name={codec.name}; tfcodec {tfcodec.__version__}; no identity attribute"
                warnings.warn(
                    f"{spec}: the codec has no `identity` (weights hash); cached points are keyed on "
                    "its name only and go stale if the weights change (use --no-cache)",
                    stacklevel=2,
                )
        label = f"tfcodec:{codec.name}" if is_file(ref) else f"tfcodec:{ref}"
        if refine_steps:
            # Refined files decode with the same weights, but are other points.
            from tfcodec.codecs.refine import settings_label

            identity = f"{identity}; {settings_label(refine_steps)}"
            label += f"+refine={refine_steps}"
        chosen = list(settings) if settings is not None else list(codec.rate_settings)
        return CodecEntry(label, codec, str(identity), chosen, "learned", f"tfcodec learned codec {codec.name}")
    if spec.startswith("jpeg+refine"):
        return _refined_jpeg(spec, settings)
    name = spec.lower()
    if name not in CLASSICAL:
        raise EvalError(
            f"unknown codec {spec!r}: use {', '.join(CLASSICAL)}, jpeg+refine[:MODEL][@K] or tfcodec:NAME "
            "(model name or weights path)"
        )
    _check_available(name)
    codec = get_classical(name)
    chosen = list(settings) if settings is not None else list(codec.rate_settings)
    return CodecEntry(name, codec, codec.identity, chosen, "classical", codec.describe)


def _refined_jpeg(spec: str, settings: list | None) -> CodecEntry:
    """``jpeg+refine[:MODEL][@K]``: the jpeg codec's files decoded by a JPEG refiner."""
    from tfcodec.api import load_refiner
    from tfcodec.evaluate.refined_jpeg import RefinedJpegCodec, parse

    _check_available("jpeg")
    try:
        model, steps = parse(spec)
        codec = RefinedJpegCodec(load_refiner(model), steps, label=spec)
    except (OSError, ValueError, FormatError) as e:
        raise EvalError(f"{spec}: {e}") from e
    chosen = list(settings) if settings is not None else list(codec.rate_settings)
    return CodecEntry(spec, codec, codec.identity, chosen, "hybrid", codec.describe)


def parse_setting_value(text: str):
    """A ``--settings`` value: JSON if it parses (numbers), else the string itself."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_settings_overrides(items: list[str] | None) -> dict[str, list]:
    """``["jpeg=10,50,90", "tfcodec:default=1,2"]`` -> {codec spec: [settings]}."""
    out = {}
    for item in items or []:
        codec, sep, values = item.rpartition("=")
        if not sep or not codec.strip() or not values.strip():
            raise EvalError(f"--settings {item!r}: expected CODEC=V1,V2,... e.g. jpeg=10,50,90")
        out[codec.strip().lower() if not codec.strip().startswith("tfcodec:") else codec.strip()] = [
            parse_setting_value(v) for v in values.split(",") if v.strip()
        ]
    return out


# ----------------------------------------------------------------------------- cache


class PointCache:
    """One small JSON file per point under ``root/<codec>/``; ``root=None`` disables it.

    ``root`` may be a local folder or a URL (gs://, ...): there each point is one object,
    written to a temporary name and renamed, like the local files.
    """

    def __init__(self, root):
        self.root = os.fspath(root) if root is not None else None

    @staticmethod
    def key(entry: CodecEntry, setting, image: EvalImage) -> str:
        blob = json.dumps(
            {
                "codec": entry.label,
                "identity": entry.identity,
                "setting": setting,
                "image": image.sha256,
                "metrics": metrics.METRICS_VERSION,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def _folder(self, label: str) -> str:
        return fileio.join(self.root, re.sub(r"[^A-Za-z0-9_.-]+", "_", label))

    def _path(self, label: str, key: str) -> str:
        return fileio.join(self._folder(label), f"{key}.json")

    def get(self, label: str, key: str) -> dict | None:
        if self.root is None:
            return None
        try:
            return json.loads(fileio.read_bytes(self._path(label, key)))
        except (OSError, ValueError):
            return None

    def put(self, label: str, key: str, point: dict) -> None:
        if self.root is None:
            return
        path = self._path(label, key)
        fileio.makedirs(self._folder(label))
        if fileio.is_url(path):
            fileio.write_atomic(path, json.dumps(point).encode())
            return
        tmp = f"{path}.tmp{os.getpid()}"
        Path(tmp).write_text(json.dumps(point))
        os.replace(tmp, path)  # atomic: an interrupted run never leaves half a point


# ----------------------------------------------------------------------------- sweep


def measure(entry: CodecEntry, setting, image: EvalImage) -> dict:
    """One round trip: compress to bytes, decompress, measure rate and distortion."""
    t0 = time.perf_counter()
    data = entry.codec.compress(image.rgb, setting)
    t1 = time.perf_counter()
    if not isinstance(data, (bytes, bytearray)):
        raise EvalError(f"{entry.label}: compress returned {type(data).__name__}, not bytes")
    decoded = entry.codec.decompress(bytes(data))
    t2 = time.perf_counter()
    decoded = np.asarray(decoded)
    if decoded.shape != image.rgb.shape or decoded.dtype != np.uint8:
        raise EvalError(
            f"{entry.label} setting {setting!r} on {image.name}: decoded {decoded.dtype} {decoded.shape}, "
            f"expected uint8 {image.rgb.shape}"
        )
    h, w = image.rgb.shape[:2]
    ms = metrics.msssim(image.rgb, decoded)
    return {
        "codec": entry.label,
        "setting": setting,
        "image": image.name,
        "height": int(h),
        "width": int(w),
        "bytes": len(data),
        "bpp": metrics.bits_per_pixel(len(data), h, w),
        "psnr": metrics.psnr(image.rgb, decoded),
        "msssim": ms,
        "msssim_db": metrics.msssim_db(ms),
        "msssim_scales": metrics.msssim_scales(h, w)[0],
        "encode_s": t1 - t0,
        "decode_s": t2 - t1,
    }


@dataclass
class SweepStats:
    computed: int = 0
    cached: int = 0


def run_sweep(entries: list[CodecEntry], images: list[EvalImage], cache: PointCache,
              progress: bool = True, stats: SweepStats | None = None) -> list[dict]:
    """All per-image points for all codecs and settings, from the cache where possible."""
    from tqdm import tqdm

    stats = stats if stats is not None else SweepStats()
    total = sum(len(e.settings) for e in entries) * len(images)
    points = []
    interactive = sys.stderr.isatty()
    with tqdm(total=total, unit="pt", disable=not progress, file=sys.stderr,
              mininterval=0.5 if interactive else 30.0, dynamic_ncols=True) as bar:
        for entry in entries:
            for setting in entry.settings:
                bar.set_description(f"{entry.label} {json.dumps(setting)}", refresh=interactive)
                for image in images:
                    key = PointCache.key(entry, setting, image)
                    point = cache.get(entry.label, key)
                    if point is None:
                        point = measure(entry, setting, image)
                        cache.put(entry.label, key, point)
                        stats.computed += 1
                    else:
                        point["image"] = image.name  # same pixels may live under another name
                        stats.cached += 1
                    points.append(point)
                    bar.update(1)
    return points


def average_points(points: list[dict]) -> list[dict]:
    """Image-averaged points per (codec, setting), in sweep order.

    bpp, PSNR (dB), MS-SSIM and times are plain means over images; MS-SSIM dB
    is the dB of the mean MS-SSIM (as CompressAI reports it), not the mean of
    per-image dB.
    """
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        groups.setdefault((p["codec"], json.dumps(p["setting"], sort_keys=True)), []).append(p)
    out = []
    for (_codec, _s), ps in groups.items():
        ms = float(np.mean([p["msssim"] for p in ps]))
        out.append(
            {
                "codec": ps[0]["codec"],
                "setting": ps[0]["setting"],
                "image": "MEAN",
                "n_images": len(ps),
                "bytes": float(np.mean([p["bytes"] for p in ps])),
                "bpp": float(np.mean([p["bpp"] for p in ps])),
                "psnr": float(np.mean([p["psnr"] for p in ps])),
                "msssim": ms,
                "msssim_db": metrics.msssim_db(ms),
                "msssim_scales": int(min(p["msssim_scales"] for p in ps)),
                "encode_s": float(np.mean([p["encode_s"] for p in ps])),
                "decode_s": float(np.mean([p["decode_s"] for p in ps])),
            }
        )
    return out


# ----------------------------------------------------------------------------- published curves


def load_published(path) -> list[dict]:
    """Curves from a paper: ``{"name", "bpp", "psnr"?, "msssim_db"?}`` or a list of them.

    ``msssim`` (linear 0..1) is accepted and turned into dB; ``ms_ssim_db`` is
    an alias of ``msssim_db``. At least one quality list is required.
    """
    try:
        raw = json.loads(fileio.read_bytes(path))
    except (OSError, ValueError) as e:
        raise EvalError(f"--published {path}: {e}") from e
    items = raw.get("curves", [raw]) if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise EvalError(f"--published {path}: expected an object or a list of objects")
    curves = []
    for item in items:
        if not isinstance(item, dict) or "name" not in item or "bpp" not in item:
            raise EvalError(f"--published {path}: each curve needs 'name' and 'bpp'")
        bpp = [float(v) for v in item["bpp"]]
        psnr = item.get("psnr")
        msdb = item.get("msssim_db", item.get("ms_ssim_db"))
        if msdb is None and item.get("msssim") is not None:
            msdb = [metrics.msssim_db(float(v)) for v in item["msssim"]]
        if psnr is None and msdb is None:
            raise EvalError(f"--published {path}: curve {item['name']!r} needs 'psnr' and/or 'msssim_db'")
        for key, vals in (("psnr", psnr), ("msssim_db", msdb)):
            if vals is not None and len(vals) != len(bpp):
                raise EvalError(f"--published {path}: curve {item['name']!r}: {key} and bpp differ in length")
        curves.append(
            {
                "name": str(item["name"]),
                "bpp": bpp,
                "psnr": None if psnr is None else [float(v) for v in psnr],
                "msssim_db": None if msdb is None else [float(v) for v in msdb],
                "source": str(item.get("source", path)),
            }
        )
    return curves
