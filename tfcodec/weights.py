"""Weights bundles: one .npz per trained model, loadable with numpy alone.

A bundle holds the Keras weights (by variable path), everything coding needs
(CDF tables, integer entropy-parameter nets) and a JSON header naming the
model. Streams carry the first 8 bytes of the bundle file's SHA-256, so a
stream decodes only with the exact weights that wrote it.
"""

import dataclasses
import io
import json
import os

import numpy as np

from tfcodec import fileio
from tfcodec.container import weights_hash
from tfcodec.errors import FormatError

PACKAGE_WEIGHTS = os.path.join(os.path.dirname(__file__), "weights")
BUNDLE_VERSION = 1


@dataclasses.dataclass
class Bundle:
    meta: dict          # {"model": name, "family": ..., "version": 1, ...}
    keras: dict         # variable path -> array
    coding: dict        # name -> array, for the coding path
    hash: bytes         # 8-byte fingerprint carried by streams
    path: str = ""

    @property
    def model(self):
        return self.meta["model"]


def save_bundle(path, meta, keras_weights, coding):
    arrays = {"__meta__": np.frombuffer(json.dumps(dict(meta, version=BUNDLE_VERSION), sort_keys=True)
                                        .encode(), np.uint8)}
    arrays.update({f"keras/{k}": np.asarray(v) for k, v in keras_weights.items()})
    arrays.update({f"coding/{k}": np.asarray(v) for k, v in coding.items()})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    fileio.write_atomic(path, buffer.getvalue())


def load_bundle(path, data=None) -> Bundle:
    """The bundle at `path`: a local file or a URL (gs://, file://, ram://, ...). `data`: the
    file's bytes, where the caller has read them already."""
    try:
        if data is None:
            data = fileio.read_bytes(path)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(bytes(arrays.pop("__meta__")).decode())
    except FileNotFoundError:
        raise
    except Exception as e:  # a corrupt or foreign file: say so plainly
        raise FormatError(f"{path} is not a tfcodec weights file ({e})") from None
    if meta.get("version") != BUNDLE_VERSION:
        raise FormatError(f"{path}: weights bundle version {meta.get('version')} is not supported")
    keras_weights = {k[len("keras/"):]: v for k, v in arrays.items() if k.startswith("keras/")}
    coding = {k[len("coding/"):]: v for k, v in arrays.items() if k.startswith("coding/")}
    return Bundle(meta, keras_weights, coding, weights_hash(data), path)


def _normalised(path):
    """A variable path without Keras's per-process auto-numbering (conv2d_47 -> conv2d)."""
    import re
    return re.sub(r"_\d+(?=/|$)", "", path)


def keras_weights_of(model, dtype=np.float16):
    """A model's variables in creation order, keyed "0007:analysis/conv2d/kernel".

    Keys carry the position because Keras numbers auto-named layers per
    process; matching is by position and shape, the name is for people.
    Stored as float16 by default: it halves the shipped file, and the rounded
    weights are then the model (coding tables and integer nets are derived
    from them), so nothing drifts.
    """
    return {f"{i:04d}:{_normalised(v.path)}": np.asarray(v.numpy()).astype(dtype)
            for i, v in enumerate(model.weights)}


def assign_keras_weights(model, weights, source="weights"):
    variables = list(model.weights)
    ordered = [weights[k] for k in sorted(weights)]
    if len(ordered) != len(variables):
        raise FormatError(f"{source} do not fit model {model.name}: {len(ordered)} arrays for "
                          f"{len(variables)} variables (another architecture?)")
    for key, value, variable in zip(sorted(weights), ordered, variables):
        if tuple(variable.shape) != tuple(value.shape):
            raise FormatError(f"{source} do not fit model {model.name}: {key} has shape {value.shape}, "
                              f"the model's variable {variable.path} has {tuple(variable.shape)}")
    for value, variable in zip(ordered, variables):
        variable.assign(np.asarray(value, np.float32))


def resolve(name_or_path):
    """A shipped model name or a path (local, or a URL: gs://, file://, ...) -> the bundle's path."""
    name_or_path = os.fspath(name_or_path)
    if ("/" in name_or_path or os.path.sep in name_or_path  # paths, URLs among them
            or name_or_path.endswith(".npz") or os.path.exists(name_or_path)):
        if not fileio.exists(name_or_path):
            raise FormatError(f"weights file {name_or_path} does not exist")
        return name_or_path
    path = os.path.join(PACKAGE_WEIGHTS, f"{name_or_path}.npz")
    if not os.path.exists(path):
        shipped = sorted(f[:-4] for f in os.listdir(PACKAGE_WEIGHTS) if f.endswith(".npz")) \
            if os.path.isdir(PACKAGE_WEIGHTS) else []
        raise FormatError(f"no shipped model named {name_or_path!r}; shipped: {', '.join(shipped) or 'none'}")
    return path
