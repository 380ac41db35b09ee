"""The application factory builds a working app under every configuration."""

from __future__ import annotations

import pytest

from app import create_app


def test_testing_config(tmp_path):
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}"})
    assert app.testing
    assert app.config["WTF_CSRF_ENABLED"] is False


def test_development_config_reads_database_url(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    app = create_app("development")
    assert app.config["DATABASE_URL"] == url
    assert not app.testing
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_config_hardens_cookies(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["WTF_CSRF_ENABLED"] is True


def test_unknown_config_name_is_an_error():
    with pytest.raises(RuntimeError, match="unknown FUFEN_CONFIG"):
        create_app("staging")


def test_each_app_has_its_own_engine(tmp_path):
    a = create_app({"ENV_NAME": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"})
    b = create_app({"ENV_NAME": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"})
    from portal.extensions import db

    with a.app_context():
        url_a = str(db.engine.url)
    with b.app_context():
        url_b = str(db.engine.url)
    assert url_a != url_b
