"""Architecture rules, checked by parsing the source (STYLE.md):

* only ``ledger/`` touches the ledger's tables and models; everything else calls its API;
* ``ledger/`` imports neither Flask nor the portal;
* only the commit boundaries commit: ``portal/database.py`` (the request, and
  ``db.transaction()`` for CLI commands) — services and views never do;
* nothing is wired at import time in ``app.py`` (``create_app`` builds the app).
"""

from __future__ import annotations

import ast
import re
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
        if _rel(path) == "core/models.py":  # the model registry imports every model module
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
