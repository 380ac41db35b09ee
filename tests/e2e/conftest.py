"""Real-browser fixtures: Playwright for Python driving Debian's Chromium.

* The browser is the Debian package's binary (``scripts/install-browser.sh``); never
  ``playwright install``. Without it these tests skip with the reason — except in CI
  (CI=true), where a missing browser is a failure.
* The app runs in-process in a werkzeug server thread (port 0) against its own temp-file
  SQLite database, built with ``Base.metadata.create_all`` and seeded with the demo data
  (``portal.demo.seed_demo``). It does not use the ``app`` fixture of tests/conftest.py,
  which binds every request to one rolled-back connection.
* Pages open in a 390×844 phone context (is_mobile, has_touch, locale zh-CN); CSRF is on,
  as in production.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to test-results/screenshots (ignored by git) on every run; set
# UPDATE_SCREENSHOTS=1 to refresh the reviewed copies in docs/screenshots instead.
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else ROOT / "test-results" / "screenshots"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM")
        or shutil.which("chromium")
        or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    path = chromium_path()
    if path is None:
        reason = "Debian chromium not found; run scripts/install-browser.sh (as root)"
        if IN_CI:
            pytest.fail(f"CI requires the browser: {reason}", pytrace=False)
        pytest.skip(reason)
    return {"executable_path": path, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the app served from a background thread with a fresh seeded database."""
    from werkzeug.serving import make_server

    import portal.models  # noqa: F401  (complete metadata)
    from core.db import Base, make_engine
    from portal.i18n import compile_catalogs
    from tests.conftest import make_test_app

    compile_catalogs()
    db_file = tmp_path_factory.mktemp("e2e") / "fufen.db"
    url = f"sqlite:///{db_file}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = make_test_app(DATABASE_URL=url, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False)
    _seed(app)
    LIVE_APP.append(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        from portal.extensions import db as _db

        _db.dispose(app)


SEED_PROBLEM: list[str] = []
LIVE_APP: list[Any] = []


@pytest.fixture(scope="session")
def live_app(live_server: str) -> Any:
    """The Flask app behind ``live_server``: for arranging data through the services (e.g.
    an activity with chosen times). Every user action still goes through the browser."""
    return LIVE_APP[0]


def _seed(app: Any) -> None:
    """Seed the demo world. A broken seed does not stop the journeys that need no demo
    people; ``demo_login`` then skips with the error."""
    try:
        from portal.demo import seed_demo
    except ImportError as exc:
        SEED_PROBLEM.append(f"portal.demo.seed_demo missing ({exc})")
        return
    from portal.extensions import db

    with app.app_context():
        try:
            seed_demo(db.session)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported through demo_login's skip
            db.session.rollback()
            SEED_PROBLEM.append(f"seed_demo failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        _ensure_a_community(db.session)
        db.session.commit()


def _ensure_a_community(session: Any) -> None:
    """Sign-up needs an open community to choose; add one when the seed did not."""
    from sqlalchemy import select

    from portal.places.models import Community, Street

    if session.scalar(select(Community.id).limit(1)) is None:
        street = Street(name="城关街道", district="示范区")
        session.add(street)
        session.flush()
        session.add(Community(street_id=street.id, name="幸福里社区", address="幸福里路18号"))


@pytest.fixture(scope="session")
def base_url(live_server: str) -> str:
    return live_server


@pytest.fixture(scope="session")
def browser_context_args(base_url: str) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "viewport": PHONE,
        "screen": PHONE,
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
    }


@pytest.fixture(autouse=True)
def _fail_fast(request: pytest.FixtureRequest) -> None:
    if "page" in request.fixturenames:
        request.getfixturevalue("page").set_default_timeout(10_000)


@pytest.fixture()
def console_errors(page: Any) -> list[str]:
    """Console errors and CSP violations seen by the page (a clean page has none)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture()
def shoot() -> Any:
    """``shoot(page, "zh-home")`` saves <SCREENSHOTS>/zh-home.png: what the phone screen
    shows (a full-page capture would paint the fixed tab bar in the middle of the page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture(scope="session")
def demo_login(live_server: str) -> dict[str, str]:
    """A confirmed demo resident (phone, password, name) from portal.demo, if seeded."""
    if SEED_PROBLEM:
        if IN_CI:
            pytest.fail(SEED_PROBLEM[0], pytrace=False)
        pytest.skip(SEED_PROBLEM[0])
    try:
        from portal.demo import DEMO_PASSWORD, PEOPLE
    except ImportError:
        pytest.skip("portal.demo has no demo people yet")
    person = next(
        (p for p in PEOPLE if p.get("key") == "wang_jianhua"),
        next((p for p in PEOPLE if p.get("home")), PEOPLE[0]),
    )
    return {"phone": person["phone"], "password": DEMO_PASSWORD, "name": person["name"]}


# --- accessibility: axe-core in the page --------------------------------------------------
AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
# Impacts that fail a page. "moderate"/"minor" findings are reported by AXE_REPORT only.
AXE_FAILING = ("serious", "critical")
AXE_REPORT = os.environ.get("AXE_REPORT")  # a file: every finding (all impacts) as JSON lines


def axe_violations(page: Any, label: str = "") -> list[str]:
    """Run axe-core on the page as it is now; returns "rule (impact): target" strings for
    serious and critical violations. The script is evaluated through the DevTools protocol,
    so the page's CSP (script-src 'self') stays on."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
                targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5), count: v.nodes.length}));
        }"""
    )
    where = label or page.url
    if AXE_REPORT:
        import json

        with open(AXE_REPORT, "a", encoding="utf-8") as fh:
            for v in result:
                fh.write(json.dumps({"page": where, **v}, ensure_ascii=False) + "\n")
    return [
        f"{where}: {v['id']} ({v['impact']}): {', '.join(v['targets'])}"
        for v in result
        if v["impact"] in AXE_FAILING
    ]


@pytest.fixture(autouse=True)
def _axe_every_journey_page(request: pytest.FixtureRequest) -> Iterator[None]:
    """axe-core on every page a journey shows: each time a test is about to leave a page
    (``page.goto`` or a click), and on the last page, the page as the user sees it is
    checked once per URL. Serious or critical violations fail the test."""
    if "page" not in request.fixturenames:
        yield
        return
    from playwright.sync_api import Locator, Page

    page = request.getfixturevalue("page")
    seen: set[str] = set()
    found: list[str] = []

    def check(p: Any) -> None:
        if p is not page or p.is_closed():
            return
        url = p.url
        if url in seen or not url.startswith("http"):
            return
        seen.add(url)
        try:
            p.wait_for_load_state("load")
            found.extend(axe_violations(p, f"{request.node.name} {url}"))
        except Exception as exc:  # noqa: BLE001 - a page closing mid-check is not a finding
            if "closed" not in str(exc).lower():
                raise

    original_goto, original_click = Page.goto, Locator.click

    def goto(self: Any, *args: Any, **kwargs: Any) -> Any:
        check(self)
        return original_goto(self, *args, **kwargs)

    def click(self: Any, *args: Any, **kwargs: Any) -> Any:
        check(self.page)
        return original_click(self, *args, **kwargs)

    Page.goto, Locator.click = goto, click  # type: ignore[method-assign]
    try:
        yield
        check(page)
    finally:
        Page.goto, Locator.click = original_goto, original_click  # type: ignore[method-assign]
    assert found == [], "axe-core found serious/critical problems:\n" + "\n".join(found)
