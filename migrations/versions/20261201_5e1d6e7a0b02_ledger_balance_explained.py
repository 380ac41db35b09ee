"""ledger DDL v2: a stored balance changes only together with the entries that explain it

Revision ID: 5e1d6e7a0b02
Revises: 0de1aa687269
Create Date: 2026-12-01 04:45:00

SQL frozen here (never edit it; change it in a new revision). ``ledger.ddl`` holds the current
version; tests/ledger/test_ddl_versions.py checks that a migrated database matches it.
"""

from __future__ import annotations

from alembic import op

revision = "5e1d6e7a0b02"
down_revision = "0de1aa687269"
branch_labels = None
depends_on = None

UPGRADE_PG = [
    r"""CREATE OR REPLACE FUNCTION ledger_balance_explained() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT balance FROM ledger_accounts WHERE id = NEW.id) IS DISTINCT FROM coalesce(
           (SELECT balance_after FROM ledger_entries WHERE account_id = NEW.id ORDER BY id DESC LIMIT 1), 0)
    THEN
        RAISE EXCEPTION 'ledger: a balance change without the entries that explain it is not allowed (account %)', NEW.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS ledger_accounts_balance_explained ON ledger_accounts",
    "CREATE CONSTRAINT TRIGGER ledger_accounts_balance_explained AFTER UPDATE OF balance ON ledger_accounts DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.balance IS DISTINCT FROM OLD.balance) EXECUTE FUNCTION ledger_balance_explained()",
]
UPGRADE_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS ledger_accounts_balance_explained AFTER UPDATE OF balance ON ledger_accounts WHEN NEW.balance IS NOT OLD.balance AND NEW.balance IS NOT coalesce((SELECT balance_after FROM ledger_entries WHERE account_id = NEW.id ORDER BY id DESC LIMIT 1), 0) BEGIN SELECT RAISE(ABORT, 'ledger: a balance change without the entries that explain it is not allowed'); END",
]
DOWNGRADE_PG = [
    "DROP TRIGGER IF EXISTS ledger_accounts_balance_explained ON ledger_accounts",
    "DROP FUNCTION IF EXISTS ledger_balance_explained()",
]
DOWNGRADE_SQLITE = ["DROP TRIGGER IF EXISTS ledger_accounts_balance_explained"]


def _run_sql(statements: list[str]) -> None:
    bind = op.get_bind()
    for stmt in statements:
        bind.exec_driver_sql(stmt, execution_options={"no_parameters": True})


def upgrade() -> None:
    _run_sql(UPGRADE_PG if op.get_bind().dialect.name == "postgresql" else UPGRADE_SQLITE)


def downgrade() -> None:
    _run_sql(DOWNGRADE_PG if op.get_bind().dialect.name == "postgresql" else DOWNGRADE_SQLITE)
