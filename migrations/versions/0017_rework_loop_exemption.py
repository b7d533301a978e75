"""A rework rule says whether its repeat counts as a rework loop.

A leak test repeated because the test itself was not valid (the instrument's reference-leak check
expired or out of tolerance, the test pressure below PS/4) counted as a rework loop: a good unit
whose tester's check had expired three times went on hold "rework loop cap reached" with nothing
reworked on it. ``counts_as_rework_loop`` false marks such a repeat; true (every rule before this
revision) keeps counting, as a vacuum moisture repeat (the unit is dehydrated again) does.

This revision changes no route: a route that takes its rework rules from the station types gets the
leak test's new defaults when its master data is loaded again or it is written back (PUT), which
the audit trail records and which bumps the route's revision.

Adding a NOT NULL column with a constant default rewrites no row on either backend.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "rework_rule", sa.Column("counts_as_rework_loop", sa.Boolean, nullable=False, server_default=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("rework_rule") as batch:
        batch.drop_column("counts_as_rework_loop")
