#!/usr/bin/env python3
"""Print the import graph of ``server/prompt_tokens`` and fail when it has a cycle.

    python scripts/import_graph.py [--only prompt_tokens.lsp] [--root server/prompt_tokens]

Why a script and not a linter rule: a cycle hidden in a function-level import is still a
cycle (the modules cannot be understood, tested or loaded apart), so imports anywhere in a
module count, module level and inside functions alike. Only imports under
``if TYPE_CHECKING:`` are left out: they never run. Standard library only (``ast``), so it runs
before anything is installed.

Each line is ``module -> imported, ...``; an import made inside a function is marked
``(lazy)``. Exit status 1 when a cycle exists (every strongly connected group of modules is
listed with one cycle through it) or when a layer rule is broken: the package reads as a data
flow (``LAYERS``, lowest first), and a module may import only from its own layer or below —
so counting (tokenizer, text, document) never learns of references, and only ``lsp/`` speaks
LSP (``pygls``/``lsprotocol`` imported nowhere else).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "prompt_tokens"

# The layers of ARCHITECTURE.md, lowest first: each names the top-level modules/packages in it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "environment", "tasks", "forked", "backoff", "results", "models", "settings_schema"),
    ("estimates",),
    ("tokenizer",),
    ("text",),
    ("document",),
    ("settings", "workspace"),
    ("cache",),
    ("jobs",),
    ("references", "agents", "remote"),
    ("engine", "doc_loader", "doc_config", "precount", "ci", "known_results"),
    ("roots", "runtime_agents", "runtime_upkeep", "runtime"),
    ("lsp",),
    ("cli",),
    ("__main__",),
)
LSP_ONLY = ("pygls", "lsprotocol")


def unit(module: str) -> str:
    """The top-level part of the package a module belongs to (``prompt_tokens.lsp.x`` → lsp)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(module: str) -> int | None:
    name = unit(module)
    if not name:
        return 0  # the package's own __init__
    return next((i for i, layer in enumerate(LAYERS) if name in layer), None)


def layer_problems(graph: dict[str, dict[str, bool]]) -> list[str]:
    """Imports that go up a layer, and modules in no layer (a new one must be placed)."""
    out = []
    for module, edges in sorted(graph.items()):
        here = layer_of(module)
        if here is None:
            out.append(f"{module}: in no layer of LAYERS (place it)")
            continue
        for target in sorted(edges):
            there = layer_of(target)
            if there is not None and there > here:
                out.append(f"{module} -> {target}: imports from a higher layer")
    return out


def external_problems(root: Path) -> list[str]:
    """pygls/lsprotocol imported outside ``lsp/``."""
    out = []
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        if unit(name) == "lsp":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, _lazy in imports(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if any(n.split(".")[0] in LSP_ONLY for n in names):
                out.append(f"{name}: imports {', '.join(names)} (only lsp/ may)")
    return out


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement that can run, with whether it sits inside a function."""

    def walk(
        node: ast.AST, in_function: bool
    ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child.test):
                for sub in child.orelse:
                    yield from walk_one(sub, in_function)
                continue
            yield from walk_one(child, in_function)

    def walk_one(
        node: ast.AST, in_function: bool
    ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function
            return
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield from walk(node, inner)

    yield from walk(tree, False)


def targets(
    node: ast.Import | ast.ImportFrom, current: str, is_package: bool, known: set[str]
) -> list[str]:
    """The package's own modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    if node.level:
        base = current.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        parent = ".".join(base + ([node.module] if node.module else []))
    else:
        parent = node.module or ""
    out = []
    for alias in node.names:
        sub = f"{parent}.{alias.name}"
        if sub in known:
            out.append(sub)
        elif parent in known:
            out.append(parent)
    return out


def build(root: Path) -> dict[str, dict[str, bool]]:
    """module → {imported module: only ever imported inside functions}."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    known = set(files)
    graph: dict[str, dict[str, bool]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, bool] = {}
        for node, lazy in imports(tree):
            for target in targets(node, name, path.name == "__init__.py", known):
                if target != name:
                    edges[target] = edges.get(target, True) and lazy
        graph[name] = edges
    return graph


def strongly_connected(graph: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); groups of more than one module, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def one_cycle(graph: dict[str, dict[str, bool]], group: list[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    members = set(group)
    start = group[0]
    paths: dict[str, list[str]] = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child == start:
                    return [*paths[node], start]
                if child in members and child not in paths:
                    paths[child] = [*paths[node], child]
                    nxt.append(child)
        frontier = nxt
    return group


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=here / "server" / PACKAGE)
    parser.add_argument("--only", default=PACKAGE, help="print only modules under this name")
    args = parser.parse_args(argv)
    graph = build(args.root.resolve())
    for name in sorted(graph):
        if name != args.only and not name.startswith(args.only + "."):
            continue
        deps = [f"{d} (lazy)" if lazy else d for d, lazy in sorted(graph[name].items())]
        print(f"{name} -> {', '.join(deps) if deps else '(nothing)'}")
    groups = strongly_connected(graph)
    layers = layer_problems(graph) + external_problems(args.root.resolve())
    if not groups:
        print(f"no import cycle among {len(graph)} modules")
    else:
        print(f"{len(groups)} import cycle(s):", file=sys.stderr)
    for group in groups:
        print(
            f"  {' -> '.join(one_cycle(graph, group))}   (group: {', '.join(group)})",
            file=sys.stderr,
        )
    if not layers:
        print(f"every import follows the {len(LAYERS)} layers")
    for problem in layers:
        print(f"  layer: {problem}", file=sys.stderr)
    return 1 if groups or layers else 0


if __name__ == "__main__":
    sys.exit(main())
