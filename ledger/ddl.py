"""Database objects beyond the tables: immutability triggers (SQLite and PostgreSQL) and
the PostgreSQL posting functions — the *current* version.

Versioning: the database gets these objects only through Alembic revisions that carry their
SQL literally (version 1 is frozen in the initial revision; each later change is a new
revision). ``Base.metadata.create_all`` installs the current version directly (listeners at
the bottom), which is what the test databases use. ``tests/ledger/test_ddl_versions.py``
migrates a fresh database to head and fails when what the revisions installed differs from
what this module says — so editing a trigger or a function here without a revision fails the
suite. ``python -m ledger.ddl postgresql|sqlite`` prints the statements to paste into one.
At run time ``verify`` checks that every guard is installed and each function's body is
this version's (``installed`` / ``missing_or_changed``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from core.db import Base
from ledger import models as m

APPEND_ONLY = (
    m.Transaction.__tablename__,
    m.Entry.__tablename__,
    m.AuditRecord.__tablename__,
    m.IdempotencyRecord.__tablename__,
    m.Checkpoint.__tablename__,
)

# --- PostgreSQL -----------------------------------------------------------------------

PG_FUNCTIONS = [
    r"""
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % is not allowed (append-only; post a reversal instead)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$""",
    # (version 2) A stored balance changes only together with the entry that explains it:
    # at commit, each account whose balance changed must equal the running balance of its
    # latest entry. Deferred, because the plpgsql paths update balances before inserting
    # the entries; re-reads the row, since NEW may be an intermediate version.
    r"""
CREATE OR REPLACE FUNCTION ledger_balance_explained() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT balance FROM ledger_accounts WHERE id = NEW.id) IS DISTINCT FROM coalesce(
           (SELECT balance_after FROM ledger_entries WHERE account_id = NEW.id ORDER BY id DESC LIMIT 1), 0)
    THEN
        RAISE EXCEPTION 'ledger: a balance change without the entries that explain it is not allowed (account %)', NEW.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END $$""",
    # One round trip per posting: idempotency, validation, ordered locking, overdraft check,
    # inserts, running balances, audit-chain link. Mirrors ledger.posting._post_py exactly;
    # rejections are *returned* (never raised) so the caller's transaction stays usable.
    r"""
CREATE OR REPLACE FUNCTION ledger_post(
    p_key text, p_hash text, p_kind text, p_actor bigint, p_reason text,
    p_ref_type text, p_ref_id bigint, p_accounts bigint[], p_amounts bigint[],
    p_allow_cross boolean, p_shard int,
    OUT o_status text, OUT o_tx_id bigint, OUT o_created_at timestamptz, OUT o_detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_n int := cardinality(p_accounts);  -- entries arrive in account-id order
    v_idem record;
    v_found int;
    v_comms bigint[];
    v_closed bigint;
    v_ncur int;
    v_seq bigint;
    v_prev text;
    v_hash text;
    v_i int := 0;
    v_after bigint;
    v_debt boolean;
    v_any_debt boolean := false;
    v_balances bigint[] := array_fill(0::bigint, ARRAY[cardinality(p_accounts)]);
    v_legs text := '';
    r record;
BEGIN
    SELECT count(*), array_agg(DISTINCT community_id ORDER BY community_id),
           min(id) FILTER (WHERE closed_at IS NOT NULL), count(DISTINCT currency)
      INTO v_found, v_comms, v_closed, v_ncur
      FROM ledger_accounts WHERE id = ANY(p_accounts);
    IF v_found < v_n OR v_closed IS NOT NULL OR v_ncur > 1
       OR (cardinality(v_comms) > 1 AND NOT p_allow_cross) THEN
        -- Invalid now; a replay of a request accepted earlier still gets its result.
        SELECT * INTO v_idem FROM ledger_idempotency WHERE key = p_key;
        IF NOT FOUND THEN
            IF v_found < v_n THEN
                o_status := 'unknown_account';
                o_detail := json_build_object('account_ids', (
                    SELECT array_agg(u ORDER BY u) FROM unnest(p_accounts) AS u
                     WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = u)))::text;
            ELSIF v_closed IS NOT NULL THEN
                o_status := 'account_closed';
                o_detail := json_build_object('account_id', v_closed)::text;
            ELSIF v_ncur > 1 THEN
                o_status := 'currency_mismatch';
                o_detail := '{}';
            ELSE
                o_status := 'cross_community';
                o_detail := json_build_object('community_ids', v_comms)::text;
            END IF;
            RETURN;
        END IF;
    ELSE
        -- Chain heads (shard p_shard of each community, in community order): serializes the
        -- writers of this chain only; same key => same shard, so the look-up below is final.
        IF cardinality(v_comms) > 1 THEN
            INSERT INTO ledger_audit_heads (community_id, shard, seq, hash)
            SELECT c, p_shard, 0, repeat('0', 64) FROM unnest(v_comms) AS c ON CONFLICT DO NOTHING;
            PERFORM 1 FROM ledger_audit_heads WHERE community_id = ANY(v_comms) AND shard = p_shard
             ORDER BY community_id FOR UPDATE;
        END IF;
        SELECT seq, hash INTO v_seq, v_prev FROM ledger_audit_heads
         WHERE community_id = v_comms[1] AND shard = p_shard FOR UPDATE;
        IF NOT FOUND THEN  -- a shard not yet created for this community
            INSERT INTO ledger_audit_heads (community_id, shard, seq, hash)
            VALUES (v_comms[1], p_shard, 0, repeat('0', 64)) ON CONFLICT DO NOTHING;
            SELECT seq, hash INTO v_seq, v_prev FROM ledger_audit_heads
             WHERE community_id = v_comms[1] AND shard = p_shard FOR UPDATE;
        END IF;
        -- Under the lock, so a concurrent twin of this request has committed or not run.
        SELECT * INTO v_idem FROM ledger_idempotency WHERE key = p_key;
    END IF;
    IF v_idem.key IS NOT NULL THEN
        IF v_idem.request_hash <> p_hash THEN
            o_status := 'idempotency_conflict';
            o_detail := json_build_object('key', p_key)::text;
        ELSIF v_idem.error_code IS NOT NULL THEN
            o_status := 'replayed_rejection';
            o_detail := json_build_object('code', v_idem.error_code, 'detail', v_idem.error_detail::json)::text;
        ELSE
            o_status := 'replayed';
            o_tx_id := v_idem.tx_id;
            SELECT created_at INTO o_created_at FROM ledger_transactions WHERE id = v_idem.tx_id;
        END IF;
        RETURN;
    END IF;

    -- Each entry a conditional update (the overdraft rule) that also locks the row, in
    -- account-id order (the one lock order of every ledger writer); only a debit can fail,
    -- and then the entries already applied are undone.
    FOR i IN 1..v_n LOOP
        UPDATE ledger_accounts SET balance = balance + p_amounts[i]
         WHERE id = p_accounts[i]
           AND (may_go_negative OR p_amounts[i] >= 0 OR balance + p_amounts[i] - held >= 0)
        RETURNING balance, debt_allowed > 0 INTO v_after, v_debt;
        IF NOT FOUND THEN
            FOR j IN 1..i - 1 LOOP
                UPDATE ledger_accounts SET balance = balance - p_amounts[j] WHERE id = p_accounts[j];
            END LOOP;
            SELECT id, balance - held AS available INTO r FROM ledger_accounts WHERE id = p_accounts[i];
            o_status := 'insufficient_funds';
            o_detail := json_build_object('account_id', r.id, 'available', r.available,
                                          'required', -p_amounts[i])::text;
            INSERT INTO ledger_idempotency (key, op, request_hash, error_code, error_detail, created_at)
            VALUES (p_key, 'post', p_hash, o_status, o_detail, clock_timestamp());
            RETURN;
        END IF;
        v_balances[i] := v_after;
        v_any_debt := v_any_debt OR v_debt;
    END LOOP;
    -- A recorded (forced-reversal) debt ends once the account is back at zero spendable
    -- (only looked at when a locked account carries one: rare, and one statement less).
    IF v_any_debt THEN
        UPDATE ledger_accounts SET debt_allowed = 0
         WHERE id = ANY(p_accounts) AND debt_allowed > 0 AND balance - held >= 0;
    END IF;

    o_created_at := clock_timestamp();
    INSERT INTO ledger_transactions (community_id, kind, actor_id, reason, ref_type, ref_id, forced, created_at)
    VALUES (v_comms[1], p_kind, p_actor, p_reason, p_ref_type, p_ref_id, false, o_created_at)
    RETURNING id INTO o_tx_id;
    INSERT INTO ledger_entries (tx_id, account_id, amount, balance_after)
    SELECT o_tx_id, a, m, b FROM unnest(p_accounts, p_amounts, v_balances) AS u(a, m, b);

    FOR i IN 1..v_n LOOP
        v_legs := v_legs || CASE WHEN i > 1 THEN ',' ELSE '' END || '[' || p_accounts[i] || ',' || p_amounts[i] || ']';
    END LOOP;
    -- Byte-identical to ledger.canonical.tx_payload (tested).
    v_hash := '["tx",' || o_tx_id || ',' || v_comms[1] || ',' || to_json(p_kind)::text || ','
        || coalesce(p_actor::text, 'null') || ',' || to_json(p_reason)::text || ','
        || coalesce(to_json(p_ref_type)::text, 'null') || ',' || coalesce(p_ref_id::text, 'null')
        || ',null,null,false,' || (extract(epoch FROM o_created_at) * 1000000)::bigint
        || ',[' || v_legs || ']]';
    INSERT INTO ledger_audit_records (community_id, shard, seq, event, tx_id, actor_id, payload, prev_hash, hash, created_at)
    VALUES (v_comms[1], p_shard, v_seq + 1, 'tx', o_tx_id, p_actor, v_hash, v_prev,
            encode(sha256(convert_to(v_prev || v_hash, 'UTF8')), 'hex'), o_created_at)
    RETURNING hash INTO v_hash;
    UPDATE ledger_audit_heads SET seq = v_seq + 1, hash = v_hash
     WHERE community_id = v_comms[1] AND shard = p_shard;

    INSERT INTO ledger_idempotency (key, op, request_hash, tx_id, created_at)
    VALUES (p_key, 'post', p_hash, o_tx_id, o_created_at);
    o_status := 'ok';
END $$""",
    # A batch in one round trip. Set-based when every posting is new, valid, within one
    # community and covered (a few statements for the whole batch); otherwise postings one
    # by one through ledger_post, stopping at the first that is not ok/replayed (the caller
    # rolls the batch back to its savepoint and raises). p_entry_tx: posting ordinal of
    # each entry; entries of a posting are consecutive and in account-id order.
    r"""
CREATE OR REPLACE FUNCTION ledger_post_many(
    p_keys text[], p_hashes text[], p_kinds text[], p_actors bigint[], p_reasons text[],
    p_ref_types text[], p_ref_ids bigint[], p_sizes int[], p_accounts bigint[],
    p_amounts bigint[], p_allow_cross boolean[], p_shards int[], p_entry_tx int[])
RETURNS TABLE (o_status text, o_tx_id bigint, o_created_at timestamptz, o_detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_n int := cardinality(p_keys);
    v_off int := 0;
    v_ok boolean;
    v_comm bigint[];          -- per posting: its community
    v_slot int[];             -- per posting: index of its chain head in v_h*
    v_hkey text[]; v_hcomm bigint[]; v_hshard int[]; v_hseq bigint[]; v_hhash text[];
    v_after bigint[];
    v_ids bigint[];
    v_payload text[];
    v_seqs bigint[]; v_prevs text[]; v_hashes text[];
    v_now timestamptz;
    v_s int;
    r record;
BEGIN
    -- 1. every account exists, is open, one currency, each posting within one community
    SELECT bool_and(ok), array_agg(comm ORDER BY i) INTO v_ok, v_comm FROM (
        SELECT u.i, min(a.community_id) AS comm,
               count(a.id) = count(*) AND min(a.community_id) = max(a.community_id)
               AND bool_and(a.closed_at IS NULL) AND count(DISTINCT a.currency) = 1 AS ok
          FROM unnest(p_entry_tx, p_accounts) AS u(i, acc)
          LEFT JOIN ledger_accounts a ON a.id = u.acc GROUP BY u.i) x;
    IF v_ok AND (SELECT count(DISTINCT currency) FROM ledger_accounts WHERE id = ANY(p_accounts)) = 1 THEN
        -- 2. lock the chain heads involved, in (community, shard) order
        SELECT array_agg(community_id::text || ':' || shard ORDER BY community_id, shard),
               array_agg(community_id ORDER BY community_id, shard), array_agg(shard ORDER BY community_id, shard),
               array_agg(seq ORDER BY community_id, shard), array_agg(hash ORDER BY community_id, shard)
          INTO v_hkey, v_hcomm, v_hshard, v_hseq, v_hhash
          FROM (SELECT h.community_id, h.shard, h.seq, h.hash FROM ledger_audit_heads h
                 WHERE (h.community_id, h.shard) IN (SELECT DISTINCT c, s FROM unnest(v_comm, p_shards) AS u(c, s))
                 ORDER BY h.community_id, h.shard FOR UPDATE) x;
        SELECT array_agg(array_position(v_hkey, c::text || ':' || s) ORDER BY o) INTO v_slot
          FROM unnest(v_comm, p_shards) WITH ORDINALITY AS u(c, s, o);
        -- 3. all keys new (checked under the head locks of their shards)
        v_ok := array_position(v_slot, NULL) IS NULL
                AND NOT EXISTS (SELECT 1 FROM unnest(p_keys) AS k,  -- one index probe per key
                                    LATERAL (SELECT 1 FROM ledger_idempotency i WHERE i.key = k LIMIT 1) x);
    END IF;
    IF v_ok THEN
        -- 4. lock the accounts in id order; running balances in posting order; overdraft rule
        PERFORM 1 FROM ledger_accounts WHERE id = ANY(p_accounts) ORDER BY id FOR UPDATE;
        SELECT array_agg(after ORDER BY o), NOT coalesce(bool_or(bad), false) INTO v_after, v_ok FROM (
            SELECT o, after, NOT a.may_go_negative AND m < 0 AND after - a.held < 0 AS bad
              FROM (SELECT u.o, u.acc, u.m, a.balance + sum(u.m) OVER (PARTITION BY u.acc ORDER BY u.i) AS after
                      FROM unnest(p_entry_tx, p_accounts, p_amounts) WITH ORDINALITY AS u(i, acc, m, o)
                      JOIN ledger_accounts a ON a.id = u.acc) x
              JOIN ledger_accounts a ON a.id = x.acc) y;
    END IF;
    IF NOT coalesce(v_ok, false) THEN
        FOR i IN 1..v_n LOOP
            SELECT * INTO r FROM ledger_post(
                p_keys[i], p_hashes[i], p_kinds[i], p_actors[i], p_reasons[i], p_ref_types[i],
                p_ref_ids[i], p_accounts[v_off + 1 : v_off + p_sizes[i]],
                p_amounts[v_off + 1 : v_off + p_sizes[i]], p_allow_cross[i], p_shards[i]);
            v_off := v_off + p_sizes[i];
            o_status := r.o_status; o_tx_id := r.o_tx_id; o_created_at := r.o_created_at; o_detail := r.o_detail;
            RETURN NEXT;
            EXIT WHEN r.o_status NOT IN ('ok', 'replayed');
        END LOOP;
        RETURN;
    END IF;

    -- 5. write: balances, transactions, entries, chain records, heads, keys
    v_now := clock_timestamp();
    UPDATE ledger_accounts a
       SET balance = a.balance + s.total,
           debt_allowed = CASE WHEN s.lowest_ok THEN 0 ELSE a.debt_allowed END
      FROM (SELECT u.acc, sum(u.m) AS total, bool_or(u.after - b.held >= 0) AS lowest_ok
              FROM unnest(p_accounts, p_amounts, v_after) AS u(acc, m, after)
              JOIN ledger_accounts b ON b.id = u.acc GROUP BY u.acc) s
     WHERE a.id = s.acc;
    WITH ins AS (
        INSERT INTO ledger_transactions (community_id, kind, actor_id, reason, ref_type, ref_id, forced, created_at)
        SELECT c, k, act, rsn, rt, ri, false, v_now
          FROM unnest(v_comm, p_kinds, p_actors, p_reasons, p_ref_types, p_ref_ids)
               WITH ORDINALITY AS u(c, k, act, rsn, rt, ri, o)
         ORDER BY o RETURNING id)
    SELECT array_agg(id ORDER BY id) INTO v_ids FROM ins;
    INSERT INTO ledger_entries (tx_id, account_id, amount, balance_after)
    SELECT v_ids[i], acc, m, after
      FROM unnest(p_entry_tx, p_accounts, p_amounts, v_after) WITH ORDINALITY AS u(i, acc, m, after, o)
     ORDER BY o;
    -- Payloads byte-identical to ledger.canonical.tx_payload (tested).
    SELECT array_agg('["tx",' || v_ids[x.i] || ',' || v_comm[x.i] || ',' || to_json(p_kinds[x.i])::text || ','
               || coalesce(p_actors[x.i]::text, 'null') || ',' || to_json(p_reasons[x.i])::text || ','
               || coalesce(to_json(p_ref_types[x.i])::text, 'null') || ',' || coalesce(p_ref_ids[x.i]::text, 'null')
               || ',null,null,false,' || (extract(epoch FROM v_now) * 1000000)::bigint
               || ',[' || x.legs || ']]' ORDER BY x.i)
      INTO v_payload
      FROM (SELECT u.i, string_agg('[' || u.acc || ',' || u.m || ']', ',' ORDER BY u.acc) AS legs
              FROM unnest(p_entry_tx, p_accounts, p_amounts) AS u(i, acc, m) GROUP BY u.i) x;
    v_seqs := array_fill(0::bigint, ARRAY[v_n]);
    v_prevs := array_fill(''::text, ARRAY[v_n]);
    v_hashes := array_fill(''::text, ARRAY[v_n]);
    FOR i IN 1..v_n LOOP
        v_s := v_slot[i];
        v_hseq[v_s] := v_hseq[v_s] + 1;
        v_seqs[i] := v_hseq[v_s];
        v_prevs[i] := v_hhash[v_s];
        v_hhash[v_s] := encode(sha256(convert_to(v_hhash[v_s] || v_payload[i], 'UTF8')), 'hex');
        v_hashes[i] := v_hhash[v_s];
    END LOOP;
    INSERT INTO ledger_audit_records (community_id, shard, seq, event, tx_id, actor_id, payload, prev_hash, hash, created_at)
    SELECT c, s, q, 'tx', t, act, pl, pv, h, v_now
      FROM unnest(v_comm, p_shards, v_seqs, v_ids, p_actors, v_payload, v_prevs, v_hashes)
           WITH ORDINALITY AS u(c, s, q, t, act, pl, pv, h, o)
     ORDER BY o;
    UPDATE ledger_audit_heads h SET seq = u.q, hash = u.hh
      FROM unnest(v_hcomm, v_hshard, v_hseq, v_hhash) AS u(c, s, q, hh)
     WHERE h.community_id = u.c AND h.shard = u.s AND h.seq <> u.q;
    INSERT INTO ledger_idempotency (key, op, request_hash, tx_id, created_at)
    SELECT k, 'post', hh, t, v_now FROM unnest(p_keys, p_hashes, v_ids) AS u(k, hh, t);
    RETURN QUERY SELECT 'ok'::text, t, v_now, NULL::text FROM unnest(v_ids) WITH ORDINALITY AS u(t, o) ORDER BY o;
END $$""",
]


# Columns fixed once a row exists; the rest (balances, hold resolution) may change.
_FIXED = {
    m.Hold.__tablename__: (
        "id",
        "account_id",
        "community_id",
        "amount",
        "actor_id",
        "reason",
        "ref_type",
        "ref_id",
        "expires_at",
        "created_at",
    ),
    m.Account.__tablename__: (
        "id",
        "community_id",
        "kind",
        "holder",
        "user_id",
        "merchant_id",
        "org_id",
        "currency",
        "may_go_negative",
        "created_at",
    ),
    m.AuditHead.__tablename__: ("community_id", "shard"),
}
# When an UPDATE is refused (besides changing a fixed column).
_REFUSE_UPDATE_WHEN = {
    m.Hold.__tablename__: "OLD.status <> 'pending'",  # a hold resolves once
    m.Account.__tablename__: "OLD.closed_at IS NOT NULL AND NEW.closed_at {distinct} OLD.closed_at",
    m.AuditHead.__tablename__: "NEW.seq <= OLD.seq",  # the chain only grows
}


def _update_condition(table: str, distinct: str) -> str:
    changed = " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in _FIXED[table])
    return f"{changed} OR ({_REFUSE_UPDATE_WHEN[table].format(distinct=distinct)})"


def _pg_triggers(table: str) -> list[str]:
    # Guards are WHEN clauses evaluated in C: no plpgsql call on the hot path of a posting.
    run = "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
    out = [
        f"CREATE OR REPLACE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {run}",
        f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    ]
    if table in APPEND_ONLY:
        out.append(f"CREATE OR REPLACE TRIGGER {table}_no_update BEFORE UPDATE ON {table} {run}")
    else:
        # Rows updated on every posting: leave room on each page so the updates are HOT
        # (no index writes, less WAL, dead versions pruned in place).
        out.append(f"ALTER TABLE {table} SET (fillfactor = 50)")
        out.append(
            f"CREATE OR REPLACE TRIGGER {table}_guard BEFORE UPDATE ON {table} "
            f"FOR EACH ROW WHEN ({_update_condition(table, 'IS DISTINCT FROM')}) "
            f"EXECUTE FUNCTION ledger_refuse_change()"
        )
    if table == m.Account.__tablename__:
        out += [  # no CREATE OR REPLACE for constraint triggers
            f"DROP TRIGGER IF EXISTS {table}_balance_explained ON {table}",
            f"CREATE CONSTRAINT TRIGGER {table}_balance_explained AFTER UPDATE OF balance ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.balance IS DISTINCT FROM OLD.balance) "
            f"EXECUTE FUNCTION ledger_balance_explained()",
        ]
    return out


# --- SQLite ---------------------------------------------------------------------------


def _sqlite_raise(what: str) -> str:
    return f"BEGIN SELECT RAISE(ABORT, 'ledger: {what} is not allowed'); END"


def _sqlite_triggers(table: str) -> list[str]:
    t = f"CREATE TRIGGER IF NOT EXISTS {table}"
    out = [f"{t}_no_delete BEFORE DELETE ON {table} {_sqlite_raise(f'DELETE on {table}')}"]
    if table in APPEND_ONLY:
        out.append(
            f"{t}_no_update BEFORE UPDATE ON {table} "
            f"{_sqlite_raise(f'UPDATE on {table} (append-only; post a reversal instead)')}"
        )
    else:
        out.append(
            f"{t}_guard BEFORE UPDATE ON {table} WHEN {_update_condition(table, 'IS NOT')} "
            f"{_sqlite_raise(f'this UPDATE on {table}')}"
        )
    if table == m.Account.__tablename__:
        # Both SQLite paths insert a posting's entries before they update the balances.
        out.append(
            f"{t}_balance_explained AFTER UPDATE OF balance ON {table} WHEN NEW.balance IS NOT OLD.balance "
            f"AND NEW.balance IS NOT coalesce((SELECT balance_after FROM ledger_entries "
            f"WHERE account_id = NEW.id ORDER BY id DESC LIMIT 1), 0) "
            f"{_sqlite_raise('a balance change without the entries that explain it')}"
        )
    return out


GUARDED = (*APPEND_ONLY, m.Hold.__tablename__, m.Account.__tablename__, m.AuditHead.__tablename__)


def table_statements(dialect_name: str, table: str) -> list[str]:
    if dialect_name == "postgresql":
        return _pg_triggers(table)
    if dialect_name == "sqlite":
        return _sqlite_triggers(table)
    raise NotImplementedError(f"ledger: unsupported database {dialect_name}")


def statements(dialect_name: str) -> list[str]:
    """Everything beyond the tables, in install order (for migrations)."""
    head = [s.strip() for s in PG_FUNCTIONS] if dialect_name == "postgresql" else []
    return head + [s for t in GUARDED for s in table_statements(dialect_name, t)]


def _run(connection: Connection, stmts: list[str]) -> None:
    for stmt in stmts:
        # no_parameters: the driver must not treat the % in plpgsql text as placeholders.
        connection.exec_driver_sql(stmt, execution_options={"no_parameters": True})


def install(connection: Connection) -> None:
    _run(connection, statements(connection.dialect.name))


# --- what is installed ------------------------------------------------------------------

_PG_INSTALLED = """
SELECT 'function ' || p.proname AS name, p.prosrc AS definition
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = current_schema() AND p.proname LIKE 'ledger%'
UNION ALL
SELECT 'trigger ' || t.tgname, pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND n.nspname = current_schema() AND c.relname LIKE 'ledger%'
UNION ALL
SELECT 'options ' || c.relname, array_to_string(c.reloptions, ',')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'ledger%'
   AND c.reloptions IS NOT NULL"""
_SQLITE_INSTALLED = (
    "SELECT 'trigger ' || name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'ledger%'"
)


def installed(connection: Connection) -> dict[str, str]:
    """The ledger's functions, triggers and table options as the database holds them
    (PostgreSQL: function bodies verbatim, triggers as ``pg_get_triggerdef`` renders them)."""
    sql = _PG_INSTALLED if connection.dialect.name == "postgresql" else _SQLITE_INSTALLED
    rows = connection.exec_driver_sql(sql, execution_options={"no_parameters": True})
    return {name: definition.replace(f"{_schema(connection)}.", "") for name, definition in rows}


def _schema(connection: Connection) -> str:
    if connection.dialect.name != "postgresql":
        return "main"
    return str(connection.exec_driver_sql("SELECT current_schema()").scalar())


def expected(dialect_name: str) -> dict[str, str | None]:
    """What this version installs, as far as it can be known without a database: the body of
    each function; for triggers only their presence (PostgreSQL re-renders their text; the
    exact text is compared against a migrated database by the DDL-version test)."""
    out: dict[str, str | None] = {}
    for stmt in statements(dialect_name):
        words = stmt.split()
        if stmt.startswith("CREATE OR REPLACE FUNCTION"):
            name = words[4].split("(")[0]
            out[f"function {name}"] = stmt.split("$$")[1]
        elif dialect_name == "sqlite" and stmt.startswith("CREATE TRIGGER IF NOT EXISTS"):
            out[f"trigger {words[5]}"] = stmt.replace("CREATE TRIGGER IF NOT EXISTS", "CREATE TRIGGER", 1)
        elif stmt.startswith("CREATE OR REPLACE TRIGGER"):
            out[f"trigger {words[4]}"] = None
        elif stmt.startswith("CREATE CONSTRAINT TRIGGER"):
            out[f"trigger {words[3]}"] = None
    return out


def missing_or_changed(connection: Connection) -> list[str]:
    """Guards or functions that are missing or differ from this version (empty when intact)."""
    have = installed(connection)
    problems = []
    for name, definition in expected(connection.dialect.name).items():
        if name not in have:
            problems.append(f"{name} is missing")
        elif definition is not None and have[name] != definition:
            problems.append(f"{name} differs from this version of the ledger")
    return problems


# --- create_all hooks -----------------------------------------------------------------


def _before_metadata_create(target: Any, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name == "postgresql":
        _run(connection, [s.strip() for s in PG_FUNCTIONS])


def _after_table_create(target: Any, connection: Connection, **kw: Any) -> None:
    _run(connection, table_statements(connection.dialect.name, target.name))


event.listen(Base.metadata, "before_create", _before_metadata_create)
for _name in GUARDED:
    event.listen(Base.metadata.tables[_name], "after_create", _after_table_create)

if __name__ == "__main__":  # python -m ledger.ddl postgresql|sqlite: SQL for a new revision
    import sys

    for _stmt in statements(sys.argv[1] if len(sys.argv) > 1 else "postgresql"):
        print(_stmt.strip() + ";\n")
