"""Append-only audit trail with a hash chain, and electronic signatures.

``audit_event`` rows are numbered 1, 2, 3 … by ``audit_head`` (one row: the last number and the
last hash). Appending updates that row first, which takes its row lock on PostgreSQL (SQLite's
BEGIN IMMEDIATE already serialises writers), so concurrent appends queue instead of forking the
chain. Each event's hash covers its fields and the previous event's hash; the first event chains
to the genesis value, 64 zeros (app/services/audit.py documents the serialisation).

Audit events and signatures are append-only in the database itself: triggers refuse UPDATE and
DELETE (and TRUNCATE on PostgreSQL) even for the tables' owner. In production the app connects as
a role that does not own the tables and holds only SELECT and INSERT on them (``mes db
grant-app-role``), so it cannot disable the triggers either.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
GENESIS_HASH = "0" * 64
APPEND_ONLY = ("audit_event", "e_signature")
# The record each signature is kept with: (table, column).
SIGNED = (
    ("spec_revision", "approval_signature_id"),
    ("hold", "release_signature_id"),
    ("verdict_override", "signature_id"),
)


def upgrade() -> None:
    op.create_table(
        "e_signature",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id")),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32)),
        sa.Column("meaning", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("signed_at", TS, nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
    )
    op.create_index("ix_e_signature_entity", "e_signature", ["entity_type", "entity_id"])
    op.create_table(
        "audit_event",
        sa.Column("id", BigId, primary_key=True, autoincrement=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_username", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(32)),
        sa.Column("actor_user_id", sa.Integer),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("signature_id", BigId, sa.ForeignKey("e_signature.id")),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.CheckConstraint("id >= 1", name="ck_audit_event_id"),
    )
    op.create_index("ix_audit_event_entity", "audit_event", ["entity_type", "entity_id", "id"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", BigId, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_one_row"),
    )
    op.execute(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}')")

    postgres = op.get_bind().dialect.name == "postgresql"
    for table, column in SIGNED:
        # SQLite cannot drop a column that carries a REFERENCES clause; its FK is declared on PostgreSQL.
        reference = " REFERENCES e_signature (id)" if postgres else ""
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} BIGINT{reference}")

    if postgres:
        op.execute(
            """
            CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
            END $$;
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
            )
        op.execute(
            "CREATE TRIGGER audit_head_keep BEFORE DELETE ON audit_head"
            " FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head"
            " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )
    else:
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}"
                    f" BEGIN SELECT RAISE(ABORT, '{table} is append-only: {event} refused'); END"
                )
        op.execute(
            "CREATE TRIGGER audit_head_keep BEFORE DELETE ON audit_head"
            " BEGIN SELECT RAISE(ABORT, 'audit_head is append-only: DELETE refused'); END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER audit_head_keep ON audit_head")
        op.execute("DROP TRIGGER audit_head_no_truncate ON audit_head")
        op.execute("DROP FUNCTION audit_append_only()")
    else:
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
        op.execute("DROP TRIGGER audit_head_keep")
    for table, column in SIGNED:
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.drop_table("audit_head")
    op.drop_table("audit_event")
    op.drop_table("e_signature")
