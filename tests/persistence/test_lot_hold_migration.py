"""Migration 0019 (lot holds) upgrades and downgrades on both backends, and a hold placed before it stays
valid: listed with no lot hold, released on its own; a hold by component placed after it has its lot hold."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, inspect, select, text

from app.persistence import migrate
from app.persistence import models as m
from app.persistence.app_role import grant_app_role
from tests.api.driver import Line
from tests.conftest import PG_APP_ROLE, DbUnderTest

RIGHT = {"secret": "demo-quality"}


def _hold_columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("hold")}


def test_lot_holds_upgrade_and_downgrade_and_a_hold_placed_before_stays_valid(
    database: DbUnderTest, client: Any
) -> None:
    line = Line(client)
    serial, other = line.work_order(quantity=2)
    for unit in (serial, other):
        line.run("coil_expansion", unit)
        line.run("brazing", unit, overrides={"FurnaceRun": "FR-MIG-19"})
    engine = create_engine(database.owner)
    try:
        head = migrate.current_revision(engine)
        migrate.downgrade(database.owner, "0018")
        assert "lot_hold_id" not in _hold_columns(engine) and "lot_hold" not in inspect(engine).get_table_names()
        with engine.begin() as conn:  # a lot hold as the code before 0019 placed it: one hold, tied to nothing
            unit_id = conn.execute(select(m.Unit.id).where(m.Unit.serial == serial)).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO hold (unit_id, reason, scope, scope_ref, created_at, created_by) "
                    "VALUES (:unit, 'furnace recall before 0019', 'component', 'furnace_run:FR-MIG-19', "
                    "CURRENT_TIMESTAMP, 'quality1')"
                ),
                {"unit": unit_id},
            )
            conn.execute(text("UPDATE unit SET status = 'on_hold' WHERE id = :unit"), {"unit": unit_id})

        migrate.upgrade(database.owner)
        assert migrate.current_revision(engine) == head
        assert "lot_hold_id" in _hold_columns(engine)
        if database.backend == "postgres":
            with engine.begin() as conn:  # new tables need their grants (`mes db grant-app-role` after an upgrade)
                grant_app_role(conn, PG_APP_ROLE)
            keys = inspect(engine).get_foreign_keys("hold")
            assert any(k["constrained_columns"] == ["lot_hold_id"] and k["referred_table"] == "lot_hold" for k in keys)
    finally:
        engine.dispose()

    [earlier] = client.get("/api/v1/holds").json()
    assert (earlier["serial"], earlier["lot_hold_id"]) == (serial, None)
    release = {"disposition": "use_as_is", "reason": "furnace log re-read", "signature": RIGHT}
    r = client.post(f"/api/v1/holds/{earlier['id']}/release", json=release)
    assert r.status_code == 200, r.text
    assert line.unit(serial)["status"] == "in_process"

    r = client.post("/api/v1/holds/by-component", json={"identifier": "FR-MIG-19", "reason": "second recall"})
    assert r.status_code == 201, r.text
    assert {h["lot_hold_id"] for h in r.json()["held"]} == {r.json()["lot_hold_id"]} != {None}
    r = client.post(f"/api/v1/lot-holds/{r.json()['lot_hold_id']}/release", json=release)
    assert r.status_code == 200, r.text
    assert sorted(h["serial"] for h in r.json()["released"]) == [serial, other]
