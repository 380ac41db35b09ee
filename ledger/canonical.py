"""Canonical serializations hashed into the audit chain and the idempotency records.

A transaction's payload is a compact JSON array. The PostgreSQL function ``ledger_post``
builds the same bytes with ``to_json(text)`` and string concatenation; both escape exactly
``"``, ``\\`` and control characters the same way (tested in tests/ledger/test_canonical.py).
Times are integer microseconds since the epoch so no time formatting is involved; entries
are listed in account-id order (an account appears at most once per transaction).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(when: dt.datetime) -> int:
    return (when - EPOCH) // dt.timedelta(microseconds=1)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def tx_payload(
    *,
    tx_id: int,
    community_id: int,
    kind: str,
    actor_id: int | None,
    reason: str,
    ref_type: str | None,
    ref_id: int | None,
    reverses_id: int | None,
    hold_id: int | None,
    forced: bool,
    created_at: dt.datetime,
    entries: Sequence[tuple[int, int]],
) -> str:
    return dumps(
        [
            "tx",
            tx_id,
            community_id,
            kind,
            actor_id,
            reason,
            ref_type,
            ref_id,
            reverses_id,
            hold_id,
            forced,
            micros(created_at),
            [[a, m] for a, m in sorted(entries)],
        ]
    )


def chain_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def request_hash(op: str, content: Sequence[Any]) -> str:
    return hashlib.sha256(dumps([op, *content]).encode("utf-8")).hexdigest()
