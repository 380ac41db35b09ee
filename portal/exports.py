"""Cells of the spreadsheets the portal exports (CSV/XLSX), safe to open."""

from __future__ import annotations

from typing import Any

# A cell starting with one of these is a formula to Excel/WPS/LibreOffice (OWASP CSV
# injection): =, +, -, @, and tab / carriage return, which some importers strip first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text that would start a formula gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
