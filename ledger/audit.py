"""The tamper-evident audit chain, open to sensitive non-ledger actions too.

Each community has CHAIN_SHARDS chains: record n of a chain holds
sha256(hash of record n-1 + payload of n). Events go to shard 0.
Ledger operations append their own records; the portal appends admin actions (an export of
resident data, a role change…) with ``append_event``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.db import utcnow
from ledger import canonical, errors
from ledger.models import AuditRecord
from ledger.posting import _Chain
from ledger.types import Actor, Db, conn_of, write_conn_of


def append_event(db: Db, *, community_id: int, event: str, actor: Actor, data: dict[str, Any]) -> int:
    """Append a sensitive action (e.g. ``event="admin.export"``) to the community's chain;
    returns the record's sequence number. ``data`` must be JSON-serializable."""
    if not isinstance(actor, Actor):
        raise errors.InvalidRequest("actor must be ledger.Actor")
    if not event or len(event) > 32 or event in ("tx", "hold", "voided", "expired", "close"):
        raise errors.InvalidRequest("event must be a name of at most 32 characters, not a ledger event")
    conn = write_conn_of(db)
    chain = _Chain(conn, [community_id])  # shard 0; creates the community's heads if needed
    now = utcnow()
    chain.append(
        community_id,
        event,
        canonical.dumps(["event", event, community_id, actor.id, canonical.micros(now), data]),
        now,
        actor.id,
    )
    return int(chain.heads[community_id][0])


def records(db: Db, community_id: int, *, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """A community's audit records of all its chains, oldest first, keyset-paged on ``id``
    (``seq`` counts within one chain, see ``shard``)."""
    AR = AuditRecord.__table__
    rows = conn_of(db).execute(
        select(AR).where(AR.c.community_id == community_id, AR.c.id > after_id).order_by(AR.c.id).limit(limit)
    )
    return [dict(r._mapping) for r in rows]
