"""Compress and decompress with an exported model folder: LiteRT + numpy, no TensorFlow.

Encoder: analysis (TFLite) -> y * gain (numpy) -> hyper-analysis (TFLite) -> z,
then `LatentCoder.encode` (numpy, shared with the TF coder) writes the strings.
Decoder: `LatentCoder.decode` rebuilds the latents from the strings with the
integer entropy-parameter nets, then LRP and synthesis (TFLite) make pixels.

The stream is the TF coder's format, bit for bit in layout and in the tables
it selects: every table index comes from `LatentCoder`'s integer arithmetic on
the decoded symbols, never from a TFLite output, so a stream decodes to the
same latent symbols here and in `tfcodec decompress`. Only pixels (synthesis,
LRP) and the encoder's choice of y depend on the int8 models.
"""

import hashlib
import json
import os

import numpy as np

from tfcodec import container, tiling
from tfcodec.codecs.latent_coding import (
    RATE_SCALE,
    LatentCoder,
    check_image,
    dequantise,
    pad_image,
    quality_to_rate,
    search_quality,
    to_uint8,
)
from tfcodec.edge.runtime import TFLiteModel, edgetpu_delegate
from tfcodec.entropy.integer_net import PARAM_EXPONENT
from tfcodec.errors import FormatError
from tfcodec.models.config import HyperpriorConfig

MANIFEST = "manifest.json"
SUPPORTED_FORMAT = ("tfcodec-edge", 1)


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


def _pad_to(array, size, mode):
    """Pads (h, w, c) at the bottom/right to `size` (static-shape models)."""
    h, w = array.shape[:2]
    return np.pad(array, ((0, size[0] - h), (0, size[1] - w), (0, 0)), mode=mode)


class EdgeCodec:
    """compress/decompress with an export folder (see `python -m tfcodec.export`)."""

    family = "hyperprior"

    def __init__(self, models_dir, num_threads=None, edgetpu=False, verify=True):
        self.folder = models_dir
        path = os.path.join(models_dir, MANIFEST)
        try:
            with open(path) as f:
                self.manifest = json.load(f)
        except FileNotFoundError:
            raise FormatError(f"{models_dir} is not an edge export (no {MANIFEST}); "
                              "make one with python -m tfcodec.export") from None
        except ValueError as e:
            raise FormatError(f"{path} is not valid JSON ({e})") from None
        m = self.manifest
        if (m.get("format"), m.get("version")) != SUPPORTED_FORMAT:
            raise FormatError(f"{path}: export format {m.get('format')} v{m.get('version')} is not supported")
        self.name = m["model"]
        self.identity = m["weights_hash"]
        self.config = HyperpriorConfig.from_dict(m["config"])
        self.num_threads = num_threads
        self.edgetpu = edgetpu
        self.verify = verify
        coding_path = os.path.join(models_dir, m["coding"]["file"])
        self._check_file(coding_path, m["coding"].get("sha256"))
        with np.load(coding_path, allow_pickle=False) as npz:
            coding = {k: npz[k] for k in npz.files}
        self.log_gain = coding.pop("gains/log_gain")
        self.log_inverse_gain = coding.pop("gains/log_inverse_gain")
        self.latents = LatentCoder(self.config, coding, self.name, bytes.fromhex(self.identity))
        self._models = {}
        self._delegate = None

    @property
    def rate_settings(self):
        return [round(q, 3) for q in np.linspace(0.0, 1.0, 9)]

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

    def _run(self, role, array, mode="constant"):
        """Runs a role on (h, w, c), in tiles where the input exceeds the model's static
        size or TILE_PIXELS (`tfcodec.tiling`: the stitched output is the whole input's)."""
        model = self.model(role)
        size = model.static_size
        tile = tuple(size) if size is not None else tiling.default_tile(role)
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
            array = _pad_to(array, size, mode)
        out = model(array[None])[0]
        scale = out.shape[0] / array.shape[0]
        return out[:round(h * scale), :round(w * scale)]

    # -- encoder -----------------------------------------------------------------

    def analyse(self, rgb, quality):
        """(y * gain, z) float32 for an RGB uint8 image: what `LatentCoder.encode` takes."""
        padded = pad_image(rgb)
        x = padded.astype(np.float32) / np.float32(255.0)
        # A static model sees an image narrower or shorter than its input with
        # padding where TF's convolutions see their own zeros. No padding is
        # exact there; reflection comes closest for a trained model (Kodak
        # portraits through a 512x768 export: -0.30 dB at q = 0.5 against
        # -0.76 dB with edge replication; docs/edge.md).
        y = self._run("analysis", x, mode="reflect")
        y = y * gain_vector(self.log_gain, quality)[None, None, :]
        z = self._run("hyper_analysis", y)
        return y, z

    def encode_latents(self, rgb, quality):
        """(header, strings, decoded latents), as `HyperpriorCoder.encode_latents`."""
        rgb = check_image(rgb)
        rate = quality_to_rate(quality)
        y, z = self.analyse(rgb, rate / RATE_SCALE)
        return self.latents.encode(y, z, rgb.shape[0], rgb.shape[1], rate)

    def compress(self, rgb, quality=0.5):
        header, strings, _ = self.encode_latents(rgb, quality)
        return container.pack(header, strings)

    def compress_for_bpp(self, rgb, bpp):
        return search_quality(self.compress, check_image(rgb), bpp)

    # -- decoder -----------------------------------------------------------------

    def decode_latents(self, header, strings):
        return self.latents.decode(header, strings)

    def synthesise(self, decoded, mean_feat, quality):
        """Fixed-point latents -> float image (padded size) in [0, 1]."""
        y_hat = [d[0] for d in dequantise(decoded)]
        if self.config.channelwise:
            mean_float = (mean_feat[0] / 2.0**PARAM_EXPONENT).astype(np.float32)
            y_hat = [y_hat[i] + self._run(f"lrp_{i}", np.concatenate([mean_float] + y_hat[:i + 1], axis=-1))
                     for i in range(self.config.num_slices)]
        y = np.concatenate(y_hat, axis=-1) * gain_vector(self.log_inverse_gain, quality)[None, None, :]
        return self._run("synthesis", y)

    def decompress(self, data):
        header, strings = container.unpack(data)
        decoded, mean_feat = self.latents.decode(header, strings)
        x_hat = self.synthesise(decoded, mean_feat, header.rate / RATE_SCALE)
        return to_uint8(x_hat, header.height, header.width)
