"""ledger DDL v3: signed checkpoints (ledger_checkpoints, append-only)

Revision ID: 7c2a9f3e1d04
Revises: 6d854f26f656
Create Date: 2026-12-01 05:05:00

SQL frozen here (never edit it; change it in a new revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db  # noqa: F401  (custom column types such as core.db.UTCDateTime)

revision = "7c2a9f3e1d04"
down_revision = "6d854f26f656"
branch_labels = None
depends_on = None

GUARDS_PG = [
    "CREATE OR REPLACE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE OR REPLACE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
]
GUARDS_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints BEGIN SELECT RAISE(ABORT, 'ledger: DELETE on ledger_checkpoints is not allowed'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints BEGIN SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_checkpoints (append-only; post a reversal instead) is not allowed'); END",
]


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
    )
    with op.batch_alter_table("ledger_checkpoints", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_checkpoints_community_id_id", ["community_id", "id"], unique=False)
    bind = op.get_bind()
    for stmt in GUARDS_PG if bind.dialect.name == "postgresql" else GUARDS_SQLITE:
        bind.exec_driver_sql(stmt, execution_options={"no_parameters": True})


def downgrade() -> None:
    op.drop_table("ledger_checkpoints")  # its triggers go with it
