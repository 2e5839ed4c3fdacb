"""The package's import graph has no circles but the documented lazy ones.

Every ``import`` of a package module is an edge, read with ast: at module
level (run at import time) or inside a function (run when it is called:
lazy); importing ``oci.spec`` from outside ``oci`` runs ``oci/__init__.py``
too, an edge as well.  Imports under ``if TYPE_CHECKING:`` never run and
are no edges.  A package that imports by a computed name (its PEP 562
``__getattr__``, cli's command table) has a lazy edge to every module a
string constant of it names (".config", ".cgroups:Network", "lifecycle").

A circle is a strongly connected component of the graph.  One of
module-level edges alone can fail at import time; one that needs a lazy
edge cannot, but it still makes its modules one unit to read and change.

Run this file as a script for the measurement (``python
tests/unit/test_import_graph.py``): every circle, import-time or lazy, and
what is left without the documented lazy imports.
"""

from __future__ import annotations

import ast
import os
import sys
from typing import Dict, FrozenSet, Iterator, List, Set, Tuple

PACKAGE = "libcontainer_py"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Lazy imports that close a circle on purpose, with why.  Without them the
#: graph has no circle; a new circle fails the test until it is broken or
#: its lazy import is written down here.
DOCUMENTED_LAZY: Dict[Tuple[str, str], str] = {
    # The model stays at the bottom: the adapters import it at import time,
    # and these user-facing spellings reach an adapter only when called.
    ("libcontainer_py.config", "libcontainer_py.oci"): "Config.from_oci and Config.to_oci (oci.spec does the work)",
    ("libcontainer_py.config", "libcontainer_py.images"): "Config.from_image (images.config_from_image does it)",
    # Importing errors must not import subprocess (the light commands use it).
    ("libcontainer_py.errors", "libcontainer_py._process_errors"): "ProcessExitError and TimeoutExpired "
    "subclass subprocess's exceptions and ContainerError; errors.py lends them its name on first use",
}

Graph = Dict[str, Set[str]]


def modules(root: str = ROOT) -> Dict[str, str]:
    """Dotted name -> path of every module of the package."""
    out = {}
    for directory, _, files in os.walk(os.path.join(root, PACKAGE)):
        for name in files:
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(directory, name), root)[: -len(".py")]
            dotted = rel.replace(os.sep, ".")
            out[dotted.removesuffix(".__init__")] = os.path.join(directory, name)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, lazy: bool = False) -> Iterator[Tuple[ast.Import | ast.ImportFrom, bool]]:
    """Each import statement that runs, with whether it runs only inside a function."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, lazy
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), lazy)
        else:
            inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from _imports(node, inner)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: Set[str]) -> Set[str]:
    """The package modules an import statement runs (not the parent packages
    every import runs: those would join every module to the top package)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(parts[: len(parts) - node.level + 1])
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    if not source.startswith(PACKAGE):
        return set()
    out = set()
    names_only = True
    for alias in node.names:
        if f"{source}.{alias.name}" in known:
            out.add(f"{source}.{alias.name}")  # a submodule
        else:
            names_only = False
    if not names_only and source in known:
        out.add(source)
    return out


def _import_calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and node.args:
                yield node


def _resolve_name(name: str, module: str, is_package: bool) -> str:
    """The module a string names (".config", ".cgroups:Network", "libcontainer_py.x",
    or in a package "lifecycle"), or ""."""
    package = module if is_package else module.rpartition(".")[0]
    name = name.partition(":")[0]
    if name.startswith("."):
        level = len(name) - len(name.lstrip("."))
        parts = package.split(".")
        base = ".".join(parts[: len(parts) - level + 1])
        return f"{base}.{name[level:]}" if name[level:] else base
    if name.startswith(PACKAGE + ".") or name == PACKAGE:
        return name
    if is_package and name.isidentifier():
        return f"{package}.{name}"
    return ""


def _imported_by_name(tree: ast.AST, module: str, is_package: bool, known: Set[str]) -> Set[str]:
    """What a module may import by name: the constant a call names, and when a
    package's call takes a computed name (its PEP 562 ``__getattr__``, a
    command table), every module its string constants name."""
    out = set()
    computed = False
    for call in _import_calls(tree):
        arg = call.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            out.add(_resolve_name(arg.value, module, is_package))
        else:
            computed = True
    if computed and is_package:
        strings = (n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))
        out |= {_resolve_name(s, module, is_package) for s in strings}
    return {m for m in out if m in known and m != module}


def _with_packages(targets: Set[str], module: str) -> Set[str]:
    """The targets and the packages importing them runs: those around a
    target that are not around ``module`` already (importing ``images.errors``
    from ``config`` runs ``images/__init__.py`` too)."""
    around = {module.rsplit(".", i)[0] for i in range(module.count(".") + 1)}
    out = set()
    for target in targets:
        parts = target.split(".")
        out |= {".".join(parts[:i]) for i in range(1, len(parts))} - around
    return (out | targets) - {module}


def import_graph(root: str = ROOT) -> Tuple[Graph, Graph]:
    """The module-level edges and the lazy (inside a function) edges."""
    known = modules(root)
    eager: Graph = {m: set() for m in known}
    lazy: Graph = {m: set() for m in known}
    for module, path in known.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        is_package = path.endswith("__init__.py")
        for node, inside in _imports(tree):
            for target in _with_packages(_targets(node, module, is_package, set(known)), module):
                (lazy if inside else eager)[module].add(target)
        lazy[module] |= _with_packages(_imported_by_name(tree, module, is_package, set(known)), module)
    for module in known:
        lazy[module] -= eager[module]
    return eager, lazy


def circles(graph: Graph) -> List[FrozenSet[str]]:
    """The strongly connected components of more than one module (Tarjan's)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    out: List[FrozenSet[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(frozenset(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(out, key=sorted)


def _union(a: Graph, b: Graph) -> Graph:
    return {m: a.get(m, set()) | b.get(m, set()) for m in set(a) | set(b)}


def _edges_within(graph: Graph, component: FrozenSet[str]) -> List[str]:
    return [f"{m} -> {t}" for m in sorted(component) for t in sorted(graph[m] & component)]


def _describe(component: FrozenSet[str], eager: Graph, lazy: Graph) -> str:
    lines = [" <-> ".join(sorted(component))]
    lines += ["    " + e for e in _edges_within(eager, component)]
    lines += ["    " + e + "  (lazy)" for e in _edges_within(lazy, component)]
    return "\n".join(lines)


def test_no_import_time_circles() -> None:
    eager, lazy = import_graph()
    found = circles(eager)
    assert not found, "import-time circles:\n" + "\n".join(_describe(c, eager, lazy) for c in found)


def _without_documented(graph: Graph) -> Graph:
    return {m: {t for t in targets if (m, t) not in DOCUMENTED_LAZY} for m, targets in graph.items()}


def test_no_lazy_circles_but_the_documented_ones() -> None:
    eager, lazy = import_graph()
    found = circles(_union(eager, _without_documented(lazy)))
    assert not found, (
        "circles through lazy imports (break them, or document the lazy import in DOCUMENTED_LAZY):\n"
        + "\n".join(_describe(c, eager, lazy) for c in found)
    )


def test_each_documented_lazy_import_is_there_and_closes_a_circle() -> None:
    eager, lazy = import_graph()
    every = circles(_union(eager, lazy))
    for (module, target), why in DOCUMENTED_LAZY.items():
        assert why and target in lazy[module], f"{module} -> {target} is no lazy import: remove its entry"
        assert any({module, target} <= c for c in every), f"{module} -> {target} closes no circle: remove its entry"


def test_the_finder_finds_circles() -> None:
    graph: Graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [frozenset({"a", "b", "c"})]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_imports_under_type_checking_and_inside_functions_are_told_apart() -> None:
    source = (
        "from . import x\n"
        "if TYPE_CHECKING:\n    from . import y\nelse:\n    from . import w\n"
        "def f():\n    from . import z\n"
    )
    found = {(n.names[0].name, lazy) for n, lazy in _imports(ast.parse(source))}  # type: ignore[union-attr]
    assert found == {("x", False), ("w", False), ("z", True)}


def main() -> int:
    eager, lazy = import_graph()
    import_time = circles(eager)
    every = circles(_union(eager, lazy))
    print(
        f"modules: {len(eager)}, module-level edges: {sum(map(len, eager.values()))}, "
        f"lazy edges: {sum(map(len, lazy.values()))}"
    )
    print(f"import-time circles: {len(import_time)}")
    for c in import_time:
        print("  " + _describe(c, eager, lazy).replace("\n", "\n  "))
    print(f"circles with lazy imports: {len(every)}")
    for c in every:
        print("  " + _describe(c, eager, lazy).replace("\n", "\n  "))
    left = circles(_union(eager, _without_documented(lazy)))
    print(f"documented lazy imports: {len(DOCUMENTED_LAZY)}; circles without them: {len(left)}")
    for (module, target), why in DOCUMENTED_LAZY.items():
        print(f"  {module} -> {target}: {why}")
    for c in left:
        print("  " + _describe(c, eager, lazy).replace("\n", "\n  "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
