"""Ledger errors. Each has a stable ``code`` the web layer maps to a translated message,
and a ``detail`` dict with the facts behind it (account ids, amounts).

Two families:
* input errors (bad amounts, unknown/closed accounts, caps, conflicts): nothing is written;
  replaying the same request fails the same way because it is validated the same way.
* state rejections (``STATEFUL_CODES``: insufficient funds, already reversed, hold not
  pending): the decision depended on balances/lifecycle at the time, so it is recorded under
  the idempotency key and a replay returns the *original* rejection (``replayed=True``).
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    code = "ledger_error"

    def __init__(self, message: str = "", *, replayed: bool = False, **detail: Any) -> None:
        self.detail: dict[str, Any] = detail
        self.replayed = replayed
        super().__init__(message or self.code.replace("_", " "))


class InvalidAmount(LedgerError):
    code = "invalid_amount"


class InvalidEntries(LedgerError):
    """Fewer than two entries, an account twice, a non-integer amount."""

    code = "invalid_entries"


class Unbalanced(LedgerError):
    code = "unbalanced"


class InvalidRequest(LedgerError):
    """Missing reason, unknown kind, force without an admin, bad page size…"""

    code = "invalid_request"


class UnknownAccount(LedgerError):
    code = "unknown_account"


class AccountClosed(LedgerError):
    code = "account_closed"


class CrossCommunity(LedgerError):
    code = "cross_community"


class CurrencyMismatch(LedgerError):
    code = "currency_mismatch"


class AmountOverCap(LedgerError):
    code = "amount_over_cap"


class IdempotencyConflict(LedgerError):
    """The key was used before for a request with different content."""

    code = "idempotency_conflict"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class AlreadyReversed(LedgerError):
    code = "already_reversed"


class NotReversible(LedgerError):
    code = "not_reversible"


class UnknownTransaction(LedgerError):
    code = "unknown_transaction"


class UnknownHold(LedgerError):
    code = "unknown_hold"


class HoldNotPending(LedgerError):
    code = "hold_not_pending"


class HoldExpired(LedgerError):
    code = "hold_expired"


ERRORS: dict[str, type[LedgerError]] = {
    cls.code: cls
    for cls in (
        InvalidAmount,
        InvalidEntries,
        Unbalanced,
        InvalidRequest,
        UnknownAccount,
        AccountClosed,
        CrossCommunity,
        CurrencyMismatch,
        AmountOverCap,
        IdempotencyConflict,
        InsufficientFunds,
        AlreadyReversed,
        NotReversible,
        UnknownTransaction,
        UnknownHold,
        HoldNotPending,
        HoldExpired,
    )
}

# Rejections remembered under the idempotency key (see module docstring).
STATEFUL_CODES = frozenset({"insufficient_funds", "already_reversed", "hold_not_pending", "hold_expired"})


def from_code(code: str, detail: dict[str, Any] | None = None, *, replayed: bool = False) -> LedgerError:
    cls = ERRORS.get(code, LedgerError)
    return cls(replayed=replayed, **(detail or {}))
