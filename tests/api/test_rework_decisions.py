"""A quality engineer's decisions on a failed unit (overrides, hold releases) keep it on its route: it
re-enters where the route or the engineer says, never past a step it has not passed, and finishes only
after its last step passed (or was conceded)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from app.opcua.simulator.faults import Fault
from tests.api.driver import MONOBLOC, Line

QUALITY_SIGNATURE = {"secret": "demo-quality"}  # quality1's password, re-entered to sign


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _override(client: Any, attempt_id: int, verdict: str, reason: str = "quality engineer's review") -> Any:
    return client.post(
        f"/api/v1/attempts/{attempt_id}/override",
        json={"verdict": verdict, "reason": reason, "signature": QUALITY_SIGNATURE},
    )


def _release(client: Any, hold_id: int, disposition: str, **targets: str) -> Any:
    body = {"disposition": disposition, "reason": "quality engineer's decision", "signature": QUALITY_SIGNATURE}
    return client.post(f"/api/v1/holds/{hold_id}/release", json=body | targets)


def _active_hold(client: Any, serial: str) -> dict[str, Any]:
    (hold,) = [h for h in client.get("/api/v1/holds").json() if h["serial"] == serial]
    return hold  # type: ignore[no-any-return]


def _where(line: Line, serial: str) -> tuple[str, str | None, str | None]:
    unit = line.unit(serial)
    return unit["status"], unit["next_step"], unit["reentry_step"]


def _run_from(line: Line, serial: str, first: str) -> None:
    for station_type in MONOBLOC[MONOBLOC.index(first) :]:
        line.run(station_type, serial)


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _repaired_after_a_vacuum_leak(line: Line, *, first: str) -> tuple[str, dict[str, Any]]:
    """A new unit through sub-base assembly, a gross leak at vacuum, and its repair (PASS): the serial
    and the repair attempt."""
    serial = line.work_order(first=first, quantity=1)[0]
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial)
    line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.GROSS_LEAK)
    return serial, line.run("repair", serial)["attempt"]


# --- overrides, then use as is ----------------------------------------------------------------------


def test_a_repair_overridden_to_fail_then_used_as_is_reenters_where_the_repair_sent_it(line: Line, client: Any) -> None:
    serial, repair = _repaired_after_a_vacuum_leak(line, first="HP26-6100001")
    assert _where(line, serial) == ("in_process", "vacuum_dehydration", None)

    r = _override(client, repair["id"], "FAIL", "re-braze not done, the joint is still porous")
    assert r.status_code == 201, r.text
    # the repair is to be done again, and the unit still re-enters at vacuum afterwards
    assert _where(line, serial) == ("on_hold", "repair", "vacuum_dehydration")

    r = _release(client, _active_hold(client, serial)["id"], "use_as_is")
    assert r.status_code == 200, r.text
    assert _where(line, serial) == ("in_process", "vacuum_dehydration", None)  # not "finished"
    assert line.start("charging", serial).status_code == 409
    _run_from(line, serial, "vacuum_dehydration")
    assert line.unit(serial)["status"] == "finished"


def test_a_coil_expansion_pass_overridden_to_fail_then_used_as_is_goes_on_to_brazing(line: Line, client: Any) -> None:
    serial = line.work_order(first="HP26-6100101", quantity=1)[0]
    coil = line.run("coil_expansion", serial)["attempt"]
    assert _override(client, coil["id"], "FAIL", "fin pitch gauge was out of calibration").status_code == 201
    assert _where(line, serial) == ("on_hold", "coil_expansion", "coil_expansion")

    r = _release(client, _active_hold(client, serial)["id"], "use_as_is")
    assert r.status_code == 200, r.text
    assert _where(line, serial) == ("in_process", "brazing", None)
    line.run("brazing", serial)
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    assert record["attempts"][0]["use_as_is"] is True


def test_a_run_in_pass_overridden_to_fail_finishes_only_when_conceded(line: Line, client: Any) -> None:
    serial = line.work_order(first="HP26-6100201", quantity=1)[0]
    for station_type in MONOBLOC[:-1]:
        line.run(station_type, serial)
    run_in = line.run("run_in", serial)["attempt"]
    assert _override(client, run_in["id"], "FAIL", "noise complaint on audit").status_code == 201
    hold = _active_hold(client, serial)
    assert _release(client, hold["id"], "rework").status_code == 422  # the engineer must say where
    r = _release(client, hold["id"], "use_as_is")
    assert r.status_code == 200, r.text
    assert _where(line, serial) == ("finished", None, None)


def test_a_conceded_repair_overridden_to_pass_counts_as_passed_and_stays_where_the_concession_sent_it(
    line: Line, client: Any
) -> None:
    """A repair FAIL released as used as is already sent the unit on to where it re-enters; a PASS given
    over it afterwards corrects the record (the repair was good, not a deviation) and moves nothing."""
    serial = line.work_order(first="HP26-6100301", quantity=1)[0]
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial)
    line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.GROSS_LEAK)
    repair = line.run("repair", serial, "FAIL", overrides={"RepairAction": "glued"})["attempt"]
    assert _release(client, _active_hold(client, serial)["id"], "use_as_is").status_code == 200
    assert _where(line, serial) == ("in_process", "vacuum_dehydration", None)

    r = _override(client, repair["id"], "PASS", "RepairAction was mistyped: the joint was re-brazed")
    assert r.status_code == 201, r.text
    assert _where(line, serial) == ("in_process", "vacuum_dehydration", None)
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    (recorded,) = [a for a in record["attempts"] if a["id"] == repair["id"]]
    assert [o["verdict"] for o in recorded["overrides"]] == ["PASS"] and recorded["use_as_is"] is True
    _run_from(line, serial, "vacuum_dehydration")
    assert line.unit(serial)["status"] == "finished"


# --- rework releases --------------------------------------------------------------------------------


def _held_after_a_run_in_fail(line: Line, client: Any, *, first: str) -> tuple[str, int]:
    """A new unit through the route to a run-in FAIL (sensor drift: held, no pending rework path): the
    serial and its hold's id."""
    serial = line.work_order(first=first, quantity=1)[0]
    for station_type in MONOBLOC[:-1]:
        line.run(station_type, serial)
    line.run("run_in", serial, "FAIL", fault=Fault.AIR_SENSOR_DRIFT)
    return serial, _active_hold(client, serial)["id"]


def test_after_a_run_in_fail_the_engineer_sends_the_unit_to_repair_and_says_where_it_reenters(
    line: Line, client: Any
) -> None:
    serial, hold_id = _held_after_a_run_in_fail(line, client, first="HP26-6200001")

    r = _release(client, hold_id, "rework", reenter_at="repair")
    assert r.status_code == 422 and "then_reenter_at" in r.json()["detail"], r.text
    r = _release(client, hold_id, "rework", reenter_at="leak_test", then_reenter_at="vacuum_dehydration")
    assert r.status_code == 422 and "reenter_at=repair" in r.json()["detail"], r.text
    r = _release(client, hold_id, "rework", reenter_at="repair", then_reenter_at="painting")
    assert r.status_code == 422 and "painting is not a step" in r.json()["detail"], r.text
    assert line.unit(serial)["status"] == "on_hold"  # a refused release changes nothing

    r = _release(client, hold_id, "rework", reenter_at="repair", then_reenter_at="vacuum_dehydration")
    assert r.status_code == 200, r.text
    assert _where(line, serial) == ("in_process", "repair", "vacuum_dehydration")
    line.run("repair", serial, overrides={"RecoveredMass_g": 140.0})  # a charged unit: recovered first
    assert _where(line, serial) == ("in_process", "vacuum_dehydration", None)
    _run_from(line, serial, "vacuum_dehydration")
    assert line.unit(serial)["status"] == "finished"


def test_a_rework_release_naming_then_reenter_at_without_reenter_at_is_told_to_send_the_unit_to_repair(
    line: Line, client: Any
) -> None:
    serial, hold_id = _held_after_a_run_in_fail(line, client, first="HP26-6200101")

    r = _release(client, hold_id, "rework", then_reenter_at="vacuum_dehydration")
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("then_reenter_at needs reenter_at=repair"), detail
    assert "reenter_at=repair, then_reenter_at=vacuum_dehydration" in detail, detail
    assert line.unit(serial)["status"] == "on_hold"

    # a unit held on its way (no repair pending): the message names where it would otherwise go on
    other = line.work_order(first="HP26-6200102", quantity=1)[0]
    for station_type in MONOBLOC[:4]:
        line.run(station_type, other)
    held = client.post(f"/api/v1/units/{other}/holds", json={"reason": "check the label"}).json()["id"]
    r = _release(client, held, "rework", then_reenter_at="brazing")
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("then_reenter_at needs reenter_at=repair"), detail
    assert "leave then_reenter_at out" in detail and "charging" in detail, detail


def test_the_release_request_documents_where_a_unit_reenters_after_a_repair(client: Any) -> None:
    release = client.get("/openapi.json").json()["components"]["schemas"]["ReleaseRequest"]["properties"]
    assert "then_reenter_at" in release
    assert "after the repair" in release["then_reenter_at"]["description"]
    assert "then_reenter_at" in release["reenter_at"]["description"]


def test_releasing_a_loop_cap_hold_without_a_target_sends_the_unit_to_its_pending_repair(
    line: Line, client: Any
) -> None:
    serial = line.work_order(first="HP26-6300001", quantity=1)[0]
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial)
    for seed in range(2):  # the demo cap is two loops
        line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.GROSS_LEAK, seed=seed)
        line.run("repair", serial)
    line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.GROSS_LEAK, seed=7)
    assert _where(line, serial) == ("on_hold", "repair", "vacuum_dehydration")

    r = _release(client, _active_hold(client, serial)["id"], "rework")
    assert r.status_code == 200, r.text
    assert _where(line, serial) == ("in_process", "repair", "vacuum_dehydration")
    assert line.start("vacuum_dehydration", serial).status_code == 409  # the leak is not repaired yet
    line.run("repair", serial)
    line.run("vacuum_dehydration", serial)


def test_releasing_a_failed_repair_for_rework_without_a_target_repeats_the_repair(line: Line, client: Any) -> None:
    serial, repair = _repaired_after_a_vacuum_leak(line, first="HP26-6300101")
    assert _override(client, repair["id"], "FAIL", "joint still porous").status_code == 201

    r = _release(client, _active_hold(client, serial)["id"], "rework")
    assert r.status_code == 200, r.text
    assert _where(line, serial) == ("in_process", "repair", "vacuum_dehydration")
    line.run("repair", serial)
    line.run("vacuum_dehydration", serial)


def test_a_rework_release_cannot_send_a_unit_past_the_first_step_it_has_not_passed(line: Line, client: Any) -> None:
    serial = line.work_order(first="HP26-6400001", quantity=1)[0]
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)  # due at charging
    r = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "check the label"})
    assert r.status_code == 201, r.text
    hold_id = r.json()["id"]

    for targets in ({"reenter_at": "run_in"}, {"reenter_at": "repair", "then_reenter_at": "leak_test"}):
        r = _release(client, hold_id, "rework", **targets)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert f"{serial} has not passed charging" in detail and "choose charging or an earlier step" in detail
    assert _where(line, serial) == ("on_hold", "charging", None)

    r = _release(client, hold_id, "rework", reenter_at="vacuum_dehydration")  # going back is rework
    assert r.status_code == 200, r.text
    _run_from(line, serial, "vacuum_dehydration")
    assert line.unit(serial)["status"] == "finished"


def test_a_step_overridden_to_fail_counts_as_not_passed_for_a_rework_target(line: Line, client: Any) -> None:
    serial = line.work_order(first="HP26-6400101", quantity=1)[0]
    for station_type in MONOBLOC[:-2]:
        line.run(station_type, serial)
    leak = line.run("leak_test", serial)["attempt"]
    assert _override(client, leak["id"], "FAIL", "sniffer audit found a leak").status_code == 201
    r = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "audit"})
    hold_id = r.json()["id"]
    r = _release(client, hold_id, "rework", reenter_at="run_in")
    assert r.status_code == 422 and "has not passed leak_test" in r.json()["detail"], r.text


# --- what the operator is told --------------------------------------------------------------------


def test_the_operator_is_told_the_routes_repair_note_at_the_failing_station_and_at_the_bench(
    line: Line, client: Any
) -> None:
    serial = line.work_order(first="HP26-6500001", quantity=1)[0]
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)
    failed = line.run("leak_test", serial, "FAIL", fault=Fault.FINE_LEAK)
    note = "re-braze the joint; monoblocs: recover the refrigerant first"
    assert failed["attempt"]["instruction"] == f"to repair ({note}), then re-enter at vacuum dehydration"

    at_tester = _text(client.get("/ui/tablet/LKT-01/panel", params={"serial": serial}).text)
    assert f"Next: to repair ({note}), then re-enter at vacuum dehydration" in at_tester
    at_bench = _text(client.get("/ui/tablet/REP-01/panel", params={"serial": serial}).text)
    assert f"Repair: {note} — then re-enter at vacuum dehydration" in at_bench
    assert "Sent here by a FAIL at LKT-01 (leak test)" in at_bench
    # the route as the tablet lists it: station types in the plant's words, never their codes
    assert "sub-base assembly passed" in at_bench and "run-in to do" in at_bench
    assert "repair next then vacuum dehydration" in at_bench
    assert "_" not in " ".join(re.findall(r'class="step-name">([^<]*)<', at_bench))
    # downstream, the refusal says where the unit must go first
    at_run_in = _text(client.get("/ui/tablet/RUN-01/panel", params={"serial": serial}).text)
    assert (
        f"Cannot start here: {serial} has not passed leak test (next: repair at REP-01, then re-enter at "
        "vacuum dehydration; last attempt: FAIL, "
    ) in at_run_in
