"""A part taken out of a unit stays in its genealogy, marked removed.

``component_use`` was only ever inserted into: a compressor replaced at the repair bench stayed
"fitted" in the unit for good (the unit showed two compressors, and no other unit could take the
removed one). A removal is now recorded on the part's row, never by deleting it: ``removed_at``
(when) and ``removed_by_attempt_id`` (the repair attempt that removed it); both NULL while the part
is in the unit, as for every row before this revision.

Adding nullable columns without a default rewrites no row on either backend.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FK_NAME = "fk_component_use_removed_by_attempt"


def upgrade() -> None:
    op.add_column("component_use", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("component_use", sa.Column("removed_by_attempt_id", BigId, nullable=True))
    # SQLite cannot add a constraint without copying the whole table (as in 0002, PostgreSQL only)
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(FK_NAME, "component_use", "operation_attempt", ["removed_by_attempt_id"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(FK_NAME, "component_use", type_="foreignkey")
    with op.batch_alter_table("component_use") as batch:
        batch.drop_column("removed_by_attempt_id")
        batch.drop_column("removed_at")
