"""Every ledger error code has its own translated message."""

from __future__ import annotations

import flask_babel
from flask import Flask

from ledger.errors import ERRORS, InsufficientFunds, LedgerError
from portal.ledger_messages import DEFAULT_MESSAGE, MESSAGES, ledger_error_message


def _app() -> Flask:
    app = Flask(__name__)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    flask_babel.Babel(app)
    return app


def test_every_code_has_a_message():
    assert set(ERRORS) <= set(MESSAGES)
    with _app().test_request_context():
        texts = {code: str(ledger_error_message(cls())) for code, cls in ERRORS.items()}
    assert all(texts.values())
    assert len(set(texts.values())) == len(texts)  # each code says something specific
    assert "Not enough" in texts["insufficient_funds"]


def test_unknown_code_gets_generic_message():
    class Odd(LedgerError):
        code = "something_new"

    with _app().test_request_context():
        assert str(ledger_error_message(Odd())) == str(DEFAULT_MESSAGE)
        assert str(ledger_error_message(InsufficientFunds(replayed=True))) == str(
            MESSAGES["insufficient_funds"]
        )
