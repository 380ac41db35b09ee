"""Translations: the Chinese UI is complete, catalogues compile, locale selection works."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portal import i18n

CATALOG = i18n.TRANSLATIONS_DIR / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def test_every_message_has_a_chinese_translation(tmp_path: Path) -> None:
    """Extract every msgid from code and templates into a temp POT and compare: a new
    English string without a (non-fuzzy) zh_Hans_CN translation fails here.
    Fix: scripts/i18n.sh update, translate the empty msgstr entries, scripts/i18n.sh compile."""
    missing = i18n.untranslated("zh_Hans_CN", pot_path=i18n.extract_messages(str(tmp_path / "m.pot")))
    assert missing == [], "untranslated (run scripts/i18n.sh update and translate):\n" + "\n".join(missing)


def test_extraction_scans_code_and_templates_but_not_the_venv() -> None:
    paths = i18n.source_paths()
    assert "portal" in paths and "templates" in paths
    assert not any(p.startswith((".venv", "tests", "migrations")) for p in paths)


def _copy_catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS_DIR, target, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", target)
    return target


def test_compile_writes_mo_once_until_the_po_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _copy_catalogs(tmp_path, monkeypatch)
    written = i18n.compile_catalogs()
    assert written == [
        str(target / "en" / "LC_MESSAGES" / "messages.mo"),
        str(target / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo"),
    ]
    assert i18n.compile_catalogs() == []  # fresh: nothing to do
    assert len(i18n.compile_catalogs(force=True)) == 2


def test_compile_refuses_a_translation_that_breaks_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _copy_catalogs(tmp_path, monkeypatch)
    po = target / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
    po.write_text(
        po.read_text(encoding="utf-8").replace('msgstr "%(name)s，您好"', 'msgstr "%(nom)s，您好"'),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="Hello"):
        i18n.compile_catalogs(force=True)


def test_locale_selection_and_english_fallback(tmp_path: Path) -> None:
    from flask_babel import get_locale, gettext

    from tests.conftest import make_test_app

    i18n.compile_catalogs()
    app = make_test_app(DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}")
    with app.test_request_context("/"):
        assert str(get_locale()) == "zh_Hans_CN"
        assert i18n.html_lang() == "zh-CN"
        assert gettext("Home") == "首页"
    with app.test_request_context("/", headers={"Cookie": f"{i18n.LOCALE_COOKIE}=en"}):
        assert str(get_locale()) == "en"
        assert i18n.html_lang() == "en"
        assert gettext("Home") == "Home"  # English is the source language
    with app.test_request_context("/", headers={"Cookie": f"{i18n.LOCALE_COOKIE}=fr"}):
        assert str(get_locale()) == "zh_Hans_CN"  # unsupported → default


def test_i18n_script_compiles_from_the_command_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(i18n.__file__).resolve().parents[1]
    result = subprocess.run(
        ["sh", str(root / "scripts" / "i18n.sh"), "compile"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (CATALOG.with_suffix(".mo")).exists()
