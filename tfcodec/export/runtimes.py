"""The TFLite runtimes an export can target, and the operator versions each one registers.

A TFLite interpreter resolves every operator of a model by (builtin code,
version) while it loads the model, and refuses a pair its builtin resolver
does not register ("Didn't find op for builtin opcode 'LOG' version '2'").
The converter writes the version each op's use needs: TensorFlow
2.20/2.21 write int8 LOG as version 2, which runtimes built from TensorFlow
before 2.15 do not have. So an export names the
runtime it is for (`tfcodec export --runtime NAME`), picks forms of the graph
whose op versions that runtime registers (the GDN's RSQRT instead of
LOG/EXP/SQRT), and checks the written flatbuffers against the runtime's
table, refusing with one line that names the op.

Each table (`op_versions/<name>.json`) is the highest version of every op that
the runtime's builtin resolver registers, read from its binary where it
installs here (`tools/probe_op_versions.py` asks the interpreter for every
(op, version)), else from TensorFlow's own map of op versions to the release
that brought them (`runtime_version.cc`); each file says which, and where from. Registered
versions only grow from release to release, so a table is also a lower bound
for the runtimes built after it.
"""

import dataclasses
import functools
import json
import os
import re

from tfcodec.errors import FormatError

TABLES = os.path.join(os.path.dirname(__file__), "op_versions")


class UnsupportedOp(FormatError):
    """An export does not fit the runtime it targets."""


@dataclasses.dataclass(frozen=True)
class Runtime:
    name: str              # the --runtime value
    title: str             # the runtime as users know it
    built_from: tuple      # the TensorFlow release its kernels come from, e.g. (2, 14, 0); orders the
                           # runtimes (ai-edge-litert 2.x: at least 2.21, whose converter we run)

    @functools.cached_property
    def table(self):
        """{"title", "sources", "max_versions": {op: highest registered version}}."""
        with open(os.path.join(TABLES, f"{self.name}.json")) as f:
            return json.load(f)

    @property
    def max_versions(self):
        return self.table["max_versions"]

    def registers(self, op, version):
        return 1 <= version <= self.max_versions.get(op, 0)


RUNTIMES = {r.name: r for r in (
    Runtime("litert", "ai-edge-litert 2.x (PyPI; Linux x86-64 and aarch64, macOS, Windows)", (2, 21, 0)),
    Runtime("android-litert-1.0", "com.google.ai.edge.litert:litert:1.0.1, the android_demo app's LiteRT",
            (2, 18, 0)),
    Runtime("tflite-runtime-2.14", "tflite-runtime 2.14.0 (PyPI, the last release; numpy < 2)", (2, 14, 0)),
    Runtime("coral", "the Coral stack: Edge TPU compiler 16, libedgetpu 16, pycoral's tflite_runtime "
                     "2.5.0.post1", (2, 5, 0)),
)}
DEFAULT = "litert"
EDGETPU_DEFAULT = "coral"  # what --edgetpu exports are for unless --runtime says otherwise

# The int8 op versions each GDN form needs (the versions TF 2.20/2.21 write for int8 kernels;
# `graphs._gdn`), for the analysis' GDN and the synthesis' inverse GDN, in the order an export
# prefers them: LOG/EXP/SQRT are table lookups in int8 on CPUs, 10-30x faster than int8 RSQRT
# (docs/edge.md).
INT8_GDN_OPS = {"gdn": {"log-exp": (("LOG", 2), ("EXP", 2)), "rsqrt": (("RSQRT", 2),)},
                "igdn": {"log-exp": (("SQRT", 2),), "rsqrt": (("RSQRT", 2), ("MAXIMUM", 2))}}


def get(name):
    """The Runtime called `name`; an unknown name is refused in one line that lists the names."""
    try:
        return RUNTIMES[name or DEFAULT]
    except KeyError:
        raise UnsupportedOp(f"unknown runtime {name!r}: choose one of {', '.join(RUNTIMES)}") from None


def int8_gdn_forms(runtime):
    """{"gdn": form, "igdn": form}: for each direction the fastest int8 form whose ops `runtime`
    registers; None where neither form fits."""
    forms = {}
    for direction, choices in INT8_GDN_OPS.items():
        fitting = [form for form, ops in choices.items() if all(runtime.registers(*pair) for pair in ops)]
        if not fitting:
            return None
        forms[direction] = fitting[0]
    return forms


def describe_gdn(forms):
    """"log-exp", or "log-exp GDN, rsqrt IGDN" where the directions differ."""
    if isinstance(forms, str):
        return forms
    return forms["gdn"] if forms["gdn"] == forms["igdn"] else f"{forms['gdn']} GDN, {forms['igdn']} IGDN"


def unregistered(info, runtime):
    """[(op name, version)] of a parsed model (`flatbuffer.ModelInfo`) that `runtime` does not
    register, each pair once, in the model's order. Custom ops are the delegate's business
    (the Edge TPU compiler's edgetpu-custom-op) and are not checked."""
    missing = []
    for op in info.operators:
        pair = (op.name, op.version)
        if not op.custom and not runtime.registers(*pair) and pair not in missing:
            missing.append(pair)
    return missing


def check(filename, info, runtime):
    """Refuses, in one line, a model (`filename`, parsed as `info`) that uses an (op, version)
    `runtime` does not register."""
    missing = unregistered(info, runtime)
    if missing:
        op, version = missing[0]
        highest = runtime.max_versions.get(op)
        has = f"it has {op} up to version {highest}" if highest else f"it has no {op} kernel at all"
        more = f" (and {', '.join(f'{o} v{v}' for o, v in missing[1:])})" if missing[1:] else ""
        raise UnsupportedOp(f"{filename}: {op} version {version} is not registered by {runtime.name} "
                            f"({runtime.title}; {has}){more}")


def manifest_entry(runtime):
    return {"name": runtime.name, "title": runtime.title,
            "built_from_tensorflow": ".".join(map(str, runtime.built_from)),
            "op_table": f"tfcodec/export/op_versions/{runtime.name}.json"}


# -- on the device: which runtime is this, and what to export for it -----------------

_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'")


def missing_op(message):
    """(op, version) from an interpreter's load error, None for any other error."""
    found = _MISSING_OP.search(str(message))
    return (found.group(1), int(found.group(2))) if found else None


def _release(version):
    numbers = re.findall(r"\d+", str(version))[:3]
    return tuple(int(n) for n in numbers) + (0,) * (3 - len(numbers))


def target_for(op, version, release=None):
    """The --runtime to export with for a device whose interpreter lacks (op, version): the
    newest target whose table lacks it too (so its export avoids it), and, where the device's
    TensorFlow release is known (tflite_runtime's version is TensorFlow's), none built from a
    later release than the device's."""
    fitting = [r for r in RUNTIMES.values() if not r.registers(op, version)
               and (release is None or r.built_from <= _release(release))]
    if not fitting:
        return min(RUNTIMES.values(), key=lambda r: r.built_from)
    return max(fitting, key=lambda r: r.built_from)
