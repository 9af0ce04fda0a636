"""The layers hold: no import cycle anywhere, and the feed tools stay off Scrapy and trafilatura.

The layering rules themselves are import-linter contracts in pyproject.toml (``lint-imports``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from tests.conftest import PROJECT_ROOT

PACKAGES = ("crawler", "scheduler", "replica", "benchmarks")
HEAVY = ("scrapy", "twisted", "trafilatura")


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of *graph*: its strongly connected components of more than one module
    (or a module importing itself), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

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
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_function_level_imports_included() -> None:
    # grimp reads every import statement, those inside functions and TYPE_CHECKING blocks too.
    imports = grimp.build_graph(*PACKAGES)
    graph = {
        module: {
            imported
            for imported in imports.find_modules_directly_imported_by(module)
            if imported.split(".")[0] in PACKAGES
        }
        for module in imports.modules
    }
    assert graph["crawler.cli.main"] >= {"scheduler.__main__"}  # a function-level import
    assert strongly_connected(graph) == []


def imported_modules(tmp_path: Path, *argv: str) -> set[str]:
    """The top-level packages a ``neu-news`` command imports, from ``python -X importtime``."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crawler.cli.main", *argv],
        cwd=tmp_path,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode in (0, 1, 2), completed.stderr
    names = set()
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "crawler" in names, completed.stderr[-2000:]
    return names


@pytest.mark.parametrize(
    "argv",
    [("feed", "--data-dir", "data"), ("status", "--data-dir", "data"), ("export", "--help")],
)
def test_feed_tools_load_neither_scrapy_nor_trafilatura(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "articles.jsonl").write_text("")
    loaded = imported_modules(tmp_path, *argv)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
