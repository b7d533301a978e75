"""A station's service account is bound to the stations it acts for.

A service account (role ``station``) could start and complete units at every station of the line:
the leak tester's integration could record a coil-expansion result. ``service_account_station``
names, per service account, the stations it may act for; an account bound to none acts nowhere.
This revision binds no existing account (it cannot know which station an integration serves): an
admin binds each one (``PUT /api/v1/users/{username}`` with ``stations``), and until then its calls
are refused with that instruction. Other roles are never bound.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_account_station",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), primary_key=True),
        sa.Column("station_id", sa.String(32), sa.ForeignKey("station.station_id"), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("service_account_station")
