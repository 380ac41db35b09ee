"""Golden vectors: the sealed formats, byte for byte.

Every existing database's audit chains and idempotency records were computed with these
formats; a change to any of them (key order, separators, escaping of non-ASCII text,
microsecond timestamps, request and chain hashes) makes old chains unverifiable and old keys
conflict. The expected values below are literals: if one of these tests fails, the change
broke the sealed format (write a migration of the chains instead, and a new vector).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

import ledger
from ledger import Actor, canonical
from ledger.models import AuditRecord, IdempotencyRecord, Transaction

GENESIS = "0" * 64
WHEN = dt.datetime(2026, 11, 21, 6, 57, 18, 659640, tzinfo=dt.UTC)
ODD = '给邻居 "谢谢"\\\n\t'  # CJK, a quote, a backslash, control characters


# --- pure functions ----------------------------------------------------------------------


def test_canonical_json_bytes() -> None:
    value = {"b": 1, "a": [1, '社区 "x" \\ \n', None, True], "é": 2.5}
    assert canonical.dumps(value) == '{"a":[1,"社区 \\"x\\" \\\\ \\n",null,true],"b":1,"é":2.5}'
    assert canonical.dumps({"z": {"y": 1, "x": 2}}) == '{"z":{"x":2,"y":1}}'  # nested keys sorted too
    assert canonical.dumps(["\u00e9", "\u2028", "\x7f"]) == '["é","\u2028","\x7f"]'  # no \\u escapes


def test_microsecond_timestamps() -> None:
    assert canonical.micros(WHEN) == 1795244238659640
    assert isinstance(canonical.micros(WHEN), int)
    assert canonical.micros(dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) == 0
    assert canonical.micros(dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)) == -1
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert canonical.micros(dt.datetime(2026, 1, 1, 8, 0, 0, 1, tzinfo=shanghai)) == 1767225600000001


def test_transaction_payload_and_chain_hash() -> None:
    payload = canonical.tx_payload(
        tx_id=42,
        community_id=3,
        kind="gift",
        actor_id=7,
        reason=ODD,
        ref_type="wish",
        ref_id=9,
        reverses_id=None,
        hold_id=None,
        forced=False,
        created_at=WHEN,
        entries=[(12, 5), (5, -5)],  # sealed in account-id order
    )
    assert payload == (
        '["tx",42,3,"gift",7,"给邻居 \\"谢谢\\"\\\\\\n\\t","wish",9,null,null,false,'
        "1795244238659640,[[5,-5],[12,5]]]"
    )
    first = canonical.chain_hash(GENESIS, payload)
    assert first == "4adaafe542835e2309f422e0182db56b006b83aea4be250971893ce560230594"
    assert (
        canonical.chain_hash(first, payload)
        == "d8cecbc50f5c6be3c5f3fddb2424ce7d64265cc4bbeb92432e98a9f8bc16993b"
    )
    forced = canonical.tx_payload(
        tx_id=43,
        community_id=3,
        kind="reverse",
        actor_id=None,
        reason="r",
        ref_type=None,
        ref_id=None,
        reverses_id=42,
        hold_id=8,
        forced=True,
        created_at=WHEN,
        entries=[(5, 5), (12, -5)],
    )
    assert forced == '["tx",43,3,"reverse",null,"r",null,null,42,8,true,1795244238659640,[[5,5],[12,-5]]]'


def test_request_hash() -> None:
    content = ["gift", [[5, -5], [12, 5]], 7, "谢谢", "wish", 9, False]
    assert canonical.request_hash("post", content) == (
        "5352b57c4c924bfcf49e819bd7cc5e29257165e4c2bf1b11988c7a6eaa0a6e15"
    )


# --- as sealed by each backend (SQLite statements, plpgsql, the Python path) ---------------


def _records(session: Session) -> list[sa.Row]:
    AR = AuditRecord.__table__
    return session.execute(sa.select(AR).order_by(AR.c.id)).all()


def _check_link(rec: sa.Row, prev: str) -> None:
    assert rec.prev_hash == prev
    expected = hashlib.sha256((prev + rec.payload).encode("utf-8")).hexdigest()
    assert rec.hash == expected


def test_sealed_formats_on_the_backend(session: Session, books: dict[str, int]) -> None:
    # Fresh books: account ids are fixed, so the request hashes below are literals.
    assert (books["fund"], books["alice"], books["bob"], books["shop"]) == (1, 2, 3, 4)
    staff = Actor.user(1)
    # shards of the keys (crc32 % 16), pinned too: moving a key to another chain breaks it
    assert [ledger.posting.shard_of(k) for k in ("g-issue", "g-gift", "g-hold", "g-void")] == [14, 5, 15, 6]

    issued = ledger.issue(
        session, key="g-issue", fund_account=1, to_account=2, amount=30, actor=staff, reason="hours"
    )
    gift = ledger.transfer(
        session,
        key="g-gift",
        from_account=2,
        to_account=3,
        amount=5,
        actor=Actor.user(101),
        reason=ODD,
        kind="gift",
        ref_type="wish",
        ref_id=9,
    )
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    held = ledger.hold(
        session, key="g-hold", account_id=2, amount=4, actor=Actor.user(101), reason="券", expires_at=expires
    )
    ledger.void(session, key="g-void", hold_id=held.hold_id, actor=staff, reason="取消")
    ledger.append_event(session, community_id=1, event="admin.export", actor=staff, data={"行": 2, "a": None})
    session.commit()

    # g-issue is sha256 of '["post","earn",[[1,-30],[2,30]],1,"hours",null,null,false]'
    idem = {r.key: r.request_hash for r in session.execute(sa.select(IdempotencyRecord.__table__)).all()}
    assert idem == {
        "g-issue": "7a706ab59466f951afc47a60d6ca23240147e6bffd416e7f8b4f109dac73711d",
        "g-gift": "c01b8c15ebfdf7a9b6b6be6abe31fdcbcc412424f63edfcd81a9ff0b861635f9",
        "g-hold": "60ad419da3606a21d85868700e171d6cd34fa1903ab132423054e31ab934d968",
        "g-void": "0466eb6bcde8eace0b4ef5961351a981d95e1553fd3217755d6e6ef1559e685d",
    }

    T = Transaction.__table__
    created = dict(session.execute(sa.select(T.c.id, T.c.created_at)).all())
    # the result's time is the stored time, to the microsecond
    assert created[issued.tx_id] == issued.created_at and created[gift.tx_id] == gift.created_at
    recs = {(r.event, r.tx_id or r.hold_id): r for r in _records(session)}

    tx = recs[("tx", gift.tx_id)]
    assert tx.payload == (
        f'["tx",{gift.tx_id},1,"gift",101,"给邻居 \\"谢谢\\"\\\\\\n\\t","wish",9,null,null,false,'
        f"{canonical.micros(created[gift.tx_id])},[[2,-5],[3,5]]]"
    )
    assert (tx.shard, tx.seq) == (5, 1)
    _check_link(tx, GENESIS)
    assert recs[("tx", issued.tx_id)].payload == (
        f'["tx",{issued.tx_id},1,"earn",1,"hours",null,null,null,null,false,'
        f"{canonical.micros(created[issued.tx_id])},[[1,-30],[2,30]]]"
    )

    hold_rec = recs[("hold", held.hold_id)]
    assert hold_rec.payload == (
        f'["hold",{held.hold_id},1,2,4,101,"券",null,null,1893553445000006,'
        f"{json.loads(hold_rec.payload)[-1]}]"
    )
    assert isinstance(json.loads(hold_rec.payload)[-1], int)
    void_rec = recs[("voided", held.hold_id)]
    assert void_rec.payload == f'["voided",{held.hold_id},1,"取消",{json.loads(void_rec.payload)[-1]}]'
    assert (void_rec.shard, void_rec.seq) == (6, 1)
    _check_link(void_rec, GENESIS)

    event = next(r for r in _records(session) if r.event == "admin.export")
    assert event.shard == 0 and event.seq == 1
    stamp = json.loads(event.payload)[4]
    assert event.payload == f'["event","admin.export",1,1,{stamp},{{"a":null,"行":2}}]'
    _check_link(event, GENESIS)
    assert ledger.verify(session).ok


def test_sealed_capture_and_reversal(session: Session, books: dict[str, int]) -> None:
    assert (books["fund"], books["alice"], books["shop"]) == (1, 2, 4)
    staff = Actor.user(1)
    ledger.issue(session, key="r-i", fund_account=1, to_account=2, amount=20, actor=staff, reason="h")
    h = ledger.hold(
        session, key="r-h", account_id=2, amount=8, actor=staff, reason="券", ref_type="reward", ref_id=3
    )
    cap = ledger.capture(
        session, key="r-c", hold_id=h.hold_id, to_account=4, amount=6, actor=staff, reason="扫码"
    )
    rev = ledger.reverse(session, tx_id=cap.tx_id, key="r-r", actor=staff, reason="退货")
    session.commit()
    idem = dict(
        session.execute(
            sa.select(IdempotencyRecord.key, IdempotencyRecord.request_hash).where(
                IdempotencyRecord.key.in_(["r-c", "r-r"])
            )
        ).all()
    )
    # capture: '["capture","redeem",[[2,-6],[4,6]],1,"扫码","reward",3,false,<hold id>]'
    # reverse: '["reverse","reverse",[[2,6],[4,-6]],1,"退货","ledger_tx",<tx id>,true,false]'
    assert h.hold_id == 1 and cap.tx_id == 2
    assert idem == {
        "r-c": hashlib.sha256(
            '["capture","redeem",[[2,-6],[4,6]],1,"扫码","reward",3,false,1]'.encode()
        ).hexdigest(),
        "r-r": hashlib.sha256(
            '["reverse","reverse",[[2,6],[4,-6]],1,"退货","ledger_tx",2,true,false]'.encode()
        ).hexdigest(),
    }
    T = Transaction.__table__
    created = dict(session.execute(sa.select(T.c.id, T.c.created_at)).all())
    recs = {r.tx_id: r.payload for r in _records(session) if r.event == "tx"}
    assert recs[cap.tx_id] == (
        f'["tx",2,1,"redeem",1,"扫码","reward",3,null,1,false,{canonical.micros(created[2])},[[2,-6],[4,6]]]'
    )
    assert recs[rev.tx_id] == (
        f'["tx",3,1,"reverse",1,"退货","ledger_tx",2,2,null,false,{canonical.micros(created[3])},[[2,6],[4,-6]]]'
    )
