"""The architecture holds: import-linter's contracts (core floors, independent applications, core never imports
an application), zero import circles counting every import (inside functions too), and no in-function import
of an optimist module outside the CLI, where each says why it is lazy."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAZY_ALLOWED = {"optimist.core.cli"}


def _modules() -> dict[str, Path]:
    mods = {}
    for src in sorted(ROOT.glob("packages/*/src")):
        for f in src.rglob("*.py"):
            parts = list(f.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = f
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[tuple[str, bool, int]]]:
    """module -> {(imported optimist module, inside a function, line)}."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    out: dict[str, set[tuple[str, bool, int]]] = {m: set() for m in mods}
    for m, f in mods.items():
        tree = ast.parse(f.read_text(), str(f))
        inner = {id(n) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for n in ast.walk(fn)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                         for a in node.names]
            else:
                continue
            for name in names:
                target = resolve(name) if name.startswith("optimist") else None
                if target and target != m:
                    out[m].add((target, id(node) in inner, node.lineno))
    return out


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
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

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_zero_import_circles_counting_every_import():
    imports = _imports(_modules())
    edges = {m: {t for t, _, _ in targets} for m, targets in imports.items()}
    assert _circles(edges) == []


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_in_function_imports_only_in_the_cli_with_a_reason():
    mods = _modules()
    for m, targets in _imports(mods).items():
        lazy = sorted(line for _, inner, line in targets if inner)
        if m not in LAZY_ALLOWED:
            assert not lazy, f"{m} imports optimist modules inside functions at lines {lazy}; import at the top"
            continue
        lines = mods[m].read_text().splitlines()
        for line in lazy:
            assert "# lazy:" in lines[line - 1], f"{m}:{line} imports inside a function without a '# lazy:' reason"


def test_import_linter_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "lint-imports is not installed (scripts/setup.sh installs import-linter)"
    run = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "3 kept, 0 broken" in run.stdout
