"""One exported TFLite model behind a float-in, float-out call (LiteRT, no TensorFlow).

The interpreter comes from `ai_edge_litert` (fallback: `tflite_runtime`).
Quantised models are fed and read through their own input/output scale and
zero point, so the caller never sees int8. Dynamic-shape models are resized
to each input; static-shape (Edge TPU) models take exactly their size, and the
codec pads smaller inputs and tiles larger ones (`tfcodec.tiling`).
"""

import os
import sys

import numpy as np

from tfcodec.errors import FormatError
from tfcodec.tensorflow_start import muted_stderr

EDGETPU_LIBRARY = {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib", "win32": "edgetpu.dll"}


def _interpreter_module():
    try:
        from ai_edge_litert import interpreter
    except ImportError:
        try:
            from tflite_runtime import interpreter
        except ImportError:
            raise FormatError("the edge runtime needs ai-edge-litert (pip install ai-edge-litert) "
                              "or tflite-runtime") from None
    return interpreter


def runtime_release(module):
    """(package name, version) of the interpreter module in use, e.g. ("tflite_runtime", "2.14.0")."""
    package = sys.modules.get(module.__name__.split(".")[0])
    return package.__name__, getattr(package, "__version__", "unknown")


def load_error(path, module, error):
    """The one-line FormatError for an interpreter that cannot load a model file: for an
    operator version it lacks, which one, and the `tfcodec export --runtime` that fits it."""
    from tfcodec.export import runtimes

    package, version = runtime_release(module)
    missing = runtimes.missing_op(error)
    if missing is None:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return FormatError(f"{path}: {package} {version} cannot load this model ({first})")
    op, op_version = missing
    # tflite_runtime's version is the TensorFlow release it was built from; ai-edge-litert's
    # is its own.
    target = runtimes.target_for(op, op_version, version if package == "tflite_runtime" else None)
    return FormatError(f"{path}: {package} {version} has no {op} version {op_version}; re-export "
                       f"the model with tfcodec export --runtime {target.name}")


def available_cpus():
    """The CPUs this process may run on (its affinity where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def edgetpu_delegate():
    module = _interpreter_module()
    library = EDGETPU_LIBRARY.get(sys.platform, "libedgetpu.so.1")
    try:
        return module.load_delegate(library)
    except (ValueError, OSError) as e:
        raise FormatError(f"cannot load the Edge TPU runtime {library} ({e}); "
                          "install libedgetpu or run without --edgetpu") from None


def quantize(x, scale, zero_point, dtype):
    info = np.iinfo(dtype)
    q = np.rint(np.asarray(x, np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q, scale, zero_point):
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


class TFLiteModel:
    """An exported TFLite model with one output, called with float32 arrays, one per input
    (the JPEG refiner has two: the image, then its conditioning vector). The image comes
    first: its shape is the one a dynamic model is resized to and a static one checked for."""

    def __init__(self, path, num_threads=None, delegates=None):
        if not os.path.exists(path):
            raise FormatError(f"model file {path} is missing")
        module = _interpreter_module()
        kwargs = {"model_path": path}
        if num_threads:
            kwargs["num_threads"] = int(num_threads)
        if delegates:
            kwargs["experimental_delegates"] = list(delegates)
        self.path = path
        self._module = module
        # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." from C++ on
        # fd 2 as it builds an interpreter: a line per model in every command's output.
        try:
            with muted_stderr():
                self.interpreter = module.Interpreter(**kwargs)
        except (ValueError, RuntimeError) as e:
            raise load_error(path, module, e) from None
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if not inputs or len(outputs) != 1:
            raise FormatError(f"{path}: expected one output and at least one input")
        # The largest input is the image; the others keep the converter's order.
        self._inputs = sorted(inputs, key=lambda d: -len(d["shape"]))
        self._input, self._output = self._inputs[0], outputs[0]
        signature = self._input.get("shape_signature", self._input["shape"])
        self.dynamic = bool(np.any(np.asarray(signature) < 0))
        self.input_shape = tuple(int(d) for d in self._input["shape"])
        self.input_dtype = self._input["dtype"]
        self.output_dtype = self._output["dtype"]
        # A dynamic model is allocated for its first input's shape: its placeholder shape
        # (1x1 pixels) need not be one its ops accept (a space-to-depth step of 2 is not).
        self._allocated = not self.dynamic
        if self._allocated:
            self._allocate()

    @property
    def static_size(self):
        """(h, w) of a static input, None when dynamic."""
        return None if self.dynamic else self.input_shape[1:3]

    def _prepare(self, shape):
        index = self._input["index"]
        current = next(d for d in self.interpreter.get_input_details() if d["index"] == index)
        if self._allocated and tuple(shape) == tuple(int(d) for d in current["shape"]):
            return
        if not self.dynamic:
            raise FormatError(f"{os.path.basename(self.path)} takes {self.input_shape}, got {tuple(shape)}")
        self.interpreter.resize_tensor_input(index, list(shape), strict=True)
        self._allocate()
        self._allocated = True

    def _allocate(self):
        """allocate_tensors, where each kernel checks its tensors: a kernel registered at the
        model's op version may still refuse its types (an older runtime's), in one line."""
        try:
            with muted_stderr():  # the XNNPACK delegate's INFO line comes at the first allocation
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise load_error(self.path, self._module, e) from None

    def __call__(self, x, *others):
        if len(others) != len(self._inputs) - 1:
            raise FormatError(f"{os.path.basename(self.path)} takes {len(self._inputs)} inputs, "
                              f"got {1 + len(others)}")
        self._prepare(np.shape(x))
        details = {d["index"]: d for d in self.interpreter.get_input_details()}
        for entry, value in zip(self._inputs, (x,) + others):
            detail = details[entry["index"]]
            value = np.asarray(value, np.float32)
            scale, zero = detail["quantization"]
            if np.issubdtype(detail["dtype"], np.integer) and scale:
                value = quantize(value, scale, zero, detail["dtype"])
            self.interpreter.set_tensor(detail["index"], value)
        self.interpreter.invoke()
        out_detail = self.interpreter.get_output_details()[0]
        y = self.interpreter.get_tensor(out_detail["index"])
        scale, zero = out_detail["quantization"]
        if np.issubdtype(self.output_dtype, np.integer) and scale:
            return dequantize(y, scale, zero)
        return np.array(y, np.float32)
