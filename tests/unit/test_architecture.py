"""Architecture rules, checked by parsing the source (STYLE.md):

* only ``ledger/`` touches the ledger's tables and models; everything else calls its API;
* ``ledger/`` imports neither Flask nor the portal;
* only the commit boundaries commit: ``portal/database.py`` (the request, and
  ``db.transaction()`` for CLI commands) — services and views never do;
* nothing is wired at import time in ``app.py`` (``create_app`` builds the app);
* the portal's packages form a house, not a tower: no cycles between them (imports inside
  functions and under ``TYPE_CHECKING`` count too) and at most ``MAX_FLOORS`` floors;
* ``core`` (and ``ledger``) know nothing of the portal.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_CODE = [p for d in ("portal", "core") for p in (ROOT / d).rglob("*.py")] + [ROOT / "app.py"]
LEDGER_CODE = list((ROOT / "ledger").rglob("*.py"))
LEDGER_TABLE = re.compile(r"\bledger_(accounts|transactions|entries|holds|idempotency|audit_\w+)\b")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_only_the_ledger_touches_ledger_tables():
    offenders = []
    for path in APP_CODE:
        if _rel(path) == "portal/models.py":  # the model registry imports every model module
            continue
        imports = _imports(path)
        if any(i == "ledger.models" or i.startswith("ledger.models.") for i in imports):
            offenders.append(f"{_rel(path)} imports ledger.models")
        if any(i.startswith(("ledger.posting._", "ledger.ddl")) for i in imports):
            offenders.append(f"{_rel(path)} reaches into ledger internals")
        if LEDGER_TABLE.search(path.read_text(encoding="utf-8")):
            offenders.append(f"{_rel(path)} names a ledger table")
    assert offenders == []


def test_ledger_is_independent_of_flask_and_portal():
    offenders = [
        f"{_rel(p)}: {i}"
        for p in LEDGER_CODE
        for i in _imports(p)
        if i.split(".")[0] in {"flask", "flask_login", "flask_wtf", "portal", "werkzeug"}
    ]
    assert offenders == []


def test_only_the_boundaries_commit():
    offenders = []
    for path in APP_CODE:
        if _rel(path) == "portal/database.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "commit"
            ):
                offenders.append(f"{_rel(path)}:{node.lineno}")
    assert offenders == [], "commit only at the request boundary or db.transaction() (CLI)"


def test_app_module_wires_nothing_at_import_time():
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    top_level_calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    assigned_calls = [n for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)]
    assert top_level_calls == [] and assigned_calls == []


# --- the package graph ----------------------------------------------------------------------

# The longest chain of packages (core → … → the portal's top) may be at most this long.
MAX_FLOORS = 8
# Wiring that imports every floor on purpose, like app.py: not a floor of the house.
REGISTRIES = {"portal.models"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for d in ("portal", "core", "ledger") for p in (ROOT / d).rglob("*.py")}


def _package(module: str) -> str:
    """``portal.<x>`` for the portal's packages and modules; ``core`` and ``ledger`` whole."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "portal" and len(parts) > 1 else parts[0]


def _imported_modules(module: str) -> set[str]:
    """Every module ``module`` imports, anywhere in the file (functions, TYPE_CHECKING)."""
    path = MODULES[module]
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module in MODULES:
        for target in _imported_modules(module):
            if _package(target) != _package(module):
                graph[_package(module)].add(_package(target))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def test_no_cycles_between_portal_packages():
    assert _cycles(_package_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    graph = {
        "portal.a": {"portal.b"},
        "portal.b": {"portal.c"},
        "portal.c": {"portal.a"},
        "portal.d": {"core"},
    }
    assert _cycles(graph) == [["portal.a", "portal.b", "portal.c"]]


def test_function_level_and_type_checking_imports_count(tmp_path):
    # posts imports teams inside a function: still an edge of the graph.
    graph = _package_graph()
    for package, targets in graph.items():
        assert package not in targets
    assert "portal.volunteering" in graph["portal.posts"]


def test_packages_stand_at_most_max_floors_high():
    graph = _package_graph()

    @cache
    def floors(package: str) -> tuple[str, ...]:
        below = [floors(t) for t in graph.get(package, ())]
        return (package, *max(below, key=len, default=()))

    tallest = max((floors(p) for p in graph if p not in REGISTRIES), key=len)
    assert len(tallest) <= MAX_FLOORS, " → ".join(tallest)


def test_core_and_ledger_know_nothing_of_the_portal():
    offenders = []
    for module, path in MODULES.items():
        if _package(module) in ("core", "ledger"):
            text = path.read_text(encoding="utf-8")
            if "importlib" in text or any(
                _package(t).startswith("portal") for t in _imported_modules(module)
            ):
                offenders.append(module)
    assert offenders == []
