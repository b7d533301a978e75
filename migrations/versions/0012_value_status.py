"""The OPC UA status of each stored value and trace.

A PLC value or trace read with Uncertain status gives at best a RETEST, with Bad status a FAIL; until
now the status decided the verdict and was then forgotten, so a what-if re-judge of the stored result
saw a Good value and could answer PASS where the recorded verdict was RETEST. ``quality`` keeps it:
NULL for Good (every row before this revision, and every REST result), else 'uncertain' or 'bad'.

Adding a nullable column without a default rewrites no row on either backend.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("measurement", "trace")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("quality", sa.String(10), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("quality")
