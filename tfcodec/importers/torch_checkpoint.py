"""Reads files written by `torch.save` without torch: numpy and the standard library only.

A PyTorch checkpoint is a pickle, and unpickling calls whatever functions the file
names: `pickle.load` on a downloaded .pth.tar runs the downloader's code. So this reader
unpickles with `_Unpickler`, whose `find_class` hands out only an allowlist (OrderedDict,
the torch functions that rebuild tensors and parameters, storage and dtype names,
torch.Size, a few harmless builtins, numpy scalars), each mapped to a local stand-in that
builds numpy arrays; torch itself is never imported. Any other global is a FormatError
naming it, raised before anything runs (the same idea as torch.load(weights_only=True)).

Two layouts exist (torch/serialization.py):

- zip, the default since PyTorch 1.6: `<root>/data.pkl` is the object, whose persistent
  ids `('storage', FloatStorage, key, location, numel)` name raw records
  `<root>/data/<key>`; `<root>/byteorder` says their byte order ("little" when absent);
- legacy (`_use_new_zipfile_serialization=False`, and many 2020 CompressAI zoo files):
  five pickles in a row (magic number, protocol version, sys info, the object, the
  storage keys), then each storage as an int64 element count and its bytes, in key order.
  The storages come after the object that refers to them, so the object pickle is read
  twice: once to learn each storage's dtype (hence its byte length), once with the data.
"""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

from tfcodec import fileio
from tfcodec.errors import FormatError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# torch dtype name -> numpy type code; bfloat16 is read as its 16 bits and widened to float32.
_NUMPY = {"float32": "f4", "float64": "f8", "float16": "f2", "bfloat16": "u2", "int64": "i8",
          "int32": "i4", "int16": "i2", "int8": "i1", "uint8": "u1", "bool": "b1",
          "complex64": "c8", "complex128": "c16"}
_STORAGES = {"Float": "float32", "Double": "float64", "Half": "float16", "BFloat16": "bfloat16",
             "Long": "int64", "Int": "int32", "Short": "int16", "Char": "int8", "Byte": "uint8",
             "Bool": "bool", "ComplexFloat": "complex64", "ComplexDouble": "complex128"}


class _Storage:
    """One storage: its raw bytes (None on the first pass over a legacy file), dtype, byte order."""

    def __init__(self, data, dtype, order):
        self.data, self.dtype, self.order = data, dtype, order


def _tensor(storage, offset, size, stride, dtype=None):
    """The array torch would view into `storage`, as a contiguous native-order copy."""
    if not isinstance(storage, _Storage):
        raise TypeError("a tensor without a storage")
    if storage.data is None:
        return None
    dtype = dtype or storage.dtype
    code = np.dtype(storage.order + _NUMPY[dtype])
    flat = np.frombuffer(storage.data, code, count=len(storage.data) // code.itemsize)
    offset, size, stride = int(offset), tuple(map(int, size)), tuple(map(int, stride))
    if len(size) != len(stride) or min(size + stride + (offset,)) < 0:
        raise ValueError(f"bad tensor layout {size} / {stride} at {offset}")
    if 0 in size:
        array = np.zeros(size, code.newbyteorder("="))
    else:
        if offset + sum((n - 1) * s for n, s in zip(size, stride)) >= flat.size:
            raise ValueError("a tensor reaches past the end of its storage")
        view = np.lib.stride_tricks.as_strided(flat[offset:], size, [s * code.itemsize for s in stride])
        array = np.array(view, code.newbyteorder("="), order="C")
    if dtype == "bfloat16":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise TypeError("a numpy scalar that is not plain data")
    return np.frombuffer(data, dtype, count=1)[0]


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch", "Size"): tuple,
    ("torch._utils", "_rebuild_tensor"): _tensor,
    ("torch._utils", "_rebuild_tensor_v2"): lambda storage, offset, size, stride, *_: _tensor(
        storage, offset, size, stride),
    ("torch._utils", "_rebuild_tensor_v3"): lambda storage, offset, size, stride, grad, hooks, dtype, *_: _tensor(
        storage, offset, size, stride, dtype),
    ("torch._utils", "_rebuild_parameter"): lambda data, *_: data,
    ("torch._utils", "_rebuild_parameter_with_state"): lambda data, *_: data,
    ("torch", "UntypedStorage"): "uint8",
    ("torch.storage", "UntypedStorage"): "uint8",
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    **{("builtins", f.__name__): f for f in (set, frozenset, slice, complex)},
    **{("torch", name + "Storage"): dtype for name, dtype in _STORAGES.items()},
    **{("torch", dtype): dtype for dtype in _NUMPY},
}


class _Unpickler(pickle.Unpickler):
    """An unpickler that builds only allowlisted objects; `storage(key, dtype)` -> bytes or None."""

    def __init__(self, file, label, storage, order):
        super().__init__(file)
        self._label, self._storage, self._order = label, storage, order

    def find_class(self, module, name):
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise FormatError(f"{self._label} is not a PyTorch checkpoint tfcodec will read: it needs "
                              f"{module}.{name}, and only tensors and plain containers are loaded") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and pid[1] in _NUMPY):
            raise ValueError(f"unknown persistent id {pid!r:.80}")
        data = self._storage(str(pid[2]), pid[1])
        view = pid[5] if len(pid) > 5 else None
        if view is not None and data is not None:  # legacy storage views: (key, offset, numel)
            size = np.dtype(_NUMPY[pid[1]]).itemsize
            data = data[int(view[1]) * size:(int(view[1]) + int(view[2])) * size]
        return _Storage(data, pid[1], self._order)


def _load_zip(data, label):
    archive = zipfile.ZipFile(io.BytesIO(data))
    roots = [n[:-len("data.pkl")] for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if not roots:
        raise ValueError("a zip without <root>/data.pkl")
    root, names = roots[0], set(archive.namelist())
    order = archive.read(root + "byteorder") if root + "byteorder" in names else b"little"
    records = {}

    def storage(key, dtype):
        if key not in records:
            if f"{root}data/{key}" not in names:
                raise ValueError(f"no storage record {root}data/{key}")
            records[key] = archive.read(f"{root}data/{key}")
        return records[key]

    pickled = io.BytesIO(archive.read(root + "data.pkl"))
    return _Unpickler(pickled, label, storage, "<" if order.strip() == b"little" else ">").load()


def _load_legacy(data, label):
    f = io.BytesIO(data)

    def plain():  # the pickles around the object, which hold no storages
        return _Unpickler(f, label, None, "<").load()

    if plain() != _LEGACY_MAGIC or plain() != _LEGACY_PROTOCOL:
        raise ValueError("not the legacy magic number and protocol")
    info = plain()
    order = "<" if not isinstance(info, dict) or info.get("little_endian", True) else ">"
    start, dtypes = f.tell(), {}
    _Unpickler(f, label, lambda key, dtype: dtypes.setdefault(key, dtype) and None, order).load()
    records = {}
    for key in plain():
        if key not in dtypes:
            raise ValueError(f"storage {key!r} listed but never used")
        head = f.read(8)
        count = struct.unpack(order + "q", head)[0] if len(head) == 8 else -1
        records[key] = f.read(max(count, 0) * np.dtype(_NUMPY[dtypes[key]]).itemsize)
        if count < 0 or len(records[key]) < count * np.dtype(_NUMPY[dtypes[key]]).itemsize:
            raise ValueError(f"storage {key!r} is truncated")

    def storage(key, dtype):
        if key not in records:
            raise ValueError(f"no storage record {key!r}")
        return records[key]

    f.seek(start)
    return _Unpickler(f, label, storage, order).load()


def load(path):
    """The object `torch.save` wrote to `path` (a path, gs:// URL or the file's bytes), with
    every tensor and parameter as a numpy array and OrderedDicts as they were."""
    data = path if isinstance(path, (bytes, bytearray, memoryview)) else fileio.read_bytes(path)
    label = "data" if data is path else os.fspath(path)
    data = bytes(data)
    try:
        if data[:4] == b"PK\x03\x04":
            return _load_zip(data, label)
        if data[:2] == b"\x80\x02":
            return _load_legacy(data, label)
        reason = "neither a zip nor a pickle"
    except FormatError:
        raise
    except zipfile.BadZipFile as e:
        reason = f"truncated or corrupt zip: {e}"
    except (pickle.UnpicklingError, EOFError) as e:
        reason = f"truncated or corrupt pickle: {e}"
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, struct.error) as e:
        reason = str(e) or type(e).__name__
    raise FormatError(f"{label} is not a PyTorch checkpoint ({reason})")


def state_dict(obj):
    """The {name: array} weights in what `load` returned: a state dict itself, or a training
    checkpoint holding one under "state_dict" (what CompressAI's examples/train.py saves, beside
    epoch, loss and optimizer states) or "model". Non-array entries go; so does the "module."
    prefix nn.DataParallel puts on every name."""
    while isinstance(obj, dict) and any(isinstance(obj.get(k), dict) for k in ("state_dict", "model")):
        obj = obj["state_dict"] if isinstance(obj.get("state_dict"), dict) else obj["model"]
    if not isinstance(obj, dict):
        raise FormatError(f"a PyTorch checkpoint holding a {type(obj).__name__}, not a state dict")
    arrays = {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
    if arrays and all(k.startswith("module.") for k in arrays):
        arrays = {k[len("module."):]: v for k, v in arrays.items()}
    return arrays
