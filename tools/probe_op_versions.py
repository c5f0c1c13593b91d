"""Reads which (operator, version) pairs a TFLite interpreter binary registers, by asking it.

A TFLite interpreter resolves every operator of a model, by builtin code and
version, while it builds the interpreter, before any tensor is allocated; an
unregistered pair fails there with "Didn't find op for builtin opcode 'X'
version 'N'". So a one-operator model per (op, version) tells, from the
binary itself, the versions its builtin resolver registers. This is how the
tables in `tfcodec/export/runtimes.py` were checked against the binaries we
can install (tflite-runtime 2.14.0 and ai-edge-litert from PyPI).

Two steps, because the interpreter under test may live in a venv without the
flatbuffer schema:

    python tools/probe_op_versions.py make DIR            # needs ai_edge_litert or TF (schema)
    VENV/bin/python tools/probe_op_versions.py probe DIR  # needs only the interpreter module

`probe` prints {"runtime": ..., "max_versions": {"OP": n, ...}} as JSON: the
highest version of each op that resolves (ops with no registered version are
left out; versions are registered as one contiguous range starting at 1).
"""

import json
import os
import sys

MAX_VERSION = 16


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def one_op_model(code, version):
    """Bytes of a model with one float32 tensor in, one out, and operator `code` at `version`."""
    import flatbuffers

    schema = _schema()
    opcode = schema.OperatorCodeT()
    opcode.builtinCode = code
    opcode.deprecatedBuiltinCode = min(code, 127)  # codes above 127 live only in builtinCode
    opcode.version = version
    tensors = []
    for name in (b"in", b"out"):
        tensor = schema.TensorT()
        tensor.shape = [1]
        tensor.type = schema.TensorType.FLOAT32
        tensor.buffer = 0
        tensor.name = name
        tensors.append(tensor)
    operator = schema.OperatorT()
    operator.opcodeIndex = 0
    operator.inputs, operator.outputs = [0], [1]
    graph = schema.SubGraphT()
    graph.tensors, graph.operators = tensors, [operator]
    graph.inputs, graph.outputs = [0], [1]
    model = schema.ModelT()
    model.version = 3
    model.operatorCodes, model.subgraphs, model.buffers = [opcode], [graph], [schema.BufferT()]
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def make(folder):
    schema = _schema()
    os.makedirs(folder, exist_ok=True)
    names = {value: name for name, value in vars(schema.BuiltinOperator).items()
             if not name.startswith("_") and isinstance(value, int)}
    for code, name in sorted(names.items()):
        if name in ("CUSTOM", "DELEGATE", "PLACEHOLDER_FOR_GREATER_OP_CODES"):
            continue
        for version in range(1, MAX_VERSION + 1):
            with open(os.path.join(folder, f"{name}.{version}.tflite"), "wb") as f:
                f.write(one_op_model(code, version))
    print(f"wrote {len(names)} ops x {MAX_VERSION} versions to {folder}")


def probe(folder):
    try:
        from ai_edge_litert import interpreter
        import ai_edge_litert as package
    except ImportError:
        from tflite_runtime import interpreter
        import tflite_runtime as package
    found = {}
    for filename in sorted(os.listdir(folder)):
        name, version, _ = filename.rsplit(".", 2)
        version = int(version)
        try:
            interpreter.Interpreter(model_path=os.path.join(folder, filename))
        except (ValueError, RuntimeError) as e:
            if "Didn't find op for builtin opcode" in str(e) or "Op builtin_code out of range" in str(e):
                continue
            # Resolved, then refused for the probe's empty options or shapes: registered.
        found[name] = max(found.get(name, 0), version)
    print(json.dumps({"runtime": f"{package.__name__} {getattr(package, '__version__', '?')}",
                      "max_versions": dict(sorted(found.items()))}, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "probe"):
        sys.exit(__doc__)
    (make if sys.argv[1] == "make" else probe)(sys.argv[2])
