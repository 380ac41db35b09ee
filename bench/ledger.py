"""Ledger benchmark: transfers/s against a raw commit baseline measured in the same run.

    python -m bench.ledger --database-url URL --accounts 1000 --transfers 20000 --workers N
    python -m bench.ledger --database-url URL --mode balance --entries 1000000
    python -m bench.ledger --database-url URL --mode batch --batches 20 --batch-size 500

* transfer (default): 1-point transfers between random accounts of one community, each its
  own DB transaction through the public API: on PostgreSQL ``ledger.transfer(conn, …)`` on an
  AUTOCOMMIT connection (one self-committing statement), on SQLite
  ``with conn.begin(): ledger.transfer(conn, …)``; ``--session`` uses
  ``ledger.transfer(session, …)`` + ``session.commit()`` instead. Workers are
  processes (no GIL in the way). Durability untouched (PostgreSQL ``fsync`` and
  ``synchronous_commit`` as configured on the server — checked and printed; SQLite WAL with
  ``synchronous=FULL``). Prints the raw single-row INSERT+COMMIT rate on one connection,
  measured first in the same run, and the ratio. ``--pgbench`` also runs pgbench TPC-B
  (scratch database, ``-c workers -j 2 -T 20``) for the multi-worker ratio.
  Last line: ``transfers_per_s=<number>``.
* balance: an account with ``--entries`` entries (synthetic rows inserted set-based, since
  only the row count matters for a read), then the p50 of the current-balance read: through
  the public API (``ledger.balance(session, id)``, inside an open session transaction) and,
  for contrast, as one prepared statement on a raw driver connection. Last line:
  ``balance_read_p50_ms=<number>`` (the public API).
* batch: approving ``--batch-size`` hour logs at once (``ledger.post_many``, one DB
  transaction) repeatedly. Last line: ``batch_entries_per_s=<number>``.

PostgreSQL runs in a fresh schema of the given database, dropped at the end; SQLite needs a
path that does not exist yet (``--overwrite`` removes it first).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

import ledger
from core.db import Base, make_engine, make_session_factory
from ledger import Actor

LEDGER_TABLES = [t for n, t in Base.metadata.tables.items() if n.startswith("ledger_")]
COMMUNITY = 1
SEED = 10**9
ledger.configure(max_posting_amount=None)  # the seed grants are large; transfers are 1 point


@dataclass
class Target:
    url: str
    schema: str | None  # PostgreSQL scratch schema

    @property
    def is_pg(self) -> bool:
        return self.url.startswith("postgresql")

    def engine(self, **kw: Any) -> sa.engine.Engine:
        if self.is_pg:
            kw.setdefault("connect_args", {"options": f"-c search_path={self.schema}"})
        return make_engine(self.url, **kw)

    def raw_pg(self) -> Any:
        import psycopg

        return psycopg.connect(
            make_url(self.url).set(drivername="postgresql").render_as_string(False),
            options=f"-c search_path={self.schema}",
        )

    @property
    def sqlite_path(self) -> str:
        return self.url.split("///", 1)[1]


def setup(url: str, overwrite: bool) -> Target:
    if url.startswith("postgresql"):
        t = Target(url, f"bench_{uuid.uuid4().hex[:8]}")
        with t.raw_pg() as c:
            c.execute(f"CREATE SCHEMA {t.schema}")
            settings = {k: c.execute(f"SHOW {k}").fetchone()[0] for k in ("fsync", "synchronous_commit")}  # type: ignore[index]
        print(f"postgresql: {settings}")
        if settings != {"fsync": "on", "synchronous_commit": "on"}:
            sys.exit("refusing to benchmark with durability turned off")
    else:
        t = Target(url, None)
        path = t.sqlite_path
        if os.path.exists(path):
            if not overwrite:
                sys.exit(f"{path} exists; pass --overwrite to replace it")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
        print("sqlite: journal_mode=WAL synchronous=FULL")
    engine = t.engine()
    Base.metadata.create_all(engine, tables=LEDGER_TABLES)
    engine.dispose()
    return t


def teardown(t: Target) -> None:
    if t.is_pg:
        with t.raw_pg() as c:
            c.execute(f"DROP SCHEMA {t.schema} CASCADE")


# --- baselines ---------------------------------------------------------------------------


def raw_commit_rate(t: Target, n: int) -> float:
    """Single-row INSERT + COMMIT on one connection, the best of two client styles
    (explicit transaction, autocommit) so the baseline is the stricter one."""
    rates = []
    if t.is_pg:
        with t.raw_pg() as c:
            c.execute("CREATE TABLE bench_raw (id bigserial PRIMARY KEY, v int NOT NULL)")
            c.commit()
            for autocommit in (False, True):
                c.autocommit = autocommit
                start = time.perf_counter()
                for i in range(n):
                    c.execute("INSERT INTO bench_raw (v) VALUES (%s)", (i,))
                    if not autocommit:
                        c.commit()
                rates.append(n / (time.perf_counter() - start))
    else:
        c = sqlite3.connect(t.sqlite_path + ".raw", isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=FULL")
        c.execute("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, v int NOT NULL)")
        for explicit in (True, False):
            start = time.perf_counter()
            for i in range(n):
                if explicit:
                    c.execute("BEGIN IMMEDIATE")
                c.execute("INSERT INTO bench_raw (v) VALUES (?)", (i,))
                if explicit:
                    c.execute("COMMIT")
            rates.append(n / (time.perf_counter() - start))
        c.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(t.sqlite_path + ".raw" + suffix):
                os.remove(t.sqlite_path + ".raw" + suffix)
    print(f"raw INSERT+COMMIT (1 connection): explicit tx {rates[0]:,.0f}/s, autocommit {rates[1]:,.0f}/s")
    return max(rates)


def pgbench_tps(url: str, clients: int, seconds: int) -> float | None:
    u = make_url(url)
    name = f"bench_pgbench_{uuid.uuid4().hex[:6]}"
    conn = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    admin = sa.create_engine(u.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        subprocess.run(["pgbench", "-i", "-q", *conn, name], check=True, capture_output=True)
        out = subprocess.run(
            ["pgbench", "-c", str(clients), "-j", "2", "-T", str(seconds), *conn, name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        m = re.search(r"tps = ([\d.]+)", out)
        tps = float(m.group(1)) if m else None
        print(f"pgbench TPC-B -c {clients} -j 2 -T {seconds}: tps={tps}")
        return tps
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


# --- transfer mode -------------------------------------------------------------------------


def open_accounts(t: Target, n: int) -> list[int]:
    engine = t.engine()
    with make_session_factory(engine)() as s:
        fund = ledger.community_fund(s, COMMUNITY)
        ids = [ledger.user_account(s, COMMUNITY, u) for u in range(1, n + 1)]
        ledger.post_many(
            s,
            [
                ledger.Posting(
                    f"seed-{a}",
                    "grant",
                    [(fund, -SEED // n), (a, SEED // n)],
                    Actor.system("benchmark"),
                    "seed",
                )
                for a in ids
            ],
        )
        s.commit()
    engine.dispose()
    return ids


def _worker(
    url: str,
    schema: str | None,
    ids: list[int],
    n: int,
    seed: int,
    python_path: bool,
    session: bool,
    start: Any,
    out: Any,
) -> None:
    t = Target(url, schema)
    engine = t.engine(pool_size=1, max_overflow=0, pool_pre_ping=False)
    factory = make_session_factory(engine)
    rnd = random.Random(seed)
    actor = Actor.system("benchmark")
    if python_path:
        ledger.python_path().__enter__()
    with factory() as s:  # warm the connection and the prepared statements
        ledger.balance(s, ids[0])
        s.rollback()
    start.wait()
    t0 = time.perf_counter()
    rejected = 0
    if session or python_path:
        with factory() as s:
            for i in range(n):
                a, b = rnd.sample(ids, 2)
                try:
                    ledger.transfer(
                        s,
                        key=f"b{seed}-{i}",
                        from_account=a,
                        to_account=b,
                        amount=1,
                        actor=actor,
                        reason="bench",
                    )
                    s.commit()
                except ledger.LedgerError:
                    s.rollback()
                    rejected += 1
    elif t.is_pg:
        # An AUTOCOMMIT connection: the posting is one statement, its own durable transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for i in range(n):
                a, b = rnd.sample(ids, 2)
                try:
                    ledger.transfer(
                        c,
                        key=f"b{seed}-{i}",
                        from_account=a,
                        to_account=b,
                        amount=1,
                        actor=actor,
                        reason="bench",
                    )
                except ledger.LedgerError:
                    rejected += 1
    else:
        with engine.connect() as c:  # one BEGIN IMMEDIATE … COMMIT per transfer
            for i in range(n):
                a, b = rnd.sample(ids, 2)
                try:
                    with c.begin():
                        ledger.transfer(
                            c,
                            key=f"b{seed}-{i}",
                            from_account=a,
                            to_account=b,
                            amount=1,
                            actor=actor,
                            reason="bench",
                        )
                except ledger.LedgerError:
                    rejected += 1
    out.put((t0, time.perf_counter(), rejected))
    engine.dispose()


def run_transfers(
    t: Target, ids: list[int], transfers: int, workers: int, python_path: bool, session: bool = False
) -> float:
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(workers), ctx.Queue()
    per = transfers // workers
    procs = [
        ctx.Process(target=_worker, args=(t.url, t.schema, ids, per, w, python_path, session, start, out))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = max(r[1] for r in results) - min(r[0] for r in results)
    rejected = sum(r[2] for r in results)
    rate = per * workers / wall
    print(f"ledger transfers: {per * workers} in {wall:.2f}s with {workers} worker(s), {rejected} rejected")
    return rate


# --- balance mode --------------------------------------------------------------------------


def make_entries(t: Target, n: int) -> int:
    """``n`` one-point grants fund → account, inserted set-based (transactions, entries with
    running balances, stored balances consistent; not sealed in the audit chain)."""
    engine = t.engine()
    with make_session_factory(engine)() as s:
        fund = ledger.community_fund(s, COMMUNITY)
        acct = ledger.user_account(s, COMMUNITY, 1)
        s.commit()
    series = (
        "generate_series(1, :n)"
        if t.is_pg
        else "(WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n) SELECT i FROM g)"
    )
    col = "g.i" if t.is_pg else "i"
    src = f"{series} AS g(i)" if t.is_pg else f"{series} AS g"
    now = "now()" if t.is_pg else "CURRENT_TIMESTAMP"
    with engine.begin() as c:
        c.execute(
            sa.text(
                f"INSERT INTO ledger_transactions (id, community_id, kind, reason, forced, created_at) "
                f"SELECT {col}, {COMMUNITY}, 'grant', 'bench', false, {now} FROM {src}"
            ),
            {"n": n},
        )
        c.execute(
            sa.text(
                f"INSERT INTO ledger_entries (tx_id, account_id, amount, balance_after) "
                f"SELECT {col}, {fund}, -1, -{col} FROM {src}"
            ),
            {"n": n},
        )
        c.execute(
            sa.text(
                f"INSERT INTO ledger_entries (tx_id, account_id, amount, balance_after) "
                f"SELECT {col}, {acct}, 1, {col} FROM {src}"
            ),
            {"n": n},
        )
        c.execute(
            sa.text(
                "UPDATE ledger_accounts SET balance = CASE WHEN id = :a THEN :n ELSE -:n END "
                "WHERE id IN (:a, :f)"
            ),
            {"a": acct, "f": fund, "n": n},
        )
        if t.is_pg:
            c.exec_driver_sql("ANALYZE")
    engine.dispose()
    return acct


def p50_ms(fn: Any, reads: int) -> float:
    for _ in range(200):
        fn()
    samples = []
    for _ in range(reads):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1e6


def run_balance(t: Target, entries: int, reads: int) -> float:
    t0 = time.perf_counter()
    acct = make_entries(t, entries)
    print(f"account {acct} has {entries:,} entries (built in {time.perf_counter() - t0:.1f}s)")
    engine = t.engine()
    with make_session_factory(engine)() as s:
        assert ledger.balance(s, acct) == entries
        api = p50_ms(lambda: ledger.balance(s, acct), reads)
        s.rollback()
    with engine.connect() as c:
        summed = p50_ms(
            lambda: c.execute(
                sa.text("SELECT SUM(amount) FROM ledger_entries WHERE account_id = :a"), {"a": acct}
            ).scalar(),
            20,
        )
    engine.dispose()
    print(f"balance p50 via ledger.balance(session) (public API): {api:.4f} ms")
    print(f"balance p50 recomputed as SUM(entries) (for contrast): {summed:.2f} ms")
    if t.is_pg:
        with t.raw_pg() as c:
            c.autocommit = True
            q = "SELECT balance FROM ledger_accounts WHERE id = %s"
            raw = p50_ms(lambda: c.execute(q, (acct,), prepare=True).fetchone(), reads)
    else:
        c = sqlite3.connect(t.sqlite_path, isolation_level=None)
        raw = p50_ms(
            lambda: c.execute("SELECT balance FROM ledger_accounts WHERE id = ?", (acct,)).fetchone(), reads
        )
        c.close()
    print(f"balance p50 via prepared statement on a driver connection: {raw:.4f} ms")
    return api


# --- batch mode ----------------------------------------------------------------------------


def run_batch(t: Target, batches: int, size: int, python_path: bool) -> float:
    engine = t.engine()
    factory = make_session_factory(engine)
    with factory() as s:
        fund = ledger.community_fund(s, COMMUNITY)
        users = [ledger.user_account(s, COMMUNITY, u) for u in range(1, 201)]
        s.commit()
    staff = Actor.user(1)
    elapsed = 0.0
    if python_path:
        ledger.python_path().__enter__()
    for b in range(batches + 1):
        postings = [
            ledger.Posting(
                f"hours-{b}-{i}",
                "earn",
                [(fund, -3), (users[i % len(users)], 3)],
                staff,
                "approved hour log",
                "hour_log",
                b * size + i,
            )
            for i in range(size)
        ]
        with factory() as s:
            t0 = time.perf_counter()
            ledger.post_many(s, postings)
            s.commit()
            if b:  # the first batch warms up
                elapsed += time.perf_counter() - t0
    engine.dispose()
    rate = batches * size * 2 / elapsed
    print(
        f"batch approval: {batches} x {size} postings ({batches * size * 2} entries) in {elapsed:.2f}s, "
        f"{batches * size / elapsed:,.0f} postings/s"
    )
    return rate


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", required=True)
    p.add_argument("--mode", choices=["transfer", "balance", "batch"], default="transfer")
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--transfers", type=int, default=20000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--baseline-commits", type=int, default=5000)
    p.add_argument("--pgbench", action="store_true", help="also run pgbench TPC-B with --workers clients")
    p.add_argument("--pgbench-seconds", type=int, default=20)
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--reads", type=int, default=20000)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--python-path", action="store_true", help="PostgreSQL: skip the plpgsql fast path")
    p.add_argument(
        "--session",
        action="store_true",
        help="transfers through a Session (transfer + session.commit()) instead of a Connection",
    )
    p.add_argument("--verify", action="store_true", help="run ledger.verify after the transfers")
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)

    t = setup(args.database_url, args.overwrite)
    try:
        if args.mode == "balance":
            print(f"balance_read_p50_ms={run_balance(t, args.entries, args.reads):.4f}")
            return
        if args.mode == "batch":
            print(f"batch_entries_per_s={run_batch(t, args.batches, args.batch_size, args.python_path):.0f}")
            return
        raw = raw_commit_rate(t, args.baseline_commits)
        tps = (
            pgbench_tps(args.database_url, args.workers, args.pgbench_seconds)
            if args.pgbench and t.is_pg
            else None
        )
        ids = open_accounts(t, args.accounts)
        rate = run_transfers(t, ids, args.transfers, args.workers, args.python_path, args.session)
        if args.verify:
            engine = t.engine()
            with make_session_factory(engine)() as s:
                report = ledger.verify(s)
                print(report.lines()[0])
            engine.dispose()
        print(f"ratio to raw INSERT+COMMIT: {rate / raw:.2f}")
        if tps:
            print(f"ratio to pgbench TPC-B ({args.workers} clients): {rate / tps:.2f}")
        print(f"transfers_per_s={rate:.0f}")
    finally:
        teardown(t)


if __name__ == "__main__":
    main()
