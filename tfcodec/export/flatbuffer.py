"""Reads a .tflite flatbuffer into plain Python: operators, tensors, types, shapes.

Parsing uses the flatbuffer schema bindings that ship with LiteRT
(`ai_edge_litert.schema_py_generated`, else TensorFlow's copy), so the check
works without TensorFlow and on the exported bytes themselves: what we check is
exactly what goes to the device, not the graph it was converted from.
"""

import dataclasses


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # pragma: no cover - only without LiteRT
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def _enum_names(enum_class):
    return {value: name for name, value in vars(enum_class).items()
            if not name.startswith("_") and isinstance(value, int)}


@dataclasses.dataclass
class TensorInfo:
    index: int
    name: str
    dtype: str                 # "INT8", "FLOAT32", ...
    shape: tuple
    shape_signature: tuple     # -1 marks a dynamic dimension
    constant: bool             # backed by data in the file (weights, biases, shape constants)
    scale: tuple = ()
    zero_point: tuple = ()

    @property
    def dynamic(self):
        return any(d < 0 for d in self.shape_signature)


@dataclasses.dataclass
class OperatorInfo:
    index: int
    name: str                  # builtin name ("CONV_2D") or the custom code
    version: int
    custom: bool
    inputs: list               # TensorInfo, optional inputs left out
    outputs: list
    options: dict              # the few builtin options the checks look at


@dataclasses.dataclass
class ModelInfo:
    subgraphs: int
    operators: list            # of the first subgraph
    tensors: list
    inputs: list
    outputs: list
    constant_bytes: int        # bytes of constant buffers (weights, biases)

    def op_counts(self):
        counts = {}
        for op in self.operators:
            counts[op.name] = counts.get(op.name, 0) + 1
        return dict(sorted(counts.items()))

    def op_versions(self):
        """{op: the highest version it has in the model}."""
        versions = {}
        for op in self.operators:
            versions[op.name] = max(versions.get(op.name, 0), op.version)
        return versions


def _options(schema, op, name):
    """Dilation and strides of convolutions; nothing else is needed by the checks."""
    kind = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    if table is None:
        return {}
    if kind == schema.BuiltinOptions.Conv2DOptions:
        options = schema.Conv2DOptions()
        options.Init(table.Bytes, table.Pos)
        return {"stride": (options.StrideH(), options.StrideW()),
                "dilation": (options.DilationHFactor(), options.DilationWFactor())}
    if kind == schema.BuiltinOptions.DepthwiseConv2DOptions:
        options = schema.DepthwiseConv2DOptions()
        options.Init(table.Bytes, table.Pos)
        return {"stride": (options.StrideH(), options.StrideW()),
                "dilation": (options.DilationHFactor(), options.DilationWFactor())}
    return {}


def read_model(data) -> ModelInfo:
    """Parses .tflite bytes (or a path)."""
    if not isinstance(data, (bytes, bytearray)):
        with open(data, "rb") as f:
            data = f.read()
    schema = _schema()
    model = schema.Model.GetRootAs(bytearray(data), 0)
    op_names = _enum_names(schema.BuiltinOperator)
    type_names = _enum_names(schema.TensorType)
    if model.SubgraphsLength() < 1:
        raise ValueError("the model has no subgraph")
    graph = model.Subgraphs(0)

    tensors = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        signature = tuple(int(d) for d in t.ShapeSignatureAsNumpy()) if t.ShapeSignatureLength() else shape
        buffer = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        constant = buffer is not None and (buffer.DataLength() > 0 or buffer.Size() > 0)
        q = t.Quantization()
        scale = tuple(float(s) for s in q.ScaleAsNumpy()) if q is not None and q.ScaleLength() else ()
        zero = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q is not None and q.ZeroPointLength() else ()
        tensors.append(TensorInfo(i, (t.Name() or b"").decode(errors="replace"),
                                  type_names.get(t.Type(), str(t.Type())), shape, signature, constant,
                                  scale, zero))

    operators = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        name = op_names.get(builtin, f"BUILTIN_{builtin}")
        custom = name == "CUSTOM"
        if custom:
            name = (code.CustomCode() or b"").decode(errors="replace")
        ins = [tensors[j] for j in (op.InputsAsNumpy() if op.InputsLength() else ()) if j >= 0]
        outs = [tensors[j] for j in (op.OutputsAsNumpy() if op.OutputsLength() else ()) if j >= 0]
        operators.append(OperatorInfo(i, name, int(code.Version()), custom, ins, outs,
                                      _options(schema, op, name)))

    constant_bytes = 0
    for i in range(model.BuffersLength()):
        buffer = model.Buffers(i)
        constant_bytes += buffer.DataLength() or buffer.Size()
    inputs = [tensors[j] for j in graph.InputsAsNumpy()]
    outputs = [tensors[j] for j in graph.OutputsAsNumpy()]
    return ModelInfo(model.SubgraphsLength(), operators, tensors, inputs, outputs, int(constant_bytes))


def float_operators(info: ModelInfo):
    """Operators that touch a floating-point tensor (float kernels in an 'integer' model)."""
    floating = ("FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16")
    return [op for op in info.operators
            if any(t.dtype in floating for t in op.inputs + op.outputs)]
