"""The code's shape, measured: import cycles, layer violations, function-level imports, module sizes.

    python -m evals.bench_layers [--root PATH]

Layers (README, Architecture): retrieval < training < agent < (ui | evals); the `convrec` CLI (ui/cli.py) may
import every layer and nothing imports it. The contracts themselves are enforced by import-linter
(`lint-imports`, pyproject.toml) in the test suite; this script reports the numbers behind them, for any
checkout (`--root` an older commit's worktree gives the before figures).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from evals.lib.record import emit

PACKAGES = ("retrieval", "training", "agent", "ui", "evals")
RANK = {"retrieval": 0, "training": 1, "agent": 2, "ui": 3, "evals": 3}  # same rank: may not import each other
CLI = "ui.cli"


def modules(root: Path) -> dict[str, Path]:
    """Module name -> file for every first-party module under root."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _resolve(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    """The absolute module of a (possibly relative) `from X import y`."""
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_package else name.split(".")[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """(imported first-party module, inside a function) for every import statement of a module."""
    tree = ast.parse(path.read_text(), str(path))
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                mod = _resolve(child, name, path.name == "__init__.py")
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in child.names]
            else:
                visit(child, nested)
                continue
            for target in targets:
                while target and target not in known:  # "agent.core.Agent" -> "agent.core"
                    target = target.rpartition(".")[0]
                if target and target.split(".")[0] in PACKAGES:
                    out.append((target, in_function))

    visit(tree, False)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def violates(importer: str, imported: str) -> bool:
    """Whether an import points the wrong way between layers (the CLI may import anything)."""
    a, b = importer.split(".")[0], imported.split(".")[0]
    if importer == CLI or importer.startswith(CLI + "."):
        return False
    if imported == CLI:
        return True
    return a != b and RANK[a] <= RANK[b]


def measure(root: Path) -> dict:
    """The figures for one checkout."""
    mods = modules(root)
    known = set(mods)
    graph: dict[str, set[str]] = {}
    function_level = 0
    wrong: list[str] = []
    for name, path in mods.items():
        for target, in_function in imports(name, path, known):
            if target == name or name.startswith(target + "."):
                continue  # a package's own __init__ or a submodule importing its parent package
            graph.setdefault(name, set()).add(target)
            function_level += in_function
            if violates(name, target):
                wrong.append(f"{name} -> {target}")
    sizes = {name: len(path.read_text().splitlines()) for name, path in mods.items()}
    largest = max(sizes, key=sizes.get)
    return {"import_cycles": len(cycles(graph)), "cycles": cycles(graph), "layer_violations": len(set(wrong)),
            "violations": sorted(set(wrong)), "function_level_first_party_imports": function_level,
            "largest_module_lines": sizes[largest], "largest_module": largest, "modules": len(mods)}


def main(argv: list[str] | None = None) -> int:
    """Print the figures as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m evals.bench_layers", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the checkout to measure (default: here)")
    args = parser.parse_args(argv)
    emit(measure(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
