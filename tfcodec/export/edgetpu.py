"""Our own Edge TPU compatibility check over the .tflite flatbuffer, and the compiler.

The Edge TPU runs a model only when (coral.ai/docs/edgetpu/models-intro,
"Model requirements", compiler 16):

* every tensor is 8-bit quantized (int8 or uint8); 32-bit integers only as
  constants (biases, shape operands);
* every tensor size is fixed at compile time (no dynamic dimensions);
* tensors have at most 3 dimensions larger than 1 (batch 1 for images);
* the model has one subgraph;
* every operator is in the supported list below (with its constraints).

`check_model` applies these rules to each operator and tensor and returns the
offending operators by index and name. It cannot see the compiler's internal
limits (on-chip memory, some large TRANSPOSE_CONV or RESIZE ops left on the
CPU): those only `edgetpu_compiler` reports, which `run_compiler` calls when it
is installed (x86-64 Debian/Ubuntu only; not installable here).
"""

import dataclasses
import os
import re
import shutil
import subprocess

from tfcodec.export.flatbuffer import ModelInfo, read_model

# Operators the Edge TPU compiler maps (coral.ai supported-operations table),
# flatbuffer names -> the documented constraint we check or report.
SUPPORTED_OPS = {
    "ADD": "",
    "AVERAGE_POOL_2D": "no fused activation",
    "CONCATENATION": "no fused activation; not along the batch dimension",
    "CONV_2D": "same dilation in x and y",
    "DEPTHWISE_CONV_2D": "same dilation in x and y",
    "EXPAND_DIMS": "",
    "FULLY_CONNECTED": "default weights format only",
    "L2_NORMALIZATION": "",
    "LOGISTIC": "",
    "LSTM": "unidirectional, default weights format",
    "MAXIMUM": "",
    "MAX_POOL_2D": "no fused activation",
    "MEAN": "no reduction along the batch dimension",
    "MINIMUM": "",
    "MUL": "",
    "PACK": "not along the batch dimension",
    "PAD": "no padding of the batch dimension",
    "PRELU": "alpha must be constant",
    "QUANTIZE": "",
    "REDUCE_MAX": "no reduction along the batch dimension",
    "REDUCE_MIN": "no reduction along the batch dimension",
    "RELU": "",
    "RELU6": "",
    "RELU_N1_TO_1": "",
    "RESHAPE": "some reshapes are not mapped",
    "RESIZE_BILINEAR": "input/output sizes must be multiples; large sizes stay on the CPU",
    "RESIZE_NEAREST_NEIGHBOR": "input/output sizes must be multiples; large sizes stay on the CPU",
    "RSQRT": "",
    "SLICE": "",
    "SOFTMAX": "1-D input of at most 16000 elements",
    "SPACE_TO_DEPTH": "",
    "SPLIT": "not along the batch dimension",
    "SQUARED_DIFFERENCE": "",
    "SQUEEZE": "",
    "STRIDED_SLICE": "strides of 1, no ellipsis/new-axis masks",
    "SUB": "",
    "SUM": "no reduction along the batch dimension",
    "TANH": "",
    "TRANSPOSE": "",
    "TRANSPOSE_CONV": "large layers may be left on the CPU by the compiler",
}
EIGHT_BIT = ("INT8", "UINT8")
# On-chip parameter cache of the Edge TPU: larger models stream weights from the host.
PARAMETER_CACHE_BYTES = 8 << 20


@dataclasses.dataclass
class Problem:
    op_index: int      # -1: the model as a whole
    op_name: str
    reason: str

    def __str__(self):
        where = f"op {self.op_index} {self.op_name}" if self.op_index >= 0 else "model"
        return f"{where}: {self.reason}"


@dataclasses.dataclass
class CheckResult:
    name: str
    problems: list
    warnings: list
    op_counts: dict

    @property
    def ok(self):
        return not self.problems

    def offending_ops(self):
        return sorted({p.op_name for p in self.problems if p.op_index >= 0})

    def summary(self):
        if self.ok:
            return f"{self.name}: Edge TPU check passed ({sum(self.op_counts.values())} ops)"
        lines = [f"{self.name}: Edge TPU check FAILED, offending ops: {', '.join(self.offending_ops()) or '-'}"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _tensor_problem(tensor, allow_int32_constant=True):
    if tensor.dtype in EIGHT_BIT:
        return None
    if tensor.dtype == "INT32" and tensor.constant and allow_int32_constant:
        return None
    kind = "constant " if tensor.constant else ""
    return f"{kind}{tensor.dtype} tensor {tensor.name!r} (the Edge TPU computes in int8/uint8 only)"


def _shape_problem(tensor):
    if tensor.dynamic:
        return f"tensor {tensor.name!r} has a dynamic shape {list(tensor.shape_signature)} " \
               "(export with static --height/--width)"
    if len([d for d in tensor.shape if d > 1]) > 3 and not tensor.constant:
        return f"tensor {tensor.name!r} of shape {list(tensor.shape)} has more than 3 dimensions above 1"
    return None


def check_model(model, name=None) -> CheckResult:
    """Checks a .tflite (path, bytes or parsed ModelInfo) against the Edge TPU's requirements."""
    info = model if isinstance(model, ModelInfo) else read_model(model)
    if name is None:
        name = os.path.basename(model) if isinstance(model, (str, os.PathLike)) else "model"
    problems, warnings = [], []
    if info.subgraphs != 1:
        problems.append(Problem(-1, "", f"{info.subgraphs} subgraphs (the Edge TPU runs one)"))
    dynamic = False
    for tensor in info.inputs + info.outputs:
        reason = _tensor_problem(tensor, allow_int32_constant=False) or _shape_problem(tensor)
        if reason:
            problems.append(Problem(-1, "", f"model input/output: {reason}"))
        dynamic = dynamic or tensor.dynamic
    transpose_convs = []
    for op in info.operators:
        if op.custom:
            problems.append(Problem(op.index, op.name, "custom operator"))
            continue
        if op.name not in SUPPORTED_OPS:
            problems.append(Problem(op.index, op.name, "operator not supported by the Edge TPU"))
        for tensor in op.inputs + op.outputs:
            # A dynamic model is reported once above, not at every op it reaches.
            reason = _tensor_problem(tensor) or (None if dynamic else _shape_problem(tensor))
            if reason:
                problems.append(Problem(op.index, op.name, reason))
                break
        dilation = op.options.get("dilation")
        if dilation and dilation[0] != dilation[1]:
            problems.append(Problem(op.index, op.name, f"different dilations {dilation} in y and x"))
        if op.name == "TRANSPOSE_CONV":
            transpose_convs.append(str(op.index))
    if transpose_convs:
        warnings.append(f"TRANSPOSE_CONV (ops {', '.join(transpose_convs)}) is supported, but the compiler "
                        "may leave large transposed convolutions on the CPU: check its log")
    if info.constant_bytes > PARAMETER_CACHE_BYTES:
        warnings.append(f"{info.constant_bytes / 2**20:.1f} MiB of parameters exceed the ~8 MiB on-chip "
                        "cache: the rest streams from the host (slower)")
    return CheckResult(name, problems, warnings, info.op_counts())


# -- the real compiler, when it is installed -------------------------------------


def compiler_path():
    return shutil.which("edgetpu_compiler")


def run_compiler(paths, out_dir, timeout=600):
    """Runs edgetpu_compiler on the models (co-compiled: they share the parameter cache).

    Returns {"available": False} without the compiler, else its version, return
    code, log, and per model the operations mapped to the Edge TPU vs the CPU.
    """
    exe = compiler_path()
    if not exe:
        return {"available": False,
                "note": "edgetpu_compiler not on PATH (it installs only on x86-64 Debian/Ubuntu from "
                        "Coral's apt repository); the models are compile-ready: "
                        f"cd {out_dir} && edgetpu_compiler -s " + " ".join(os.path.basename(p) for p in paths)}
    proc = subprocess.run([exe, "-s", "-o", out_dir] + list(paths), capture_output=True, text=True,
                          timeout=timeout, check=False)
    log = proc.stdout + proc.stderr
    result = {"available": True, "returncode": proc.returncode, "log": log[-20000:], "models": {}}
    version = re.search(r"Edge TPU Compiler version (\S+)", log)
    result["version"] = version.group(1) if version else None
    # The log holds one block per input model, each ending with the op counts.
    blocks = re.split(r"\n(?=Input model: )", log)
    for block in blocks:
        model = re.search(r"Input model: (\S+)", block)
        if not model:
            continue
        tpu = re.search(r"Number of operations that will run on Edge TPU: (\d+)", block)
        cpu = re.search(r"Number of operations that will run on CPU: (\d+)", block)
        total = re.search(r"Total number of operations: (\d+)", block)
        entry = {"total_ops": int(total.group(1)) if total else None,
                 "edgetpu_ops": int(tpu.group(1)) if tpu else None,
                 "cpu_ops": int(cpu.group(1)) if cpu else 0}
        if entry["edgetpu_ops"] is None and entry["total_ops"] is not None:
            entry["edgetpu_ops"] = entry["total_ops"]  # "all operations map" prints no split
        result["models"][os.path.basename(model.group(1))] = entry
    return result
