"""The layers of ``api`` (ARCHITECTURE.md), checked over the import graph of the source.

- the platform layer (errors, settings, db, chain, outbox, idempotency, ...) never imports a
  domain; the outbox knows no domain (each registers its kinds through ``api.tasks``);
- no import cycle between modules, nor between domains (domains talk through small public
  modules, in one direction);
- no code outside ``api.chain`` touches web3 objects (``.w3``, providers, raw requests);
- imports sit at the top of a module (a function-level import hides a cycle), except in the
  CLI, which loads heavy parts per command.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "api"

DOMAINS = ("auth", "credentials", "earning", "market", "audit", "retirement", "opendata")
# Above the domains: the places that compose them all.
COMPOSITION = ("app", "tasks", "models", "cli", "demo", "operations")


def _modules() -> dict[str, Path]:
    found = {}
    for path in API.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(API.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, ast.stmt, bool]]:
    """(imported api module, node, at module level) for every import of an api module."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name in MODULES:
                out.append((name, node, id(node) in top))
    return out


GRAPH: dict[str, set[str]] = defaultdict(set)
FUNCTION_LEVEL: list[str] = []
for _name, _path in MODULES.items():
    for _target, _node, _top in _imports(_path):
        if _target != _name and not _name.startswith(_target + "."):
            GRAPH[_name].add(_target)
        if not _top:
            FUNCTION_LEVEL.append(f"{_name}:{_node.lineno} imports {_target}")


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(GRAPH) == []


def test_no_cycle_between_domains() -> None:
    between: dict[str, set[str]] = defaultdict(set)
    for source, targets in GRAPH.items():
        for target in targets:
            a, b = _area(source), _area(target)
            if a in DOMAINS and b in DOMAINS and a != b:
                between[a].add(b)
    assert _cycles(between) == [], dict(between)


def test_the_platform_layer_never_imports_a_domain() -> None:
    wrong = sorted(
        f"{source} imports {target}"
        for source, targets in GRAPH.items()
        if _area(source) not in DOMAINS + COMPOSITION
        for target in targets
        if _area(target) in DOMAINS + COMPOSITION
    )
    assert wrong == []


def test_only_the_gateway_touches_web3() -> None:
    wrong = []
    for name, path in MODULES.items():
        if _area(name) == "chain":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {
                "w3",
                "provider",
                "make_request",
                "make_batch_request",
            }:
                wrong.append(f"{name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in {"web3", "web3.providers"}:
                wrong.append(f"{name}:{node.lineno} from {node.module} import ...")
    assert wrong == []


def test_imports_are_at_the_top_outside_the_cli() -> None:
    assert [f for f in FUNCTION_LEVEL if not f.startswith("api.cli")] == []


def test_the_checks_see_the_code() -> None:
    """The graph is not empty: the checks above would pass vacuously otherwise."""
    assert "api.earning.endpoints" in MODULES
    assert "api.earning.service" in GRAPH["api.earning.endpoints"]
    assert all(f"api.{d}" in MODULES for d in DOMAINS)
