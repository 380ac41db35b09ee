"""Languages: zh-CN first, English second; the choice is kept in a cookie (and on the
user's profile once logged in). Also the 长辈模式 (large text) preference."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, current_app, g, has_request_context, redirect, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.extensions import babel, login_manager
from portal.outage import LARGE_TEXT_COOKIE as LARGE_TEXT_COOKIE
from portal.outage import LOCALE_COOKIE as LOCALE_COOKIE
from portal.urls import safe_next

ONE_YEAR = 365 * 24 * 3600


def select_locale() -> str:
    supported = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if request.path.startswith("/api/"):
        # Programs say which language they read in each request (no cookies).
        return accept_language_locale()
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in supported:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in supported:
        return current_user.locale
    return from_accept_language(supported) or current_app.config["BABEL_DEFAULT_LOCALE"]


def from_accept_language(supported: object) -> str | None:
    """A first visit follows the browser's languages, best first (zh-CN when none fits):
    any Chinese tag reads the zh-CN catalogue, any English tag English."""
    for tag, quality in request.accept_languages:
        if quality <= 0:
            continue
        primary = tag.lower().replace("_", "-").split("-")[0]
        if primary == "zh" and "zh_Hans_CN" in supported:  # type: ignore[operator]
            return "zh_Hans_CN"
        if primary in supported:  # type: ignore[operator]
            return primary
    return None


def accept_language_locale() -> str:
    """The supported locale the ``Accept-Language`` header prefers; zh-CN by default."""
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best is None:
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    return "en" if best == "en" else "zh_Hans_CN"


def html_lang() -> str:
    from flask_babel import get_locale

    loc = str(get_locale())
    return "zh-CN" if loc.startswith("zh") else loc


def large_text_enabled() -> bool:
    if "large_text" in g:
        return bool(g.large_text)
    cookie = request.cookies.get(LARGE_TEXT_COOKIE)
    if cookie is not None:
        return cookie == "1"
    return bool(getattr(current_user, "is_authenticated", False) and current_user.large_text)


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    app.jinja_env.globals.update(html_lang=html_lang, large_text_enabled=large_text_enabled)

    @app.post("/lang/<code>")
    def set_language(code: str) -> Response:
        resp = redirect(safe_next(request.form.get("next")))
        if code in current_app.config["LANGUAGES"]:
            resp.set_cookie(LOCALE_COOKIE, code, max_age=ONE_YEAR, samesite="Lax", httponly=True)
            if current_user.is_authenticated:
                current_user.locale = code
        return resp

    @app.post("/large-text")
    def toggle_large_text() -> Response:
        on = not large_text_enabled()
        resp = redirect(safe_next(request.form.get("next")))
        resp.set_cookie(
            LARGE_TEXT_COOKIE, "1" if on else "0", max_age=ONE_YEAR, samesite="Lax", httponly=True
        )
        if current_user.is_authenticated:
            current_user.large_text = on
        return resp


# --- catalogue tooling (scripts/i18n.sh, the Makefile and the tests call these) -------
# English msgids are the source language: only zh_Hans_CN needs a catalogue; for "en"
# Flask-Babel finds no catalogue and shows the msgids themselves.

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = ROOT / "translations"
BABEL_CFG = ROOT / "babel.cfg"
TRANSLATED_LOCALES = ("zh_Hans_CN",)
EXTRACT_KEYWORDS = ("_l", "lazy_gettext", "lazy_ngettext:1,2", "_n:1,2", "lazy_pgettext:1c,2")
# Top-level folders that never hold user-facing strings (or must not be scanned).
_NOT_SOURCE = {
    "tests",
    "migrations",
    "bench",
    "docs",
    "scripts",
    "translations",
    "static",
    "instance",
    "node_modules",
    "seeds",
}


def source_paths() -> list[str]:
    """What to scan: every top-level package and templates folder, plus top-level *.py."""
    paths = []
    for child in sorted(ROOT.iterdir()):
        if child.name.startswith((".", "_")) or child.name in _NOT_SOURCE:
            continue
        if child.is_dir() and (child.name == "templates" or any(child.glob("*.py"))):
            paths.append(child.name)
        elif child.suffix == ".py":
            paths.append(child.name)
    return paths


def _pybabel(*args: str) -> None:
    """Run a pybabel command from the project root (locations stay relative)."""
    import os

    from babel.messages.frontend import CommandLineInterface

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        CommandLineInterface().run(["pybabel", "-q", *args])
    finally:
        os.chdir(cwd)


def extract_messages(pot_path: str | None = None) -> str:
    """Extract every msgid from code and templates into a POT file; returns its path."""
    target = pot_path or str(TRANSLATIONS_DIR / "messages.pot")
    keywords: list[str] = []
    for k in EXTRACT_KEYWORDS:
        keywords += ["-k", k]
    _pybabel(
        "extract",
        "-F",
        str(BABEL_CFG),
        *keywords,
        "--no-location",
        "--sort-output",
        "--no-wrap",
        "-c",
        "Translators:",
        "--project=Fufen",
        "-o",
        target,
        *source_paths(),
    )
    return target


def _stable_header(po: Path) -> None:
    """Drop the extraction timestamp from the header: without locations and with a fixed
    header, a catalogue changes only where its messages change, so branches that add
    messages merge cleanly (``.gitattributes`` merges ``*.po`` as a union)."""
    text = po.read_text(encoding="utf-8")
    text = re.sub(r'^"POT-Creation-Date: [^"]*"\n', "", text, flags=re.M)
    po.write_text(text, encoding="utf-8")


def update_catalogs(pot_path: str | None = None) -> None:
    """Merge a fresh extraction into each translated catalogue (new msgids arrive empty)."""
    pot = pot_path or extract_messages()
    for locale in TRANSLATED_LOCALES:
        po = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
        if po.exists():
            _pybabel(
                "update",
                "-i",
                pot,
                "-d",
                str(TRANSLATIONS_DIR),
                "-l",
                locale,
                "--no-fuzzy-matching",
                "--ignore-obsolete",
                "--no-wrap",
            )
            _stable_header(po)
        else:
            _pybabel("init", "-i", pot, "-d", str(TRANSLATIONS_DIR), "-l", locale, "--no-wrap")
    write_english_catalog(pot)


# English is the source language, but some msgids carry Chinese: the points' name (福分) and
# examples or terms in parentheses. The English catalogue (generated by ``update_catalogs``)
# gives those an English text; every other msgid is shown as written.
ENGLISH_OVERRIDES = {
    "Civic practice (文明实践)": "Civic practice",
    "For example: 3号楼": "For example: Building 3",
    "For example: 垃圾分类宣传": "For example: waste sorting awareness",
    "For example: 夕阳红巡逻队": "For example: Sunset Patrol",
    "For example: 宣传员, 调解员, 楼栋长": "For example: publicity, mediator, building captain",
    "For example: 粮油9折券": "For example: 10% off rice and oil",
    "Hardship help (扶贫帮困)": "Hardship help",
    "Mediation (调解)": "Mediation",
    "Party member report (报到)": "Party member report",
    "Publish posts such as 宣传员, 调解员 or 楼栋长 for volunteers to claim.": (
        "Publish posts such as publicity, mediator or building captain for volunteers to claim."
    ),
}
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def english_text(msgid: str) -> str | None:
    """The English text for a msgid that contains Chinese; None when it has none."""
    if not _CJK.search(msgid):
        return None
    if msgid in ENGLISH_OVERRIDES:
        return ENGLISH_OVERRIDES[msgid]
    return msgid.replace("福分", "Fufen points")


def write_english_catalog(pot: str) -> Path:
    """translations/en/LC_MESSAGES/messages.po: only msgids with Chinese in them."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    with open(pot, "rb") as fh:
        template = read_po(fh)
    catalog = Catalog(locale="en", project="Fufen", fuzzy=False)
    for msg in template:
        if not msg.id:
            continue
        if isinstance(msg.id, tuple):
            texts = [english_text(part) for part in msg.id]
            if any(t is not None for t in texts):
                strings = tuple(t or part for t, part in zip(texts, msg.id, strict=True))
                catalog.add(msg.id, strings, flags=msg.flags, context=msg.context)
            continue
        text = english_text(msg.id)
        if text is not None:
            catalog.add(msg.id, text, flags=msg.flags, context=msg.context)
    target = TRANSLATIONS_DIR / "en" / "LC_MESSAGES" / "messages.po"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        write_po(fh, catalog, width=0, omit_header=False, sort_output=True, include_lineno=False)
    _stable_header(target)
    text = target.read_text(encoding="utf-8")
    text = re.sub(r'^"PO-Revision-Date: [^"]*"\n', "", text, flags=re.M)
    target.write_text(text, encoding="utf-8")
    return target


def compile_catalogs(force: bool = False) -> list[str]:
    """Compile each ``messages.po`` into ``messages.mo`` when the .mo is missing or older.

    Fuzzy entries are left out. Raises ``ValueError`` when a translation breaks its
    placeholders (e.g. ``%(name)s`` missing). Returns the .mo files written.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(TRANSLATIONS_DIR.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not force and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        problems = [f"{msg.id!r}: {err}" for msg, errors in catalog.check() for err in errors]
        if problems:
            raise ValueError(f"{po}: " + "; ".join(problems))
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        tmp.replace(mo)
        written.append(str(mo))
    return written


def untranslated(locale: str = "zh_Hans_CN", pot_path: str | None = None) -> list[str]:
    """msgids found in the code but missing, empty or fuzzy in ``locale``'s catalogue."""
    import tempfile

    from babel.messages.pofile import read_po

    with tempfile.TemporaryDirectory() as tmp:
        pot = pot_path or extract_messages(str(Path(tmp) / "messages.pot"))
        with open(pot, "rb") as fh:
            template = read_po(fh)
    po = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return [str(m.id) for m in template if m.id]
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    missing = []
    for msg in template:
        if not msg.id:
            continue
        found = catalog.get(msg.id, msg.context)
        strings = found.string if found is not None else None
        values = strings if isinstance(strings, (list, tuple)) else [strings]
        if found is None or found.fuzzy or not all(values):
            missing.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    return missing
