"""A unit that holds its refrigerant charge is repaired only after recovery (SQLite and PostgreSQL): the
repair bench refuses a record without the recovered mass (nothing stored, the repair stays open), keeps
the mass in the birth record when given, and asks nothing of a unit never charged (line.md, Routes)."""

from __future__ import annotations

from typing import Any

import pytest

from app.opcua.simulator.faults import Fault
from tests.api.driver import MONOBLOC, Line

REBRAZE = {"RepairAction": "rebraze", "RepairDescription": "re-brazed the leaking joint"}


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _at_the_repair_bench_after_a_leak_test_fail(line: Line, serial: str) -> float:
    """``serial`` (a monobloc) charged at CHG-01, failed at the leak test and started at REP-01; its charge in g."""
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)
    line.run("charging", serial)
    line.run("leak_test", serial, "FAIL", fault=Fault.FINE_LEAK)
    assert line.unit(serial)["next_step"] == "repair"
    assert line.start("repair", serial).status_code == 201
    record = line.client.get(f"/api/v1/units/{serial}/birth-record").json()
    [charging] = [a for a in record["attempts"] if a["station_type"] == "charging"]
    return float({x["name"]: x["value"] for x in charging["measurements"]}["ChargedMass_g"])


def _repair_attempts(client: Any, serial: str) -> list[dict[str, Any]]:
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    return [a for a in record["attempts"] if a["station_type"] == "repair"]


def test_a_rebraze_of_a_charged_unit_without_the_recovered_mass_is_refused_and_nothing_is_stored(
    line: Line, client: Any
) -> None:
    serial = line.work_order(first="HP26-5500001", quantity=1)[0]
    mass = _at_the_repair_bench_after_a_leak_test_fail(line, serial)

    r = line.complete("repair", serial, overrides=REBRAZE)

    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        f"{serial} holds its R290 charge (charged at CHG-01, {mass:g} g): "
        "recover the refrigerant and record the recovered mass before repairing"
    )
    assert [(a["status"], a["measurements"]) for a in _repair_attempts(client, serial)] == [("open", [])]
    assert line.unit(serial)["next_step"] == "repair"
    r = client.post(
        "/ui/tablet/REP-01/repair", json={"serial": serial, "action": "rebraze", "description": "re-brazed"}
    )
    assert r.status_code == 422 and "recover the refrigerant" in r.json()["detail"], r.text
    negative = line.complete("repair", serial, overrides=REBRAZE | {"RecoveredMass_g": -1.0})
    assert negative.status_code == 422 and "recover the refrigerant" in negative.json()["detail"], negative.text
    assert [a["status"] for a in _repair_attempts(client, serial)] == ["open"]


def test_a_rebraze_of_a_charged_unit_with_the_recovered_mass_passes_and_the_birth_record_shows_the_mass(
    line: Line, client: Any
) -> None:
    serial = line.work_order(first="HP26-5500011", quantity=1)[0]
    _at_the_repair_bench_after_a_leak_test_fail(line, serial)

    line.start("repair", serial)
    r = line.complete("repair", serial, overrides=REBRAZE | {"RecoveredMass_g": 138.5})

    assert r.status_code == 200, r.text
    assert r.json()["attempt"]["verdict"] == "PASS"
    [repair] = _repair_attempts(client, serial)
    recovered = {x["name"]: (x["value"], x["unit"]) for x in repair["measurements"]}["RecoveredMass_g"]
    assert recovered == (138.5, "g")
    assert line.unit(serial)["next_step"] == "vacuum_dehydration"


def test_the_tablet_records_the_recovered_mass_of_a_charged_unit(line: Line, client: Any) -> None:
    serial = line.work_order(first="HP26-5500021", quantity=1)[0]
    _at_the_repair_bench_after_a_leak_test_fail(line, serial)
    body = {"serial": serial, "action": "rebraze", "description": "recovered, then re-brazed", "recovered_mass_g": 0}

    r = client.post("/ui/tablet/REP-01/repair", json=body)

    assert r.status_code == 200 and r.json()["verdict"] == "PASS", r.text
    [repair] = _repair_attempts(client, serial)
    assert {x["name"]: x["value"] for x in repair["measurements"]}["RecoveredMass_g"] == 0


def test_a_unit_failed_at_brazing_is_repaired_without_a_recovered_mass(line: Line, client: Any) -> None:
    serial = line.work_order(first="HP26-5500031", quantity=1)[0]
    line.run("coil_expansion", serial)
    line.run("brazing", serial, "FAIL", fault=Fault.DEW_POINT_EXCURSION)

    line.run("repair", serial, overrides=REBRAZE)

    assert line.unit(serial)["next_step"] == "brazing"


def test_a_split_unit_failed_at_the_leak_test_is_repaired_without_a_recovered_mass(line: Line, client: Any) -> None:
    serial = line.work_order(model="HPS-10-R32", first="HP26-5500041", quantity=1)[0]
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)
    line.run("leak_test", serial, "FAIL", fault=Fault.FINE_LEAK)

    line.run("repair", serial, overrides=REBRAZE)

    assert line.unit(serial)["next_step"] == "vacuum_dehydration"


def test_a_unit_evacuated_and_charged_again_holds_its_new_charge(line: Line, client: Any) -> None:
    serial = line.work_order(first="HP26-5500051", quantity=1)[0]
    _at_the_repair_bench_after_a_leak_test_fail(line, serial)
    line.complete("repair", serial, overrides=REBRAZE | {"RecoveredMass_g": 140.0})
    line.run("vacuum_dehydration", serial)
    line.run("charging", serial, "FAIL", overrides={"ChargedMass_g": 150.0})  # the charge went in: held again

    line.start("repair", serial)
    recovery = {"RepairAction": "recover_refrigerant", "RepairDescription": "recovered the charge"}
    r = line.complete("repair", serial, overrides=recovery)

    assert r.status_code == 422 and "charged at CHG-01, 150 g" in r.json()["detail"], r.text


def test_a_repair_repeated_after_the_refrigerant_was_recovered_asks_for_no_recovered_mass(
    line: Line, client: Any
) -> None:
    serial = line.work_order(first="HP26-5500061", quantity=1)[0]
    _at_the_repair_bench_after_a_leak_test_fail(line, serial)
    incomplete = {"RepairAction": "glued", "RepairDescription": "recovered 139 g; joint not re-brazed yet"}
    assert (
        line.complete("repair", serial, overrides=incomplete | {"RecoveredMass_g": 139.0}).json()["attempt"]["verdict"]
        == "FAIL"
    )
    (hold,) = [h for h in client.get("/api/v1/holds").json() if h["serial"] == serial]
    release = {"disposition": "rework", "reason": "finish the repair", "signature": {"secret": "demo-quality"}}
    assert client.post(f"/api/v1/holds/{hold['id']}/release", json=release).status_code == 200
    assert line.unit(serial)["next_step"] == "repair"

    assert line.start("repair", serial).status_code == 201
    r = line.complete("repair", serial, overrides=REBRAZE)  # the circuit is empty: nothing more to recover

    assert r.status_code == 200 and r.json()["attempt"]["verdict"] == "PASS", r.text
    assert [a["verdict"] for a in _repair_attempts(client, serial)] == ["FAIL", "PASS"]
    assert line.unit(serial)["next_step"] == "vacuum_dehydration"
