"""The packages of ovc_api depend on each other one way: no import circles.

Every direct child of `ovc_api` (a sub-package or a top-level module) is a node; an import
anywhere in its files (module level or inside a function) of another node is an edge. A
cycle means two parts can only be understood, tested or reused together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ovc_api

ROOT = Path(ovc_api.__file__).parent


def _node(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    return parts[0].removesuffix(".py")


def _is_node(name: str) -> bool:
    return (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file()


def _imported_nodes(path: Path) -> set[str]:
    found: set[str] = set()
    for statement in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(statement, ast.Import):
            names = [alias.name for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
            if statement.module == "ovc_api":
                names = [f"ovc_api.{alias.name}" for alias in statement.names]
            else:
                names = [statement.module]
        elif isinstance(statement, ast.ImportFrom) and statement.level > 0:
            raise AssertionError(f"{path}: relative import; write ovc_api.… imports")
        for name in names:
            parts = name.split(".")
            if parts[0] == "ovc_api" and len(parts) > 1 and _is_node(parts[1]):
                found.add(parts[1])
    return found


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        node = _node(path)
        if node == "__init__":
            continue
        graph.setdefault(node, set()).update(_imported_nodes(path) - {node, "__init__"})
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_the_packages() -> None:
    graph = package_graph()
    assert {"auth", "cases", "referrals", "sharing", "identity", "tenancy"} <= set(graph)
    assert "auth" in graph["cases"]
    assert "identity" in graph["auth"]


def test_a_cycle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_packages() -> None:
    graph = package_graph()
    described = [
        " <-> ".join(component)
        + ": "
        + "; ".join(
            f"{source} -> {target}"
            for source in component
            for target in sorted(graph[source] & set(component))
        )
        for component in _cycles(graph)
    ]
    assert described == []
