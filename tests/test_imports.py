"""The package's imports: no cycle, and each layer imports only the layers below it.

Every module of the package is parsed (``ast``: imports at any depth, inside functions too,
relative imports resolved). The layers are those of the README's architecture section: the
command line, the jobs, the models and files, the foundations. ``fwdmodels.io`` in particular
imports nothing but itself and the foundations. Nothing is imported to build the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fwdmodels

ROOT = Path(fwdmodels.__file__).parent
IO = "fwdmodels.io"
#: What io may use outside itself: the base of the package, below every layer.
BASE = {"fwdmodels.errors", "fwdmodels.units", "fwdmodels._validation",
        "fwdmodels._stop"}
#: The layers, highest first (the README's architecture section); a module belongs to the
#: first whose prefix it starts with. The package's ``__init__``, which gathers the public
#: API of every layer in one namespace, stands outside them.
LAYERS = (
    ("command line", ("fwdmodels.cli", "fwdmodels.__main__")),
    ("jobs", ("fwdmodels.pipeline", "fwdmodels.pipeline_like", "fwdmodels.make_leadfield",
              "fwdmodels.demo", "fwdmodels._demo_figure", "fwdmodels.datasets",
              "fwdmodels.distributed", "fwdmodels.crossval", "fwdmodels.examples",
              "fwdmodels._carry", "fwdmodels.plotting")),
    ("models and files", ("fwdmodels.hemodynamics", "fwdmodels.leadfield", "fwdmodels.io")),
    ("foundations", ("fwdmodels.units", "fwdmodels.errors", "fwdmodels._validation",
                     "fwdmodels._numba", "fwdmodels._vecmath", "fwdmodels._finite",
                     "fwdmodels._stop", "fwdmodels._version")),
)


def layer(module: str):
    """The rank of ``module``'s layer (0 = the command line), or None."""
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def module_files(root: Path, package: str) -> dict:
    """``{module name: path}`` of every ``.py`` file under ``root`` (the package ``package``)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([package, *parts])] = path
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name an ``import from`` refers to, relative levels resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(files: dict) -> dict:
    """``{module: {imported module: "where"}}`` among the modules of ``files``.

    ``from package import name`` is an edge to ``package.name`` when that is a module, else to
    ``package``. Reading dunder constants of the root package (``from .. import __version__``)
    is not an edge: they are set before the root imports any submodule.
    """
    graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        edges = {}
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node)
                names = [a.name for a in node.names]
                if base == module.partition(".")[0] and all(n.startswith("__") for n in names):
                    continue
                targets = [f"{base}.{n}" if f"{base}.{n}" in files else base for n in names]
            for target in targets:
                while target and target not in files:      # import a.b.c: the module a.b.c
                    target = target.rpartition(".")[0]
                if not target or target == module:
                    continue
                edges.setdefault(target, f"{module}:{node.lineno}")
        graph[module] = edges
    return graph


def reachable(graph: dict, starts) -> set:
    seen, stack = set(), list(starts)
    while stack:
        m = stack.pop()
        if m not in seen:
            seen.add(m)
            stack.extend(graph.get(m, ()))
    return seen


def components(graph: dict, nodes: set) -> list:
    """The strongly connected components of more than one module among ``nodes`` (Tarjan):
    sets of modules that import each other, directly or through one another."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in nodes:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def one_cycle(graph: dict, component: set) -> list:
    """A shortest cycle through the first module of ``component`` (breadth first)."""
    start = min(component)
    previous, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
            if w in component and w not in previous:
                previous[w] = v
                queue.append(w)
    return sorted(component)


def _describe(graph, component) -> str:
    cycle = one_cycle(graph, component)
    return (f"{len(component)} modules ({', '.join(sorted(component))}), e.g. "
            + " -> ".join(cycle) + "  (at " + ", ".join(
                graph[a][b] for a, b in zip(cycle, cycle[1:])) + ")")


@pytest.fixture(scope="module")
def graph():
    return import_graph(module_files(ROOT, "fwdmodels"))


def test_the_graph_sees_imports_inside_functions_and_relative_ones(graph):
    """The parser resolves ``from .x import``, ``from ..x import`` and function-level imports."""
    assert "fwdmodels.errors" in graph["fwdmodels.io.readers"]
    assert "fwdmodels.io.metadata" in graph["fwdmodels.io.readers"]
    assert "fwdmodels.units" in graph["fwdmodels.io.export"]           # inside a function
    assert "fwdmodels.io" in graph["fwdmodels"]


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("__version__ = '1'\nfrom . import a\n")
    (pkg / "a.py").write_text("from .sub import b\nfrom . import __version__\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import g\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    g = import_graph(module_files(pkg, "pkg"))
    assert set(g["pkg.a"]) == {"pkg.sub.b"}                      # __version__: no edge
    assert g["pkg.c"] == {"pkg.a": "pkg.c:1"}
    found = components(g, set(g))
    assert found == [{"pkg.a", "pkg.sub.b"}]
    assert one_cycle(g, found[0]) == ["pkg.a", "pkg.sub.b", "pkg.a"]


def test_io_has_no_import_cycle(graph):
    io_modules = {m for m in graph if m == IO or m.startswith(IO + ".")}
    found = components(graph, reachable(graph, io_modules))
    assert not found, "import cycles:\n" + "\n".join(_describe(graph, c) for c in found)


def test_io_uses_nothing_above_it(graph):
    """io reads and writes files; it imports no model, lead field, pipeline or command line."""
    io_modules = {m for m in graph if m == IO or m.startswith(IO + ".")}
    bad = sorted(f"{m} imports {t} ({where})" for m in io_modules
                 for t, where in graph[m].items()
                 if not (t == IO or t.startswith(IO + ".") or t in BASE))
    assert not bad, "\n".join(bad)
    outside = reachable(graph, io_modules) - io_modules - BASE
    assert not outside, sorted(outside)


def test_the_package_has_no_import_cycle(graph):
    found = components(graph, set(graph))
    assert not found, "import cycles:\n" + "\n".join(_describe(graph, c) for c in found)


def test_every_module_has_a_layer(graph):
    assert [m for m in graph if m != "fwdmodels" and layer(m) is None] == []


def test_layers_import_only_downwards(graph):
    """No module imports one of a higher layer, nor the package itself (which gathers every
    layer's API); the teaching examples use the public API as a user does."""
    upward = []
    for module, targets in graph.items():
        if module == "fwdmodels":
            continue
        for target, where in targets.items():
            if target == "fwdmodels":
                if not module.startswith("fwdmodels.examples"):
                    upward.append(f"{module} imports fwdmodels ({where})")
            elif layer(target) < layer(module):
                upward.append(f"{module} imports {target} ({where})")
    assert not upward, "\n".join(upward)
