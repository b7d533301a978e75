"""A string measurement keeps its whole text.

``measurement.text`` was VARCHAR(255). REST refuses a longer text, but a PLC's string value has no
length in the contract, and the completion's one-statement write on PostgreSQL binds each column as
an array cast to its declared type (``::VARCHAR(255)[]``), which cuts a longer value short instead of
refusing it: the stored result would not be what the PLC sent. As TEXT nothing is cut.

PostgreSQL: VARCHAR(n) → TEXT is binary-compatible, so no row is rewritten (a catalogue change under a
short ACCESS EXCLUSIVE lock). SQLite never enforced the length and is left as it is (a batch
alteration would copy the whole table for nothing).

Downgrade refuses, naming the column and the longest text, while any stored text is longer than 255
characters (it never cuts).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("measurement", "text", type_=sa.Text(), existing_type=sa.String(255), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL would refuse the cast too ("value too long"); this says which column and by how much
        longest = op.get_bind().execute(sa.text("SELECT max(length(text)) FROM measurement")).scalar()
        if longest is not None and longest > 255:
            raise RuntimeError(f"measurement.text holds {longest} characters; VARCHAR(255) would cut it")
        op.alter_column("measurement", "text", type_=sa.String(255), existing_type=sa.Text(), existing_nullable=True)
