"""The package layout's rules, read from the source: no import cycles among src/ modules
(imports under TYPE_CHECKING and inside functions count), no module over 600 lines, and the
gateway core never imports the tools around it (demo, local fleet, top, CLI, testing helpers)
nor their dependency ``rich``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "zeta_router"
MAX_LINES = 600
#: The gateway: everything ``zeta-router serve`` imports.
CORE = ("zeta_router.router", "zeta_router.app", "zeta_router.http", "zeta_router.routing",
        "zeta_router.upstream", "zeta_router.fleet", "zeta_router.ops", "zeta_router.managed",
        "zeta_router.analysis", "zeta_router.clock", "zeta_router.config", "zeta_router.errors")
#: The tools around it, which may import the gateway but not the reverse.
TOOLS = ("zeta_router.demo", "zeta_router.localfleet", "zeta_router.top", "zeta_router.cli",
         "zeta_router.testing")


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every module ``path`` imports, anywhere in its body (TYPE_CHECKING blocks and functions
    included)."""
    name = _name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = {f"{target}.{a.name}" for a in node.names} & modules
            # ``from p import m`` imports the module p.m; a package's own __init__ is no edge,
            # as it is none for ``from p.m import x`` either.
            found.update(submodules or {target})
    return found


def _graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_name(p) for p in paths}
    graph = {}
    for p in paths:
        deps = {m for m in _imports(p, modules) if m in modules} - {_name(p)}
        graph[_name(p)] = deps
    return graph


def _external(path: Path) -> set[str]:
    return {m.split(".")[0] for m in _imports(path, set())}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = _graph()
    # A function-level import (cli's lazy demo) and a relative one (features' lexicon).
    assert "zeta_router.demo" in graph["zeta_router.cli"]
    assert "zeta_router.analysis.lexicon" in graph["zeta_router.analysis.features"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=_name)
def test_no_module_over_the_size_limit(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_name(path)} has {lines} lines; split it along a seam"


def test_the_core_does_not_import_the_tools() -> None:
    graph = _graph()
    bad = {
        (mod, dep)
        for mod, deps in graph.items()
        if _within(mod, CORE)
        for dep in deps
        if _within(dep, TOOLS)
    }
    assert bad == set()


def test_only_tools_import_rich() -> None:
    users = {_name(p) for p in PACKAGE.rglob("*.py") if "rich" in _external(p)}
    assert users, "the check must see rich's users"
    assert all(_within(u, TOOLS) for u in users), users


def test_a_server_only_install_serves_without_rich() -> None:
    """With rich missing (a plain ``pip install .``), the gateway imports and builds its app,
    and the tools that need rich say how to get it instead of failing with a traceback."""
    script = (
        "import sys\n"
        "sys.modules['rich'] = None\n"
        "from zeta_router import cli\n"
        "from zeta_router.app import create_app\n"
        "from zeta_router.ops import serve\n"
        "from zeta_router.router import Router\n"
        "create_app(Router(cli._load(None)))\n"
        "loaded = [m for m, mod in sys.modules.items() if mod and m.split('.')[0] == 'rich']\n"
        "assert not loaded, loaded\n"
        f"cli.main(['check', '-c', {str(PACKAGE / 'data' / 'example.yaml')!r}])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert "needs the 'rich' package" in done.stderr
    assert "zeta-router[tools]" in done.stderr
    assert "Traceback" not in done.stderr
