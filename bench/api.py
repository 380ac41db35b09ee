"""JSON API throughput on gunicorn: ``GET /api/v1/me`` (balance included) and the activity
list, against a minimal Flask endpoint on the same server settings, in the same run.

    sh scripts/install-wrk.sh          # once (Debian's wrk)
    python -m bench.api                # SQLite temp file, 2 workers, 16 connections, 10 s each
    python -m bench.api --database-url postgresql://postgres@127.0.0.1:5432/test --seconds 15

Workload: a fresh database with one community, a resident holding 福分 (balance + a held
redemption) and 60 upcoming activities (the list returns a page of 20 with the caller's
sign-ups); a device token minted through the real service. Each endpoint is served by
``gunicorn -w 2`` (sync workers) and loaded by ``wrk -t2 -c16``; the baseline is
``bench/api_app.py:minimal`` (Flask returning ``{"ok": true}``) on the same gunicorn
settings. Prints req/s, p50/p99 latency and the ratio to the baseline. The load generator
shares the machine's cores with the server: compare ratios, not absolute numbers.
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]


def _fresh_database(url: str | None) -> tuple[str, object]:
    if not url or url.startswith("sqlite"):
        path = Path(tempfile.mkdtemp()) / "bench_api.db"
        return f"sqlite:///{path}", None
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    name = f"fufen_bench_api_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False), (admin, name)


def _drop(handle: object) -> None:
    if handle is not None:
        admin, name = handle  # type: ignore[misc]
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str) -> str:
    """Schema + workload; returns the resident's bearer token."""
    import portal.models  # noqa: F401
    from app import create_app
    from core.db import Base, make_engine
    from portal.api import tokens
    from portal.people.models import Role
    from portal.rewards import services as rewards
    from tests.factories import (
        give_points,
        make_activity,
        make_community,
        make_reward,
        make_street,
        make_user,
    )

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url, "DATABASE_ENGINE": engine})
    with app.test_request_context(), Session(engine, expire_on_commit=False) as s:
        community = make_community(s, street=make_street(s))
        staff = make_user(s, community=community, roles=(Role.STAFF,))
        merchant = make_user(s, community=community, roles=(Role.MERCHANT,))
        resident = make_user(s, community=community, roles=(Role.PARTY_MEMBER,))
        for i in range(60):
            make_activity(s, community, staff, starts_in_hours=24 + i, title=f"活动 {i}")
        give_points(s, community, resident, 500)
        reward = make_reward(s, community, merchant, price=20)
        rewards.redeem(s, resident, reward.id, uuid.uuid4().hex)
        secret = tokens.issue_device_token(s, resident, "bench")[1]
        s.commit()
    engine.dispose()
    return secret


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(
    app_spec: str, env: dict[str, str], workers: int, ready_path: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Start gunicorn and wait until every worker answers ``ready_path`` (workers import the
    app after the master binds the port; on a loaded machine that takes seconds)."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app_spec,
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.time() + 120
    answered = 0
    while time.time() < deadline and answered < 2 * workers:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=30) as resp:
                resp.read()
            answered += 1
        except OSError:
            time.sleep(0.5)
    if answered >= 2 * workers:
        return proc, port
    proc.kill()
    raise RuntimeError(f"gunicorn for {app_spec} did not start")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)|Socket errors:.*", out)
    if failed or rps == 0:
        raise RuntimeError(f"{url}: errors or no answers\n{out}")
    return {"rps": rps, "p50": p50, "p99": p99}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default=None, help="PostgreSQL server URL (default: a SQLite temp file)")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: sh scripts/install-wrk.sh")
    url, handle = _fresh_database(args.database_url)
    try:
        token = seed(url)
        env = {**os.environ, "BENCH_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        results: dict[str, dict[str, float]] = {}
        proc, port = _serve("bench.api_app:minimal()", env, args.workers, "/ping")
        try:
            wrk(f"http://127.0.0.1:{port}/ping", 2, args.connections, {})  # warm-up
            results["minimal Flask /ping"] = wrk(
                f"http://127.0.0.1:{port}/ping", args.seconds, args.connections, {}
            )
        finally:
            proc.terminate()
            proc.wait()
        auth = {"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"}
        proc, port = _serve("bench.api_app:fufen()", env, args.workers, "/api/v1/openapi.json")
        try:
            for name, path in (
                ("GET /api/v1/me", "/api/v1/me"),
                ("GET /api/v1/activities", "/api/v1/activities"),
            ):
                wrk(f"http://127.0.0.1:{port}{path}", 2, args.connections, auth)  # warm-up
                results[name] = wrk(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections, auth)
        finally:
            proc.terminate()
            proc.wait()
    finally:
        _drop(handle)
    base = results["minimal Flask /ping"]["rps"]
    backend = "PostgreSQL" if handle else "SQLite"
    print(f"{backend}; gunicorn -w {args.workers} (sync); wrk -t2 -c{args.connections} -d{args.seconds}s")
    print(f"{'endpoint':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}")
    for name, r in results.items():
        print(f"{name:28} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['rps'] / base:6.2f}")


if __name__ == "__main__":
    main()
