"""The JPEG refiner for the edge: TFLite models, and the LiteRT backend that runs them.

    DIR/refine_<k>.tflite   (JPEG pixels in [0, 1], conditioning) -> refined pixels, k steps
    DIR/manifest.json       model, weights hash, config, best step count, each model's I/O
    DIR/report.txt          sizes and ops

One model per step count (1 to the trained count): a phone that wants one
step runs a third of the network, and each int8 model is calibrated on its
own activations. Shapes are dynamic (any image whose sides are multiples of
16; the refiner pads). The phase planes of a whole image (its grid starts at
the corner) are a constant 8x8 pattern tiled over the image, so the models
hold no COS or SIN, which have no int8 kernels.

int8 calibration: training crops (never Kodak) re-encoded by libjpeg at
qualities spread over the trained range, 4:2:0 and 4:4:4, through the same
range measurement as the hyperprior export (`graphs.quantize_int8`). The Edge
TPU is not a target: its compiler wants static shapes, and the refiner's cost
on a phone's CPU is already a fraction of a second (docs/jpeg_refine.md).
"""

import json
import os
import tempfile
import time

import numpy as np

from tfcodec import fileio
from tfcodec.errors import FormatError
from tfcodec.export.exporter import FORMAT, FORMAT_VERSION, MANIFEST, REPORT
from tfcodec.export.flatbuffer import float_operators, read_model
from tfcodec.fileio import write_atomic
from tfcodec.jpegfile import CONDITIONING_SIZE

FAMILY = "jpeg-refine"
MODES = ("float32", "float16", "int8")
# Calibration: the crops' qualities (fractions of the trained range) and chroma modes.
CALIBRATION_QUALITIES = (0.0, 0.2, 0.45, 0.7, 1.0)


def role(k):
    return f"refine_{k}"


def _phase_pattern():
    """(1, 8, 8, 8): the half-resolution phase planes of a grid starting at the corner,
    one period of both (4 and 8 positions): `jpeg_refine.phase_planes` at phase 0."""
    import tensorflow as tf

    from tfcodec.models.jpeg_refine import phase_planes

    return phase_planes(8, 8, tf.zeros((1, 2), tf.int32)).numpy()


def _functions(model):
    """{role: fn(jpeg (1, H, W, 3), conditioning (1, 130)) -> clipped estimate}, k = 1..K."""
    import tensorflow as tf

    pattern = tf.constant(_phase_pattern())

    def make(k):
        def refine(jpeg, conditioning):
            shape = tf.shape(jpeg)
            planes = tf.tile(pattern, tf.stack([1, shape[1] // 16, shape[2] // 16, 1]))
            estimate = model.run({"jpeg": jpeg, "conditioning": conditioning}, k, planes=planes)[-1]
            return tf.clip_by_value(estimate, 0.0, 1.0)
        return refine

    return {role(k): make(k) for k in range(1, model.config.iterations + 1)}


def calibration_samples(config, folder, count, seed=0):
    """[{"jpeg", "conditioning"}]: training crops through libjpeg at spread qualities."""
    import tensorflow as tf

    from tfcodec.images import calibration_crops
    from tfcodec.train.jpeg_degrade import validation_example

    samples = []
    for i, crop in enumerate(calibration_crops(folder, count, seed=seed)):
        quality = CALIBRATION_QUALITIES[i % len(CALIBRATION_QUALITIES)]
        example = validation_example(config, quality, subsampled=i % 2 == 0)(tf.constant(crop))
        samples.append({"jpeg": example["jpeg"].numpy()[None],
                        "conditioning": example["conditioning"].numpy()[None]})
    return samples


def export(weights, out_dir, options, progress=print):
    """Exports a jpeg-refine bundle (`tfcodec export --model jpeg-refine ...`); the manifest."""
    import keras
    import tensorflow as tf

    from tfcodec.export import graphs, runtimes
    from tfcodec.export.exporter import ExportError, load_export_bundle, target_runtime
    from tfcodec.models import model_from_bundle

    start = time.perf_counter()
    say = progress or (lambda _message: None)
    if options.mode == "edgetpu":
        raise ExportError("the JPEG refiner has no Edge TPU export (its compiler needs static shapes); "
                          "use --int8 for phones and boards")
    if options.mode not in MODES:
        raise ExportError(f"unknown mode {options.mode!r}")
    if options.height or options.width:
        raise ExportError("the JPEG refiner's models take any size: leave out --height/--width")
    if options.mode == "int8" and not options.calibration:
        raise ExportError("int8 export needs --calibration FOLDER of training images")
    target = target_runtime(options)
    bundle, config = load_export_bundle(weights)
    if options.expect_model and options.expect_model != bundle.model:
        raise ExportError(f"{weights} holds model {bundle.model!r}, not {options.expect_model!r}")
    out_dir = os.fspath(out_dir)
    fileio.makedirs(out_dir)
    model = model_from_bundle(bundle)
    samples = None
    if options.mode == "int8":
        samples = calibration_samples(config, options.calibration, options.calibration_images, options.seed)
        say(f"calibration: {len(samples)} training crops through libjpeg from {options.calibration}")
    functions = _functions(model)
    say(f"model {bundle.model} (weights {bundle.hash.hex()}), mode {options.mode} for {target.name}, "
        f"{len(functions)} models (1 to {config.iterations} steps)")
    models, converted = {}, {}
    with tempfile.TemporaryDirectory(prefix="tfcodec-export-") as folder:
        archive = keras.export.ExportArchive()
        archive.track(model)
        signature = [tf.TensorSpec((1, None, None, 3), tf.float32, name="jpeg"),
                     tf.TensorSpec((1, CONDITIONING_SIZE), tf.float32, name="conditioning")]
        for name, function in functions.items():
            archive.add_endpoint(name, tf.function(function), input_signature=signature)
        archive.write_out(folder, verbose=False)
        for name in functions:
            t0 = time.perf_counter()
            converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=[name])
            if options.mode == "float16":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.target_spec.supported_types = [tf.float16]
            data = (graphs.quantize_int8(converter, samples) if options.mode == "int8"
                    else converter.convert())
            info = read_model(data)
            filename = f"{name}.tflite"
            runtimes.check(filename, info, target)  # before anything is written
            floating = float_operators(info) if options.mode == "int8" else []
            if floating:
                raise ExportError(f"{name}: these ops kept float kernels in the int8 model: "
                                  + ", ".join(sorted({op.name for op in floating})))
            converted[filename] = data
            models[name] = {"file": filename, "bytes": len(data), "ops": info.op_counts(),
                            "op_versions": info.op_versions(),
                            "inputs": [t.name for t in info.inputs]}
            say(f"{filename}: {len(data) / 1024:.0f} KiB, {sum(info.op_counts().values())} ops "
                f"({time.perf_counter() - t0:.1f} s)")
    for filename, data in converted.items():
        write_atomic(fileio.join(out_dir, filename), data)
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "family": FAMILY, "model": bundle.model,
                "weights_hash": bundle.hash.hex(), "config": json.loads(config.to_json()),
                "mode": options.mode, "runtime": runtimes.manifest_entry(target),
                "best_iterations": bundle.meta.get("best_iterations", config.iterations),
                "models": models}
    write_atomic(fileio.join(out_dir, MANIFEST), json.dumps(manifest, indent=1).encode())
    report = "\n".join([f"tfcodec edge export: {bundle.model} weights {bundle.hash.hex()}, {options.mode} "
                        f"for {target.name}"]
                       + [f"{name:<10} {m['bytes'] / 1024:>6.0f} KiB  "
                          + ", ".join(f"{op} x{n}" for op, n in m["ops"].items()) for name, m in models.items()])
    write_atomic(fileio.join(out_dir, REPORT), (report + "\n").encode())
    say(f"wrote {out_dir} in {time.perf_counter() - start:.0f} s")
    return manifest


class LiteRTRefiner:
    """The LiteRT backend of `JpegRefiner`: an export folder's models, no TensorFlow."""

    def __init__(self, folder, manifest, num_threads=None):
        from tfcodec.edge.runtime import available_cpus

        self.folder = folder
        self.manifest = manifest
        self.num_threads = num_threads or available_cpus()
        self._models = {}

    def run(self, image, cond, iterations):
        from tfcodec.edge.runtime import TFLiteModel

        name = role(iterations)
        if name not in self._models:
            entry = self.manifest["models"].get(name)
            if entry is None:
                raise FormatError(f"{self.folder} has no model for {iterations} steps")
            self._models[name] = TFLiteModel(os.path.join(self.folder, entry["file"]), self.num_threads)
        out = self._models[name](image[None], np.asarray(cond, np.float32)[None])
        return out[0]


def load_exported_refiner(folder):
    """A `JpegRefiner` over an export folder of a jpeg-refine model (LiteRT)."""
    from tfcodec.codecs.jpeg_refine import JpegRefiner
    from tfcodec.edge.litert_backend import read_manifest

    manifest = read_manifest(folder, "an export folder")
    if manifest.get("family") != FAMILY or \
            (manifest.get("format"), manifest.get("version")) != (FORMAT, FORMAT_VERSION):
        raise FormatError(f"{folder} is not an export of a JPEG refiner (family "
                          f"{manifest.get('family', 'hyperprior')!r})")
    iterations = len(manifest["models"])
    return JpegRefiner(LiteRTRefiner(folder, manifest), manifest["model"], manifest["weights_hash"], iterations,
                       manifest.get("best_iterations"), runtime=f"litert {manifest['mode']}")
