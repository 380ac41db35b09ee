"""Approving 500 hour logs in one staff request, timed on SQLite and/or PostgreSQL.

    python -m bench.approve                       # SQLite (temp file) and PostgreSQL if reachable
    python -m bench.approve --pg postgresql://postgres@127.0.0.1:5432/test --logs 500 --rounds 3

For each backend, in a fresh database: the time of one POST /hours/review/approve
("approve all matching", 500 pending logs of 50 volunteers → 500 ledger postings, the hour
log updates, notifications and the audit event, one commit) through the Flask test client,
and the ledger's raw baseline measured in the same run: ``ledger.post_many`` of 500
equivalent postings + commit, with no portal around it. Prints both and the ratio.
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import ledger
import portal.models  # noqa: F401
from core.db import Base, make_engine, utcnow
from portal.people.models import Role
from portal.volunteering.hours import HourLog, HourSource, HourStatus


def _fresh(backend: str, pg_url: str) -> tuple[str, object]:
    if backend == "sqlite":
        path = os.path.join(tempfile.mkdtemp(), "bench.db")
        return f"sqlite:///{path}", None
    admin = create_engine(make_url(pg_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    name = f"fufen_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(pg_url).set(database=name).render_as_string(hide_password=False), (admin, name)


def _drop(handle: object) -> None:
    if handle is None:
        return
    admin, name = handle  # type: ignore[misc]
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run(backend: str, pg_url: str, n_logs: int, rounds: int) -> None:
    from tests.conftest import make_test_app
    from tests.factories import login, make_community, make_street, make_user

    url, handle = _fresh(backend, pg_url)
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
        app = make_test_app(DATABASE_URL=url, DATABASE_ENGINE=engine, WTF_CSRF_ENABLED=False)
        raw_times, approve_times = [], []
        for _ in range(rounds):
            with Session(engine, expire_on_commit=False) as s:
                community = make_community(s, street=make_street(s))
                staff = make_user(s, community=community, roles=(Role.STAFF,))
                vols = [make_user(s, community=community) for _ in range(50)]
                base = utcnow() - dt.timedelta(days=60)
                for i in range(n_logs):
                    v = vols[i % len(vols)]
                    start = base + dt.timedelta(hours=3 * (i // len(vols)))
                    s.add(
                        HourLog(
                            community_id=community.id,
                            user_id=v.id,
                            source=HourSource.OTHER,
                            started_at=start,
                            ended_at=start + dt.timedelta(hours=1),
                            minutes=60,
                            description="bench",
                            reported_by_id=v.id,
                            status=HourStatus.PENDING,
                        )
                    )
                fund = ledger.community_fund(s, community.id)
                accts = [ledger.user_account(s, community.id, v.id) for v in vols]
                s.commit()
                cid, staff_obj = community.id, staff
            # Raw ledger baseline: 500 postings in one transaction.
            with Session(engine) as s:
                actor = ledger.Actor.user(staff_obj.id)
                key = uuid.uuid4().hex
                postings = [
                    ledger.Posting(
                        key=f"bench:{key}:{i}",
                        kind="earn",
                        entries=((fund, -10), (accts[i % len(accts)], 10)),
                        actor=actor,
                        reason="bench",
                        ref_type="bench",
                        ref_id=i,
                    )
                    for i in range(n_logs)
                ]
                t0 = time.perf_counter()
                ledger.post_many(s, postings)
                s.commit()
                raw_times.append(time.perf_counter() - t0)
            client = app.test_client()
            login(client, staff_obj)
            t0 = time.perf_counter()
            resp = client.post("/hours/review/approve", data={"all_matching": "1", "community_id": cid})
            approve_times.append(time.perf_counter() - t0)
            assert resp.status_code == 302, resp.status_code
            with Session(engine) as s:
                approved = s.scalar(
                    select(HourLog.id)
                    .where(HourLog.community_id == cid, HourLog.status == HourStatus.PENDING)
                    .limit(1)
                )
                assert approved is None, "some logs were not approved"
        raw, app_t = statistics.median(raw_times), statistics.median(approve_times)
        print(
            f"{backend}: approve {n_logs} logs in one request: {app_t * 1000:.0f} ms (median of {rounds}); "
            f"raw ledger.post_many of {n_logs}: {raw * 1000:.0f} ms; ratio {app_t / raw:.2f}x"
        )
    finally:
        engine.dispose()
        _drop(handle)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--pg", default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--logs", type=int, default=500)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    for backend in args.backends.split(","):
        try:
            run(backend, args.pg, args.logs, args.rounds)
        except Exception as exc:  # noqa: BLE001 - report and go on to the next backend
            print(f"{backend}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    main()
