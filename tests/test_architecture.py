"""Dependencies between the project's packages run one way, from the shell down to ``core``.

The layers (README, "Architecture"): ``mcp_site`` (the shell) → ``dashboard`` → ``jobs`` →
``gateway`` → ``billing`` → ``accounts``, ``plugins`` → ``core``. A package may import any package
below it, never one above; ``accounts`` and ``plugins`` do not import each other; ``simulator``
imports nothing of the project; no package imports another's private (``_``-prefixed) module; and
inside a package, modules import each other without a cycle. Imports inside functions count:
they hide a dependency, they do not remove it.

``KNOWN_UPWARD`` lists the edges that still run the wrong way. It may only shrink: a new upward
edge fails the first test, and an edge that no longer exists fails the second until it is
removed from the list.
"""

from __future__ import annotations

import ast
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Lower number = lower layer. Packages on the same layer may not import each other.
LAYERS = {
    "core": 0,
    "accounts": 1,
    "plugins": 1,
    "billing": 2,
    "gateway": 3,
    "jobs": 4,
    "dashboard": 5,
    "mcp_site": 6,
}
ISOLATED = ("simulator",)

#: (importing package, imported package) pairs still pointing up or sideways, to be removed.
KNOWN_UPWARD: set[tuple[str, str]] = set()
#: (importing module, private module of another package) pairs still to be made public.
KNOWN_PRIVATE: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(module: str, path: Path, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if not node.level:
            return [node.module or ""]
        # ``from . import x`` in a/b/c.py is relative to a.b; in a/b/__init__.py, to a.b itself.
        parts = module.split(".")
        package = parts[: len(parts) - node.level + (path.name == "__init__.py")]
        return [".".join([*package, *([node.module] if node.module else [])])]
    return []


@cache
def module_imports() -> frozenset[tuple[str, str]]:
    """Every (module, imported module) pair in the project's packages, migrations excluded."""
    pairs = set()
    for package in (*LAYERS, *ISOLATED):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            module = _module_name(path)
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                pairs.update((module, target) for target in _imported(module, path, node) if target)
    return frozenset(pairs)


@cache
def module_graph() -> dict[str, frozenset[str]]:
    """Each module → the project modules it imports, ``from package import module`` resolved to the module."""
    paths = {}
    for package in (*LAYERS, *ISOLATED):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                paths[_module_name(path)] = path
    graph = {}
    for module, path in paths.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for base in _imported(module, path, node):
                names = [alias.name for alias in node.names] if isinstance(node, ast.ImportFrom) else []
                resolved = [f"{base}.{name}" for name in names if f"{base}.{name}" in paths]
                targets.update(resolved or [base])
        graph[module] = frozenset(target for target in targets if target in paths and target != module)
    return graph


def _top(module: str) -> str:
    return module.split(".")[0]


def package_edges() -> dict[tuple[str, str], list[str]]:
    """(package, package it imports) → the module imports behind it."""
    edges: dict[tuple[str, str], list[str]] = {}
    for source, target in module_imports():
        pair = (_top(source), _top(target))
        if pair[0] != pair[1] and pair[1] in (*LAYERS, *ISOLATED):
            edges.setdefault(pair, []).append(f"{source} imports {target}")
    return edges


def _runs_the_wrong_way(source: str, target: str) -> bool:
    if source in ISOLATED or target in ISOLATED:
        return True
    return LAYERS[source] <= LAYERS[target]


def test_no_package_imports_one_above_or_beside_it() -> None:
    wrong = {
        pair: sorted(imports)
        for pair, imports in package_edges().items()
        if _runs_the_wrong_way(*pair) and pair not in KNOWN_UPWARD
    }
    assert wrong == {}, (
        "These imports run up or sideways; depend on a lower layer, or move the shared piece down "
        "to core/ (errors, metrics, readiness, request id, version, caches, Redis clients)."
    )


def test_the_list_of_known_upward_edges_only_shrinks() -> None:
    assert KNOWN_UPWARD - set(package_edges()) == set(), "Fixed: remove these pairs from KNOWN_UPWARD."


def test_no_package_imports_a_private_module_of_another() -> None:
    private = {
        (source, target)
        for source, target in module_imports()
        if _top(source) != _top(target)
        and _top(target) in LAYERS
        and any(part.startswith("_") and part != "__init__" for part in target.split("."))
    }
    assert private - KNOWN_PRIVATE == set(), "Import the other package's public module instead."
    assert KNOWN_PRIVATE - private == set(), "Fixed: remove these pairs from KNOWN_PRIVATE."


def test_the_simulator_imports_nothing_of_the_project() -> None:
    assert [pair for pair in package_edges() if pair[0] == "simulator"] == []


@pytest.mark.parametrize("package", [*LAYERS, *ISOLATED])
def test_no_import_cycle_inside_a_package(package: str) -> None:
    graph = {
        module: {target for target in targets if _top(target) == package}
        for module, targets in module_graph().items()
        if _top(module) == package
    }
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"{package} has an import cycle: {' → '.join(exc.args[1])}; move the shared piece down a module")
