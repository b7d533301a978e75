"""Core schema: master data, work orders, units, attempts, results, genealogy, holds.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "route",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("rework_loop_cap", sa.Integer, nullable=False),
        # bumped on every change, so a process may cache the route and know when it is stale
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_table(
        "route_step",
        sa.Column("route_id", sa.Integer, sa.ForeignKey("route.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("station_type", sa.String(64), nullable=False),
        sa.Column("required", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "rework_rule",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("route_id", sa.Integer, sa.ForeignKey("route.id", ondelete="CASCADE"), nullable=False),
        sa.Column("failed_at", sa.String(64), nullable=False),
        sa.Column("failure_mode", sa.String(64)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reenter_at", sa.String(64)),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.CheckConstraint("action IN ('hold', 'repair', 'repeat')", name="ck_rework_rule_action"),
    )
    op.create_index("ix_rework_rule_route", "rework_rule", ["route_id"])
    op.create_table(
        "product_model",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("construction", sa.String(32), nullable=False),
        sa.Column("refrigerant", sa.String(16), nullable=False),
        sa.Column("gwp", sa.Integer, nullable=False),
        sa.Column("nominal_charge_g", sa.Float),
        sa.Column("charge_tolerance_g", sa.Float),
        sa.Column("evi", sa.Boolean, nullable=False),
        sa.Column("internal_volume_l", sa.Float, nullable=False),
        sa.Column("max_allowable_pressure_bar_g", sa.Float, nullable=False),
        sa.Column("market", sa.String(32), nullable=False),
        sa.Column("route_id", sa.Integer, sa.ForeignKey("route.id"), nullable=False),
        sa.Column("heating_a7w35_kw", sa.Float, nullable=False),
        sa.Column("cop_a7w35", sa.Float, nullable=False),
        sa.Column("heating_am7w35_kw", sa.Float, nullable=False),
        sa.Column("cop_am7w35", sa.Float, nullable=False),
        sa.Column("cooling_a35w7_kw", sa.Float, nullable=False),
        sa.Column("eer_a35w7", sa.Float, nullable=False),
        sa.Column("bom_compressor_model", sa.String(64), nullable=False),
        sa.Column("bom_inverter_model", sa.String(64), nullable=False),
        sa.Column("bom_evi_valve_model", sa.String(64)),
    )
    op.create_table(
        "market_rule",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("market", sa.String(32), nullable=False),
        sa.Column("refrigerant", sa.String(16), nullable=False),
        sa.Column("construction", sa.String(32), nullable=False),
        sa.Column("max_charge_g", sa.Float, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.UniqueConstraint("market", "refrigerant", "construction", name="uq_market_rule"),
    )
    op.create_table(
        "station",
        sa.Column("station_id", sa.String(32), primary_key=True),
        sa.Column("station_type", sa.String(64), nullable=False),
        sa.Column("line_code", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("opcua_endpoint", sa.String(255)),
    )
    op.create_table(
        "work_order",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(64), nullable=False, unique=True),
        sa.Column("product_model_id", sa.Integer, sa.ForeignKey("product_model.id"), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("first_serial", sa.String(32), nullable=False),
        sa.Column("last_serial", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "unit",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("serial", sa.String(32), nullable=False, unique=True),
        sa.Column("work_order_id", sa.Integer, sa.ForeignKey("work_order.id"), nullable=False),
        sa.Column("product_model_id", sa.Integer, sa.ForeignKey("product_model.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_step", sa.String(64)),
        sa.Column("reentry_step", sa.String(64)),
        sa.Column("rework_loops", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("status IN ('in_process', 'on_hold', 'finished', 'scrapped')", name="ck_unit_status"),
    )
    op.create_index("ix_unit_work_order", "unit", ["work_order_id", "id"])
    op.create_index("ix_unit_status", "unit", ["status", "id"])
    op.create_table(
        "operation_attempt",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("unit_id", BigId, sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("station_id", sa.String(32), sa.ForeignKey("station.station_id"), nullable=False),
        sa.Column("station_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(8)),
        sa.Column("retest_index", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("completed_at", TS),
        sa.Column("started_by", sa.String(64)),
        sa.Column("completed_by", sa.String(64)),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("result_key", sa.String(64)),
        sa.Column("failure_mode", sa.String(64)),
        sa.Column("summary", sa.Text),
        sa.Column("alarm", sa.Text),
        sa.Column("instruction", sa.Text),
        sa.Column("spec_revision_id", sa.Integer),
        sa.Column("model_version", sa.String(128)),
        sa.Column("use_as_is", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint("status IN ('open', 'passed', 'failed', 'retest', 'aborted')", name="ck_attempt_status"),
        sa.CheckConstraint("verdict IS NULL OR verdict IN ('PASS', 'FAIL', 'RETEST')", name="ck_attempt_verdict"),
        sa.UniqueConstraint("station_id", "result_key", name="uq_attempt_station_result_key"),
    )
    op.create_index("ix_attempt_unit", "operation_attempt", ["unit_id", "id"])
    op.create_index("ix_attempt_station_started", "operation_attempt", ["station_id", "started_at"])
    op.create_index("ix_attempt_completed", "operation_attempt", ["completed_at"])
    # At most one open attempt per unit and per station: the database, not only the code, says so.
    op.create_index(
        "uq_attempt_open_unit",
        "operation_attempt",
        ["unit_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "uq_attempt_open_station",
        "operation_attempt",
        ["station_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "measurement",
        sa.Column("attempt_id", BigId, sa.ForeignKey("operation_attempt.id"), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float),
        sa.Column("text", sa.String(255)),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("unit", sa.String(16)),
    )
    op.create_table(
        "trace",
        sa.Column("attempt_id", BigId, sa.ForeignKey("operation_attempt.id"), primary_key=True),
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("n_samples", sa.Integer, nullable=False),
        sa.Column("t_start_s", sa.Float),
        sa.Column("t_end_s", sa.Float),
        sa.Column("value_min", sa.Float),
        sa.Column("value_max", sa.Float),
        sa.Column("value_first", sa.Float),
        sa.Column("value_last", sa.Float),
        sa.Column("encoding", sa.String(16), nullable=False),
        sa.Column("t_blob", sa.LargeBinary, nullable=False),
        sa.Column("value_blob", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "component_use",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("attempt_id", BigId, sa.ForeignKey("operation_attempt.id"), nullable=False),
        sa.Column("unit_id", BigId, sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("identifier", sa.String(64), nullable=False),
        sa.Column("model", sa.String(64)),
        # where and when it was consumed, kept here so reverse genealogy never reads the attempts
        sa.Column("station_id", sa.String(32), nullable=False),
        sa.Column("consumed_at", TS, nullable=False),
    )
    op.create_index("ix_component_identifier", "component_use", ["identifier", "kind", "unit_id"])
    if op.get_bind().dialect.name == "postgresql":
        # identifier determines kind; without this the planner multiplies their selectivities and
        # underestimates a lot's units several-fold
        op.execute(
            "CREATE STATISTICS st_component_identifier_kind (dependencies) ON identifier, kind FROM component_use"
        )
    op.create_index("ix_component_attempt", "component_use", ["attempt_id"])
    op.create_table(
        "check_result",
        sa.Column("attempt_id", BigId, sa.ForeignKey("operation_attempt.id"), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("measured", sa.Float),
        sa.Column("expected", sa.Float),
        sa.Column("limit_low", sa.Float),
        sa.Column("limit_high", sa.Float),
        sa.Column("uncertainty", sa.Float),
        sa.Column("failure_mode", sa.String(64)),
    )
    op.create_table(
        "hold",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("unit_id", BigId, sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_ref", sa.String(128)),
        sa.Column("attempt_id", BigId, sa.ForeignKey("operation_attempt.id")),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("released_at", TS),
        sa.Column("released_by", sa.String(64)),
        sa.Column("disposition", sa.String(16)),
        sa.Column("release_reason", sa.Text),
    )
    op.create_index("ix_hold_unit", "hold", ["unit_id"])
    op.create_index(
        "ix_hold_active",
        "hold",
        ["created_at"],
        postgresql_where=sa.text("released_at IS NULL"),
        sqlite_where=sa.text("released_at IS NULL"),
    )


def downgrade() -> None:
    for table in (
        "hold",
        "check_result",
        "component_use",
        "trace",
        "measurement",
        "operation_attempt",
        "unit",
        "work_order",
        "station",
        "market_rule",
        "product_model",
        "rework_rule",
        "route_step",
        "route",
    ):
        op.drop_table(table)
