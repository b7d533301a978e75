"""Results from a PLC whose serial names no unit (not a serial of this plant, or released by no work
order). The contract never lets a PLC's result be lost, yet such a result has no unit to be stored
with: it is kept here whole (values with their statuses, traces), judged FAIL, alarmed, and then
acknowledged, so the station is not blocked re-offering it. ``(station_id, result_key)`` is unique:
the same result read again (an Ack lost after the commit) is not stored twice.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "orphan_result",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("station_id", sa.String(32), nullable=False),
        sa.Column("result_key", sa.Text, nullable=False),
        sa.Column("serial", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result_values", sa.JSON, nullable=False),
        sa.Column("traces", sa.JSON, nullable=False),
    )
    op.create_index("ux_orphan_result_key", "orphan_result", ["station_id", "result_key"], unique=True)
    op.create_index("ix_orphan_result_received", "orphan_result", ["received_at"])


def downgrade() -> None:
    op.drop_table("orphan_result")
