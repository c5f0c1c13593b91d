"""The JPEG refiner as users run it: JPEG bytes in, a better image out.

    read the header (tables, chroma mode; refuse what the model cannot take)
    -> decode with libjpeg (Pillow: accurate integer IDCT, fancy upsampling,
       the decoder training used; tests hold the two to the same pixels)
    -> pad to whole 16x16 MCUs (the grid keeps phase 0) -> refine K steps
       (in 1024-pixel tiles beyond that size) -> crop, round to uint8

A backend runs the network and nothing else: `KerasRefiner` (TensorFlow, a
weights bundle) or `tfcodec.export.jpeg_refine.LiteRTRefiner` (an int8 or
float TFLite export). The rate is the JPEG file's own: nothing is added to it.
"""

import io
from fractions import Fraction

import numpy as np

from tfcodec.errors import FormatError
from tfcodec.images import pad_image, to_uint8
from tfcodec.jpegfile import CONDITIONING_SIZE, conditioning, read_header
from tfcodec.models.config import JPEG_REFINE_STRIDE
from tfcodec.tiling import TILE_PIXELS, Geometry, run_tiled

# The network's reach: the trunk and the quarter-resolution branch about 32 pixels, then
# 6 per step (three 3x3 convolutions at half resolution) and some slack; tests check it
# on the real layers. Tiles overlap by this much, so tiling changes no pixel's context.
GEOMETRY = Geometry(Fraction(1), halo=64, align=JPEG_REFINE_STRIDE)


def decode_jpeg(data, source="input"):
    """(uint8 RGB pixels as libjpeg decodes them, the `JpegHeader`); FormatError for files the
    refiner cannot take (read_header) or that libjpeg cannot decode (truncated data)."""
    from PIL import Image

    from tfcodec.fileio import MAX_IMAGE_PIXELS

    header = read_header(data, source)
    if header.width * header.height > MAX_IMAGE_PIXELS:
        raise FormatError(f"{source}: {header.width}x{header.height} is too large "
                          f"(more than {MAX_IMAGE_PIXELS} pixels)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.mode != "RGB":
                raise FormatError(f"{source}: a {image.mode} JPEG is not supported; the refiner takes "
                                  "colour (YCbCr) JPEGs")
            rgb = np.asarray(image, dtype=np.uint8).copy()
    except FormatError:
        raise
    except (OSError, ValueError, SyntaxError) as e:
        raise FormatError(f"{source}: the JPEG data cannot be decoded ({e})") from None
    return rgb, header


class JpegRefiner:
    """Refines JPEG files with one jpeg-refine model over a backend (`run(image, cond, K)`)."""

    family = "jpeg-refine"

    def __init__(self, backend, name, weights_hash, iterations, best_iterations=None, runtime=""):
        self.backend = backend
        self.name = name
        self.weights_hash = weights_hash                  # hex, of the bundle the weights came from
        # what a cached evaluation point depends on: the weights, and the runtime if not Keras
        self.identity = f"{weights_hash}; {runtime}" if runtime else weights_hash
        self.iterations = int(iterations)                 # the most steps the backend runs
        self.best_iterations = int(best_iterations or iterations)  # the default

    @classmethod
    def from_bundle(cls, bundle, refine_steps=0):
        from tfcodec.models import bundle_config

        if refine_steps:
            raise FormatError("a JPEG refiner has no encoder to refine")
        config = bundle_config(bundle)
        return cls(KerasRefiner(bundle), bundle.model, bundle.hash.hex(), config.iterations,
                   bundle.meta.get("best_iterations"))

    def steps(self, iterations):
        """`iterations` (None: the best) checked against what the model runs."""
        k = self.best_iterations if iterations is None else int(iterations)
        if not 1 <= k <= self.iterations:
            raise FormatError(f"--iterations must be in 1..{self.iterations} for {self.name}, not {k}")
        return k

    def refine(self, rgb, header, iterations=None):
        """Decoded JPEG pixels (uint8) and their header -> refined uint8 pixels."""
        k = self.steps(iterations)
        height, width = rgb.shape[:2]
        cond = conditioning(header)
        padded = pad_image(rgb, JPEG_REFINE_STRIDE).astype(np.float32) / 255.0
        side = TILE_PIXELS // JPEG_REFINE_STRIDE * JPEG_REFINE_STRIDE
        refined = run_tiled(lambda tile: self.backend.run(tile, cond, k), padded, (side, side), GEOMETRY)
        return to_uint8(refined, height, width)

    def enhance(self, data, iterations=None, source="input"):
        """JPEG file bytes -> refined uint8 RGB pixels."""
        rgb, header = decode_jpeg(data, source)
        return self.refine(rgb, header, iterations)

    # A refiner writes no streams: the stream commands say what to run instead.
    def compress(self, *_args, **_kwargs):
        raise FormatError(f"{self.name} refines JPEG files and writes no tfcodec streams: "
                          f"run `tfcodec enhance IN.jpg OUT.png --model {self.name}`")

    decompress = compress


class KerasRefiner:
    """The TensorFlow backend: a bundle's Keras model, one traced function per step count."""

    def __init__(self, bundle):
        import tensorflow as tf

        from tfcodec.models import model_from_bundle

        self.model = model_from_bundle(bundle)
        signature = (tf.TensorSpec((1, None, None, 3), tf.float32), tf.TensorSpec((1, CONDITIONING_SIZE), tf.float32))
        self._runs = {}
        for k in range(1, self.model.config.iterations + 1):
            def run(jpeg, cond, k=k):
                return self.model.run({"jpeg": jpeg, "conditioning": cond,
                                       "phase": tf.zeros((1, 2), tf.int32)}, iterations=k)[-1]
            self._runs[k] = tf.function(run, input_signature=signature, autograph=False)

    def run(self, image, cond, iterations):
        """(H, W, 3) float32 in [0, 1], H and W multiples of 16 -> the refined (H, W, 3)."""
        out = self._runs[iterations](image[None], np.asarray(cond, np.float32)[None])
        return out.numpy()[0]


def export_coding(model, calibration_folder, count=16, seed=0):
    """A refiner has no coding arrays. Its bundle records the best step count on training
    crops re-encoded by libjpeg (4:2:0, qualities spread over the trained range): the
    default of `enhance`, and the error of each step count, to show later steps pay."""
    import tensorflow as tf

    from tfcodec.images import calibration_crops
    from tfcodec.train.jpeg_degrade import validation_example

    config = model.config
    crops = calibration_crops(calibration_folder, count, seed=seed)
    examples = []
    for i, crop in enumerate(crops):
        quality = (i % 7 + 1) / 8.0  # spread over the trained range
        example = validation_example(config, quality)(tf.constant(crop))
        examples.append({k: v[None] for k, v in example.items()})
    errors = np.zeros(config.iterations)
    for example in examples:
        estimates = model.run(example)
        for k, estimate in enumerate(estimates):
            refined = np.floor(np.clip(estimate.numpy(), 0, 1) * 255 + 0.5) / 255
            errors[k] += np.mean((refined - example["image"].numpy()) ** 2)
    best = int(np.argmin(errors)) + 1
    return {}, {"best_iterations": best, "calibration_mse_per_iteration": (errors / len(examples)).tolist()}
