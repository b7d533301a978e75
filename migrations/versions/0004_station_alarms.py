"""Station alarms raised by the OPC UA adapter (wrong identification, refused certificates, results
without a release, PLC figures that disagree with the trace): kept, so an auditor can see them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "station_alarm",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("station_id", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_station_alarm_station", "station_alarm", ["station_id", "raised_at"])


def downgrade() -> None:
    op.drop_table("station_alarm")
