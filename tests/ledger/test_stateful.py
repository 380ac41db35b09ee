"""A hypothesis state machine drives the ledger against an in-memory model and checks
the invariants after every step, on SQLite, PostgreSQL (plpgsql path) and PostgreSQL
(portable path). One database per backend; each example uses fresh communities."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import ledger
from core.db import make_session_factory
from ledger import Actor, errors
from ledger.models import Account

STAFF = Actor.user(1)
_communities = itertools.count(1, 2)

Call = Callable[[Session], Any]


@pytest.fixture(params=["sqlite", "pg", "pg-python"])
def ledger_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_ledger_state_machine(ledger_engine: Engine) -> None:
    factory = make_session_factory(ledger_engine)

    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def open_books(self) -> None:
            c = next(_communities)
            self.steps = itertools.count()
            with factory() as s:
                self.fund = ledger.community_fund(s, c)
                self.users = [ledger.user_account(s, c, u) for u in range(3)]
                self.shop = ledger.merchant_account(s, c, 1)
                self.foreign = ledger.user_account(s, c + 1, 99)
                s.commit()
            self.accounts = [self.fund, *self.users, self.shop, self.foreign]
            self.bal = dict.fromkeys(self.accounts, 0)
            self.held = dict.fromkeys(self.accounts, 0)
            self.txs: dict[int, tuple[str, dict[int, int]]] = {}  # tx id -> (kind, entries)
            self.reversed: set[int] = set()
            self.holds: dict[int, tuple[int, int, str]] = {}  # id -> (account, amount, status)
            self.recorded: list[tuple[str, Call, tuple[str, Any]]] = []  # replayable calls

        # --- helpers -------------------------------------------------------------------
        def key(self) -> str:
            return f"{self.fund}-{next(self.steps)}"

        def allowed(
            self, deltas: dict[int, int], held: dict[int, int] | None = None, force: bool = False
        ) -> bool:
            held = held or {}
            for a, d in deltas.items():
                if a == self.fund or force:
                    continue
                old = self.bal[a] - self.held[a]
                new = self.bal[a] + d - self.held[a] - held.get(a, 0)
                if new < 0 and new < old:
                    return False
            return True

        def run(self, key: str, call: Call, expect_ok: bool, expect_code: str | None = None) -> Any:
            with factory() as s:
                try:
                    result = call(s)
                    s.commit()
                except errors.LedgerError as err:
                    s.rollback()
                    assert not expect_ok, f"unexpected {err.code} {err.detail}"
                    if expect_code:
                        assert err.code == expect_code, (err.code, expect_code)
                    if err.code in errors.STATEFUL_CODES:
                        self.recorded.append((key, call, ("err", err.code)))
                    return None
            assert expect_ok, f"expected a rejection ({expect_code}), got {result}"
            ident = getattr(result, "tx_id", None) or getattr(result, "hold_id", None)
            self.recorded.append((key, call, ("ok", ident)))
            return result

        def apply(self, result: ledger.PostResult | None, kind: str, deltas: dict[int, int]) -> None:
            if result is not None:
                for a, d in deltas.items():
                    self.bal[a] += d
                self.txs[result.tx_id] = (kind, deltas)

        # --- rules ---------------------------------------------------------------------
        @rule(u=st.integers(0, 2), amount=st.integers(1, 30))
        def issue(self, u: int, amount: int) -> None:
            k, to = self.key(), self.users[u]
            deltas = {self.fund: -amount, to: amount}
            r = self.run(
                k,
                lambda s: ledger.issue(
                    s,
                    key=k,
                    fund_account=self.fund,
                    to_account=to,
                    amount=amount,
                    actor=STAFF,
                    reason="hours",
                ),
                True,
            )
            self.apply(r, "earn", deltas)

        @rule(a=st.integers(0, 4), b=st.integers(0, 4), amount=st.integers(1, 40))
        def transfer(self, a: int, b: int, amount: int) -> None:
            src, dst = (
                ([*self.users, self.shop, self.foreign])[a],
                ([*self.users, self.shop, self.foreign])[b],
            )
            k = self.key()
            deltas = {src: -amount, dst: amount}
            if src == dst:
                code, ok = "invalid_entries", False
            elif dst == self.foreign or src == self.foreign:
                code, ok = "cross_community", False
            else:
                ok = self.allowed(deltas)
                code = None if ok else "insufficient_funds"
            r = self.run(
                k,
                lambda s: ledger.transfer(
                    s, key=k, from_account=src, to_account=dst, amount=amount, actor=STAFF, reason="gift"
                ),
                ok,
                code,
            )
            self.apply(r, "transfer", deltas)

        @rule(n=st.integers(1, 4), amount=st.integers(1, 30), fail_last=st.booleans())
        def batch(self, n: int, amount: int, fail_last: bool) -> None:
            postings, model = [], []
            for i in range(n):
                k = self.key()
                if fail_last and i == n - 1:  # a transfer that overdraws: the whole batch must fail
                    src = self.users[0]
                    # One more than what is spendable at this point of the batch; when a forced
                    # reverse has left the spendable balance negative, any positive amount
                    # overdraws (it would make a negative balance more negative).
                    spendable = self.bal[src] - self.held[src] + sum(d.get(src, 0) for d in model)
                    over = max(spendable, 0) + 1
                    deltas = {src: -over, self.users[1]: over}
                    postings.append(ledger.Posting(k, "gift", list(deltas.items()), STAFF, "gift"))
                else:
                    deltas = {self.fund: -amount, self.users[i % 3]: amount}
                    postings.append(ledger.Posting(k, "earn", list(deltas.items()), STAFF, "hours"))
                model.append(deltas)
            ok = not fail_last
            if fail_last and (over > 100_000):
                return
            with factory() as s:
                try:
                    results = ledger.post_many(s, postings)
                    s.commit()
                except errors.LedgerError as err:
                    s.rollback()
                    assert not ok and err.code == "insufficient_funds" and err.detail["index"] == n - 1
                    return
            assert ok
            for r, deltas in zip(results, model, strict=True):
                self.apply(r, r.kind, deltas)

        @rule(u=st.integers(0, 2), amount=st.integers(1, 30))
        def hold(self, u: int, amount: int) -> None:
            k, a = self.key(), self.users[u]
            ok = self.bal[a] - self.held[a] >= amount
            r = self.run(
                k,
                lambda s: ledger.hold(s, key=k, account_id=a, amount=amount, actor=STAFF, reason="voucher"),
                ok,
                None if ok else "insufficient_funds",
            )
            if r is not None:
                self.held[a] += amount
                self.holds[r.hold_id] = (a, amount, "pending")

        @precondition(lambda self: bool(self.holds))
        @rule(data=st.data(), capture=st.booleans())
        def resolve(self, data: st.DataObject, capture: bool) -> None:
            hid = data.draw(st.sampled_from(sorted(self.holds)))
            a, amount, status = self.holds[hid]
            k = self.key()
            pending = status == "pending"
            if capture:
                take = data.draw(st.integers(1, amount))
                r = self.run(
                    k,
                    lambda s: ledger.capture(
                        s, key=k, hold_id=hid, to_account=self.shop, amount=take, actor=STAFF, reason="scan"
                    ),
                    pending,
                    None if pending else "hold_not_pending",
                )
                if r is not None:
                    self.held[a] -= amount
                    self.apply(r, "redeem", {a: -take, self.shop: take})
                    self.holds[hid] = (a, amount, "captured")
            else:
                r = self.run(
                    k,
                    lambda s: ledger.void(s, key=k, hold_id=hid, actor=STAFF, reason="cancel"),
                    pending,
                    None if pending else "hold_not_pending",
                )
                if r is not None:
                    self.held[a] -= amount
                    self.holds[hid] = (a, amount, "voided")

        @precondition(lambda self: bool(self.txs))
        @rule(data=st.data(), force=st.booleans())
        def reverse(self, data: st.DataObject, force: bool) -> None:
            tid = data.draw(st.sampled_from(sorted(self.txs)))
            kind, deltas = self.txs[tid]
            k = self.key()
            undo = {a: -d for a, d in deltas.items()}
            if kind == "reverse":
                ok, code = False, "not_reversible"
            elif tid in self.reversed:
                ok, code = False, "already_reversed"
            else:
                ok = self.allowed(undo, force=force)
                code = None if ok else "insufficient_funds"
            r = self.run(
                k,
                lambda s: ledger.reverse(s, tx_id=tid, key=k, actor=STAFF, reason="undo", force=force),
                ok,
                code,
            )
            if r is not None:
                self.reversed.add(tid)
                self.apply(r, "reverse", undo)

        @precondition(lambda self: bool(self.recorded))
        @rule(data=st.data())
        def replay(self, data: st.DataObject) -> None:
            key, call, (what, ident) = data.draw(st.sampled_from(self.recorded))
            with factory() as s:
                try:
                    result = call(s)
                    s.commit()
                except errors.LedgerError as err:
                    s.rollback()
                    assert (what, err.code, err.replayed) == ("err", ident, True)
                    return
            assert what == "ok" and result.replayed
            assert ident == (getattr(result, "tx_id", None) or getattr(result, "hold_id", None))

        @precondition(lambda self: bool(self.recorded))
        @rule(data=st.data())
        def reuse_key_differently(self, data: st.DataObject) -> None:
            key = data.draw(st.sampled_from(self.recorded))[0]
            with factory() as s, pytest.raises(errors.IdempotencyConflict):
                ledger.transfer(
                    s,
                    key=key,
                    from_account=self.users[0],
                    to_account=self.users[1],
                    amount=99_999,
                    actor=STAFF,
                    reason="other content",
                )

        # --- invariants ----------------------------------------------------------------
        @invariant()
        def matches_model(self) -> None:
            if not hasattr(self, "bal"):
                return
            with factory() as s:
                rows = s.execute(
                    sa.select(Account.id, Account.balance, Account.held).where(Account.id.in_(self.accounts))
                ).all()
            assert {r.id: r.balance for r in rows} == self.bal
            assert {r.id: r.held for r in rows} == self.held
            assert sum(self.bal.values()) == 0

        def teardown(self) -> None:
            if hasattr(self, "bal"):
                with factory() as s:
                    report = ledger.verify(s)
                    assert report.ok, str(report)

    # 25 programs of 25 steps in the suite; the fuzz profile (`make fuzz`) scales this up.
    examples = max(25, settings.default.max_examples // 4)
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
