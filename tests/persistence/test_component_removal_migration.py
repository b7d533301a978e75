"""Migration 0015 (a part removed from a unit is marked, not deleted) upgrades and downgrades on both
backends: the columns come and go, the genealogy's rows and indexes stay."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, create_engine, func, inspect, select, text

from app.persistence import migrate
from app.persistence import models as m
from tests.conftest import DbUnderTest

REMOVAL_COLUMNS = {"removed_at", "removed_by_attempt_id"}


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("component_use")}


def _version(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def test_component_removal_columns_upgrade_and_downgrade(database: DbUnderTest) -> None:
    engine = create_engine(database.owner)
    try:
        assert _columns(engine) >= REMOVAL_COLUMNS
        with engine.begin() as conn:  # a part fitted and removed, as the repair bench records it
            unit_id = conn.execute(select(m.Unit.id).order_by(m.Unit.id).limit(1)).scalar_one()
            now = datetime.now(UTC)
            attempt_id = conn.execute(
                m.OperationAttempt.__table__.insert()
                .values(
                    unit_id=unit_id,
                    station_id="REP-01",
                    station_type="repair",
                    status="passed",
                    retest_index=0,
                    started_at=now,
                    origin="operator",
                    use_as_is=False,
                )
                .returning(m.OperationAttempt.id)
            ).scalar_one()
            conn.execute(
                m.ComponentUse.__table__.insert().values(
                    attempt_id=attempt_id,
                    unit_id=unit_id,
                    kind="compressor",
                    identifier="CMP-MIG-1",
                    model="RSC-19-EVI",
                    station_id="REP-01",
                    consumed_at=now,
                    removed_at=now,
                    removed_by_attempt_id=attempt_id,
                )
            )
        if database.backend == "postgres":
            keys = inspect(engine).get_foreign_keys("component_use")
            assert any(k["constrained_columns"] == ["removed_by_attempt_id"] for k in keys)

        head = _version(engine)
        migrate.downgrade(database.owner, "0014")
        assert _version(engine) == "0014"
        assert not REMOVAL_COLUMNS & _columns(engine)
        indexes = {i["name"] for i in inspect(engine).get_indexes("component_use")}
        assert {"ix_component_identifier", "ix_component_attempt"} <= indexes
        with engine.connect() as conn:  # the part's row is kept; only the removal mark goes
            assert (
                conn.execute(text("SELECT count(*) FROM component_use WHERE identifier = 'CMP-MIG-1'")).scalar_one()
                == 1
            )

        migrate.upgrade(database.owner)
        assert _version(engine) == head
        assert _columns(engine) >= REMOVAL_COLUMNS
        with engine.connect() as conn:
            removed = conn.execute(
                select(func.count()).where(
                    m.ComponentUse.identifier == "CMP-MIG-1", m.ComponentUse.removed_at.is_not(None)
                )
            ).scalar_one()
        assert removed == 0  # NULL (fitted) for every row the downgrade kept
    finally:
        engine.dispose()
