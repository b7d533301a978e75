"""Verdict overrides and manual checks: recorded beside the engine's verdict, never instead of it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "verdict_override",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("attempt_id", BigId, sa.ForeignKey("operation_attempt.id"), nullable=False),
        sa.Column("engine_verdict", sa.String(8), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.CheckConstraint("verdict IN ('PASS', 'FAIL')", name="ck_verdict_override_verdict"),
    )
    op.create_index("ix_verdict_override_attempt", "verdict_override", ["attempt_id"])
    op.create_table(
        "manual_check",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("attempt_id", BigId, sa.ForeignKey("operation_attempt.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.CheckConstraint("verdict IN ('PASS', 'FAIL')", name="ck_manual_check_verdict"),
    )
    op.create_index("ix_manual_check_attempt", "manual_check", ["attempt_id"])


def downgrade() -> None:
    op.drop_table("manual_check")
    op.drop_table("verdict_override")
