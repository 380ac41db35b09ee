"""Application factory. ``flask --app app run`` finds ``create_app`` here.

Nothing is wired at import time: extensions, blueprints and CLI commands join the app
inside ``create_app``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

import config as config_module

# Feature packages, in registration order. Each exposes ``init_app(app)``.
FEATURES = (
    "portal.ids",
    "portal.i18n",
    "portal.ui",
    "portal.security_headers",
    "portal.accounts.security",
    "portal.error_handlers",
    "portal.health",
    "portal.refusals",
    "portal.main",
    "portal.accounts",
    "portal.community",
    "portal.notifications",
    "portal.posts",
    "portal.teams",
    "portal.activities",
    "portal.hours",
    "portal.wishes",
    "portal.rewards",
    "portal.compliance",
    "portal.exchange",
    "portal.transparency",
    "portal.settings",
    "portal.api",
    "portal.proxy",
    "portal.needs",
    "portal.roster",
    "portal.cli",
    "portal.ledger_cli",
)


def create_app(config: str | Mapping[str, Any] | type | None = None) -> Flask:
    """Build the app.

    ``config`` may be a config name ("development", "testing", "production"), a config
    class, or a mapping of settings (applied on top of the testing defaults when it has
    no ``ENV_NAME``). None means ``$FUFEN_CONFIG`` or development.
    """
    app = Flask(__name__, instance_relative_config=True, static_folder="static", template_folder="templates")
    app.config.update(_resolve_config(config))
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set; export SECRET_KEY before starting Fufen in production")
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    if app.config.get("PROXY_FIX_X_FOR"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_FIX_X_FOR"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    from portal.extensions import csrf, db, limiter, login_manager

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    for name in FEATURES:
        importlib.import_module(name).init_app(app)
    _configure_ledger(app)
    return app


def _configure_ledger(app: Flask) -> None:
    """The ledger has no Flask: its settings (process-wide) come from the app's config."""
    import ledger

    ledger.configure(
        max_posting_amount=app.config["LEDGER_MAX_POSTING"],
        use_pg_functions=app.config["LEDGER_USE_PG_FUNCTIONS"],
        verify_keys=tuple(app.config.get("LEDGER_VERIFY_KEYS") or ()),
    )


def _resolve_config(config: str | Mapping[str, Any] | type | None) -> dict[str, Any]:
    if config is None or isinstance(config, str):
        return config_module.load(config)
    if isinstance(config, type):
        return config.from_env()  # type: ignore[attr-defined, no-any-return]
    base = config_module.load(str(config.get("ENV_NAME", "testing")))
    base.update(config)
    return base
