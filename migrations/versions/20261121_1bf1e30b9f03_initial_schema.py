"""initial schema

Revision ID: 1bf1e30b9f03
Revises:
Create Date: 2026-11-21 06:57:18.659640
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db  # noqa: F401  (custom column types such as core.db.UTCDateTime)

revision = "1bf1e30b9f03"
down_revision = None
branch_labels = None
depends_on = None

# --- ledger DDL, version 1 (frozen: never edit; change it in a new revision) -------------------
# Immutability triggers (both dialects) and the PostgreSQL posting functions as they were
# when the ledger was first released; `ledger.ddl` generated them. A later change to a trigger
# or function is a new revision with its SQL (tests/ledger/test_ddl_versions.py fails until
# the migrated database matches the code).
LEDGER_DDL_PG = [
    r"""CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % is not allowed (append-only; post a reversal instead)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$""",
    r"""CREATE OR REPLACE FUNCTION ledger_post(
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
    r"""CREATE OR REPLACE FUNCTION ledger_post_many(
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
    "CREATE OR REPLACE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_audit_records_no_delete BEFORE DELETE ON ledger_audit_records FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_audit_records_no_truncate BEFORE TRUNCATE ON ledger_audit_records FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_audit_records_no_update BEFORE UPDATE ON ledger_audit_records FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_idempotency_no_delete BEFORE DELETE ON ledger_idempotency FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_idempotency_no_truncate BEFORE TRUNCATE ON ledger_idempotency FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_idempotency_no_update BEFORE UPDATE ON ledger_idempotency FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_holds_no_delete BEFORE DELETE ON ledger_holds FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_holds_no_truncate BEFORE TRUNCATE ON ledger_holds FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "ALTER TABLE ledger_holds SET (fillfactor = 50)",
    "CREATE OR REPLACE TRIGGER ledger_holds_guard BEFORE UPDATE ON ledger_holds FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.account_id IS DISTINCT FROM OLD.account_id OR NEW.community_id IS DISTINCT FROM OLD.community_id OR NEW.amount IS DISTINCT FROM OLD.amount OR NEW.actor_id IS DISTINCT FROM OLD.actor_id OR NEW.reason IS DISTINCT FROM OLD.reason OR NEW.ref_type IS DISTINCT FROM OLD.ref_type OR NEW.ref_id IS DISTINCT FROM OLD.ref_id OR NEW.expires_at IS DISTINCT FROM OLD.expires_at OR NEW.created_at IS DISTINCT FROM OLD.created_at OR (OLD.status <> 'pending')) EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "ALTER TABLE ledger_accounts SET (fillfactor = 50)",
    "CREATE OR REPLACE TRIGGER ledger_accounts_guard BEFORE UPDATE ON ledger_accounts FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.community_id IS DISTINCT FROM OLD.community_id OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.holder IS DISTINCT FROM OLD.holder OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.merchant_id IS DISTINCT FROM OLD.merchant_id OR NEW.org_id IS DISTINCT FROM OLD.org_id OR NEW.currency IS DISTINCT FROM OLD.currency OR NEW.may_go_negative IS DISTINCT FROM OLD.may_go_negative OR NEW.created_at IS DISTINCT FROM OLD.created_at OR (OLD.closed_at IS NOT NULL AND NEW.closed_at IS DISTINCT FROM OLD.closed_at)) EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_audit_heads_no_delete BEFORE DELETE ON ledger_audit_heads FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_audit_heads_no_truncate BEFORE TRUNCATE ON ledger_audit_heads FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "ALTER TABLE ledger_audit_heads SET (fillfactor = 50)",
    "CREATE OR REPLACE TRIGGER ledger_audit_heads_guard BEFORE UPDATE ON ledger_audit_heads FOR EACH ROW WHEN (NEW.community_id IS DISTINCT FROM OLD.community_id OR NEW.shard IS DISTINCT FROM OLD.shard OR (NEW.seq <= OLD.seq)) EXECUTE FUNCTION ledger_refuse_change()",
]
LEDGER_DDL_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions BEGIN SELECT RAISE(ABORT, 'ledger: DELETE on ledger_transactions is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions BEGIN SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_transactions (append-only; post a reversal instead) is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_entries_no_delete BEFORE DELETE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'ledger: DELETE on ledger_entries is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_entries_no_update BEFORE UPDATE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_entries (append-only; post a reversal instead) is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_audit_records_no_delete BEFORE DELETE ON ledger_audit_records BEGIN SELECT RAISE(ABORT, 'ledger: DELETE on ledger_audit_records is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_audit_records_no_update BEFORE UPDATE ON ledger_audit_records BEGIN SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_audit_records (append-only; post a reversal instead) is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_idempotency_no_delete BEFORE DELETE ON ledger_idempotency BEGIN SELECT RAISE(ABORT, 'ledger: DELETE on ledger_idempotency is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_idempotency_no_update BEFORE UPDATE ON ledger_idempotency BEGIN SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_idempotency (append-only; post a reversal instead) is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_holds_no_delete BEFORE DELETE ON ledger_holds BEGIN SELECT RAISE(ABORT, 'ledger: DELETE on ledger_holds is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_holds_guard BEFORE UPDATE ON ledger_holds WHEN NEW.id IS NOT OLD.id OR NEW.account_id IS NOT OLD.account_id OR NEW.community_id IS NOT OLD.community_id OR NEW.amount IS NOT OLD.amount OR NEW.actor_id IS NOT OLD.actor_id OR NEW.reason IS NOT OLD.reason OR NEW.ref_type IS NOT OLD.ref_type OR NEW.ref_id IS NOT OLD.ref_id OR NEW.expires_at IS NOT OLD.expires_at OR NEW.created_at IS NOT OLD.created_at OR (OLD.status <> 'pending') BEGIN SELECT RAISE(ABORT, 'ledger: this UPDATE on ledger_holds is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts BEGIN SELECT RAISE(ABORT, 'ledger: DELETE on ledger_accounts is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_accounts_guard BEFORE UPDATE ON ledger_accounts WHEN NEW.id IS NOT OLD.id OR NEW.community_id IS NOT OLD.community_id OR NEW.kind IS NOT OLD.kind OR NEW.holder IS NOT OLD.holder OR NEW.user_id IS NOT OLD.user_id OR NEW.merchant_id IS NOT OLD.merchant_id OR NEW.org_id IS NOT OLD.org_id OR NEW.currency IS NOT OLD.currency OR NEW.may_go_negative IS NOT OLD.may_go_negative OR NEW.created_at IS NOT OLD.created_at OR (OLD.closed_at IS NOT NULL AND NEW.closed_at IS NOT OLD.closed_at) BEGIN SELECT RAISE(ABORT, 'ledger: this UPDATE on ledger_accounts is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_audit_heads_no_delete BEFORE DELETE ON ledger_audit_heads BEGIN SELECT RAISE(ABORT, 'ledger: DELETE on ledger_audit_heads is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_audit_heads_guard BEFORE UPDATE ON ledger_audit_heads WHEN NEW.community_id IS NOT OLD.community_id OR NEW.shard IS NOT OLD.shard OR (NEW.seq <= OLD.seq) BEGIN SELECT RAISE(ABORT, 'ledger: this UPDATE on ledger_audit_heads is not allowed'); END",
]
LEDGER_PG_FUNCTIONS = ("ledger_post_many", "ledger_post", "ledger_refuse_change")


def _run_sql(statements: list[str]) -> None:
    bind = op.get_bind()
    for stmt in statements:
        # no_parameters: the driver must not read the % of the plpgsql text as placeholders
        bind.exec_driver_sql(stmt, execution_options={"no_parameters": True})


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("merchant_id", sa.BigInteger(), nullable=True),
        sa.Column("org_id", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("may_go_negative", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("debt_allowed", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('user', 'fund', 'merchant', 'org', 'expired', 'settlement')",
            name=op.f("ck_ledger_accounts_kind"),
        ),
        sa.CheckConstraint("debt_allowed >= 0", name=op.f("ck_ledger_accounts_debt_allowed")),
        sa.CheckConstraint("held >= 0", name=op.f("ck_ledger_accounts_held")),
        sa.CheckConstraint(
            "may_go_negative OR balance - held >= -debt_allowed", name=op.f("ck_ledger_accounts_no_overdraft")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("community_id", "holder", name=op.f("uq_ledger_accounts_community_id_holder")),
    )
    op.create_table(
        "ledger_audit_heads",
        sa.Column("community_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("community_id", "shard", name=op.f("pk_ledger_audit_heads")),
    )
    op.create_table(
        "ledger_audit_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("tx_id", sa.BigInteger(), nullable=True),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_audit_records")),
        sa.UniqueConstraint(
            "community_id", "shard", "seq", name=op.f("uq_ledger_audit_records_community_id_shard_seq")
        ),
    )
    with op.batch_alter_table("ledger_audit_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_audit_records_hold_id",
            ["hold_id"],
            unique=False,
            postgresql_where=sa.text("hold_id IS NOT NULL"),
            sqlite_where=sa.text("hold_id IS NOT NULL"),
        )
        batch_op.create_index(batch_op.f("ix_ledger_audit_records_tx_id"), ["tx_id"], unique=False)

    op.create_table(
        "ledger_idempotency",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("tx_id", sa.BigInteger(), nullable=True),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ledger_idempotency")),
    )
    op.create_table(
        "street",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("district", sa.String(length=80), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_street")),
        sa.UniqueConstraint("name", name=op.f("uq_street_name")),
    )
    op.create_table(
        "community",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["street_id"], ["street.id"], name=op.f("fk_community_street_id_street")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community")),
        sa.UniqueConstraint("street_id", "name", name=op.f("uq_community_street_id_name")),
    )
    with op.batch_alter_table("community", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_community_street_id"), ["street_id"], unique=False)

    op.create_table(
        "ledger_holds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ref_type", sa.String(length=32), nullable=True),
        sa.Column("ref_id", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("resolve_reason", sa.Text(), nullable=True),
        sa.Column("captured_amount", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(status = 'pending') = (resolved_at IS NULL) AND (status = 'captured') = (captured_amount IS NOT NULL) AND (captured_amount IS NULL OR (captured_amount >= 0 AND captured_amount <= amount))",
            name=op.f("ck_ledger_holds_resolution"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'captured', 'voided', 'expired')", name=op.f("ck_ledger_holds_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_holds_amount")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_accounts.id"], name=op.f("fk_ledger_holds_account_id_ledger_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
    )
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_holds_account_id"), ["account_id"], unique=False)
        batch_op.create_index("ix_ledger_holds_pending_expiry", ["status", "expires_at"], unique=False)

    op.create_table(
        "grid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_grid_community_id_community")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid")),
        sa.UniqueConstraint("community_id", "name", name=op.f("uq_grid_community_id_name")),
    )
    with op.batch_alter_table("grid", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grid_community_id"), ["community_id"], unique=False)

    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ref_type", sa.String(length=32), nullable=True),
        sa.Column("ref_id", sa.BigInteger(), nullable=True),
        sa.Column("reverses_id", sa.BigInteger(), nullable=True),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('earn', 'grant', 'redeem', 'transfer', 'gift', 'reverse', 'settle', 'expire', 'adjust')",
            name=op.f("ck_ledger_transactions_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["ledger_holds.id"], name=op.f("fk_ledger_transactions_hold_id_ledger_holds")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_transactions_reverses_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
    )
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_transactions_ref", ["ref_type", "ref_id"], unique=False)
        batch_op.create_index(
            "uq_ledger_transactions_hold_id",
            ["hold_id"],
            unique=True,
            postgresql_where=sa.text("hold_id IS NOT NULL"),
            sqlite_where=sa.text("hold_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_ledger_transactions_reverses_id",
            ["reverses_id"],
            unique=True,
            postgresql_where=sa.text("reverses_id IS NOT NULL"),
            sqlite_where=sa.text("reverses_id IS NOT NULL"),
        )

    op.create_table(
        "building",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_building_community_id_community")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_building_grid_id_grid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building")),
        sa.UniqueConstraint("grid_id", "name", name=op.f("uq_building_grid_id_name")),
    )
    with op.batch_alter_table("building", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_building_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_building_grid_id"), ["grid_id"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tx_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_accounts.id"], name=op.f("fk_ledger_entries_account_id_ledger_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["tx_id"], ["ledger_transactions.id"], name=op.f("fk_ledger_entries_tx_id_ledger_transactions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entries_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_tx_id"), ["tx_id"], unique=False)

    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=40), nullable=False),
        sa.Column("real_name", sa.String(length=40), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("large_text", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"], name=op.f("fk_user_building_id_building")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_user_community_id_community")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("phone", name=op.f("uq_user_phone")),
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_community_id"), ["community_id"], unique=False)

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("target_type", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"], name=op.f("fk_audit_event_actor_id_user")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_audit_event_community_id_community")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index("ix_audit_event_community_at", ["community_id", "at"], unique=False)

    op.create_table(
        "community_settings",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("post_claim_cap", sa.Integer(), nullable=False),
        sa.Column("post_claim_needs_approval", sa.Boolean(), nullable=False),
        sa.Column("team_cap", sa.Integer(), nullable=False),
        sa.Column("hours_rounding_minutes", sa.Integer(), nullable=False),
        sa.Column("daily_minutes_cap", sa.Integer(), nullable=False),
        sa.Column("points_per_hour", sa.Integer(), nullable=False),
        sa.Column("party_activity_goal", sa.Integer(), nullable=False),
        sa.Column("wish_claim_days", sa.Integer(), nullable=False),
        sa.Column("exchange_points_per_hour", sa.Integer(), nullable=False),
        sa.Column("gift_daily_limit", sa.Integer(), nullable=False),
        sa.Column("expiry_months", sa.Integer(), nullable=True),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "daily_minutes_cap BETWEEN 30 AND 1440", name=op.f("ck_community_settings_daily_cap_range")
        ),
        sa.CheckConstraint(
            "exchange_points_per_hour BETWEEN 1 AND 1000",
            name=op.f("ck_community_settings_exchange_rate_range"),
        ),
        sa.CheckConstraint(
            "expiry_months IS NULL OR expiry_months BETWEEN 1 AND 120",
            name=op.f("ck_community_settings_expiry_range"),
        ),
        sa.CheckConstraint(
            "gift_daily_limit BETWEEN 0 AND 100000", name=op.f("ck_community_settings_gift_limit_range")
        ),
        sa.CheckConstraint(
            "hours_rounding_minutes IN (1, 5, 10, 15, 30, 60)",
            name=op.f("ck_community_settings_rounding_allowed"),
        ),
        sa.CheckConstraint(
            "party_activity_goal BETWEEN 0 AND 52", name=op.f("ck_community_settings_party_goal_range")
        ),
        sa.CheckConstraint(
            "points_per_hour BETWEEN 0 AND 1000", name=op.f("ck_community_settings_points_per_hour_range")
        ),
        sa.CheckConstraint(
            "post_claim_cap BETWEEN 1 AND 10", name=op.f("ck_community_settings_post_claim_cap_range")
        ),
        sa.CheckConstraint("team_cap BETWEEN 1 AND 10", name=op.f("ck_community_settings_team_cap_range")),
        sa.CheckConstraint(
            "wish_claim_days BETWEEN 1 AND 90", name=op.f("ck_community_settings_wish_claim_days_range")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_community_settings_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["user.id"], name=op.f("fk_community_settings_updated_by_id_user")
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_community_settings")),
    )
    op.create_table(
        "exchange_gift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("giver_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("idem_key", sa.String(length=64), nullable=False),
        sa.Column("ledger_tx_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_exchange_gift_amount_positive")),
        sa.CheckConstraint("giver_id <> recipient_id", name=op.f("ck_exchange_gift_not_self")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_exchange_gift_community_id_community")
        ),
        sa.ForeignKeyConstraint(["giver_id"], ["user.id"], name=op.f("fk_exchange_gift_giver_id_user")),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["user.id"], name=op.f("fk_exchange_gift_recipient_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_gift")),
        sa.UniqueConstraint("giver_id", "idem_key", name="uq_exchange_gift_idem"),
    )
    with op.batch_alter_table("exchange_gift", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_gift_community_id"), ["community_id"], unique=False)
        batch_op.create_index("ix_exchange_gift_giver_created", ["giver_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_gift_recipient_id"), ["recipient_id"], unique=False)

    op.create_table(
        "exchange_grant_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "mediation", "hardship", "civic", "other", name="grantcategory", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column(
            "target_type",
            sa.Enum("person", "activity", "team", name="granttarget", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("idem_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category <> 'other' OR length(reason) > 0",
            name=op.f("ck_exchange_grant_batch_other_needs_reason"),
        ),
        sa.CheckConstraint(
            "category IN ('mediation', 'hardship', 'civic', 'other')",
            name=op.f("ck_exchange_grant_batch_category_allowed"),
        ),
        sa.CheckConstraint(
            "target_type IN ('person', 'activity', 'team')",
            name=op.f("ck_exchange_grant_batch_target_allowed"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_exchange_grant_batch_amount_positive")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_exchange_grant_batch_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["user.id"], name=op.f("fk_exchange_grant_batch_staff_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_grant_batch")),
        sa.UniqueConstraint("staff_id", "idem_key", name="uq_exchange_grant_batch_idem"),
    )
    with op.batch_alter_table("exchange_grant_batch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_grant_batch_community_id"), ["community_id"], unique=False
        )

    op.create_table(
        "exchange_listing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("offer", "request", name="listingkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("est_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "taken", "closed", name="listingstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind = 'request' OR status <> 'taken'", name=op.f("ck_exchange_listing_only_requests_taken")
        ),
        sa.CheckConstraint("kind IN ('offer', 'request')", name=op.f("ck_exchange_listing_kind_allowed")),
        sa.CheckConstraint(
            "status IN ('open', 'taken', 'closed')", name=op.f("ck_exchange_listing_status_allowed")
        ),
        sa.CheckConstraint("est_minutes BETWEEN 30 AND 6000", name=op.f("ck_exchange_listing_est_range")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_exchange_listing_community_id_community")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], name=op.f("fk_exchange_listing_owner_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_listing")),
    )
    with op.batch_alter_table("exchange_listing", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchange_listing_community_status", ["community_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_exchange_listing_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("link", sa.String(length=200), nullable=True),
        sa.Column("dedupe_key", sa.String(length=120), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_notification_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_dedupe_key")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_user_unread", ["user_id", "read_at"], unique=False)

    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("partner", "merchant", name="orgkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("contact_name", sa.String(length=40), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_organisation_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_organisation_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(["street_id"], ["street.id"], name=op.f("fk_organisation_street_id_street")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("street_id", "name", name=op.f("uq_organisation_street_id_name")),
    )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisation_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_organisation_street_id"), ["street_id"], unique=False)

    op.create_table(
        "party_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("work_unit", sa.String(length=120), nullable=False),
        sa.Column("party_org", sa.String(length=120), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "confirmed",
                "rejected",
                "withdrawn",
                name="reportstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("submitted_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "reviewed_by_id IS NULL OR reviewed_by_id <> user_id", name=op.f("ck_party_report_no_self_review")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_party_report_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["user.id"], name=op.f("fk_party_report_reviewed_by_id_user")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_party_report_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_report")),
    )
    with op.batch_alter_table("party_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_party_report_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_party_report_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_party_report_live",
            ["user_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'confirmed')"),
            postgresql_where=sa.text("status IN ('pending', 'confirmed')"),
        )

    op.create_table(
        "service_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("duties", sa.Text(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("schedule", sa.String(length=200), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("points_per_hour", sa.Integer(), nullable=True),
        sa.Column("points_per_duty", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("open", "closed", name="poststatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("places >= 1 AND places <= 500", name=op.f("ck_service_post_places_range")),
        sa.CheckConstraint(
            "points_per_duty IS NULL OR points_per_duty BETWEEN 0 AND 1000",
            name=op.f("ck_service_post_points_per_duty_range"),
        ),
        sa.CheckConstraint(
            "points_per_hour IS NULL OR points_per_duty IS NULL", name=op.f("ck_service_post_one_point_rule")
        ),
        sa.CheckConstraint(
            "points_per_hour IS NULL OR points_per_hour BETWEEN 0 AND 1000",
            name=op.f("ck_service_post_points_per_hour_range"),
        ),
        sa.ForeignKeyConstraint(
            ["building_id"], ["building.id"], name=op.f("fk_service_post_building_id_building")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_service_post_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_service_post_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_service_post_grid_id_grid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_post")),
    )
    with op.batch_alter_table("service_post", schema=None) as batch_op:
        batch_op.create_index("ix_service_post_community_status", ["community_id", "status"], unique=False)

    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_team_community_id_community")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], name=op.f("fk_team_created_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("community_id", "name", name=op.f("uq_team_community_id_name")),
    )
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_community_id"), ["community_id"], unique=False)

    op.create_table(
        "wish",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "claimed",
                "fulfilled",
                "confirmed",
                "withdrawn",
                name="wishstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fulfilled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fulfil_note", sa.String(length=500), nullable=True),
        sa.Column("fulfil_minutes", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("withdrawn_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status <> 'confirmed' OR rating IS NOT NULL", name=op.f("ck_wish_confirmed_has_rating")
        ),
        sa.CheckConstraint(
            "status NOT IN ('claimed', 'fulfilled', 'confirmed') OR claimed_by_id IS NOT NULL",
            name=op.f("ck_wish_claimed_has_claimer"),
        ),
        sa.CheckConstraint(
            "claimed_by_id IS NULL OR claimed_by_id <> requester_id", name=op.f("ck_wish_no_self_claim")
        ),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name=op.f("ck_wish_rating_range")),
        sa.ForeignKeyConstraint(["claimed_by_id"], ["user.id"], name=op.f("fk_wish_claimed_by_id_user")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_wish_community_id_community")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], name=op.f("fk_wish_created_by_id_user")),
        sa.ForeignKeyConstraint(["requester_id"], ["user.id"], name=op.f("fk_wish_requester_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wish")),
    )
    with op.batch_alter_table("wish", schema=None) as batch_op:
        batch_op.create_index("ix_wish_board", ["community_id", "status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_wish_claimed_by_id"), ["claimed_by_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_wish_requester_id"), ["requester_id"], unique=False)

    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("starts_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("signup_deadline", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("points_per_hour", sa.Integer(), nullable=True),
        sa.Column("points_flat", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "published", "cancelled", "finished", name="activitystatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reminder_sent_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("code_secret", sa.String(length=64), nullable=False),
        sa.Column("cancelled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("capacity BETWEEN 1 AND 10000", name=op.f("ck_activity_capacity_range")),
        sa.CheckConstraint(
            "confirmed_count >= 0 AND confirmed_count <= capacity", name=op.f("ck_activity_not_overbooked")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_activity_ends_after_start")),
        sa.CheckConstraint(
            "points_flat IS NULL OR points_flat BETWEEN 0 AND 100000", name=op.f("ck_activity_flat_range")
        ),
        sa.CheckConstraint(
            "points_per_hour IS NULL OR points_flat IS NULL", name=op.f("ck_activity_one_points_rule")
        ),
        sa.CheckConstraint(
            "points_per_hour IS NULL OR points_per_hour BETWEEN 0 AND 1000",
            name=op.f("ck_activity_pph_range"),
        ),
        sa.CheckConstraint("signup_deadline <= ends_at", name=op.f("ck_activity_deadline_before_end")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_activity_community_id_community")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], name=op.f("fk_activity_created_by_id_user")),
        sa.ForeignKeyConstraint(["leader_id"], ["user.id"], name=op.f("fk_activity_leader_id_user")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_activity_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_community_id"), ["community_id"], unique=False)
        batch_op.create_index("ix_activity_community_starts", ["community_id", "starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_leader_id"), ["leader_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_team_id"), ["team_id"], unique=False)

    op.create_table(
        "exchange_agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "done",
                "paid",
                "disputed",
                "resolved",
                "cancelled",
                name="agreementstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("reported_minutes", sa.Integer(), nullable=True),
        sa.Column("paid_minutes", sa.Integer(), nullable=True),
        sa.Column("rate", sa.Integer(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column("ledger_tx_id", sa.Integer(), nullable=True),
        sa.Column("dispute_reason", sa.String(length=500), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status IN ('paid', 'resolved')) = (ledger_tx_id IS NOT NULL)",
            name=op.f("ck_exchange_agreement_paid_has_tx"),
        ),
        sa.CheckConstraint(
            "status <> 'disputed' OR dispute_reason IS NOT NULL",
            name=op.f("ck_exchange_agreement_dispute_has_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled') OR reported_minutes IS NOT NULL",
            name=op.f("ck_exchange_agreement_reported_when_done"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'done', 'paid', 'disputed', 'resolved', 'cancelled')",
            name=op.f("ck_exchange_agreement_status_allowed"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('paid', 'resolved') OR (points > 0 AND paid_minutes > 0)",
            name=op.f("ck_exchange_agreement_paid_amounts"),
        ),
        sa.CheckConstraint("receiver_id <> provider_id", name=op.f("ck_exchange_agreement_not_self")),
        sa.CheckConstraint(
            "reported_minutes IS NULL OR reported_minutes BETWEEN 1 AND 6000",
            name=op.f("ck_exchange_agreement_reported_range"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_exchange_agreement_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["exchange_listing.id"],
            name=op.f("fk_exchange_agreement_listing_id_exchange_listing"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["user.id"], name=op.f("fk_exchange_agreement_provider_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["receiver_id"], ["user.id"], name=op.f("fk_exchange_agreement_receiver_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["user.id"], name=op.f("fk_exchange_agreement_resolved_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_agreement")),
    )
    with op.batch_alter_table("exchange_agreement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_agreement_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_exchange_agreement_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_agreement_receiver_id"), ["receiver_id"], unique=False)
        batch_op.create_index(
            "uq_exchange_agreement_live",
            ["listing_id", "receiver_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('active', 'done', 'disputed')"),
            postgresql_where=sa.text("status IN ('active', 'done', 'disputed')"),
        )

    op.create_table(
        "exchange_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("ledger_tx_id", sa.Integer(), nullable=False),
        sa.Column("reverse_tx_id", sa.Integer(), nullable=True),
        sa.Column("reversed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reversed_by_id", sa.Integer(), nullable=True),
        sa.Column("reverse_reason", sa.String(length=500), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "(reversed_at IS NULL) = (reverse_tx_id IS NULL)",
            name=op.f("ck_exchange_grant_reversal_consistent"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_exchange_grant_amount_positive")),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["exchange_grant_batch.id"],
            name=op.f("fk_exchange_grant_batch_id_exchange_grant_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_exchange_grant_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["user.id"], name=op.f("fk_exchange_grant_recipient_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["reversed_by_id"], ["user.id"], name=op.f("fk_exchange_grant_reversed_by_id_user")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["user.id"], name=op.f("fk_exchange_grant_staff_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_grant")),
        sa.UniqueConstraint("batch_id", "recipient_id", name="uq_exchange_grant_batch_recipient"),
    )
    with op.batch_alter_table("exchange_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_grant_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_grant_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_grant_recipient_id"), ["recipient_id"], unique=False)

    op.create_table(
        "post_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "rejected",
                "released",
                "withdrawn",
                name="claimstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> user_id", name=op.f("ck_post_claim_no_self_decision")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_post_claim_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["user.id"], name=op.f("fk_post_claim_decided_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["service_post.id"], name=op.f("fk_post_claim_post_id_service_post")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_post_claim_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_claim")),
    )
    with op.batch_alter_table("post_claim", schema=None) as batch_op:
        batch_op.create_index("ix_post_claim_community_status", ["community_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_post_claim_post_id"), ["post_id"], unique=False)
        batch_op.create_index("ix_post_claim_user_status", ["user_id", "status"], unique=False)
        batch_op.create_index(
            "uq_post_claim_live",
            ["post_id", "user_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'active')"),
            postgresql_where=sa.text("status IN ('pending', 'active')"),
        )

    op.create_table(
        "reward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "discount",
                "housekeeping",
                "service",
                "culture",
                "other",
                name="rewardcategory",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("monthly_limit", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("picture_path", sa.String(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("monthly_limit BETWEEN 1 AND 99", name=op.f("ck_reward_monthly_limit_range")),
        sa.CheckConstraint("price > 0 AND price <= 10000", name=op.f("ck_reward_price_range")),
        sa.CheckConstraint("stock >= 0 AND stock <= 100000", name=op.f("ck_reward_stock_range")),
        sa.CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_until >= valid_from",
            name=op.f("ck_reward_valid_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_reward_community_id_community")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], name=op.f("fk_reward_created_by_id_user")),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_reward_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward")),
    )
    with op.batch_alter_table("reward", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reward_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index("ix_reward_store", ["community_id", "is_active", "category"], unique=False)

    op.create_table(
        "reward_settlement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("voucher_count", sa.Integer(), nullable=False),
        sa.Column("ledger_tx_id", sa.Integer(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_reward_settlement_points_positive")),
        sa.CheckConstraint("voucher_count > 0", name=op.f("ck_reward_settlement_count_positive")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_reward_settlement_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["user.id"], name=op.f("fk_reward_settlement_confirmed_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_reward_settlement_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_settlement")),
        sa.UniqueConstraint(
            "organisation_id",
            "community_id",
            "month",
            name=op.f("uq_reward_settlement_organisation_id_community_id_month"),
        ),
    )
    op.create_table(
        "role_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "resident",
                "party_member",
                "staff",
                "merchant",
                "street_admin",
                "sysadmin",
                name="role",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(role IN ('resident', 'party_member', 'staff', 'merchant') AND community_id IS NOT NULL AND street_id IS NULL) OR (role = 'street_admin' AND street_id IS NOT NULL AND community_id IS NULL) OR (role = 'sysadmin' AND street_id IS NULL AND community_id IS NULL)",
            name=op.f("ck_role_assignment_scope_matches_role"),
        ),
        sa.CheckConstraint(
            "role <> 'merchant' OR organisation_id IS NOT NULL",
            name=op.f("ck_role_assignment_merchant_has_org"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_role_assignment_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"], ["user.id"], name=op.f("fk_role_assignment_granted_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_role_assignment_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["street.id"], name=op.f("fk_role_assignment_street_id_street")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_role_assignment_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_assignment")),
        sa.UniqueConstraint(
            "user_id",
            "role",
            "community_id",
            "street_id",
            name=op.f("uq_role_assignment_user_id_role_community_id_street_id"),
        ),
    )
    with op.batch_alter_table("role_assignment", schema=None) as batch_op:
        batch_op.create_index("ix_role_assignment_community_role", ["community_id", "role"], unique=False)
        batch_op.create_index(batch_op.f("ix_role_assignment_user_id"), ["user_id"], unique=False)

    op.create_table(
        "team_membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column(
            "role", sa.Enum("leader", "member", name="teamrole", native_enum=False, length=20), nullable=False
        ),
        sa.Column("joined_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_team_membership_community_id_community")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_team_membership_team_id_team")),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_team_membership_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_membership")),
    )
    with op.batch_alter_table("team_membership", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_membership_team_id"), ["team_id"], unique=False)
        batch_op.create_index("ix_team_membership_user_live", ["user_id", "left_at"], unique=False)
        batch_op.create_index(
            "uq_team_membership_live",
            ["team_id", "user_id"],
            unique=True,
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )

    op.create_table(
        "hour_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("activity", "post", "wish", "other", name="hoursource", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("wish_id", sa.Integer(), nullable=True),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("photo_path", sa.String(length=80), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "approved", "rejected", "reversed", name="hourstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("points_per_hour", sa.Integer(), nullable=True),
        sa.Column("points_flat", sa.Integer(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.String(length=500), nullable=True),
        sa.Column("ledger_tx_id", sa.Integer(), nullable=True),
        sa.Column("reversed_by_id", sa.Integer(), nullable=True),
        sa.Column("reversed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reverse_reason", sa.String(length=500), nullable=True),
        sa.Column("reverse_tx_id", sa.Integer(), nullable=True),
        sa.Column("reported_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status <> 'approved' OR (reviewed_by_id IS NOT NULL AND points IS NOT NULL)",
            name=op.f("ck_hour_log_approved_has_reviewer"),
        ),
        sa.CheckConstraint(
            "status <> 'rejected' OR reject_reason IS NOT NULL", name=op.f("ck_hour_log_rejected_has_reason")
        ),
        sa.CheckConstraint("ended_at > started_at", name=op.f("ck_hour_log_ends_after_start")),
        sa.CheckConstraint("minutes > 0 AND minutes <= 1440", name=op.f("ck_hour_log_minutes_range")),
        sa.CheckConstraint("points IS NULL OR points >= 0", name=op.f("ck_hour_log_points_nonneg")),
        sa.CheckConstraint("points_flat IS NULL OR points_flat >= 0", name=op.f("ck_hour_log_flat_nonneg")),
        sa.CheckConstraint(
            "points_per_hour IS NULL OR points_per_hour >= 0", name=op.f("ck_hour_log_pph_nonneg")
        ),
        sa.CheckConstraint(
            "reviewed_by_id IS NULL OR reviewed_by_id <> user_id", name=op.f("ck_hour_log_no_self_review")
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_hour_log_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_hour_log_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["service_post.id"], name=op.f("fk_hour_log_post_id_service_post")
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_id"], ["user.id"], name=op.f("fk_hour_log_reported_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["reversed_by_id"], ["user.id"], name=op.f("fk_hour_log_reversed_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["user.id"], name=op.f("fk_hour_log_reviewed_by_id_user")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_hour_log_user_id_user")),
        sa.ForeignKeyConstraint(["wish_id"], ["wish.id"], name=op.f("fk_hour_log_wish_id_wish")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hour_log")),
    )
    with op.batch_alter_table("hour_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hour_log_activity_id"), ["activity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hour_log_post_id"), ["post_id"], unique=False)
        batch_op.create_index("ix_hour_log_queue", ["community_id", "status", "started_at"], unique=False)
        batch_op.create_index("ix_hour_log_user_time", ["user_id", "started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_hour_log_wish_id"), ["wish_id"], unique=False)

    op.create_table(
        "reward_voucher",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reward_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("idem_key", sa.String(length=64), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "fulfilled",
                "cancelled",
                "expired",
                name="voucherstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fulfilled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fulfilled_by_id", sa.Integer(), nullable=True),
        sa.Column("capture_tx_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status <> 'fulfilled' OR (fulfilled_at IS NOT NULL AND fulfilled_by_id IS NOT NULL AND capture_tx_id IS NOT NULL)",
            name=op.f("ck_reward_voucher_fulfilled_complete"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('cancelled', 'expired') OR closed_at IS NOT NULL",
            name=op.f("ck_reward_voucher_closed_has_time"),
        ),
        sa.CheckConstraint(
            "fulfilled_by_id IS NULL OR fulfilled_by_id <> user_id",
            name=op.f("ck_reward_voucher_no_self_fulfil"),
        ),
        sa.CheckConstraint("price > 0", name=op.f("ck_reward_voucher_price_positive")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_reward_voucher_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["fulfilled_by_id"], ["user.id"], name=op.f("fk_reward_voucher_fulfilled_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_reward_voucher_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["reward.id"], name=op.f("fk_reward_voucher_reward_id_reward")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_reward_voucher_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_voucher")),
        sa.UniqueConstraint("code", name=op.f("uq_reward_voucher_code")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_reward_voucher_hold_id")),
        sa.UniqueConstraint("user_id", "idem_key", name=op.f("uq_reward_voucher_user_id_idem_key")),
    )
    with op.batch_alter_table("reward_voucher", schema=None) as batch_op:
        batch_op.create_index("ix_reward_voucher_due", ["status", "expires_at"], unique=False)
        batch_op.create_index("ix_reward_voucher_limit", ["user_id", "reward_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_reward_voucher_settle",
            ["organisation_id", "community_id", "status", "fulfilled_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_reward_voucher_user_id"), ["user_id"], unique=False)

    op.create_table(
        "activity_signup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "confirmed", "waitlisted", "cancelled", name="signupstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("waitlist_position", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_out_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "attendance",
            sa.Enum("present", "no_show", name="attendance", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("marked_by_id", sa.Integer(), nullable=True),
        sa.Column("hour_log_id", sa.Integer(), nullable=True),
        sa.Column("wrong_codes", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "(status = 'waitlisted') = (waitlist_position IS NOT NULL)",
            name=op.f("ck_activity_signup_waitlist_position"),
        ),
        sa.CheckConstraint(
            "checked_out_at IS NULL OR (checked_in_at IS NOT NULL AND checked_out_at >= checked_in_at)",
            name=op.f("ck_activity_signup_out_after_in"),
        ),
        sa.CheckConstraint("wrong_codes >= 0", name=op.f("ck_activity_signup_wrong_codes_nonneg")),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_activity_signup_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_activity_signup_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["hour_log_id"], ["hour_log.id"], name=op.f("fk_activity_signup_hour_log_id_hour_log")
        ),
        sa.ForeignKeyConstraint(
            ["marked_by_id"], ["user.id"], name=op.f("fk_activity_signup_marked_by_id_user")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_activity_signup_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_signup")),
    )
    with op.batch_alter_table("activity_signup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_signup_activity_id"), ["activity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_signup_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_signup_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_activity_signup_live",
            ["activity_id", "user_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('confirmed', 'waitlisted')"),
            postgresql_where=sa.text("status IN ('confirmed', 'waitlisted')"),
        )
        batch_op.create_index(
            "uq_activity_signup_waitlist_position",
            ["activity_id", "waitlist_position"],
            unique=True,
            sqlite_where=sa.text("status = 'waitlisted'"),
            postgresql_where=sa.text("status = 'waitlisted'"),
        )

    # ### end Alembic commands ###
    # Ledger immutability triggers and PostgreSQL posting functions, version 1 (above).
    _run_sql(LEDGER_DDL_PG if op.get_bind().dialect.name == "postgresql" else LEDGER_DDL_SQLITE)


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("activity_signup", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_activity_signup_waitlist_position",
            sqlite_where=sa.text("status = 'waitlisted'"),
            postgresql_where=sa.text("status = 'waitlisted'"),
        )
        batch_op.drop_index(
            "uq_activity_signup_live",
            sqlite_where=sa.text("status IN ('confirmed', 'waitlisted')"),
            postgresql_where=sa.text("status IN ('confirmed', 'waitlisted')"),
        )
        batch_op.drop_index(batch_op.f("ix_activity_signup_user_id"))
        batch_op.drop_index(batch_op.f("ix_activity_signup_community_id"))
        batch_op.drop_index(batch_op.f("ix_activity_signup_activity_id"))

    op.drop_table("activity_signup")
    with op.batch_alter_table("reward_voucher", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reward_voucher_user_id"))
        batch_op.drop_index("ix_reward_voucher_settle")
        batch_op.drop_index("ix_reward_voucher_limit")
        batch_op.drop_index("ix_reward_voucher_due")

    op.drop_table("reward_voucher")
    with op.batch_alter_table("hour_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hour_log_wish_id"))
        batch_op.drop_index("ix_hour_log_user_time")
        batch_op.drop_index("ix_hour_log_queue")
        batch_op.drop_index(batch_op.f("ix_hour_log_post_id"))
        batch_op.drop_index(batch_op.f("ix_hour_log_activity_id"))

    op.drop_table("hour_log")
    with op.batch_alter_table("team_membership", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_team_membership_live",
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )
        batch_op.drop_index("ix_team_membership_user_live")
        batch_op.drop_index(batch_op.f("ix_team_membership_team_id"))

    op.drop_table("team_membership")
    with op.batch_alter_table("role_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_assignment_user_id"))
        batch_op.drop_index("ix_role_assignment_community_role")

    op.drop_table("role_assignment")
    op.drop_table("reward_settlement")
    with op.batch_alter_table("reward", schema=None) as batch_op:
        batch_op.drop_index("ix_reward_store")
        batch_op.drop_index(batch_op.f("ix_reward_organisation_id"))

    op.drop_table("reward")
    with op.batch_alter_table("post_claim", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_post_claim_live",
            sqlite_where=sa.text("status IN ('pending', 'active')"),
            postgresql_where=sa.text("status IN ('pending', 'active')"),
        )
        batch_op.drop_index("ix_post_claim_user_status")
        batch_op.drop_index(batch_op.f("ix_post_claim_post_id"))
        batch_op.drop_index("ix_post_claim_community_status")

    op.drop_table("post_claim")
    with op.batch_alter_table("exchange_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_grant_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_grant_community_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_grant_batch_id"))

    op.drop_table("exchange_grant")
    with op.batch_alter_table("exchange_agreement", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_exchange_agreement_live",
            sqlite_where=sa.text("status IN ('active', 'done', 'disputed')"),
            postgresql_where=sa.text("status IN ('active', 'done', 'disputed')"),
        )
        batch_op.drop_index(batch_op.f("ix_exchange_agreement_receiver_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_agreement_provider_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_agreement_community_id"))

    op.drop_table("exchange_agreement")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_team_id"))
        batch_op.drop_index(batch_op.f("ix_activity_leader_id"))
        batch_op.drop_index("ix_activity_community_starts")
        batch_op.drop_index(batch_op.f("ix_activity_community_id"))

    op.drop_table("activity")
    with op.batch_alter_table("wish", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wish_requester_id"))
        batch_op.drop_index(batch_op.f("ix_wish_claimed_by_id"))
        batch_op.drop_index("ix_wish_board")

    op.drop_table("wish")
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_community_id"))

    op.drop_table("team")
    with op.batch_alter_table("service_post", schema=None) as batch_op:
        batch_op.drop_index("ix_service_post_community_status")

    op.drop_table("service_post")
    with op.batch_alter_table("party_report", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_party_report_live",
            sqlite_where=sa.text("status IN ('pending', 'confirmed')"),
            postgresql_where=sa.text("status IN ('pending', 'confirmed')"),
        )
        batch_op.drop_index(batch_op.f("ix_party_report_user_id"))
        batch_op.drop_index(batch_op.f("ix_party_report_community_id"))

    op.drop_table("party_report")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_street_id"))
        batch_op.drop_index(batch_op.f("ix_organisation_community_id"))

    op.drop_table("organisation")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_user_unread")

    op.drop_table("notification")
    with op.batch_alter_table("exchange_listing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_listing_owner_id"))
        batch_op.drop_index("ix_exchange_listing_community_status")

    op.drop_table("exchange_listing")
    with op.batch_alter_table("exchange_grant_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_grant_batch_community_id"))

    op.drop_table("exchange_grant_batch")
    with op.batch_alter_table("exchange_gift", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_gift_recipient_id"))
        batch_op.drop_index("ix_exchange_gift_giver_created")
        batch_op.drop_index(batch_op.f("ix_exchange_gift_community_id"))

    op.drop_table("exchange_gift")
    op.drop_table("community_settings")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_community_at")
        batch_op.drop_index(batch_op.f("ix_audit_event_actor_id"))

    op.drop_table("audit_event")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_community_id"))

    op.drop_table("user")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_tx_id"))
        batch_op.drop_index("ix_ledger_entries_account_id_id")

    op.drop_table("ledger_entries")
    with op.batch_alter_table("building", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_building_grid_id"))
        batch_op.drop_index(batch_op.f("ix_building_community_id"))

    op.drop_table("building")
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ledger_transactions_reverses_id",
            postgresql_where=sa.text("reverses_id IS NOT NULL"),
            sqlite_where=sa.text("reverses_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_ledger_transactions_hold_id",
            postgresql_where=sa.text("hold_id IS NOT NULL"),
            sqlite_where=sa.text("hold_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_ledger_transactions_ref")

    op.drop_table("ledger_transactions")
    with op.batch_alter_table("grid", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grid_community_id"))

    op.drop_table("grid")
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_holds_pending_expiry")
        batch_op.drop_index(batch_op.f("ix_ledger_holds_account_id"))

    op.drop_table("ledger_holds")
    with op.batch_alter_table("community", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_street_id"))

    op.drop_table("community")
    op.drop_table("street")
    op.drop_table("ledger_idempotency")
    with op.batch_alter_table("ledger_audit_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_audit_records_tx_id"))
        batch_op.drop_index(
            "ix_ledger_audit_records_hold_id",
            postgresql_where=sa.text("hold_id IS NOT NULL"),
            sqlite_where=sa.text("hold_id IS NOT NULL"),
        )

    op.drop_table("ledger_audit_records")
    op.drop_table("ledger_audit_heads")
    op.drop_table("ledger_accounts")
    # ### end Alembic commands ###
    if op.get_bind().dialect.name == "postgresql":
        _run_sql([f"DROP FUNCTION IF EXISTS {fn} CASCADE" for fn in LEDGER_PG_FUNCTIONS])
