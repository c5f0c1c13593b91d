"""tfcodec.importers.torch_checkpoint: reading torch.save files without torch.

The files in tests/data/compressai come from tools/make_compressai_vectors.py (real
torch.save output, zip and legacy). Cases torch would not write as they are needed here
(big-endian files, _rebuild_tensor_v3, tensors past their storage, hostile globals) are
pickles written opcode by opcode in torch's layouts, so no test needs torch."""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from tfcodec.errors import FormatError
from tfcodec.importers import torch_checkpoint

DATA = os.path.join(os.path.dirname(__file__), "data", "compressai")
FILES = [("bmshj2018-hyperprior", "bmshj2018-hyperprior.pth.tar"),
         ("bmshj2018-hyperprior", "bmshj2018-hyperprior-legacy.pth.tar"),
         ("mbt2018-mean", "mbt2018-mean.pth.tar"),
         ("mbt2018-mean", "mbt2018-mean-checkpoint.pth.tar")]


# Buffers CompressAI derives on update(): only bmshj2018-hyperprior.pth.tar keeps them (as zoo
# files do); the other files leave them out to stay small (tools/make_compressai_vectors.py).
DERIVED = ("_quantized_cdf", "_offset", "_cdf_length")


@pytest.mark.parametrize("arch,name", FILES)
def test_state_dict_is_torch_s(arch, name):
    with np.load(os.path.join(DATA, f"{arch}.npz")) as vectors:
        expected = {k[len("state/"):]: vectors[k] for k in vectors.files if k.startswith("state/")}
    if name != "bmshj2018-hyperprior.pth.tar":
        expected = {k: v for k, v in expected.items() if not k.endswith(DERIVED)}
    got = torch_checkpoint.state_dict(torch_checkpoint.load(os.path.join(DATA, name)))
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        assert np.array_equal(got[key], value), key
        assert got[key].flags.c_contiguous and got[key].flags.writeable


@pytest.mark.parametrize("name", ["dtypes.pth.tar", "dtypes-legacy.pth.tar"])
def test_dtypes_written_by_torch(name):
    """Each dtype, views (transposed, sliced, expanded, scalar, empty) and a Parameter, as torch.save wrote them."""
    with np.load(os.path.join(DATA, "dtypes.npz")) as vectors:
        expected = {k: vectors[k] for k in vectors.files}
    got = torch_checkpoint.load(os.path.join(DATA, name))
    assert list(got) == list(expected) and got["bfloat16"].dtype == np.float32
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape and np.array_equal(got[key], value), key


def test_training_checkpoint_and_bytes():
    with open(os.path.join(DATA, "mbt2018-mean-checkpoint.pth.tar"), "rb") as f:
        checkpoint = torch_checkpoint.load(f.read())
    assert sorted(checkpoint) == ["aux_optimizer", "epoch", "loss", "lr_scheduler", "optimizer", "state_dict"]
    assert (checkpoint["epoch"], checkpoint["loss"]) == (3, 1.25)
    assert isinstance(checkpoint["state_dict"], collections.OrderedDict)
    state = next(iter(checkpoint["optimizer"]["state"].values()))
    assert state["exp_avg"].dtype == np.float32 and state["step"].shape == ()
    assert checkpoint["lr_scheduler"]["best"] == 1.25
    assert "g_a.0.weight" in torch_checkpoint.state_dict(checkpoint)


def test_state_dict_unwraps_and_strips_module_prefix():
    a, b = np.zeros(2), np.ones(3)
    wrapped = {"model": {"module.g_a.0.weight": a, "module.g_a.0.bias": b, "module.n": 3}, "epoch": 1}
    assert list(torch_checkpoint.state_dict(wrapped)) == ["g_a.0.weight", "g_a.0.bias"]
    assert list(torch_checkpoint.state_dict({"module.x": a, "y": b})) == ["module.x", "y"]
    with pytest.raises(FormatError):
        torch_checkpoint.state_dict([a])


# --- pickles in torch's layouts, written without torch ---

class G:
    """A global as a pickle names it (GLOBAL opcode), for names that cannot be imported here."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self):  # pickle checks a reduce function is callable; this one is only named
        raise AssertionError


class T:
    """A tensor of storage `key`, pickled as torch does: rebuild(storage, offset, size, stride, ...)."""

    def __init__(self, key, offset, size, stride, rebuild="_rebuild_tensor_v2"):
        self.key, self.layout, self.rebuild = key, (offset, size, stride), rebuild


class Storage:
    def __init__(self, key):
        self.key = key


class Pickler(pickle._Pickler):
    def __init__(self, file, storages, legacy):
        super().__init__(file, protocol=2)
        self.storages, self.legacy = storages, legacy

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, G):
            return self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        return super().save(obj, save_persistent_id)

    def reducer_override(self, obj):
        if not isinstance(obj, T):
            return NotImplemented
        if obj.rebuild == "_rebuild_parameter":
            return G("torch._utils", obj.rebuild), (T(obj.key, *obj.layout), True, collections.OrderedDict())
        args = (Storage(obj.key), *obj.layout, False, collections.OrderedDict())
        if obj.rebuild == "_rebuild_tensor_v3":
            args += (G("torch", "float16"),)
        return G("torch._utils", obj.rebuild), args

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        name, array = self.storages[obj.key]
        return ("storage", G("torch", name), obj.key, "cpu", array.size) + ((None,) if self.legacy else ())


def checkpoint_bytes(obj, storages, legacy=False, big_endian=False):
    """torch.save's bytes for obj, whose T leaves live in storages {key: (StorageName, 1-D array)}."""
    order = ">" if big_endian else "<"
    raw = {k: a.astype(a.dtype.newbyteorder(order)).tobytes() for k, (_, a) in storages.items()}
    out = io.BytesIO()
    if legacy:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": not big_endian}):
            pickle.dump(header, out, protocol=2)
    Pickler(out, storages, legacy).dump(obj)
    if not legacy:
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as z:
            z.writestr("archive/data.pkl", out.getvalue())
            z.writestr("archive/byteorder", "big" if big_endian else "little")
            for key, data in raw.items():
                z.writestr(f"archive/data/{key}", data)
        return zipped.getvalue()
    pickle.dump(sorted(storages), out, protocol=2)
    for key in sorted(storages):
        out.write(struct.pack(order + "q", storages[key][1].size) + raw[key])
    return out.getvalue()


STORAGES = {"f": ("FloatStorage", np.arange(12, dtype=np.float32) - 5.5),
            "d": ("DoubleStorage", np.linspace(-1, 1, 5)),
            "h": ("HalfStorage", np.array([0.5, -2, 65504], np.float16)),
            "bf": ("BFloat16Storage", np.array([0x3F80, 0xC040, 0x3E20], np.uint16)),
            "l": ("LongStorage", np.array([-(2 ** 40), 7], np.int64)),
            "i": ("IntStorage", np.array([-3, 2 ** 30], np.int32)),
            "s": ("ShortStorage", np.array([-300, 5], np.int16)),
            "c": ("CharStorage", np.array([-128, 127], np.int8)),
            "u": ("ByteStorage", np.array([0, 255], np.uint8)),
            "b": ("BoolStorage", np.array([True, False, True]))}


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("big_endian", [False, True], ids=["little", "big"])
def test_dtypes_and_layouts(legacy, big_endian):
    f = STORAGES["f"][1]
    half = np.array([0.5, -2], ">f2" if big_endian else "<f2")  # bytes as a typed storage of the file's order
    storages = dict(STORAGES, raw=("UntypedStorage", half.view(np.uint8)))
    obj = collections.OrderedDict(
        transposed=T("f", 1, (3, 2), (1, 3)), shared=T("f", 0, (12,), (1,)), scalar=T("f", 4, (), ()),
        empty=T("f", 0, (0, 4), (4, 1)), param=T("f", 2, (2, 2), (2, 1), "_rebuild_parameter"),
        v3=T("raw", 0, (2,), (1,), "_rebuild_tensor_v3"),
        **{k: T(k, 0, (a.size,), (1,)) for k, (_, a) in STORAGES.items() if k != "f"})
    got = torch_checkpoint.load(checkpoint_bytes(obj, storages, legacy, big_endian))
    assert isinstance(got, collections.OrderedDict)
    assert np.array_equal(got["transposed"], f[1:7].reshape(2, 3).T) and got["transposed"].flags.c_contiguous
    assert np.array_equal(got["shared"], f) and got["scalar"] == f[4] and got["empty"].shape == (0, 4)
    assert np.array_equal(got["param"], f[2:6].reshape(2, 2))
    assert got["v3"].dtype == np.float16 and got["v3"].tolist() == [0.5, -2]
    assert got["bf"].dtype == np.float32 and got["bf"].tolist() == [1.0, -3.0, 0.15625]
    for key in ("d", "h", "l", "i", "s", "c", "u", "b"):
        assert got[key].dtype == STORAGES[key][1].dtype and np.array_equal(got[key], STORAGES[key][1]), key


def test_tensor_past_its_storage_is_refused():
    with pytest.raises(FormatError, match="past the end"):
        torch_checkpoint.load(checkpoint_bytes({"x": T("f", 10, (3,), (1,))}, STORAGES))


# --- files that are not checkpoints, or are hostile ---

def test_not_checkpoints(tmp_path):
    with open(os.path.join(DATA, "bmshj2018-hyperprior.pth.tar"), "rb") as f:
        zipped = f.read()
    with open(os.path.join(DATA, "bmshj2018-hyperprior-legacy.pth.tar"), "rb") as f:
        legacy = f.read()
    with open(os.path.join(DATA, "..", "golden_image.png"), "rb") as f:
        png = f.read()
    missing = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(zipped)) as src, zipfile.ZipFile(missing, "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith("/data/0"):
                dst.writestr(info, src.read(info))
    cases = {"truncated.pth": zipped[:len(zipped) // 2], "truncated-legacy.pth": legacy[:len(legacy) // 2],
             "random.pth": np.random.default_rng(0).bytes(5000), "missing.pth": missing.getvalue(),
             "empty.pth": b"", "png.pth": png}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(FormatError, match=f"^{tmp_path / name} is not a PyTorch checkpoint") as e:
            torch_checkpoint.load(tmp_path / name)
        assert "\n" not in str(e.value)
    with pytest.raises(FormatError, match="no storage record"):
        torch_checkpoint.load(missing.getvalue())
    with pytest.raises(FileNotFoundError):
        torch_checkpoint.load(tmp_path / "absent.pth")


@pytest.mark.parametrize("module,name", [("os", "system"), ("posix", "system"), ("builtins", "exec")])
def test_hostile_pickle_runs_nothing(tmp_path, module, name):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w')" if name == "exec" else f"touch {marker}"
    payload = (b"\x80\x02" + pickle.GLOBAL + f"{module}\n{name}\n".encode() + pickle.BINUNICODE
               + struct.pack("<I", len(code)) + code.encode() + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", payload)
    for data in (zipped.getvalue(), payload):  # zip, and where a legacy file's magic number would be
        with pytest.raises(FormatError, match=f"needs {module}.{name}"):
            torch_checkpoint.load(data)
    assert not marker.exists()
