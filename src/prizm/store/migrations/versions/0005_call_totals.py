"""Add vault API call totals of every job run, for the fleet's /metrics.

Revision ID: 0005_call_totals
Revises: 0004_security
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_call_totals"
down_revision = "0004_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_call_totals",
        sa.Column("integration", sa.String(63), primary_key=True),
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("operation", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(64), primary_key=True),
        sa.Column("calls", sa.BigInteger, nullable=False),
        sa.Column("retries", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_call_totals")
