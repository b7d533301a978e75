"""A PLC's ``Result.Id`` is stored whole, however long.

The contract bounds ``Result.Id`` to 64 characters, and ``operation_attempt.result_key`` was
VARCHAR(64). A PLC that sends a longer one made PostgreSQL refuse the insert ("value too long"), so
the result could never be committed: no Ack, the PLC offered it again every few seconds and the
station stood still. As TEXT it is stored (and recognised when read again) as sent; REST still
refuses a ``result_id`` over 64 characters. SQLite never enforced the length and is left as it is.

PostgreSQL: VARCHAR(n) → TEXT is binary-compatible; the unique (station_id, result_key) index stays.
Downgrade refuses while any stored key is longer than 64 characters.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE, COLUMN, BOUND = "operation_attempt", "result_key", 64


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(TABLE, COLUMN, type_=sa.Text(), existing_type=sa.String(BOUND), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    longest = op.get_bind().execute(sa.text(f"SELECT max(length({COLUMN})) FROM {TABLE}")).scalar()
    if longest is not None and longest > BOUND:
        raise RuntimeError(f"{TABLE}.{COLUMN} holds a key of {longest} characters; VARCHAR({BOUND}) cannot hold it")
    op.alter_column(TABLE, COLUMN, type_=sa.String(BOUND), existing_type=sa.Text(), existing_nullable=True)
