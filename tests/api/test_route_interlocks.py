"""The route interlock and rework paths, through real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.config import Settings
from app.opcua import codec
from app.opcua.simulator.faults import Fault
from app.persistence.db import make_engine, make_session_factory
from app.services.judging import EngineJudge
from app.services.plc_gateway import DatabaseStationBackend
from tests.api.driver import MONOBLOC, Line

REBRAZE_AFTER_RECOVERY = {"RepairAction": "rebraze", "RepairDescription": "re-brazed", "RecoveredMass_g": 140.0}

# A leak signal right at 3 g/yr of R290 (5.3e-5 mbar·l/s, line.md): inside the guard band.
AT_THE_LEAK_LIMIT = {"TracerGas": "R290", "LeakSignal_mbar_l_s": 5.3e-5}


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_monobloc_unit_completes_full_route(line: Line) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC:
        assert line.unit(serial)["next_step"] == station_type
        line.run(station_type, serial)
    unit = line.unit(serial)
    assert unit["status"] == "finished" and unit["next_step"] is None


def test_split_unit_completes_route_without_charging(line: Line) -> None:
    serial = line.work_order(model="HPS-10-R32", first="HP26-6000001")[0]
    for station_type in ["coil_expansion", "brazing", "sub_base_assembly", "vacuum_dehydration"]:
        line.run(station_type, serial)
    refused = _problem(line.start("charging", serial), 409)
    assert "charging is not a step of route SPLIT" in refused["detail"]
    line.run("leak_test", serial)
    line.run("run_in", serial)
    assert line.unit(serial)["status"] == "finished"


def test_unit_cannot_skip_a_station(line: Line) -> None:
    serial = line.work_order()[0]
    line.run("coil_expansion", serial)
    body = _problem(line.start("sub_base_assembly", serial), 409)
    assert body["detail"] == f"{serial} has not passed brazing (no attempt yet)"
    assert body["type"].endswith("interlock-refused")


def test_unit_cannot_skip_past_a_failed_station_and_reason_names_the_failure(line: Line) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial)
    failed = line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.GROSS_LEAK)
    assert failed["attempt"]["failure_mode"] == "leak"
    body = _problem(line.start("charging", serial), 409)
    assert body["detail"] == (
        f"{serial} has not passed vacuum dehydration (next: repair at REP-01, then re-enter at vacuum dehydration; "
        f"last attempt: FAIL, {failed['attempt']['summary']})"
    )
    body = _problem(line.start("vacuum_dehydration", serial), 409)
    assert body["detail"].startswith(
        f"{serial} must go to repair at REP-01 first, then re-enter at vacuum dehydration (last failure at "
        "vacuum dehydration: FAIL, "
    )


def test_a_unit_that_failed_brazing_is_told_at_each_station_to_go_to_the_repair_bench_first(line: Line) -> None:
    """Refused downstream (SBA-01) and where it failed (BRZ-01), the operator reads where the unit must go,
    in the route's terms and the plant's words: the line's repair bench, then back into brazing."""
    serial = line.work_order()[0]
    line.run("coil_expansion", serial)
    failed = line.run("brazing", serial, "FAIL", fault=Fault.DEW_POINT_EXCURSION)["attempt"]
    downstream = _problem(line.start("sub_base_assembly", serial), 409)["detail"]
    assert downstream == (
        f"{serial} has not passed brazing (next: repair at REP-01, then re-enter at brazing; "
        f"last attempt: FAIL, {failed['summary']})"
    )
    where_it_failed = _problem(line.start("brazing", serial), 409)["detail"]
    assert where_it_failed == (
        f"{serial} must go to repair at REP-01 first, then re-enter at brazing "
        f"(last failure at brazing: FAIL, {failed['summary']})"
    )


def test_a_unit_with_moisture_is_told_downstream_to_repeat_vacuum_dehydration(line: Line) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial)
    failed = line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.MOISTURE)["attempt"]
    assert failed["instruction"] == "repeat vacuum dehydration"
    refused = _problem(line.start("charging", serial), 409)["detail"]
    assert refused == (
        f"{serial} has not passed vacuum dehydration (next: repeat vacuum dehydration; "
        f"last attempt: FAIL, {failed['summary']})"
    )


def test_a_plcs_refusal_says_where_the_unit_must_go_before_findings_cut_at_254_bytes(
    line: Line, settings: Settings
) -> None:
    """Response.Reason holds 254 bytes: where the unit must go comes before the failed checks' sentence,
    which is what the cut shortens."""
    serial = line.work_order()[0]
    line.run("coil_expansion", serial)
    everything_off = {
        "DewPoint_C": -20.0,
        "O2_ppm": 400.0,
        "BeltSpeed_mm_min": 200.0,
        "FurnaceRun": "",
        "FillerLot": "",
    }
    line.run("brazing", serial, "FAIL", overrides=everything_off)
    whole = _problem(line.start("sub_base_assembly", serial), 409)["detail"]  # REST: not cut
    assert codec.utf8_length(whole) > codec.REASON_MAX_BYTES
    engine = make_engine(settings.resolved_database_url())
    try:
        backend = DatabaseStationBackend(
            session_factory=make_session_factory(engine),
            serial_format=settings.serial.format(),
            judge=EngineJudge(lambda: None),
        )
        refused = backend._request("SBA-01", serial)
    finally:
        engine.dispose()
    assert not refused.release and refused.recipe == ""
    assert refused.reason.startswith(
        f"{serial} has not passed brazing (next: repair at REP-01, then re-enter at brazing; last attempt: FAIL, "
    )
    assert refused.reason == codec.fit_utf8(whole, codec.REASON_MAX_BYTES)
    assert refused.reason.endswith("…") and codec.utf8_length(refused.reason) <= codec.REASON_MAX_BYTES


def test_passed_station_cannot_run_again_without_rework(line: Line) -> None:
    serial = line.work_order()[0]
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    body = _problem(line.start("brazing", serial), 409)
    assert "has already passed brazing" in body["detail"] and "next step is sub-base assembly" in body["detail"]


def test_unit_on_hold_cannot_start_anywhere_until_released(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    r = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "dropped by forklift"})
    assert r.status_code == 201, r.text
    hold_id = r.json()["id"]
    for station_type in ("coil_expansion", "brazing"):
        body = _problem(line.start(station_type, serial), 409)
        assert "on hold (dropped by forklift)" in body["detail"]
    r = client.post(
        f"/api/v1/holds/{hold_id}/release",
        json={"disposition": "use_as_is", "reason": "inspected, no damage", "signature": {"secret": "demo-quality"}},
    )
    assert r.status_code == 200, r.text
    assert line.unit(serial)["status"] == "in_process"
    line.run("coil_expansion", serial)


def test_a_hold_placed_while_the_unit_is_at_a_station_outlasts_that_stations_result(line: Line, client: Any) -> None:
    """The result of the operation that was running is stored and moves the unit along its route, but
    the hold stays: the unit starts nowhere until it is released (the PASS used to lift it silently)."""
    serial = line.work_order(quantity=1)[0]
    line.run("coil_expansion", serial)
    assert line.start("brazing", serial).status_code == 201
    hold_id = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "suspect filler lot"}).json()["id"]
    assert line.complete("brazing", serial).json()["attempt"]["verdict"] == "PASS"
    unit = line.unit(serial)
    assert (unit["status"], unit["next_step"]) == ("on_hold", "sub_base_assembly")
    assert "on hold (suspect filler lot)" in _problem(line.start("sub_base_assembly", serial), 409)["detail"]
    release = {
        "disposition": "use_as_is",
        "reason": "filler lot certificate checked",
        "signature": {"secret": "demo-quality"},
    }
    assert client.post(f"/api/v1/holds/{hold_id}/release", json=release).status_code == 200
    assert line.unit(serial)["status"] == "in_process"
    line.run("sub_base_assembly", serial)


def test_a_unit_scrapped_while_at_a_station_stays_scrapped_when_its_result_arrives(line: Line, client: Any) -> None:
    serial = line.work_order(quantity=1)[0]
    assert line.start("coil_expansion", serial).status_code == 201
    hold_id = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "coil dropped"}).json()["id"]
    body = {"disposition": "scrap", "reason": "coil crushed", "signature": {"secret": "demo-quality"}}
    assert client.post(f"/api/v1/holds/{hold_id}/release", json=body).status_code == 200
    assert line.complete("coil_expansion", serial).json()["attempt"]["verdict"] == "PASS"  # the result is kept
    assert line.unit(serial)["status"] == "scrapped"
    assert "was scrapped" in _problem(line.start("brazing", serial), 409)["detail"]


def test_scrapped_unit_cannot_start(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    hold_id = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "crushed coil"}).json()["id"]
    body = {"disposition": "scrap", "reason": "not repairable", "signature": {"secret": "demo-quality"}}
    r = client.post(f"/api/v1/holds/{hold_id}/release", json=body)
    assert r.status_code == 200, r.text
    assert line.unit(serial)["status"] == "scrapped"
    body = _problem(line.start("coil_expansion", serial), 409)
    assert "was scrapped" in body["detail"]


def test_vacuum_leak_goes_to_repair_then_reenters_at_vacuum(line: Line) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial)
    result = line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.GROSS_LEAK)
    assert result["unit"]["next_step"] == "repair"
    assert result["attempt"]["instruction"] == "to repair (re-braze the joint), then re-enter at vacuum dehydration"
    line.run("repair", serial)
    assert line.unit(serial)["next_step"] == "vacuum_dehydration"
    for station_type in MONOBLOC[3:]:
        line.run(station_type, serial)
    assert line.unit(serial)["status"] == "finished"


def test_vacuum_moisture_repeats_vacuum_without_repair(line: Line) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial)
    result = line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.MOISTURE)
    assert result["attempt"]["failure_mode"] == "moisture"
    unit = line.unit(serial)
    assert unit["next_step"] == "vacuum_dehydration" and unit["rework_loops"] == 1
    _problem(line.start("repair", serial), 409)
    line.run("vacuum_dehydration", serial)


def test_exceeding_rework_loop_cap_puts_unit_on_hold(line: Line) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial)
    for seed in range(2):  # the demo cap is two loops
        line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.MOISTURE, seed=seed)
        assert line.unit(serial)["status"] == "in_process"
    result = line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.MOISTURE, seed=7)
    assert result["unit"]["status"] == "on_hold"
    body = _problem(line.start("vacuum_dehydration", serial), 409)
    assert "rework loop cap 2 reached" in body["detail"]


def test_retest_measures_again_until_the_station_cap_then_fails(line: Line) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)
    # leak_test allows two retests (plant default of its specification)
    for expected_index in (0, 1):
        result = line.run("leak_test", serial, "RETEST", overrides=AT_THE_LEAK_LIMIT)
        assert result["attempt"]["retest_index"] == expected_index
    result = line.run("leak_test", serial, "FAIL", overrides=AT_THE_LEAK_LIMIT)
    assert "retest cap reached" in result["attempt"]["summary"]
    assert result["unit"]["next_step"] == "repair"


def test_run_in_fail_holds_and_rework_reenters_where_the_engineer_says(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:6]:
        line.run(station_type, serial)
    result = line.run("run_in", serial, "FAIL", fault=Fault.AIR_SENSOR_DRIFT)
    assert result["unit"]["status"] == "on_hold"
    hold = next(
        h for h in client.get(f"/api/v1/units/{serial}/birth-record").json()["holds"] if h["scope"] == "verdict"
    )
    signature = {"secret": "demo-quality"}
    body = {"disposition": "rework", "reason": "recheck", "signature": signature}
    r = client.post(f"/api/v1/holds/{hold['id']}/release", json=body)
    _problem(r, 422)  # the route has no re-entry for run_in: the engineer must say where
    r = client.post(
        f"/api/v1/holds/{hold['id']}/release",
        json={
            "disposition": "rework",
            "reason": "refill and retest",
            "reenter_at": "leak_test",
            "signature": signature,
        },
    )
    assert r.status_code == 200, r.text
    assert line.unit(serial)["next_step"] == "leak_test"
    line.run("leak_test", serial)
    line.run("run_in", serial)
    assert line.unit(serial)["status"] == "finished"


def test_use_as_is_concession_lets_a_failed_unit_go_on(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    line.run("coil_expansion", serial, "FAIL", overrides={"FinPitch_mm": 1.95})
    hold = client.get(f"/api/v1/units/{serial}/birth-record").json()["holds"][0]
    body = {"disposition": "use_as_is", "reason": "concession C-17", "signature": {"secret": "demo-quality"}}
    r = client.post(f"/api/v1/holds/{hold['id']}/release", json=body)
    assert r.status_code == 200, r.text
    assert line.unit(serial)["next_step"] == "brazing"
    line.run("brazing", serial)
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    assert record["attempts"][0]["use_as_is"] is True


RECALL = "supplier recall 7: cylinder lot CYL-R290-RECALL"
LOT_CLEARED = {
    "disposition": "use_as_is",
    "reason": "lot cleared by the supplier",
    "signature": {"secret": "demo-quality"},
}


def _held_at_run_in_and_by_its_cylinder_lot(line: Line, client: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A unit through the route to a run-in FAIL (held by its verdict), then held again by a recall of the
    cylinder lot it was charged from: the serial, the verdict hold and the lot hold."""
    serial = line.work_order(quantity=1)[0]
    for station_type in MONOBLOC[:-1]:
        overrides = {"CylinderLot": "CYL-R290-RECALL"} if station_type == "charging" else None
        line.run(station_type, serial, overrides=overrides)
    failed = line.run("run_in", serial, "FAIL", fault=Fault.AIR_SENSOR_DRIFT)
    r = client.post(
        "/api/v1/holds/by-component", json={"identifier": "CYL-R290-RECALL", "kind": "cylinder_lot", "reason": RECALL}
    )
    assert r.status_code == 201, r.text
    [lot_hold] = r.json()["held"]
    [verdict_hold] = [h for h in client.get("/api/v1/holds").json() if h["scope"] == "verdict"]
    assert verdict_hold["attempt_id"] == failed["attempt"]["id"] and lot_hold["serial"] == serial
    detail = _problem(line.start("run_in", serial), 409)["detail"]
    assert detail == f"{serial} is on hold ({verdict_hold['reason']}; {RECALL}); a quality engineer must release it"
    return serial, verdict_hold, lot_hold


def test_releasing_one_hold_leaves_the_unit_held_while_another_hold_stands(line: Line, client: Any) -> None:
    """Each hold is a quality engineer's decision that only its own release lifts: the rework release of
    the run-in FAIL leaves the unit held by the lot recall, and the interlock names that hold alone."""
    serial, verdict_hold, lot_hold = _held_at_run_in_and_by_its_cylinder_lot(line, client)
    release = {"disposition": "rework", "reason": "sensor replaced", "signature": {"secret": "demo-quality"}}
    r = client.post(f"/api/v1/holds/{verdict_hold['id']}/release", json=release | {"reenter_at": "leak_test"})
    assert r.status_code == 200, r.text

    unit = line.unit(serial)
    assert (unit["status"], unit["next_step"]) == ("on_hold", "leak_test")
    assert [h["id"] for h in client.get("/api/v1/holds").json()] == [lot_hold["id"]]
    detail = _problem(line.start("leak_test", serial), 409)["detail"]
    assert detail == f"{serial} is on hold ({RECALL}); a quality engineer must release it"

    assert client.post(f"/api/v1/holds/{lot_hold['id']}/release", json=LOT_CLEARED).status_code == 200
    assert line.unit(serial)["status"] == "in_process"
    line.run("leak_test", serial)
    line.run("run_in", serial)
    assert line.unit(serial)["status"] == "finished"


def test_an_override_to_pass_leaves_the_unit_held_while_another_hold_stands(line: Line, client: Any) -> None:
    """The concession lifts the run-in FAIL's own hold only: the unit, past its last step, does not
    finish while the lot recall holds it; it finishes when that hold is released."""
    serial, verdict_hold, lot_hold = _held_at_run_in_and_by_its_cylinder_lot(line, client)
    override = {"verdict": "PASS", "reason": "chamber sensor fault", "signature": {"secret": "demo-quality"}}
    r = client.post(f"/api/v1/attempts/{verdict_hold['attempt_id']}/override", json=override)
    assert r.status_code == 201, r.text

    unit = line.unit(serial)
    assert (unit["status"], unit["next_step"]) == ("on_hold", None)
    assert [h["id"] for h in client.get("/api/v1/holds").json()] == [lot_hold["id"]]
    detail = _problem(line.start("run_in", serial), 409)["detail"]
    assert detail == f"{serial} is on hold ({RECALL}); a quality engineer must release it"

    assert client.post(f"/api/v1/holds/{lot_hold['id']}/release", json=LOT_CLEARED).status_code == 200
    assert line.unit(serial)["status"] == "finished"


def test_station_moving_on_aborts_the_open_attempt(line: Line) -> None:
    first, second = line.work_order()[:2]
    assert line.start("coil_expansion", first).status_code == 201
    r = line.start("coil_expansion", second)
    assert r.status_code == 201 and r.json()["aborted_serials"] == [first]
    assert line.complete("coil_expansion", second).status_code == 200
    r = line.complete("coil_expansion", first)
    assert _problem(r, 409)["detail"].endswith("start it there first")
    line.run("coil_expansion", first)  # the aborted unit may start again


def test_asking_again_for_the_same_open_attempt_resumes_it(line: Line) -> None:
    serial = line.work_order()[0]
    a = line.start("coil_expansion", serial).json()
    b = line.start("coil_expansion", serial).json()
    assert b["resumed"] is True and b["attempt"]["id"] == a["attempt"]["id"]


def test_unit_in_process_elsewhere_cannot_start(line: Line) -> None:
    serial = line.work_order()[0]
    line.start("coil_expansion", serial)
    body = _problem(line.start("brazing", serial), 409)
    assert "still in process at CEX-01" in body["detail"]


def test_same_completion_delivered_twice_records_one_result(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    line.start("coil_expansion", serial)
    first = line.complete("coil_expansion", serial, result_id="BOOT1-7")
    second = line.complete("coil_expansion", serial, result_id="BOOT1-7")
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert first.json()["attempt"] == second.json()["attempt"]
    assert len(client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"]) == 1


def test_completion_without_open_attempt_is_refused(line: Line) -> None:
    serial = line.work_order()[0]
    body = _problem(line.complete("coil_expansion", serial), 409)
    assert body["detail"] == f"{serial} has no open operation at CEX-01: start it there first"
    assert line.unit(serial)["next_step"] == "coil_expansion"


def test_an_expired_instrument_check_repeats_the_leak_test_instead_of_sending_to_repair(line: Line) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)
    expired = (datetime.now(UTC) - timedelta(hours=12)).isoformat()
    result = line.run("leak_test", serial, "FAIL", overrides={"RefLeakCheckAt": expired})
    assert result["attempt"]["failure_mode"] == "instrument"
    assert result["unit"]["next_step"] == "leak_test"  # the station's rework default, not repair
    line.run("leak_test", serial)


@pytest.mark.parametrize(
    ("mode", "invalid_test"),
    [
        ("instrument", lambda: {"RefLeakCheckAt": (datetime.now(UTC) - timedelta(hours=12)).isoformat()}),
        ("test_invalid", lambda: {"TestPressure_bar": 5.0}),  # HPM-06: PS/4 is 6.25 bar gauge
    ],
)
def test_repeats_of_a_leak_test_that_was_not_valid_are_no_rework_loops(
    line: Line, mode: str, invalid_test: Any
) -> None:
    """An expired reference-leak check or a test below PS/4 says nothing of the unit: testing it again is
    no rework of it (the unit's loop count stays 0), up to the route's cap of two in a row; a third test
    in a row not valid is a tester to look at, and the unit waits for a quality engineer."""
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)
    after_each = []
    for _ in range(2):
        result = line.run("leak_test", serial, "FAIL", overrides=invalid_test())
        assert result["attempt"]["failure_mode"] == mode
        unit = result["unit"]
        after_each.append((unit["status"], unit["next_step"], unit["rework_loops"]))
    assert after_each == [("in_process", "leak_test", 0)] * 2
    instruction = result["attempt"]["instruction"]
    assert instruction.startswith("test again at leak test") and "no rework loop" in instruction, instruction

    third = line.run("leak_test", serial, "FAIL", overrides=invalid_test())

    assert (third["unit"]["status"], third["unit"]["rework_loops"]) == ("on_hold", 0)
    assert "3 tests in a row not valid" in third["attempt"]["instruction"]
    [hold] = [h for h in line.client.get("/api/v1/holds").json() if h["serial"] == serial]
    assert "3 tests in a row not valid: look at the tester" in hold["reason"]


def test_a_test_that_was_not_valid_between_valid_ones_starts_the_run_again(line: Line) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)
    expired = {"RefLeakCheckAt": (datetime.now(UTC) - timedelta(hours=12)).isoformat()}
    line.run("leak_test", serial, "FAIL", overrides=expired)
    line.run("leak_test", serial, "FAIL", overrides=expired)
    line.run("leak_test", serial, "FAIL", fault=Fault.FINE_LEAK)  # a valid test: a leak, to the repair bench
    line.run("repair", serial, overrides=REBRAZE_AFTER_RECOVERY)
    for station_type in ("vacuum_dehydration", "charging"):
        line.run(station_type, serial)

    again = line.run("leak_test", serial, "FAIL", overrides=expired)

    assert (again["unit"]["status"], again["unit"]["next_step"], again["unit"]["rework_loops"]) == (
        "in_process",
        "leak_test",
        1,  # the repair's loop only
    )


def test_a_leak_found_at_a_test_pressure_below_ps_4_is_a_leak_sent_to_repair(line: Line) -> None:
    """The flow through a leak only grows with the pressure: a gross leak found below PS/4 is a leak, not
    a test to repeat (it went round the leak test as "test not valid" with no end)."""
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)

    result = line.run("leak_test", serial, "FAIL", overrides={"TestPressure_bar": 3.0, "LeakSignal_mbar_l_s": 0.05})

    assert result["attempt"]["failure_mode"] == "leak"
    assert result["unit"]["next_step"] == "repair" and result["unit"]["reentry_step"] == "vacuum_dehydration"
    failing = {c["name"] for c in result["checks"] if c["verdict"] == "FAIL"}
    assert failing == {"leak_rate", "test_pressure"}


def test_demo_routes_take_their_rework_rules_from_the_station_types(client: Any) -> None:
    route = client.get("/api/v1/routes/SPLIT").json()
    rules = {(r["failed_at"], r["failure_mode"]): (r["action"], r["reenter_at"]) for r in route["rework"]}
    assert rules[("vacuum_dehydration", "leak")] == ("repair", "vacuum_dehydration")
    assert rules[("vacuum_dehydration", "moisture")] == ("repeat", "vacuum_dehydration")
    assert rules[("leak_test", "instrument")] == ("repeat", "leak_test")
    assert not any(failed_at == "charging" for failed_at, _ in rules)  # not a step of the split route
