"""Cycle-model product physics and versioned fitted parameter sets in the database.

``product_model.cycle_physics`` holds the product data the cycle model needs beyond the rating
numbers (declared rating speeds, compressor displacement, EVI economiser and valve data), loaded with
the master data. ``cycle_parameter_set`` holds every fitted parameter set of a model, numbered 1, 2,
3 … per model; the highest version is current, and verdicts record the version they used. Existing
product models get no physics here: loading their master data (``mes masterdata load``) adds it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("product_model") as batch:
        batch.add_column(sa.Column("cycle_physics", sa.JSON, nullable=True))
    op.create_table(
        "cycle_parameter_set",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("product_model_id", sa.Integer, sa.ForeignKey("product_model.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("parameter_set_id", sa.String(96), nullable=False),
        sa.Column("code_version", sa.String(32), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("rating_data", sa.JSON, nullable=False),
        sa.Column("rating_fit", sa.JSON, nullable=False),
        sa.Column("max_rating_error", sa.Float, nullable=False),
        sa.Column("within_bounds", sa.Boolean, nullable=False),
        sa.Column("out_of_bounds", sa.JSON, nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("fitted_at", TS, nullable=False),
        sa.UniqueConstraint("product_model_id", "version", name="uq_cycle_parameter_set_model_version"),
    )


def downgrade() -> None:
    op.drop_table("cycle_parameter_set")
    with op.batch_alter_table("product_model") as batch:
        batch.drop_column("cycle_physics")
