"""Fault test: money moves over HTTP while the app server and the database are killed.

Workload (PostgreSQL, a fresh database on the given server, gunicorn with 2 workers on
loopback): ``--clients`` concurrent clients (default 10: residents, one staff member, one
merchant) move 福分 through the app's real routes — gifts, redemptions (hold), voucher
fulfilment by the merchant (capture) and cancellation by the owner (void), time-exchange
payments and hour approvals through the JSON API with an ``Idempotency-Key``, and
reversals of approvals through the website's form (session + CSRF). A request whose
answer is lost (connection error, 5xx) is retried with the same key until it gets a
definite answer or the client gives up. Midway the chaos thread ``kill -9``s gunicorn's
whole process group and starts it again, and (``--pg-restart``) restarts PostgreSQL with
``pg_ctlcluster … restart -m immediate`` (the server is shared: the restart is brief, and
only this command does it).

Afterwards every invariant is checked on the database: each transaction sums to zero and
each community's accounts sum to zero; stored balances equal the sum of entries; every
hold is resolved at most once and matches its voucher; every acknowledged operation is
present exactly once and every refused one is absent; replaying every acknowledged
request with its key returns the identical answer and changes nothing; and
``flask ledger verify`` passes. Exit status 0 only when all hold.

    python -m bench.faults                       # short form (CI): ~1 min, gunicorn kill only
    python -m bench.faults --seconds 90 --pg-restart
    python -m bench.faults --break-idempotency   # a deliberately broken variant: must FAIL
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Fault-test-pass-1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Resp:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.text = body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_a: Any, **_k: Any) -> None:
        return None


class TransportError(Exception):
    """The answer was lost: connection refused/reset, timeout."""


class Http:
    """A small cookie-keeping HTTP client on the standard library (the app's workers must
    not need client packages, and a few requests per second need nothing more)."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> Resp:
        data = None
        hdrs = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif method == "POST":
            data = b""
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return Resp(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Resp(e.code, e.headers, e.read())
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise TransportError(type(e).__name__) from e


def wsgi_app() -> Any:
    """gunicorn entry point (``bench.faults:wsgi_app()``): the production app on the fault
    test's database. Rate limits off (the clients are a few people doing many things) and
    no second factor for the staff logins; ``FAULTS_BREAK_IDEMPOTENCY=1`` builds the
    deliberately broken variant (the API forgets idempotency keys)."""
    from app import create_app

    if os.environ.get("FAULTS_BREAK_IDEMPOTENCY") == "1":
        import portal.api.idempotency as idem

        idem.current_key = lambda: None  # type: ignore[assignment]
    return create_app(
        {
            "ENV_NAME": "production",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "RATELIMIT_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "MFA_REQUIRED": False,
            "SESSION_COOKIE_SECURE": False,
            "TALISMAN_FORCE_HTTPS": False,
        }
    )


# --- setup -------------------------------------------------------------------------------------


def _admin(server_url: str) -> Any:
    return create_engine(
        make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )


def make_database(server_url: str) -> str:
    name = f"fufen_faults_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    admin = create_engine(
        make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, residents: int) -> dict[str, Any]:
    import datetime as dt
    from zoneinfo import ZoneInfo

    import portal.models  # noqa: F401
    from core.db import Base, make_engine, make_session_factory
    from portal.exchange import services as exchange
    from portal.people.models import Role
    from portal.settings.models import CommunitySettings
    from portal.volunteering.recording import record_hours
    from tests.factories import give_points, make_community, make_reward, make_user

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as s:
        c = make_community(s)
        s.add(CommunitySettings(community_id=c.id, gift_daily_limit=100_000))
        staff = make_user(s, community=c, roles=(Role.STAFF,), password=PASSWORD)
        shop = make_user(s, community=c, roles=(Role.MERCHANT,), password=PASSWORD)
        people = [make_user(s, community=c, password=PASSWORD) for _ in range(residents)]
        for p in people:
            give_points(s, c, p, 5_000)
        reward = make_reward(s, c, shop, price=7, stock=10_000, monthly_limit=99)
        # 07:00 in Shanghai three days ago: every log starts and ends on the same local day.
        shanghai = ZoneInfo("Asia/Shanghai")
        day = dt.datetime.now(shanghai).date() - dt.timedelta(days=3)
        base = dt.datetime.combine(day, dt.time(7), tzinfo=shanghai).astimezone(dt.UTC)
        logs = []
        for i, p in enumerate(people):
            for j in range(6):
                start = base + dt.timedelta(hours=j * 2, minutes=i)
                logs.append(
                    record_hours(
                        s,
                        user_id=p.id,
                        community_id=c.id,
                        source="other",
                        source_id=None,
                        started_at=start,
                        ended_at=start + dt.timedelta(hours=1),
                        description="扫楼道",
                        reported_by=p,
                    ).id
                )
        agreements = {}
        for i, p in enumerate(people):
            provider = people[(i + 1) % len(people)]
            listing = exchange.create_listing(s, p, "request", "陪老人散步", "", 60)
            ag = exchange.respond(s, provider, listing.id)
            exchange.mark_done(s, provider, ag.id, 60)
            agreements[p.id] = ag.id
        s.commit()
        world = {
            "community": c.id,
            "staff": staff.phone,
            "shop": shop.phone,
            "people": [(p.id, p.phone) for p in people],
            "reward": reward.id,
            "logs": logs,
            "agreements": agreements,
        }
    engine.dispose()
    return world


# --- the app server ----------------------------------------------------------------------------


class Server:
    def __init__(self, url: str, port: int, workers: int, env_extra: dict[str, str]) -> None:
        self.port = port
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "faults-" + uuid.uuid4().hex,
            "PYTHONPATH": str(ROOT),
            **env_extra,
        }
        self.cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
            "bench.faults:wsgi_app()",
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = open(f"/tmp/fufen_faults_{port}.log", "ab")  # noqa: SIM115 - lives with the server

    def start(self) -> None:
        # Its own session: kill -9 of the process group takes the master and all workers.
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if (
                    Http().request("GET", f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code
                    == 200
                ):
                    return
            except TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start; see " + self.log.name)

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def other_sessions(server_url: str, url: str) -> int:
    """Client sessions on the server that are not this test's (other people's test runs)."""
    admin = create_engine(
        make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                        "AND pid <> pg_backend_pid() AND datname IS DISTINCT FROM :mine"
                    ),
                    {"mine": make_url(url).database},
                ).scalar()
            )
    finally:
        admin.dispose()


def restart_postgres() -> float:
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart", "-m", "immediate"],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


# --- clients -----------------------------------------------------------------------------------


@dataclass
class Op:
    kind: str
    user_id: int
    key: str | None
    method: str
    path: str
    body: dict[str, Any] | None
    outcome: str = "pending"  # acknowledged / refused / unknown
    status: int = 0
    answer: Any = None
    attempts: int = 0


@dataclass
class Log:
    ops: list[Op] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)


class Client:
    def __init__(self, base: str, phone: str, log: Log, give_up_s: float) -> None:
        self.base = base
        self.phone = phone
        self.log = log
        self.give_up_s = give_up_s
        self.http = Http()
        self.token = ""
        self.user_id = 0

    # Logins hash a password (argon2, ~1 s of CPU on this machine under load): let two run at a
    # time, or ten at once queue past the request timeout and every retry adds more work.
    logins = threading.Semaphore(2)

    def login_api(self) -> None:
        with self.logins:
            self._login_api()

    def _login_api(self) -> None:
        r = self._retry(
            lambda: self.http.request(
                "POST",
                self.base + "/api/v1/auth/token",
                json_body={"mobile": self.phone, "password": PASSWORD},
            )
        )
        assert r is not None and r.status_code == 201, (r.status_code if r else None, r.text if r else "")
        self.token = r.json()["token"]
        me = self._retry(lambda: self.http.request("GET", self.base + "/api/v1/me", headers=self._auth()))
        assert me is not None
        self.user_id = me.json()["id"]

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _retry(self, send: Any) -> Resp | None:
        deadline = time.monotonic() + self.give_up_s
        while time.monotonic() < deadline:
            try:
                r = send()
                if r.status_code < 500:
                    return r
                self.log.errors[f"http {r.status_code}"] += 1
            except TransportError as exc:
                self.log.errors[str(exc)] += 1
            time.sleep(random.uniform(0.2, 0.6))
        return None

    def api(self, kind: str, method: str, path: str, body: dict[str, Any] | None = None) -> Op:
        op = Op(kind, self.user_id, uuid.uuid4().hex, method, path, body)
        self.send(op)
        self.log.add(op)
        return op

    def send(self, op: Op) -> Resp | None:
        def once() -> Resp:
            op.attempts += 1
            headers = {**self._auth(), "Idempotency-Key": op.key or ""}
            return self.http.request(op.method, self.base + op.path, json_body=op.body, headers=headers)

        r = self._retry(once)
        if r is None:
            op.outcome = "unknown"
        else:
            op.status = r.status_code
            op.answer = (
                r.json() if r.headers.get("Content-Type", "").startswith("application/json") else r.text
            )
            op.outcome = "acknowledged" if r.status_code < 300 else "refused"
        return r

    # the website (session + CSRF) ------------------------------------------------------------
    def login_web(self) -> None:
        with self.logins:
            self._login_web()

    def _login_web(self) -> None:
        page = self._retry(lambda: self.http.request("GET", self.base + "/accounts/login"))
        assert page is not None
        token = CSRF_RE.search(page.text)
        assert token, "no CSRF token on the login page"
        r = self._retry(
            lambda: self.http.request(
                "POST",
                self.base + "/accounts/login",
                form={"phone": self.phone, "password": PASSWORD, "csrf_token": token.group(1)},
            )
        )
        assert r is not None and r.status_code == 302, r.status_code if r else None

    def web_reverse(self, log_id: int) -> Op:
        op = Op("reverse", self.user_id, None, "POST", f"/hours/{log_id}/reverse", {"log": log_id})
        page = self._retry(lambda: self.http.request("GET", self.base + "/hours/review"))
        token = CSRF_RE.search(page.text) if page is not None else None
        if token is None:
            op.outcome = "unknown"
            self.log.add(op)
            return op

        def once() -> Resp:
            op.attempts += 1
            return self.http.request(
                "POST", self.base + op.path, form={"csrf_token": token.group(1), "reason": "故障测试更正"}
            )

        r = self._retry(once)
        if r is None:
            op.outcome = "unknown"
        else:
            op.status = r.status_code
            # The reversal is keyed by the log itself: a retry after a lost answer is refused as
            # "already reversed" (409), which means the first attempt went through.
            op.outcome = "acknowledged" if r.status_code == 302 else "refused"
        self.log.add(op)
        return op


def run_clients(base: str, world: dict[str, Any], seconds: float, clients: int, log: Log) -> dict[str, Any]:
    people = world["people"]
    go = threading.Event()
    until: list[float] = []
    vouchers: list[tuple[int, str]] = []  # (voucher id, code) ready for the merchant
    vlock = threading.Lock()
    logs = list(world["logs"])
    approved: list[int] = []
    state_lock = threading.Lock()
    residents = max(1, clients - 2)

    def start() -> None:  # run by one thread once every client has logged in
        until.append(time.monotonic() + seconds)
        go.set()

    barrier = threading.Barrier(residents + 2, action=start)

    def resident(idx: int) -> None:
        uid, phone = people[idx % len(people)]
        c = Client(base, phone, log, give_up_s=45)
        c.login_api()
        paid = False
        barrier.wait()
        rnd = random.Random(idx)
        while time.monotonic() < until[0]:
            roll = rnd.random()
            if roll < 0.4:
                other = people[rnd.randrange(len(people))][1]
                if other != phone:
                    c.api("gift", "POST", "/api/v1/gifts", {"mobile": other, "amount": rnd.randint(1, 5)})
            elif roll < 0.75:
                op = c.api("redeem", "POST", f"/api/v1/rewards/{world['reward']}/redeem")
                if op.outcome == "acknowledged":
                    with vlock:
                        vouchers.append((op.answer["id"], op.answer["code"]))
            elif roll < 0.9:
                with vlock:
                    mine = [v for v in vouchers if v[0] in c_vouchers(log, c.user_id)]
                    if mine:
                        vouchers.remove(mine[0])
                if mine:
                    c.api("cancel", "POST", f"/api/v1/vouchers/{mine[0][0]}/cancel")
            elif not paid:
                c.api("pay", "POST", f"/api/v1/exchange/agreements/{world['agreements'][uid]}/pay")
                paid = True
            time.sleep(rnd.uniform(0.0, 0.05))

    def staff() -> None:
        c = Client(base, world["staff"], log, give_up_s=45)
        c.login_api()
        c.login_web()
        barrier.wait()
        rnd = random.Random(99)
        while time.monotonic() < until[0]:
            if rnd.random() < 0.75:
                with state_lock:
                    batch = [logs.pop() for _ in range(min(2, len(logs)))]
                if batch:
                    op = c.api("approve", "POST", "/api/v1/hours/approve", {"ids": batch})
                    if op.outcome == "acknowledged":
                        with state_lock:
                            approved.extend(batch)
            else:
                with state_lock:
                    target = approved.pop(rnd.randrange(len(approved))) if approved else None
                if target is not None:
                    c.web_reverse(target)
            time.sleep(rnd.uniform(0.05, 0.15))

    def merchant() -> None:
        c = Client(base, world["shop"], log, give_up_s=45)
        c.login_api()
        barrier.wait()
        while time.monotonic() < until[0]:
            with vlock:
                v = vouchers.pop(0) if vouchers else None
            if v is not None:
                c.api("fulfil", "POST", "/api/v1/vouchers/fulfil", {"code": v[1]})
            time.sleep(0.05)

    def guarded(fn: Any, *a: Any) -> Any:
        def run() -> None:
            try:
                fn(*a)
            except BaseException as exc:  # noqa: BLE001 - a dead client is a failed run
                log.crashed.append(f"{fn.__name__}: {exc!r}")
                barrier.abort()

        return run

    threads = [threading.Thread(target=guarded(resident, i)) for i in range(residents)]
    threads += [threading.Thread(target=guarded(staff)), threading.Thread(target=guarded(merchant))]
    for t in threads:
        t.start()
    return {"threads": threads, "go": go, "until": until}


def c_vouchers(log: Log, user_id: int) -> set[int]:
    with log.lock:
        return {
            op.answer["id"]
            for op in log.ops
            if op.kind == "redeem" and op.user_id == user_id and op.outcome == "acknowledged"
        }


# --- invariants --------------------------------------------------------------------------------


def service_key(user_id: int, key: str) -> str:
    return "api-" + hashlib.sha256(f"{user_id}:{key}".encode()).hexdigest()[:40]


def check(url: str, world: dict[str, Any], log: Log, base: str) -> list[str]:
    problems: list[str] = []
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with engine.connect() as db:
        q = lambda sql, **kw: db.execute(text(sql), kw)  # noqa: E731
        bad_tx = q("SELECT tx_id FROM ledger_entries GROUP BY tx_id HAVING sum(amount) <> 0").all()
        if bad_tx:
            problems.append(f"{len(bad_tx)} transactions do not sum to zero")
        bad_c = q(
            "SELECT community_id FROM ledger_accounts GROUP BY community_id HAVING sum(balance) <> 0"
        ).all()
        if bad_c:
            problems.append(f"communities whose accounts do not sum to zero: {bad_c}")
        drift = q(
            "SELECT a.id FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id "
            "GROUP BY a.id, a.balance HAVING a.balance <> coalesce(sum(e.amount), 0)"
        ).all()
        if drift:
            problems.append(f"{len(drift)} accounts whose stored balance differs from their entries")
        held = q(
            "SELECT a.id FROM ledger_accounts a LEFT JOIN ledger_holds h ON h.account_id = a.id "
            "AND h.status = 'pending' GROUP BY a.id, a.held HAVING a.held <> coalesce(sum(h.amount), 0)"
        ).all()
        if held:
            problems.append(f"{len(held)} accounts whose held amount differs from their pending holds")
        multi = q(
            "SELECT hold_id FROM ledger_transactions WHERE hold_id IS NOT NULL "
            "GROUP BY hold_id HAVING count(*) > 1"
        ).all()
        if multi:
            problems.append(f"{len(multi)} holds resolved more than once")
        mismatch = q(
            "SELECT v.id FROM reward_voucher v JOIN ledger_holds h ON h.id = v.hold_id WHERE NOT ("
            "(v.status = 'open' AND h.status = 'pending') "
            "OR (v.status = 'fulfilled' AND h.status = 'captured') "
            "OR (v.status IN ('cancelled', 'expired') AND h.status IN ('voided', 'expired')))"
        ).all()
        if mismatch:
            problems.append(f"{len(mismatch)} vouchers whose hold does not match their status")
        negative = q("SELECT id FROM ledger_accounts WHERE kind = 'user' AND balance - held < 0").all()
        if negative:
            problems.append(f"{len(negative)} user accounts below zero")

        counts = Counter()
        for op in log.ops:
            counts[(op.kind, op.outcome)] += 1
            present = _present(q, op)
            if present is None:
                continue
            if op.outcome == "acknowledged" and present != 1:
                problems.append(f"acknowledged {op.kind} {op.key or op.path} present {present} times")
            elif op.outcome == "refused" and op.kind != "reverse" and present != 0:
                problems.append(f"refused {op.kind} {op.key} ({op.status}) present {present} times")
        before = q("SELECT count(*) FROM ledger_transactions").scalar()
    # Replays: every acknowledged API request again with its key → the identical answer.
    replayed = 0
    clients: dict[int, Client] = {}
    phones = {uid: phone for uid, phone in world["people"]}
    for op in log.ops:
        if op.outcome != "acknowledged" or op.key is None or op.user_id not in phones:
            continue
        c = clients.get(op.user_id)
        if c is None:
            c = clients[op.user_id] = Client(base, phones[op.user_id], Log(), give_up_s=30)
            c.login_api()
        first = (op.status, op.answer)
        again = Op(op.kind, op.user_id, op.key, op.method, op.path, op.body)
        c.send(again)
        replayed += 1
        if (again.status, again.answer) != first:
            problems.append(f"replay of {op.kind} {op.key} answered {again.status} instead of {op.status}")
    with engine.connect() as db:
        after = db.execute(text("SELECT count(*) FROM ledger_transactions")).scalar()
    if after != before:
        problems.append(f"replays created {after - before} new ledger transactions")
    engine.dispose()
    verify = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "ledger", "verify"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "FUFEN_CONFIG": "production", "SECRET_KEY": "x" * 32},
        capture_output=True,
        text=True,
    )
    if verify.returncode != 0:
        problems.append("flask ledger verify failed: " + (verify.stdout + verify.stderr)[-500:])
    print("operations:", dict(sorted((f"{k}/{o}", n) for (k, o), n in counts.items())))
    print(f"replayed {replayed} acknowledged requests; ledger verify exit {verify.returncode}")
    return problems


def _present(q: Any, op: Op) -> int | None:
    """How many times the effect of ``op`` exists in the database (None: not checkable)."""
    if op.kind == "gift":
        return int(
            q(
                "SELECT count(*) FROM exchange_gift WHERE idem_key = :k", k=service_key(op.user_id, op.key)
            ).scalar()
        )
    if op.kind == "redeem":
        return int(
            q(
                "SELECT count(*) FROM reward_voucher WHERE idem_key = :k", k=service_key(op.user_id, op.key)
            ).scalar()
        )
    if op.kind in ("fulfil", "cancel"):
        if op.outcome != "acknowledged":
            return None
        status = "fulfilled" if op.kind == "fulfil" else "cancelled"
        return int(
            q(
                "SELECT count(*) FROM reward_voucher WHERE id = :i AND status = :s",
                i=op.answer["id"],
                s=status,
            ).scalar()
        )
    if op.kind == "approve":
        ids = op.body["ids"] if op.body else []
        n = [
            int(q("SELECT count(*) FROM ledger_idempotency WHERE key = :k", k=f"hours:{i}:approve").scalar())
            for i in ids
        ]
        return n[0] if len(set(n)) == 1 else -1  # every log of the batch alike
    if op.kind == "pay":
        return int(
            q(
                "SELECT count(*) FROM ledger_transactions t "
                "JOIN exchange_agreement a ON a.ledger_tx_id = t.id "
                "WHERE a.id = :i",
                i=int(op.path.split("/")[-2]),
            ).scalar()
        )
    if op.kind == "reverse":
        if op.outcome != "acknowledged":
            return None
        return int(
            q(
                "SELECT count(*) FROM hour_log WHERE id = :i AND status = 'reversed'", i=op.body["log"]
            ).scalar()
        )
    return None


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--server-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    p.add_argument("--seconds", type=float, default=40)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--residents", type=int, default=12)
    p.add_argument("--port", type=int, default=0, help="default: a free port")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--pg-restart",
        choices=("never", "auto", "force"),
        default="never",
        help="restart PostgreSQL (-m immediate) midway: auto = only when no other client is connected "
        "to the server (it is shared with other test runs), force = always",
    )
    p.add_argument(
        "--break-idempotency", action="store_true", help="the broken variant: must report problems"
    )
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = p.parse_args(argv)

    # A CI timeout sends SIGTERM: leave through ``finally`` so gunicorn and the database go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress in CI logs
    url = make_database(args.server_url)
    print(f"database {make_url(url).database}; {args.clients} clients for {args.seconds:.0f} s")
    server = None
    try:
        world = seed(url, args.residents)
        env = {"FAULTS_BREAK_IDEMPOTENCY": "1"} if args.break_idempotency else {}
        server = Server(url, args.port or free_port(), args.workers, env)
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        log = Log()
        started = time.monotonic()
        run = run_clients(base, world, args.seconds, args.clients, log)
        if not run["go"].wait(300):
            raise RuntimeError(
                f"clients not logged in after 300 s: {log.crashed[:2]}; errors {dict(log.errors)}"
            )
        print(f"{len(run['threads'])} clients logged in; go")
        started = time.monotonic()
        at = lambda: time.monotonic() - started  # noqa: E731
        time.sleep(args.seconds / 4)
        run["until"][0] = float("inf")  # the clients keep going through the chaos
        t0 = time.monotonic()
        server.kill9()
        print(f"t={at():5.1f}s kill -9 gunicorn process group")
        time.sleep(1.0)
        server.start()
        print(f"t={at():5.1f}s gunicorn back after {time.monotonic() - t0:.1f} s")
        if args.pg_restart != "never":
            time.sleep(max(3.0, args.seconds / 2 - at()))
            others = other_sessions(args.server_url, url)
            if args.pg_restart == "force" or not others:
                print(f"t={at():5.1f}s PostgreSQL restart -m immediate")
                try:
                    took = restart_postgres()
                    print(f"t={at():5.1f}s PostgreSQL back after {took:.1f} s")
                except (OSError, subprocess.CalledProcessError) as exc:
                    if args.pg_restart == "force":
                        raise
                    # auto: a CI runner without pg_ctlcluster or the right to use it
                    print(f"PostgreSQL restart not possible here ({exc}); continuing without it")
            else:
                print(f"PostgreSQL restart skipped: {others} sessions of other databases are connected")
        # Whatever the restarts cost, the clients keep going for a while after the last one.
        run["until"][0] = time.monotonic() + max(args.seconds / 4, args.seconds - at())
        for t in run["threads"]:
            t.join()
        print(
            f"clients done after {time.monotonic() - started:.1f} s; "
            f"transport errors/5xx retried: {dict(log.errors)}"
        )
        problems = check(url, world, log, base)
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            try:
                drop_database(args.server_url, url)
            except Exception as exc:  # noqa: BLE001 - report, do not mask the result
                print("could not drop the database:", exc)
    problems += [f"client crashed: {c}" for c in log.crashed[:5]]
    done = Counter(op.kind for op in log.ops if op.outcome == "acknowledged")
    missing = [k for k in ("gift", "redeem", "fulfil", "cancel", "pay", "approve", "reverse") if not done[k]]
    if missing:
        problems.append(f"the workload did not run: no acknowledged {', '.join(missing)}")
    unknown = sum(1 for op in log.ops if op.outcome == "unknown")
    if unknown:
        problems.append(f"{unknown} operations never got a definite answer")
    if problems:
        print(f"FAILED ({len(problems)} problems):")
        for line in problems[:40]:
            print("  -", line)
        return 1
    print(f"OK: {len(log.ops)} operations, every invariant holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
