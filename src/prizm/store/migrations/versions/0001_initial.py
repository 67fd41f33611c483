"""Create integrations, connectors, runs and run fields.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("credentials", sa.Text, nullable=True),
        sa.Column("credential_fields", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_test_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_ok", sa.Boolean, nullable=True),
        sa.Column("last_test_summary", sa.Text, nullable=True),
    )
    op.create_table(
        "connectors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "connector_id",
            sa.Integer,
            sa.ForeignKey("connectors.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("connector_name", sa.String(63), nullable=False),
        sa.Column("connector_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("stats", sa.JSON, nullable=True),
    )
    op.create_index("ix_runs_connector_id", "runs", ["connector_id"])
    op.create_index("ix_runs_connector_name", "runs", ["connector_name"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "run_fields",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("field", sa.String(63), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("integration", sa.String(63), nullable=False),
        sa.Column("secret_id", sa.Text, nullable=True),
        sa.Column("version_id", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=False),
    )
    op.create_index("ix_run_fields_run_id", "run_fields", ["run_id"])


def downgrade() -> None:
    op.drop_table("run_fields")
    op.drop_table("runs")
    op.drop_table("connectors")
    op.drop_table("integrations")
