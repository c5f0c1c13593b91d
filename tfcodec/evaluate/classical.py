"""Classical codecs through Pillow and its plugins, behind the learned-codec interface.

Every codec here has the same four members as a tfcodec learned codec
(``name``, ``rate_settings``, ``compress``, ``decompress``) plus ``identity``,
so the runner treats them all alike and the cache notices a library upgrade.

Settings are each codec's ordinary photo defaults; only the rate knob is swept.
The sweeps were sized on BSDS500 training photos (never on Kodak) to cover
roughly 0.05-2 bpp; a codec that cannot go that low (JPEG's headers and DC
terms cost ~0.1-0.15 bpp) simply starts higher.

=========  ==========================================  =======  ==============================
codec      library / encoder                           chroma   swept knob and fixed settings
=========  ==========================================  =======  ==============================
jpeg       libjpeg-turbo (Pillow)                      4:2:0    quality 2-95; optimize=True
                                                                (optimised Huffman tables,
                                                                baseline, no progressive)
webp       libwebp (Pillow)                            4:2:0    quality 0-95; method=4
                                                                (cwebp default); lossy only
jp2        OpenJPEG (Pillow), JPEG 2000 part 1 .jp2    4:4:4    target bpp via quality_mode=
                                                                "rates" (ratio 24/bpp);
                                                                irreversible 9/7 wavelet and
                                                                mct=1 (ICT colour transform):
                                                                the usual lossy mode; Pillow's
                                                                defaults (5/3, no colour
                                                                transform) cost ~3 dB
avif       libavif + libaom (Pillow)                   4:2:0    quality 0-90; speed=6
                                                                (avifenc default); full range
heic       libheif + x265 (pillow-heif), HEVC intra    4:2:0    quality 0-70; libheif's x265
                                                                defaults (preset, tune)
jxl        libjxl (pillow-jxl-plugin), VarDCT          XYB      quality 0-95 (maps to
                                                       (no      butteraugli distance);
                                                       sub-     effort=7 (cjxl default)
                                                       sampling)
=========  ==========================================  =======  ==============================

4:2:0 is what JPEG/WebP/AVIF/HEIC do by default for people (cameras, browsers,
phones); JPEG 2000 and JPEG XL have no chroma subsampling in their usual
lossy modes. All sizes are whole files, headers and containers included.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# Rate sweeps (see module docstring for how they were chosen).
_SWEEPS = {
    "jpeg": [2, 5, 8, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 85, 90, 95],
    "webp": [0, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95],
    # target bpp (OpenJPEG rate control is accurate to ~1%)
    "jp2": [0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5],
    # quality 0 is libaom's coarsest quantiser (q 63): AVIF's floor
    "avif": [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90],
    # pillow-heif quality -> x265 QP; ~2 bpp on photos at 55-60
    "heic": [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70],
    # quality 0 = butteraugli distance 25, libjxl's coarsest setting
    "jxl": [0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95],
}


@dataclass
class PillowCodec:
    """A classical codec: one Pillow format, fixed options, one swept knob."""

    name: str
    pillow_format: str
    rate_settings: list
    describe: str
    options: dict = field(default_factory=dict)
    setting_to_options: Callable[[Any], dict] | None = None
    _identity: str | None = None

    def _save_options(self, setting) -> dict:
        opts = dict(self.options)
        if self.setting_to_options is not None:
            opts.update(self.setting_to_options(setting))
        else:
            opts["quality"] = int(setting)
        return opts

    def compress(self, rgb: np.ndarray, setting) -> bytes:
        from PIL import Image

        _register_plugins()
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"{self.name}: expected uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
        buf = io.BytesIO()
        Image.fromarray(rgb, "RGB").save(buf, format=self.pillow_format, **self._save_options(setting))
        return buf.getvalue()

    def decompress(self, data: bytes) -> np.ndarray:
        from PIL import Image

        _register_plugins()
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()

    @property
    def identity(self) -> str:
        """Library versions plus fixed options: a change invalidates cached points."""
        if self._identity is None:
            self._identity = f"{_library_versions(self.name)}; options={sorted(self.options.items())!r}"
        return self._identity


_PLUGINS_DONE = False


def _register_plugins() -> None:
    """Register HEIF (pillow-heif) and JPEG XL (pillow-jxl-plugin) with Pillow, once."""
    global _PLUGINS_DONE
    if _PLUGINS_DONE:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL format on import)
    except ImportError:
        pass
    _PLUGINS_DONE = True


def _dist_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _library_versions(name: str) -> str:
    import PIL
    from PIL import features

    base = f"Pillow {PIL.__version__}"
    if name == "jpeg":
        return f"{base}; libjpeg-turbo {features.version('libjpeg_turbo')}"
    if name == "webp":
        return f"{base}; libwebp {features.version('webp')}"
    if name == "jp2":
        return f"{base}; openjpeg {features.version('jpg_2000')}"
    if name == "avif":
        return f"{base}; libavif {features.version('avif')}"
    if name == "heic":
        import pillow_heif

        info = pillow_heif.libheif_info()
        return f"{base}; pillow-heif {pillow_heif.__version__}; libheif {info.get('libheif')}; {info.get('HEIF')}"
    if name == "jxl":
        return f"{base}; pillow-jxl-plugin {_dist_version('pillow-jxl-plugin')}"
    return base


def _jp2_rate(bpp) -> dict:
    # OpenJPEG's "rates" are compression ratios against 24-bit RGB.
    return {"quality_mode": "rates", "quality_layers": [24.0 / float(bpp)]}


def _make(name: str) -> PillowCodec:
    if name == "jpeg":
        return PillowCodec(
            "jpeg", "JPEG", list(_SWEEPS["jpeg"]),
            "JPEG, libjpeg-turbo, 4:2:0, optimised Huffman",
            options={"subsampling": "4:2:0", "optimize": True},
        )
    if name == "webp":
        return PillowCodec(
            "webp", "WEBP", list(_SWEEPS["webp"]),
            "WebP lossy, libwebp method 4, 4:2:0",
            options={"method": 4, "lossless": False},
        )
    if name == "jp2":
        return PillowCodec(
            "jp2", "JPEG2000", list(_SWEEPS["jp2"]),
            "JPEG 2000, OpenJPEG, 9/7 irreversible + ICT, 4:4:4, setting = target bpp",
            options={"irreversible": True, "mct": 1, "no_jp2": False},
            setting_to_options=_jp2_rate,
        )
    if name == "avif":
        return PillowCodec(
            "avif", "AVIF", list(_SWEEPS["avif"]),
            "AVIF, libaom via libavif, speed 6, 4:2:0",
            options={"speed": 6, "subsampling": "4:2:0", "codec": "auto"},
        )
    if name == "heic":
        return PillowCodec(
            "heic", "HEIF", list(_SWEEPS["heic"]),
            "HEIC, x265 intra via libheif, 4:2:0",
            options={"chroma": 420},
        )
    if name == "jxl":
        return PillowCodec(
            "jxl", "JXL", list(_SWEEPS["jxl"]),
            "JPEG XL VarDCT, libjxl effort 7",
            options={"effort": 7, "lossless": False},
        )
    raise KeyError(name)


CLASSICAL = ("jpeg", "webp", "jp2", "avif", "heic", "jxl")


def get_classical(name: str) -> PillowCodec:
    """The classical codec called ``name`` (one of :data:`CLASSICAL`)."""
    if name not in CLASSICAL:
        raise KeyError(f"unknown classical codec {name!r}; known: {', '.join(CLASSICAL)}")
    return _make(name)
