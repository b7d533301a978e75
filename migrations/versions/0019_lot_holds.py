"""A lot hold: the holds one hold-by-component request placed, kept together so they are released together.

Holding every unit of a furnace run placed one hold per unit and nothing tied them together: a false
alarm on a 500-unit run took 500 signed releases. ``lot_hold`` records the request (the identifier and
kind as the quality engineer typed them, the reason, who and when), and ``hold.lot_hold_id`` names the
lot hold a hold belongs to. Every hold before this revision, and every hold on a single unit or put by a
verdict, belongs to none (NULL) and is released on its own as before.

Adding a nullable column without a default rewrites no row on either backend.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lot_hold",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("identifier", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    # the genealogy page finds a lot's holds as it finds its units: whatever the case typed
    op.create_index("ix_lot_hold_identifier_lower", "lot_hold", [sa.text("lower(identifier)")])
    postgres = op.get_bind().dialect.name == "postgresql"
    # SQLite cannot drop a column that carries a REFERENCES clause (as in 0006); its FK is declared on PostgreSQL.
    op.execute(f"ALTER TABLE hold ADD COLUMN lot_hold_id BIGINT{' REFERENCES lot_hold (id)' if postgres else ''}")
    op.create_index("ix_hold_lot_hold", "hold", ["lot_hold_id"])


def downgrade() -> None:
    op.drop_index("ix_hold_lot_hold", table_name="hold")
    op.execute("ALTER TABLE hold DROP COLUMN lot_hold_id")
    op.drop_index("ix_lot_hold_identifier_lower", table_name="lot_hold")
    op.drop_table("lot_hold")
