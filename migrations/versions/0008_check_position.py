"""Each stored check keeps its place in the verdict.

A verdict lists its checks in the judge's order (completeness first, then the station's checks as
the specification orders them). ``check_result`` had no column for that order, so a result
delivered again, or read back in a birth record, listed the checks in whatever order the database
returned them. ``position`` (0, 1, 2 … within the attempt) is written with every new verdict;
checks stored before this revision have none and are listed by name after any that have one.

Adding a nullable column without a default rewrites no rows (PostgreSQL and SQLite alike).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("check_result") as batch:
        batch.add_column(sa.Column("position", sa.SmallInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("check_result") as batch:
        batch.drop_column("position")
