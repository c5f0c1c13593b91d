"""Where the LiteRT models of a weights bundle live: shipped beside it, or built once into a cache.

`tfcodec compress` and `decompress` run the hyperprior transforms on LiteRT
float models (`tfcodec.edge.EdgeCodec`) instead of Keras, so that a command
costs its arithmetic rather than TensorFlow's import (about 3.8 s of a 5 s
command on a 2-core machine). The models are a float32 `tfcodec export`
folder of the very weights a stream names:

* shipped models: `tfcodec/weights/NAME.litert/`, made by
  `tfcodec export --model NAME --float32 --out tfcodec/weights/NAME.litert`
  and checked against the bundle by the tests (tests/test_fast_path.py);
* any other hyperprior bundle: exported once on first use with
  `--backend litert` (that one time needs TensorFlow) into
  `$TFCODEC_CACHE/litert/WEIGHTS_HASH/` (default `~/.cache/tfcodec`), then
  found there by its weights hash, also when decoding a stream that names it.

Float32 with dynamic shapes: the same graphs as the Keras transforms, so
pixels agree with the TF path to rounding (docs/speed.md measures it).
"""

import os
import shutil
import tempfile

from tfcodec.errors import FormatError

from tfcodec.edge.litert_backend import MANIFEST
from tfcodec.weights import PACKAGE_WEIGHTS

SHIPPED_SUFFIX = ".litert"


def cache_root():
    """$TFCODEC_CACHE, else $XDG_CACHE_HOME/tfcodec, else ~/.cache/tfcodec."""
    root = os.environ.get("TFCODEC_CACHE")
    if root:
        return root
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                        "tfcodec")


def shipped_folder(name):
    """The shipped export of a shipped model name, or None."""
    folder = os.path.join(PACKAGE_WEIGHTS, name + SHIPPED_SUFFIX)
    return folder if os.path.exists(os.path.join(folder, MANIFEST)) else None


def cached_folder(weights_hash):
    """The cached export of the weights with this 8-byte hash, or None."""
    folder = os.path.join(cache_root(), "litert", weights_hash.hex())
    return folder if os.path.exists(os.path.join(folder, MANIFEST)) else None


def folder_for_stream(model_id, weights_hash):
    """The export that decodes a stream naming (model_id, weights_hash), or None. A shipped
    model's folder is returned only for the shipped weights' hash."""
    import json

    folder = shipped_folder(model_id) if os.sep not in model_id and "/" not in model_id else None
    if folder:
        with open(os.path.join(folder, MANIFEST)) as f:
            if json.load(f).get("weights_hash") == weights_hash.hex():
                return folder
    return cached_folder(weights_hash)


def build_cached(bundle_path, weights_hash, progress=None):
    """Exports a hyperprior bundle to float32 TFLite into the cache (TensorFlow, once); the folder.

    The export is written to a scratch folder beside its place and renamed into
    it, so a process killed halfway leaves no half-written model for the next.
    """
    from tfcodec.export.exporter import ExportOptions, load_export_bundle
    from tfcodec.models import bundle_family

    bundle, _ = load_export_bundle(bundle_path)  # refuses a family without an edge export
    if not bundle_family(bundle).stream_codec:
        raise FormatError(f"{bundle.model} refines JPEG files and writes no tfcodec streams: "
                          "run `tfcodec enhance`")
    final = os.path.join(cache_root(), "litert", weights_hash.hex())
    os.makedirs(os.path.dirname(final), exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".building-", dir=os.path.dirname(final))
    try:
        if progress:
            progress(f"exporting {bundle.model} ({bundle_path}) to LiteRT once, into {final} ...")
        bundle_family(bundle).load("edge_export")(bundle_path, scratch, ExportOptions(mode="float32"),
                                                   progress=None)
        try:
            os.rename(scratch, final)
        except OSError:  # another process finished first: its folder is as good
            if not os.path.exists(os.path.join(final, MANIFEST)):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final
