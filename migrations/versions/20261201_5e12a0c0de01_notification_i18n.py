"""Inbox messages keep their message id and parameters, rendered in the reader's language.

Revision ID: 5e12a0c0de01
Revises: 5e1d6e7a0b02
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "5e12a0c0de01"
down_revision = "5e1d6e7a0b02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("i18n", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("i18n")
