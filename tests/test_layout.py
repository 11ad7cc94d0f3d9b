"""The shape of `bot/`: no import circles, and modules small enough to read at once.

Every import counts — at the top, inside functions and under ``TYPE_CHECKING`` — because each
one is a dependency a reader must follow. A lower layer that needs something of the one that
composes it takes a protocol (``bot.service.view``, ``bot.telegram.host``) instead.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "bot"
MAX_LINES = 400


def module_files() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for file in ROOT.rglob("*.py"):
        parts = list(file.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = file
    return mods


def imports_of(name: str, file: Path, known: set[str]) -> set[str]:
    """Every module of `bot` that `name` imports, wherever the import statement stands."""
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    """The checker itself: a two-module and a three-module loop are found, a chain is not."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(circles(graph)) == [["a", "b"], ["c", "d", "e"]]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_imports_inside_functions_and_type_checking_count(tmp_path: Path) -> None:
    """An import hidden in a function or under TYPE_CHECKING is still an edge."""
    file = tmp_path / "m.py"
    file.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.x import A\n"
        "def f():\n    from bot.y.z import B\n"
    )
    assert imports_of("bot.m", file, {"bot.m", "bot.x", "bot.y", "bot.y.z"}) == {
        "bot.x",
        "bot.y.z",
    }


def test_no_import_circles_under_bot() -> None:
    """No module of `bot` reaches itself through its imports."""
    mods = module_files()
    graph = {name: imports_of(name, file, set(mods)) for name, file in mods.items()}
    assert circles(graph) == []


@pytest.mark.parametrize("name", sorted(module_files()))
def test_modules_are_small_enough_to_read_at_once(name: str) -> None:
    """No module over MAX_LINES lines: a stage that grows is split by what it owns."""
    lines = module_files()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_commands_without_token_or_postgresql_load_neither_library() -> None:
    """`vigil once/run/status/search` on SQLite without a token import neither
    python-telegram-bot nor psycopg: 0.1 s each of every start (the container's health check
    runs `vigil health` every 30 s, and the tests start `vigil` hundreds of times)."""
    modules = ["bot.commands.once", "bot.commands.run", "bot.commands.status", "bot.service.app"]
    code = (
        f"import sys\nimport {', '.join(modules)}\n"
        "print(sorted(m for m in ('telegram', 'psycopg') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
