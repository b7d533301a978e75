"""Specification revisions: limits per (station type x product model), draft -> approved -> effective.

An approved revision is immutable: the database refuses to change or delete it (triggers on
PostgreSQL and SQLite), not only the application.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "spec_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("station_type", sa.String(64), nullable=False),
        sa.Column("product_model_id", sa.Integer, sa.ForeignKey("product_model.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("overrides", sa.Text, nullable=False),
        sa.Column("document", sa.Text),
        sa.Column("based_on_id", sa.Integer, sa.ForeignKey("spec_revision.id")),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("approved_at", TS),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("approval_reason", sa.Text),
        sa.Column("effective_from", TS),
        sa.CheckConstraint("status IN ('draft', 'approved')", name="ck_spec_revision_status"),
        sa.CheckConstraint(
            "status = 'draft' OR (document IS NOT NULL AND approved_at IS NOT NULL AND effective_from IS NOT NULL"
            " AND approval_reason IS NOT NULL)",
            name="ck_spec_revision_approved_complete",
        ),
    )
    op.create_index(
        "ix_spec_revision_effective", "spec_revision", ["station_type", "product_model_id", "effective_from"]
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION spec_revision_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'specification revision % is approved and cannot be changed', OLD.id;
            END $$;
            """
        )
        op.execute(
            "CREATE TRIGGER spec_revision_no_update BEFORE UPDATE ON spec_revision FOR EACH ROW"
            " WHEN (OLD.status = 'approved') EXECUTE FUNCTION spec_revision_immutable()"
        )
        op.execute(
            "CREATE TRIGGER spec_revision_no_delete BEFORE DELETE ON spec_revision FOR EACH ROW"
            " WHEN (OLD.status = 'approved') EXECUTE FUNCTION spec_revision_immutable()"
        )
        op.create_foreign_key(
            "fk_attempt_spec_revision", "operation_attempt", "spec_revision", ["spec_revision_id"], ["id"]
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER spec_revision_no_{event.lower()} BEFORE {event} ON spec_revision"
                " FOR EACH ROW WHEN OLD.status = 'approved'"
                " BEGIN SELECT RAISE(ABORT, 'specification revision is approved and cannot be changed'); END"
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint("fk_attempt_spec_revision", "operation_attempt", type_="foreignkey")
        op.execute("DROP TRIGGER spec_revision_no_update ON spec_revision")
        op.execute("DROP TRIGGER spec_revision_no_delete ON spec_revision")
        op.execute("DROP FUNCTION spec_revision_immutable()")
    else:
        op.execute("DROP TRIGGER spec_revision_no_update")
        op.execute("DROP TRIGGER spec_revision_no_delete")
    op.drop_table("spec_revision")
