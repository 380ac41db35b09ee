"""Signed checkpoints: an audit that does not trust the database.

The hash chains make an edit of one record evident — unless whoever edits can also drop the
triggers and recompute every later hash and the heads. A checkpoint closes that gap: on a
schedule (``flask ledger checkpoint``, cron) each community's chain heads and its totals are
signed with an Ed25519 key that is **not in the database** (a file readable by the cron job
only) and the signed statement is stored (append-only) and published (the community's
transparency page). ``verify`` checks every checkpoint's signature against the configured
public keys and that each checkpointed head is still in its chain with the same hash, so a
chain recomputed after the checkpoint no longer passes; the published copies make deleting
checkpoints evident to anyone who kept one.

Payload (canonical JSON, what is signed):
``["checkpoint", community_id, created_at_µs, [[shard, seq, hash], …], {totals}]``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import case, func, insert, select
from sqlalchemy.engine import Connection

from core.db import utcnow
from ledger import canonical, errors
from ledger.models import Account, AuditHead, AuditRecord, Checkpoint, Entry, Transaction
from ledger.types import Db, config, read_conn_of, write_conn_of

A, E, T = Account.__table__, Entry.__table__, Transaction.__table__
AH, AR, CP = AuditHead.__table__, AuditRecord.__table__, Checkpoint.__table__


# --- keys ----------------------------------------------------------------------------------


def generate_key() -> tuple[bytes, str]:
    """A new key pair: (private key as PEM, public key as hex for LEDGER_VERIFY_KEYS)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, public_hex(key)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise errors.InvalidRequest("the checkpoint signing key must be an Ed25519 private key")
    return key


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def key_id(public_key_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


# --- totals and checkpoints ----------------------------------------------------------------


def totals(db: Db, community_id: int) -> dict[str, int]:
    """福分 issued by the community fund, redeemed at merchants, and in circulation (held by
    residents, organisations and merchants) — the figures of the transparency page."""
    conn = read_conn_of(db)
    fund_out = (
        select(func.coalesce(func.sum(-E.c.amount), 0))
        .select_from(E.join(A, A.c.id == E.c.account_id))
        .where(A.c.community_id == community_id, A.c.kind == "fund", E.c.amount < 0)
    )
    fund_back = (
        select(func.coalesce(func.sum(E.c.amount), 0))
        .select_from(E.join(A, A.c.id == E.c.account_id))
        .where(A.c.community_id == community_id, A.c.kind == "fund", E.c.amount > 0)
    )
    redeemed = (
        select(func.coalesce(func.sum(case((T.c.kind == "redeem", E.c.amount), else_=-E.c.amount)), 0))
        .select_from(E.join(T, T.c.id == E.c.tx_id).join(A, A.c.id == E.c.account_id))
        .where(A.c.community_id == community_id, A.c.kind == "merchant")
        .where((T.c.kind == "redeem") | (T.c.reverses_id.in_(select(T.c.id).where(T.c.kind == "redeem"))))
    )
    circulating = select(func.coalesce(func.sum(A.c.balance), 0)).where(
        A.c.community_id == community_id, A.c.kind.in_(("user", "org", "merchant"))
    )
    return {
        "issued": int(conn.execute(fund_out).scalar_one()),
        "returned_to_fund": int(conn.execute(fund_back).scalar_one()),
        "redeemed": int(conn.execute(redeemed).scalar_one()),
        "in_circulation": int(conn.execute(circulating).scalar_one()),
    }


def communities(db: Db) -> list[int]:
    """Every community that has a ledger (its chains exist)."""
    return list(
        read_conn_of(db).execute(select(AH.c.community_id).distinct().order_by(AH.c.community_id)).scalars()
    )


def checkpoint(db: Db, community_id: int, key: Ed25519PrivateKey) -> dict[str, Any]:
    """Sign and store the community's current chain heads and totals; returns the checkpoint."""
    conn = write_conn_of(db)
    heads = [
        [r.shard, r.seq, r.hash]
        for r in conn.execute(select(AH).where(AH.c.community_id == community_id).order_by(AH.c.shard))
    ]
    if not heads:
        raise errors.InvalidRequest("the community has no ledger yet", community_id=community_id)
    now = utcnow()
    payload = canonical.dumps(
        ["checkpoint", community_id, canonical.micros(now), heads, totals(conn, community_id)]
    )
    pub = public_hex(key)
    row = {
        "community_id": community_id,
        "created_at": now,
        "payload": payload,
        "key_id": key_id(pub),
        "signature": key.sign(payload.encode("utf-8")).hex(),
    }
    row["id"] = conn.execute(insert(CP).returning(CP.c.id), row).scalar_one()
    return _describe(row, pub)


def latest_checkpoint(db: Db, community_id: int) -> dict[str, Any] | None:
    """The community's most recent checkpoint (for its public transparency page)."""
    r = (
        read_conn_of(db)
        .execute(select(CP).where(CP.c.community_id == community_id).order_by(CP.c.id.desc()).limit(1))
        .first()
    )
    return None if r is None else _describe(dict(r._mapping), None)


def _describe(row: dict[str, Any], public_key: str | None) -> dict[str, Any]:
    _, community_id, _, heads, sums = json.loads(row["payload"])
    return {
        **row,
        "heads": heads,
        "totals": sums,
        # one line that anyone can keep and compare later: a hash over the whole signed payload
        "digest": hashlib.sha256(row["payload"].encode("utf-8")).hexdigest(),
        "public_key": public_key,
    }


# --- verification --------------------------------------------------------------------------


def verify_checkpoints(conn: Connection, add: Any, stats: dict[str, int]) -> None:
    """Signatures (when public keys are configured) and that every checkpointed head is still
    in its chain with the same hash. ``add(message)`` records a violation."""
    keys = {key_id(k): Ed25519PublicKey.from_public_bytes(bytes.fromhex(k)) for k in config().verify_keys}
    checked = 0
    for cp in conn.execute(select(CP).order_by(CP.c.id)):
        where = f"checkpoint {cp.id} (community {cp.community_id})"
        try:
            kind, community_id, _, heads, _ = json.loads(cp.payload)
            assert kind == "checkpoint" and community_id == cp.community_id
        except (ValueError, AssertionError, TypeError):
            add(f"{where}: payload is not a checkpoint of this community")
            continue
        if keys:
            key = keys.get(cp.key_id)
            if key is None:
                add(f"{where}: signed by an unknown key {cp.key_id}")
            else:
                try:
                    key.verify(bytes.fromhex(cp.signature), cp.payload.encode("utf-8"))
                    checked += 1
                except (InvalidSignature, ValueError):
                    add(f"{where}: signature does not match its payload (checkpoint forged or altered)")
        for shard, seq, digest in heads:
            if seq == 0:
                continue
            at = (AR.c.community_id == community_id) & (AR.c.shard == shard) & (AR.c.seq == seq)
            found = conn.execute(select(AR.c.hash).where(at)).scalar()
            if found != digest:
                add(
                    f"{where}: chain {shard} record seq {seq} is "
                    f"{'missing' if found is None else 'not the one that was signed'} — the chain was "
                    "rewritten after the checkpoint"
                )
    stats["checkpoints"] = conn.execute(select(func.count()).select_from(CP)).scalar_one()
    stats["checkpoint_signatures_checked"] = checked
