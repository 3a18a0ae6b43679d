"""The import structure, read statically from the source: one direction between the packages
(`models` <- `workers` <- `study` <- `dashboard`) and no cycle between modules, counting the
imports inside functions too (a deferred import hides a cycle from Python, not from a reader)."""

from __future__ import annotations

import ast
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "workers", "study", "dashboard")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(TOP).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    """module -> the first-party modules it imports (anywhere in its body)."""
    files = {_module_name(p): p for pkg in PACKAGES for p in (TOP / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = mod.split(".")[: len(mod.split(".")) - node.level + is_pkg]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from pkg import mod` names a module when one exists by that name
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]  # fmt: skip
            else:
                continue
            for t in targets:
                while t and t not in files:  # `import a.b.c` of a function: its module
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def test_packages_import_in_one_direction() -> None:
    rank = {p: i for i, p in enumerate(PACKAGES)}
    wrong = sorted(
        f"{m} imports {t}"
        for m, ts in _graph().items()
        for t in ts
        if rank[t.split(".")[0]] > rank[m.split(".")[0]]
    )
    assert wrong == []


def test_no_module_imports_itself_through_others() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if t == m.rpartition(".")[0] or m == t.rpartition(".")[0]:
                continue  # a package and its own submodules (lazy __init__ re-exports)
            if state.get(t) == 1:
                cycles.append([*path[path.index(t) :], t])
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert [" -> ".join(c) for c in cycles] == []
