"""The package's layout keeps its rules: no import cycles, no private names across modules, small folders.

The layers themselves (which subpackage may import which) are import-linter
contracts in pyproject.toml, run by ``lint-imports`` (in .ci/run and below).
This file checks what those contracts do not: every import counts here,
those inside functions and under ``TYPE_CHECKING`` included, because a cycle
hidden behind a lazy import is still a cycle for the reader.
"""

from __future__ import annotations

import ast
import collections
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gdsolve"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.with_suffix("").relative_to(PACKAGE.parent).parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, str | None, ast.AST]]:
    """(module imported, name taken from it or None, node) for every gdsolve import in ``path``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:  # `from . import rules`: the module itself
                    found.append((sub, None, node))
                elif target in MODULES:
                    found.append((target, alias.name, node))
        elif isinstance(node, ast.Import):
            found += [(a.name, None, node) for a in node.names if a.name in MODULES]
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = collections.defaultdict(set)
    for name, path in MODULES.items():
        for target, _, _ in _imports(name, path):
            if target != name and not name.startswith(target + "."):  # a package's own __init__ is not a cycle
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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

    for v in sorted(set(graph) | set(MODULES)):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle_and_its_absence():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_lazy_imports_included():
    assert _cycles(_graph()) == []


def test_no_private_name_is_imported_from_another_module():
    bad = []
    for name, path in MODULES.items():
        imported = _imports(name, path)
        modules_bound = {(alias.asname or alias.name) for _, taken, node in imported if taken is None
                         for alias in getattr(node, "names", [])}
        for target, taken, node in imported:
            if taken and taken.startswith("_") and not taken.startswith("__") and target != name:
                bad.append(f"{name}: from {target} import {taken} (line {node.lineno})")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules_bound
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{name}: {node.value.id}.{node.attr} (line {node.lineno})")
    assert bad == []


def test_no_folder_holds_more_than_fifteen_modules():
    folders = collections.Counter(path.parent for path in MODULES.values() if path.name != "__init__.py")
    assert {str(f.relative_to(PACKAGE.parent)): n for f, n in folders.items() if n > 15} == {}


def test_every_module_is_in_a_layer():
    top = {path.relative_to(PACKAGE).parts[0] for path in MODULES.values()}
    assert top - {"__init__.py", "__main__.py", "_version.py"} == {
        "core", "formula", "optim", "engine", "api", "io", "present", "jobs", "cli"}


def test_the_layer_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None, "import-linter is part of the test extra: pip install -e '.[test]'"
    proc = subprocess.run([exe, "--no-cache"], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_architecture_md_names_every_subpackage_and_only_modules_that_exist():
    import re

    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(?:gdsolve/)?((?:core|formula|optim|engine|api|io|present|jobs|cli)/[a-z_]+\.py)`", text))
    assert named and {n for n in named if not (PACKAGE / n).exists()} == set()
    for layer in ("core", "formula", "optim", "engine", "api", "io", "present", "jobs", "cli"):
        assert f"gdsolve/{layer}" in text
    assert "cli > jobs > present > io > api > engine > optim > formula > core" in text
