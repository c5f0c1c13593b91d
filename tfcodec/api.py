"""The Python API: load a codec by name or weights path, compress, decompress.

    from tfcodec.api import load_codec
    codec = load_codec("default")           # or "rnn", a shipped name, or a .npz path
    data = codec.compress(rgb_uint8, 0.5)   # quality (hyperprior) / iterations (recurrent)
    rgb = codec.decompress(data)

    codec = load_codec("default", backend="litert")   # the same streams, without TensorFlow

Every codec has `name`, `identity` (weights hash), `rate_settings` (the sweep
an evaluation uses), `compress`, `decompress` and `compress_for_bpp`.

Backends (the transforms; streams are interchangeable, docs/speed.md):
"tf" runs the Keras model (needed to train, refine, or run the recurrent
family); "litert" runs float32 LiteRT models of the same weights
(`tfcodec.edge.exports`: shipped with the shipped models, exported once into a
cache for other hyperprior weights) and imports no TensorFlow; "auto" is
"litert" where such models already exist and "tf" otherwise. The command line
uses "auto"; this API defaults to "tf", the reference that training and
evaluation compare against.
"""

import functools
import os

from tfcodec import container
from tfcodec.errors import FormatError

DEFAULT_MODEL = "cw2020-small-full-range"
# The recurrent model to use when rate control by truncation matters: the one
# trained for MS-SSIM, which is what the recurrent family is judged on.
DEFAULT_RECURRENT_MODEL = "rnn-gru-small-msssim-late"
# The shipped JPEG refiner (`tfcodec enhance`, the `jpeg+refine` evaluation codec).
DEFAULT_REFINER = "jpeg-refine-small"
_ALIASES = {"default": DEFAULT_MODEL, "rnn": DEFAULT_RECURRENT_MODEL, "jpeg-refine": DEFAULT_REFINER}
BACKENDS = ("auto", "litert", "tf")


def load_codec(name_or_path="default", refine_steps=0, backend="tf", progress=None):
    """`refine_steps` > 0 (hyperprior models): the encoder refines each image's
    latents by that many gradient steps, slower encoding for smaller files (TF only).
    `progress(message)` hears of a one-time LiteRT export (backend "litert")."""
    # Positional, so that load_codec(x) and load_codec(x, refine_steps=0) share one cached codec.
    return _load_codec(name_or_path, int(refine_steps), backend, progress)


@functools.lru_cache(maxsize=8)
def _load_codec(name_or_path, refine_steps, backend, progress):
    from tfcodec import fileio
    from tfcodec.weights import PACKAGE_WEIGHTS, resolve

    if backend not in BACKENDS:
        raise FormatError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if refine_steps and backend == "litert":
        raise FormatError("refinement needs gradients: use the tf backend (--backend tf)")
    name = _ALIASES.get(name_or_path, name_or_path)
    path = resolve(name)
    data = None  # the weights file's bytes, once read: the hash finds a cached export, the tf path loads them
    if backend == "litert" or (backend == "auto" and not refine_steps and litert_installed()):
        from tfcodec.edge import exports

        folder = exports.shipped_folder(name) if os.path.dirname(path) == PACKAGE_WEIGHTS else None
        if folder is None:
            data = fileio.read_bytes(path)
            weights_hash = container.weights_hash(data)
            folder = exports.cached_folder(weights_hash)
            if folder is None and backend == "litert":  # "auto" never exports
                folder = exports.build_cached(path, weights_hash, progress)
        if folder:
            return _litert_codec(folder)
    return _tf_codec(path, refine_steps, data)


def litert_installed():
    import importlib.util

    return any(importlib.util.find_spec(name) for name in ("ai_edge_litert", "tflite_runtime"))


def _litert_codec(folder):
    from tfcodec.edge import EdgeCodec

    return EdgeCodec(folder)


def _tf_codec(path, refine_steps, data=None):
    from tfcodec.models import bundle_family
    from tfcodec.tensorflow_start import require_tensorflow
    from tfcodec.weights import load_bundle

    bundle = load_bundle(path, data)
    if not bundle_family(bundle).stream_codec:
        raise FormatError(f"{bundle.model} refines JPEG files and writes no tfcodec streams: "
                          f"run `tfcodec enhance IN.jpg OUT.png --model {name_for_refiner(path)}`")
    require_tensorflow(f"the {bundle_family(bundle).name} model {bundle.model} on the tf backend")
    return bundle_family(bundle).load("codec")(bundle, refine_steps=refine_steps)


def codec_for_stream(data, model=None, backend="tf"):
    """The codec that decodes `data`: --model if given, else the model the header names (on
    "auto", its LiteRT models where they exist for the exact weights the stream names)."""
    header, _ = container.unpack(data)
    if model or backend == "tf":
        return load_codec(model or header.model_id, backend=backend)
    return _codec_for_header(header.model_id, header.weights_hash, backend)


@functools.lru_cache(maxsize=8)
def _codec_for_header(model_id, weights_hash, backend):
    from tfcodec.edge import exports

    folder = exports.folder_for_stream(model_id, weights_hash)
    if folder and (backend == "litert" or litert_installed()):
        return _litert_codec(folder)
    return load_codec(model_id, backend=backend)


def name_for_refiner(path):
    """How a user names a refiner's weights on the command line: the shipped alias or the path."""
    from tfcodec.weights import PACKAGE_WEIGHTS

    return "jpeg-refine" if path == os.path.join(PACKAGE_WEIGHTS, f"{DEFAULT_REFINER}.npz") else path


@functools.lru_cache(maxsize=4)
def load_refiner(name_or_path="jpeg-refine", backend="auto"):
    """A JPEG refiner (`tfcodec.codecs.jpeg_refine.JpegRefiner`): a shipped name or weights
    .npz, or a folder written by `tfcodec export` for one (LiteRT). Backend "auto" runs the
    shipped refiner on its float LiteRT export beside the weights (no TensorFlow), "tf" on
    Keras; other weights run on Keras."""
    from tfcodec import fileio
    from tfcodec.models import bundle_family
    from tfcodec.tensorflow_start import require_tensorflow
    from tfcodec.weights import PACKAGE_WEIGHTS, load_bundle, resolve

    if backend not in ("auto", "tf"):
        raise FormatError(f"a refiner's backend is auto or tf, not {backend!r}")
    name = _ALIASES.get(name_or_path, name_or_path)
    if fileio.isdir(name):
        from tfcodec.export.jpeg_refine import load_exported_refiner

        return load_exported_refiner(name)
    path = resolve(name)
    data = None  # the weights file's bytes, once read for the hash: the Keras path loads them
    if backend == "auto" and os.path.dirname(path) == PACKAGE_WEIGHTS and litert_installed():
        from tfcodec.edge import exports
        from tfcodec.export.jpeg_refine import load_exported_refiner

        folder = exports.shipped_folder(name)
        try:
            refiner = load_exported_refiner(folder) if folder else None
        except FormatError:  # a shipped codec's export: the bundle check below says so
            refiner = None
        # only an export of these very weights (a replaced .npz runs on Keras)
        if refiner is not None:
            data = fileio.read_bytes(path)
            if refiner.weights_hash == container.weights_hash(data).hex():
                return refiner
    bundle = load_bundle(path, data)
    family = bundle_family(bundle)
    if family.stream_codec:
        raise FormatError(f"{name_or_path} is a {family.name} model, not a JPEG refiner "
                          f"(shipped refiner: {DEFAULT_REFINER})")
    require_tensorflow(f"the JPEG refiner {bundle.model}")
    return family.load("codec")(bundle)


def backend_name(codec):
    """"litert" or "tf": which backend runs a codec's transforms (for the commands' summary lines)."""
    from tfcodec.edge import EdgeCodec

    return "litert" if isinstance(codec, EdgeCodec) else "tf"
