"""No import cycle inside radiusd, and the floors of docs/architecture.md hold.

grimp (import-linter's graph) reads every module's imports, TYPE_CHECKING and function-level ones
included; a cycle is a strongly connected component of more than one module. ``lint-imports``
checks the layer contracts in scripts/test.sh; running them here too makes a plain pytest run
fail on an import that points up.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter import configuration
from importlinter.application import use_cases

ROOT = Path(__file__).resolve().parents[2]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The components of more than one module (Tarjan, iterative: the graph has hundreds)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
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


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": {"e"}, "f": set()}
    assert sorted(strongly_connected(graph)) == [["a", "b", "c"], ["e", "e2"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


#: cycles that came with features merged after the floors were drawn; each is to be broken (and
#: removed here), none may grow, and no other may appear
KNOWN_CYCLES: list[list[str]] = []


def test_no_import_cycle_inside_radiusd() -> None:
    g = grimp.build_graph("radiusd", cache_dir=None)
    graph = {m: set(g.find_modules_directly_imported_by(m)) for m in g.modules}
    cycles = [c for c in strongly_connected(graph) if c not in KNOWN_CYCLES]
    details = [
        " -> ".join(cycle)
        + ": "
        + "; ".join(
            f"{d['importer']} l.{d['line_number']}: {d['line_contents']}"
            for a in cycle
            for b in cycle
            for d in g.get_import_details(importer=a, imported=b)
        )
        for cycle in cycles
    ]
    assert cycles == [], "import cycles: " + " | ".join(details)


@pytest.mark.parametrize("package", ["ipam", "inventory"])
def test_no_import_cycle_inside_the_domains(package: str) -> None:
    """The IPAM and inventory domains sit below the store: no cycle there either, none known."""
    g = grimp.build_graph(package, cache_dir=None)
    graph = {m: set(g.find_modules_directly_imported_by(m)) for m in g.modules}
    assert strongly_connected(graph) == []


def test_the_floors_hold(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The contracts of [tool.importlinter] in pyproject.toml, as lint-imports checks them."""
    monkeypatch.chdir(ROOT)
    configuration.configure()
    kept = use_cases.lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True)
    assert kept, capsys.readouterr().out
