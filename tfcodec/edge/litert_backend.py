"""The hyperprior pipeline's LiteRT backend: an export folder's TFLite models, without TensorFlow.

A backend runs roles and holds no codec logic (`tfcodec.codecs.hyperprior` is
the codec). The exported models leave out the quality gains, which are numpy
here (`gain_vector`, the tables in coding.npz); every role runs in tiles where
its input exceeds a static model's size or `tiling.TILE_PIXELS`, and a static
model gets a smaller input padded to its size, its output cropped back.
"""

import hashlib
import json
import os

import numpy as np

from tfcodec import tiling
from tfcodec.edge.runtime import TFLiteModel, available_cpus, edgetpu_delegate
from tfcodec.errors import FormatError
from tfcodec.models.config import HyperpriorConfig

MANIFEST = "manifest.json"
SUPPORTED_FORMAT = ("tfcodec-edge", 1)
# Dynamic-shape models run an input larger than `tiling.TILE_PIXELS` (1024) a side in tiles of
# this many pixels: XNNPACK's buffers for a 1024-pixel tile are large, and slower to stream.
# Synthesis of a 4000x3000 photo on 2 cores (2026-12-07): 1024-pixel tiles 5.7 s and 807 MB
# peak RSS, 512: 4.5 s and 580 MB, 256: 6.9 s and 543 MB. Smaller inputs still run whole.
LARGE_INPUT_TILE_PIXELS = 512


def read_manifest(folder, what="an edge export"):
    """An export folder's manifest.json (dict), in one-line errors for a folder without one
    (`what` it should have been) or with a broken one."""
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise FormatError(f"{folder} is not {what} (no {MANIFEST}); make one with tfcodec export") from None
    except ValueError as e:
        raise FormatError(f"{path} is not valid JSON ({e})") from None


def gain_vector(log_table, quality):
    """The per-channel gain for a quality: log-linear interpolation of the table's rows,
    as `tfcodec.models.gains.QualityGains` does it (float32)."""
    levels = log_table.shape[0]
    position = np.float32(min(max(float(quality), 0.0), 1.0)) * np.float32(levels - 1)
    low = min(max(np.floor(position), np.float32(0.0)), np.float32(levels - 2))
    frac = np.float32(position - low)
    low = int(low)
    table = np.asarray(log_table, np.float32)
    return np.exp((np.float32(1.0) - frac) * table[low] + frac * table[low + 1]).astype(np.float32)


class LiteRTBackend:
    """The roles of an export folder (see `tfcodec export`), numpy (h, w, c) in and out.

    `manifest`, `config` and `coding` (the range-coder tables and integer nets,
    without the gain tables) describe the export; models load on first use.
    `num_threads`: LiteRT's threads per model, by default every CPU (LiteRT's own
    default is one: half the speed of two on a 2-core machine).
    """

    def __init__(self, folder, num_threads=None, edgetpu=False, verify=True):
        self.folder = folder
        self.num_threads = num_threads or available_cpus()
        self.edgetpu = edgetpu
        self.verify = verify
        path = os.path.join(folder, MANIFEST)
        self.manifest = m = read_manifest(folder)
        if (m.get("format"), m.get("version")) != SUPPORTED_FORMAT:
            raise FormatError(f"{path}: export format {m.get('format')} v{m.get('version')} is not supported")
        self.config = HyperpriorConfig.from_dict(m["config"])
        coding_path = os.path.join(folder, m["coding"]["file"])
        self._check_file(coding_path, m["coding"].get("sha256"))
        with np.load(coding_path, allow_pickle=False) as npz:
            self.coding = {k: npz[k] for k in npz.files}
        self.log_gain = self.coding.pop("gains/log_gain")
        self.log_inverse_gain = self.coding.pop("gains/log_inverse_gain")
        self._models = {}
        self._delegate = None

    def _check_file(self, path, sha256):
        if not os.path.exists(path):
            raise FormatError(f"{path} is missing from the export")
        if self.verify and sha256:
            with open(path, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != sha256:
                    raise FormatError(f"{path} does not match its manifest (modified, or from another export)")

    def model(self, role):
        """The TFLite model of a role, loaded on first use (an encoder never loads the decoder)."""
        if role not in self._models:
            entry = self.manifest["models"].get(role)
            if entry is None:
                raise FormatError(f"the export has no {role} model")
            delegates = None
            if self.edgetpu:
                path = os.path.join(self.folder, entry["file"].replace(".tflite", "_edgetpu.tflite"))
                if not os.path.exists(path):
                    raise FormatError(f"{path} is missing: compile the export with edgetpu_compiler "
                                      "(see report.txt) or run without --edgetpu")
                if self._delegate is None:
                    self._delegate = edgetpu_delegate()
                delegates = [self._delegate]
            else:
                path = os.path.join(self.folder, entry["file"])
                self._check_file(path, entry.get("sha256"))
            self._models[role] = TFLiteModel(path, self.num_threads, delegates)
        return self._models[role]

    # -- the roles -----------------------------------------------------------------

    def analyse(self, x, quality):
        """Padded image (H, W, 3) in [0, 1] -> y * gain (H/16, W/16, M)."""
        # A static model sees an image narrower or shorter than its input with
        # padding where TF's convolutions see their own zeros. No padding is
        # exact there; reflection comes closest for a trained model (Kodak
        # portraits through a 512x768 export: -0.30 dB at q = 0.5 against
        # -0.76 dB with edge replication; docs/edge.md).
        y = self._run("analysis", x, mode="reflect")
        return y * gain_vector(self.log_gain, quality)[None, None, :]

    def hyper_analyse(self, y):
        return self._run("hyper_analysis", y)

    def lrp(self, i, context):
        """Slice i's latent residual from its context (mean features, then slices 0..i)."""
        return self._run(f"lrp_{i}", context)

    def synthesise(self, y_hat, quality):
        """Corrected latent (h, w, M) -> image (16h, 16w, 3), through the inverse gain."""
        return self._run("synthesis", y_hat * gain_vector(self.log_inverse_gain, quality)[None, None, :])

    def _run(self, role, array, mode="constant"):
        """Runs a role on (h, w, c), in tiles where the input exceeds the model's static
        size or TILE_PIXELS (`tfcodec.tiling`: the stitched output is the whole input's)."""
        model = self.model(role)
        size = model.static_size
        tile = tuple(size) if size is not None else tiling.default_tile(role)
        if size is None and (array.shape[0] > tile[0] or array.shape[1] > tile[1]):
            side = LARGE_INPUT_TILE_PIXELS if role == "analysis" else LARGE_INPUT_TILE_PIXELS // 16
            tile = (side, side)
        try:
            return tiling.run_tiled(lambda part: self._run_piece(model, part, mode), array, tile,
                                    tiling.hyperprior_geometry(role, self.config))
        except tiling.TilingError:
            if size is None:
                raise
            pixels = 1 if role == "analysis" else 16
            raise FormatError(
                f"this export's static input ({size[1] * pixels}x{size[0] * pixels} pixels at its {role} "
                f"model) is too small to tile an image larger than it; export with a larger --height/--width "
                "(320 or more), or without them (dynamic shapes) for CPU runtimes") from None

    @staticmethod
    def _run_piece(model, array, mode):
        """One model call. A static-shape model gets an input smaller than its size padded
        at the bottom/right (reflected image, zero latents) and its output cropped back."""
        h, w = array.shape[:2]
        size = model.static_size
        if size is not None:
            array = np.pad(array, ((0, size[0] - h), (0, size[1] - w), (0, 0)), mode=mode)
        out = model(array[None])[0]
        scale = out.shape[0] / array.shape[0]
        return out[:round(h * scale), :round(w * scale)]
