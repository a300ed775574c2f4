"""The package's import graph: layers that import only downward, no cycle, no seqnn import
hidden inside a function (such imports kept a 7-module cycle alive), and the old paths of moved
modules answering with the same module objects."""

import ast
import importlib
import warnings
from pathlib import Path

import pytest

import seqnn
from seqnn.moved import MOVED

PACKAGE = Path(seqnn.__file__).parent

#: bottom to top; a module may import its own layer and the layers below it
LAYERS = [
    (
        "seqnn.errors",
        "seqnn.kinds",  # each task kind's facts, as names and flags, for every layer above
        "seqnn.atomic",
        "seqnn.lazy",
        "seqnn.version",
        "seqnn.progress",
        "seqnn.deprecation",
    ),
    ("seqnn.data",),
    ("seqnn.models",),
    ("seqnn.tasks",),
    ("seqnn.interpret", "seqnn.plot"),
    ("seqnn.inference", "seqnn.design", "seqnn.qc"),
    ("seqnn.callbacks",),
    ("seqnn.cli",),
    ("seqnn.moved",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(name: str) -> int:
    for level, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return level
    raise AssertionError(f"{name}: not in any layer of tests/test_import_graph.py: place it")


def seqnn_imports(tree: ast.AST, name: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function or class) for each import of seqnn."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package
                base = ".".join(name.split(".")[: -node.level] + ([base] if base else []))
            targets = [base]
        else:
            continue
        for target in targets:
            if target == "seqnn" or target.startswith("seqnn."):
                found.append((target, node.lineno, node.col_offset > 0))
    return found


MODULES = {
    module_name(p): ast.parse(p.read_text(), str(p))
    for p in sorted(PACKAGE.rglob("*.py"))
    if module_name(p) != "seqnn"  # the root only re-exports, lazily
}


def test_every_module_is_placed_in_a_layer():
    for name in MODULES:
        layer_of(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_downward_and_at_the_top(name):
    for target, line, nested in seqnn_imports(MODULES[name], name):
        where = f"{name.replace('.', '/')}.py:{line}: import of {target}"
        assert not nested, f"{where} inside a function: import at the top of the module"
        assert target != "seqnn", f"{where}: import the module that defines the name"
        assert layer_of(target) <= layer_of(name), f"{where} runs upward"


def test_no_import_cycle():
    edges = {n: set() for n in MODULES}
    for name, tree in MODULES.items():
        for target, _, _ in seqnn_imports(tree, name):
            # `from seqnn.data import x` depends on the package, `from seqnn.data.genome x` on
            # the module
            if target in edges and target != name:
                edges[name].add(target)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node, [node])


def test_the_checks_see_a_cycle_and_an_upward_import():
    tree = ast.parse("def f():\n    from seqnn.cli.train import train\n")
    assert seqnn_imports(tree, "seqnn.data.genome") == [("seqnn.cli.train", 2, True)]
    assert layer_of("seqnn.cli.train") > layer_of("seqnn.data.genome")


@pytest.mark.parametrize("old", sorted(MOVED))
def test_moved_modules_answer_at_their_old_path(old):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    new = importlib.import_module(MOVED[old])
    assert module is new
    assert new.__spec__.name == MOVED[old]
    if caught:  # only the first import warns
        assert MOVED[old] in str(caught[0].message)
