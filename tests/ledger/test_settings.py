"""Settings reach the ledger: the app factory configures it from the app's config."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import config as config_module
import ledger


@pytest.fixture
def restore_ledger_config() -> Iterator[None]:
    before = ledger.config()
    yield
    ledger.configure(**before.__dict__)


def test_app_factory_configures_the_ledger(restore_ledger_config: None) -> None:
    from app import create_app

    create_app({"ENV_NAME": "testing", "LEDGER_MAX_POSTING": 50, "LEDGER_USE_PG_FUNCTIONS": False})
    assert ledger.config() == ledger.LedgerConfig(max_posting_amount=50, use_pg_functions=False)
    create_app({"ENV_NAME": "testing", "LEDGER_VERIFY_KEYS": ("ab" * 32,)})
    assert ledger.config().verify_keys == ("ab" * 32,)
    create_app({"ENV_NAME": "testing"})
    assert ledger.config() == ledger.LedgerConfig(max_posting_amount=100_000, use_pg_functions=True)


@pytest.mark.parametrize("raw,cap", [("2500", 2500), ("none", None), ("0", None)])
def test_cap_from_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str, cap: int | None) -> None:
    monkeypatch.setenv("LEDGER_MAX_POSTING", raw)
    monkeypatch.setenv("LEDGER_USE_PG_FUNCTIONS", "false")
    values = config_module.load("development")
    assert values["LEDGER_MAX_POSTING"] == cap
    assert values["LEDGER_USE_PG_FUNCTIONS"] is False
