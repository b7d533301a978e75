"""Every verdict records the version of the judging rules that gave it.

A verdict already recorded its specification revision and its cycle-model version; when the judging
code itself changes what it concludes from the same result and limits (a rule read more strictly, a
check added), a re-derivation showed that the verdict no longer follows, but not why.
``rules_version`` (``app.rules.RULES_VERSION``) says which rules judged; NULL for every verdict before
this revision.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("operation_attempt", sa.Column("rules_version", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operation_attempt") as batch:
        batch.drop_column("rules_version")
