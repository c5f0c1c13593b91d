"""The package's shape, as docs/architecture.md describes it: checked, not just written down.

* No import cycle between tfcodec's modules, counting every import (module level and inside
  functions): a lower layer never reaches up, even lazily.
* Every family dispatch goes through the registry's records: no module outside the
  registry tests a family's name.
"""

import ast
import os
import re
import subprocess
import sys

import pytest

from tfcodec.models import family_named

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfcodec")


def _modules():
    """{module name: parsed file} for every module of the package."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            with open(path) as f:
                modules[".".join(parts)] = ast.parse(f.read(), path)
    return modules


def _imports(tree, modules):
    """The package modules a module imports (the deepest module each import names)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("tfcodec"):
                found.add(name)
    return found


def _is_package_of(package, module):
    return module.startswith(package + ".")


def test_the_import_graph_has_no_cycle():
    modules = _modules()
    # A module importing its own package's __init__ (e.g. `from tfcodec.models import ...` in
    # tfcodec.models.hyperprior) is not a cycle unless that __init__ imports it back, which
    # the graph then shows as an edge of its own.
    graph = {name: {m for m in _imports(tree, modules) if m != name and not _is_package_of(name, m)}
             for name, tree in modules.items()}
    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_module_dispatches_on_a_family_name():
    """`family == "hyperprior"`-style tests belong to the records, not to their users."""
    pattern = re.compile(r"""(==|!=|\bin\b)\s*\(?\s*["'](hyperprior|recurrent|jpeg-refine)["']""")
    offenders = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path) as f:
                    offenders += [f"{os.path.relpath(path, PACKAGE)}:{i}" for i, line in enumerate(f, 1)
                                  if pattern.search(line)]
    assert offenders == []


def test_registered_names_are_the_shipped_models_and_the_sizes_users_train():
    """In a fresh process: tests register tiny models of their own in this one. CompressAI's
    zoo sizes are registered for imports (docs/interop.md)."""
    shipped = {f[:-4] for f in os.listdir(os.path.join(PACKAGE, "weights")) if f.endswith(".npz")}
    sizes = {"bmshj2018", "mbt2018-mean", "cw2020", "rnn-lstm", "rnn-gru", "rnn-resgru", "jpeg-refine"}
    zoo = {f"compressai-{arch}-q{q}" for arch in ("bmshj2018-hyperprior", "mbt2018-mean") for q in range(1, 9)}
    expected = shipped | sizes | {f"{name}-small" for name in sizes} | zoo
    listed = subprocess.run([sys.executable, "-c", "from tfcodec.models import model_names; "
                             "print(' '.join(model_names()))"], capture_output=True, text=True, check=True,
                            env=dict(os.environ, PYTHONPATH=os.path.dirname(PACKAGE)))
    assert set(listed.stdout.split()) == expected


def test_every_family_record_resolves():
    """Every behaviour a record names imports and is callable (a typo fails here, not in use)."""
    for family in ("hyperprior", "recurrent", "jpeg-refine"):
        record = family_named(family)
        for field in ("build", "codec", "export_coding", "warm_start", "edge_export", "training_example",
                      "validation_example"):
            if getattr(record, field):
                assert callable(record.load(field)), (family, field)
