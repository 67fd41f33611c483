"""Add connector schedules, and the claim and lease columns of queued runs.

Revision ID: 0003_schedules
Revises: 0002_web
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_schedules"
down_revision = "0002_web"
branch_labels = None
depends_on = None

RUN_COLUMNS = (
    "scheduled_for",
    "dispatched_at",
    "worker",
    "claims",
    "heartbeat_at",
    "lease_expires_at",
)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column(
            "connector_id",
            sa.Integer,
            sa.ForeignKey("connectors.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("cron", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_schedules_next_run_at", "schedules", ["next_run_at"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("worker", sa.String(255), nullable=True))
        batch.add_column(
            sa.Column("claims", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
    # NULL slots never collide (in PostgreSQL and SQLite alike), so only scheduled
    # runs are limited to one per connector and slot.
    op.create_index(
        "uq_runs_connector_scheduled_for",
        "runs",
        ["connector_id", "scheduled_for"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_runs_connector_scheduled_for", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        for column in reversed(RUN_COLUMNS):
            batch.drop_column(column)
    op.drop_index("ix_schedules_next_run_at", table_name="schedules")
    op.drop_table("schedules")
