"""The genealogy finds a component identifier whatever its case.

A quality engineer who typed the furnace run ``fr-0001`` found no unit brazed in FR-0001: the genealogy
compared identifiers exactly, through ix_component_identifier. It now compares
``lower(identifier) = lower(:typed)``, which that index cannot serve; this revision indexes the
expression (with the kind and the unit, as ix_component_identifier does), on PostgreSQL and on SQLite
alike; the checks that a part is not fitted in two units, and the lot hold, compare through it too.
ix_component_identifier stays for what still matches exactly.

Building the index reads component_use once and blocks writes to it meanwhile (seconds for millions
of rows); run it with the line stopped, as every upgrade.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_component_identifier_lower"


def upgrade() -> None:
    op.create_index(INDEX, "component_use", [sa.text("lower(identifier)"), "kind", "unit_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="component_use")
