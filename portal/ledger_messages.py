"""One place that turns a ``ledger.LedgerError`` into a short translated message for people.

Used by every feature that spends or moves 福分 (gifts, grants, exchange, rewards)::

    try:
        ledger.transfer(...)
    except ledger.LedgerError as err:
        raise Conflict(ledger_error_message(err), code=err.code) from None

Messages are lazy strings (``lazy_gettext``) resolved in the current request's locale;
call ``str()`` on the result when you need a plain string. Unknown codes get a generic
"nothing was changed" message, never the internal text of the exception.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ledger.errors import ERRORS, LedgerError

MESSAGES = {
    "insufficient_funds": _l("Not enough 福分 available. Points held for pending rewards cannot be spent."),
    "invalid_amount": _l("Enter a whole number of points greater than zero."),
    "invalid_entries": _l("This transaction is not valid. Nothing was changed."),
    "unbalanced": _l("This transaction does not balance. Nothing was changed."),
    "invalid_request": _l("This request is not valid. Nothing was changed."),
    "unknown_account": _l("That points account does not exist."),
    "account_closed": _l("That points account is closed."),
    "cross_community": _l("Points can only move within one community."),
    "currency_mismatch": _l("These accounts use different kinds of points."),
    "amount_over_cap": _l("The amount is larger than allowed for one transaction."),
    "idempotency_conflict": _l(
        "This form was already submitted with different details. Reload the page and try again."
    ),
    "already_reversed": _l("This transaction has already been reversed."),
    "not_reversible": _l("This transaction cannot be reversed."),
    "unknown_transaction": _l("That transaction does not exist."),
    "unknown_hold": _l("That reservation of points does not exist."),
    "hold_not_pending": _l("This reservation has already been used, cancelled or expired."),
    "hold_expired": _l("This reservation has expired."),
}
DEFAULT_MESSAGE = _l("The points could not be moved. Nothing was changed; please try again.")

# Every code the ledger can raise must have a message (checked by a unit test too).
assert set(ERRORS) <= set(MESSAGES), set(ERRORS) - set(MESSAGES)


def ledger_error_message(err: LedgerError) -> str:
    """A translated, user-facing message for a ledger error (a lazy string)."""
    return MESSAGES.get(getattr(err, "code", ""), DEFAULT_MESSAGE)  # type: ignore[return-value]
