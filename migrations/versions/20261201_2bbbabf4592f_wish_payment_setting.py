"""wish payment setting: pay on the requester's confirmation (within a limit) or after review

Revision ID: 2bbbabf4592f
Revises: 1bf1e30b9f03
Create Date: 2026-12-01 04:00:32.221075
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db  # noqa: F401  (custom column types such as core.db.UTCDateTime)

revision = "2bbbabf4592f"
down_revision = "1bf1e30b9f03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("community_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("wish_pay_on_confirm", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "wish_auto_pay_max_minutes", sa.Integer(), server_default=sa.text("120"), nullable=False
            )
        )
        batch_op.create_check_constraint(
            "wish_auto_pay_range", "wish_auto_pay_max_minutes BETWEEN 15 AND 480"
        )


def downgrade() -> None:
    with op.batch_alter_table("community_settings", schema=None) as batch_op:
        batch_op.drop_constraint("wish_auto_pay_range", type_="check")
        batch_op.drop_column("wish_auto_pay_max_minutes")
        batch_op.drop_column("wish_pay_on_confirm")
