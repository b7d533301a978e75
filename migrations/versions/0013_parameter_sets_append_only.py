"""Stored cycle-model parameter set versions cannot be changed or deleted.

Every verdict records the version of the parameter set it was judged with, and a re-derivation of the
verdict judges again with that stored version; a version edited afterwards would no longer support the
verdicts it gave. Versions were append-only by convention (the MES only inserts); these triggers make
it so in the database, as for approved specification revisions (0002). A new version is how a set
changes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "a stored cycle-model parameter set version cannot be changed; store a new version"
EVENTS = ("UPDATE", "DELETE")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION cycle_parameter_set_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE} (version % of product model %)', OLD.version, OLD.product_model_id;
            END $$;
            """
        )
        for event in EVENTS:
            op.execute(
                f"CREATE TRIGGER cycle_parameter_set_no_{event.lower()} BEFORE {event} ON cycle_parameter_set"
                " FOR EACH ROW EXECUTE FUNCTION cycle_parameter_set_immutable()"
            )
    else:
        for event in EVENTS:
            op.execute(
                f"CREATE TRIGGER cycle_parameter_set_no_{event.lower()} BEFORE {event} ON cycle_parameter_set"
                f" FOR EACH ROW BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in EVENTS:
        op.execute(
            f"DROP TRIGGER cycle_parameter_set_no_{event.lower()}" + (" ON cycle_parameter_set" if postgres else "")
        )
    if postgres:
        op.execute("DROP FUNCTION cycle_parameter_set_immutable()")
