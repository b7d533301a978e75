"""A part replaced at the repair bench (SQLite and PostgreSQL): the new part enters the unit's
genealogy on the repair attempt, the part it replaced stays in the record marked removed, and a
removed part can be fitted in another unit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.domain.results import Measurement, StationResult
from app.persistence import models as m
from app.services import operations, traceability
from tests.api.driver import MONOBLOC, Line, station_payload

SERIAL_FORMAT = Settings().serial.format()


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def repair(client: Any, unit: str, *, kind: str, serial: str, model: str, recovered_mass_g: float | None = None) -> Any:
    """The repair bench's tablet records a replace_part repair of the started unit (a charged unit's
    with the recovered refrigerant's mass)."""
    body: dict[str, Any] = {"serial": unit, "action": "replace_part"}
    body |= {"description": "took the part out, fitted a new one"}
    body |= {"replaced_part_kind": kind, "replaced_part_serial": serial, "replaced_part_model": model}
    if recovered_mass_g is not None:
        body["recovered_mass_g"] = recovered_mass_g
    return client.post("/ui/tablet/REP-01/repair", json=body)


def wrong_compressor_replaced(
    line: Line, client: Any, *, first: str, fitted: str, new: str
) -> tuple[str, dict[str, str]]:
    """A unit whose sub-base got HPM-12's compressor ``fitted`` (FAIL, wrong part), replaced at the
    repair bench by the right model ``new``: the serial and the wrong part's result values."""
    serial = line.work_order(first=first, quantity=1)[0]
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    wrong = {"CompressorSerial": fitted, "CompressorModel": "RSC-38-EVI"}  # HPM-12's compressor
    line.run("sub_base_assembly", serial, expect="FAIL", overrides=wrong)
    assert line.start("repair", serial).status_code == 201
    r = repair(client, serial, kind="compressor", serial=new, model="RSC-19-EVI")
    assert r.status_code == 200 and r.json()["removed"] == [fitted], r.text
    return serial, wrong


def genealogy(client: Any, identifier: str) -> list[tuple[str, str, str]]:
    r = client.get("/api/v1/genealogy", params={"identifier": identifier})
    assert r.status_code == 200, r.text
    return [(u["serial"], u["kind"], u["station_id"]) for u in r.json()["units"]]


def parts_in_birth_record(client: Any, serial: str, kind: str) -> list[tuple[str, str, str]]:
    r = client.get(f"/api/v1/units/{serial}/birth-record")
    assert r.status_code == 200, r.text
    return [
        (a["station_id"], c["identifier"], c["model"])
        for a in r.json()["attempts"]
        for c in a["components"]
        if c["kind"] == kind
    ]


def removals(sessions: sessionmaker[Session], serial: str, kind: str) -> dict[str, int | None]:
    """identifier -> the attempt that removed it (None while fitted), from the service's birth record."""
    with sessions() as session:
        record = traceability.birth_record(session=session, serial_format=SERIAL_FORMAT, serial=serial)
    found: dict[str, int | None] = {}
    for attempt in record.attempts:
        for c in attempt.components:
            if c.kind == kind:
                assert (c.removed_at is None) == (c.removed_by_attempt_id is None)
                found[c.identifier] = c.removed_by_attempt_id
    return found


def repair_attempt_id(sessions: sessionmaker[Session], serial: str) -> int:
    with sessions() as session:
        return session.scalars(
            select(m.OperationAttempt.id)
            .join(m.Unit, m.Unit.id == m.OperationAttempt.unit_id)
            .where(m.Unit.serial == serial, m.OperationAttempt.station_type == "repair")
        ).one()


def test_a_part_fitted_at_the_repair_bench_enters_the_genealogy_and_the_old_one_is_marked_removed(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    serial = line.work_order(first="HP26-5100001", quantity=1)[0]
    for station_type in MONOBLOC[:4]:
        overrides = {"InverterSerial": "INV-OLD-41"} if station_type == "sub_base_assembly" else None
        line.run(station_type, serial, overrides=overrides)
    line.run("charging", serial, expect="FAIL", overrides={"ChargedMass_g": 150.0})
    assert line.start("repair", serial).status_code == 201

    r = repair(client, serial, kind="inverter", serial="INV-NEW-42", model="INV-06", recovered_mass_g=150.0)
    assert r.status_code == 200, r.text
    assert r.json()["fitted"]["identifier"] == "INV-NEW-42" and r.json()["removed"] == ["INV-OLD-41"]

    assert genealogy(client, "INV-NEW-42") == [(serial, "inverter", "REP-01")]
    assert parts_in_birth_record(client, serial, "inverter") == [
        ("SBA-01", "INV-OLD-41", "INV-06"),
        ("REP-01", "INV-NEW-42", "INV-06"),
    ]
    assert genealogy(client, "INV-OLD-41") == [(serial, "inverter", "SBA-01")]  # shown, not hidden
    repaired_by = repair_attempt_id(sessions, serial)
    assert removals(sessions, serial, "inverter") == {"INV-OLD-41": repaired_by, "INV-NEW-42": None}
    with sessions() as session:
        (old,) = traceability.genealogy(session=session, identifier="INV-OLD-41", kind="inverter")
    assert old.removed_by_attempt_id == repaired_by and old.removed_at is not None
    assert old.removed_at >= old.consumed_at


def test_a_compressor_removed_at_repair_can_be_fitted_in_another_unit(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    first, wrong = wrong_compressor_replaced(line, client, first="HP26-5000001", fitted="CMP-X-777", new="CMP-OK-001")
    assert removals(sessions, first, "compressor") == {
        "CMP-X-777": repair_attempt_id(sessions, first),
        "CMP-OK-001": None,
    }

    line12 = Line(client, model="HPM-12-R32-EVI")
    second = line12.work_order(first="HP26-6000001", quantity=1, number="WO-12")[0]
    line12.run("coil_expansion", second)
    line12.run("brazing", second)
    assert line12.start("sub_base_assembly", second).status_code == 201
    scanned = client.post(
        "/ui/tablet/SBA-01/parts",
        json={"serial": second, "parts": [{"kind": "compressor", "identifier": "CMP-X-777", "model": "RSC-38-EVI"}]},
    )
    assert scanned.status_code == 200, scanned.text
    r = line12.complete("sub_base_assembly", second, overrides=wrong)
    assert r.status_code == 200, r.text
    body = r.json()
    assert not [c for c in body["checks"] if c["rule"] == "genealogy:fitted_elsewhere"], body["checks"]
    assert body["attempt"]["verdict"] == "PASS"
    assert genealogy(client, "CMP-X-777") == [(first, "compressor", "SBA-01"), (second, "compressor", "SBA-01")]


def test_a_hold_by_a_compressor_serial_also_holds_the_unit_it_was_removed_from_at_repair(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    """Deliberately conservative, and kept so: a hold by component holds every unit the genealogy finds,
    a part since removed included. A suspect compressor ran in that unit's refrigerant circuit (oil,
    debris, moisture stay behind when it is taken out), so the unit it left is held with the one it is in."""
    serial, _ = wrong_compressor_replaced(line, client, first="HP26-5200001", fitted="CMP-X-779", new="CMP-OK-002")
    assert removals(sessions, serial, "compressor")["CMP-X-779"] == repair_attempt_id(sessions, serial)

    r = client.post(
        "/api/v1/holds/by-component",
        json={"identifier": "CMP-X-779", "kind": "compressor", "reason": "compressor batch recalled"},
    )
    assert r.status_code == 201, r.text
    assert [(h["serial"], h["scope_ref"]) for h in r.json()["held"]] == [(serial, "compressor:CMP-X-779")]
    assert line.unit(serial)["status"] == "on_hold"
    refused = line.start("sub_base_assembly", serial)
    assert refused.status_code == 409 and "compressor batch recalled" in refused.json()["detail"]


def test_a_station_result_naming_a_removed_part_does_not_fail_as_fitted_elsewhere(line: Line, client: Any) -> None:
    """No tablet scan this time: only the PLC's result names the part taken out of another unit."""
    _, wrong = wrong_compressor_replaced(line, client, first="HP26-5200001", fitted="CMP-X-778", new="CMP-OK-002")

    line12 = Line(client, model="HPM-12-R32-EVI")
    second = line12.work_order(first="HP26-6100001", quantity=1, number="WO-12B")[0]
    line12.run("coil_expansion", second)
    line12.run("brazing", second)
    body = line12.run("sub_base_assembly", second, overrides=wrong)  # asserts PASS
    assert not [c for c in body["checks"] if c["rule"] == "genealogy:fitted_elsewhere"]


def test_a_replacement_part_must_fit_the_bill_of_materials_and_no_other_unit(line: Line, client: Any) -> None:
    first, second = line.work_order(first="HP26-5300001", quantity=2)
    for serial in (first, second):
        line.run("coil_expansion", serial)
        line.run("brazing", serial)
    line.run("sub_base_assembly", first, overrides={"CompressorSerial": "CMP-IN-FIRST"})
    line.run("sub_base_assembly", second, expect="FAIL", overrides={"CompressorModel": "RSC-38-EVI"})
    assert line.start("repair", second).status_code == 201

    r = repair(client, second, kind="compressor", serial="CMP-NEW-2", model="RSC-38-EVI")
    assert r.status_code == 409 and "needs compressor RSC-19-EVI" in r.json()["detail"], r.text
    r = repair(client, second, kind="compressor", serial="CMP-IN-FIRST", model="RSC-19-EVI")
    assert r.status_code == 409 and f"already fitted in {first}" in r.json()["detail"], r.text
    r = repair(client, second, kind="compressor", serial="", model="RSC-19-EVI")
    assert r.status_code == 422, r.text
    r = repair(client, second, kind="cylinder_lot", serial="LOT-1", model="R290")
    assert r.status_code == 422, r.text
    assert genealogy(client, "CMP-NEW-2") == []  # each refusal rolled the whole repair record back
    assert line.unit(second)["next_step"] == "repair"

    r = repair(client, second, kind="compressor", serial="CMP-NEW-2", model="RSC-19-EVI")
    assert r.status_code == 200, r.text
    assert genealogy(client, "CMP-NEW-2") == [(second, "compressor", "REP-01")]


def rest_repair(line: Line, unit: str, **replaced: str) -> Any:
    """A replace_part repair of the started unit recorded over the REST API (an integration, not the
    tablet), with the ReplacedPart* values naming the part fitted."""
    values = {"RepairAction": "replace_part", "RepairDescription": "took the part out, fitted a new one"}
    return line.complete("repair", unit, overrides=values | replaced)


def fail_sub_base_with(line: Line, serial: str, compressor: str) -> None:
    """Coil, braze, then a sub-base FAIL on a wrong compressor (the HPM-12's model) that counts as fitted."""
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    wrong = {"CompressorSerial": compressor, "CompressorModel": "RSC-38-EVI"}
    line.run("sub_base_assembly", serial, expect="FAIL", overrides=wrong)


def test_a_part_replaced_in_a_repair_recorded_over_rest_is_fitted_and_the_old_one_marked_removed(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    first = line.work_order(first="HP26-5500001", quantity=1)[0]
    fail_sub_base_with(line, first, "CMP-R-OLD")
    assert line.start("repair", first).status_code == 201

    r = rest_repair(
        line, first, ReplacedPartKind="compressor", ReplacedPartSerial="CMP-R-NEW", ReplacedPartModel="RSC-19-EVI"
    )
    assert r.status_code == 200 and r.json()["attempt"]["verdict"] == "PASS", r.text
    repaired_by = repair_attempt_id(sessions, first)
    assert removals(sessions, first, "compressor") == {"CMP-R-OLD": repaired_by, "CMP-R-NEW": None}
    assert genealogy(client, "CMP-R-NEW") == [(first, "compressor", "REP-01")]
    assert parts_in_birth_record(client, first, "compressor") == [
        ("SBA-01", "CMP-R-OLD", "RSC-38-EVI"),
        ("REP-01", "CMP-R-NEW", "RSC-19-EVI"),
    ]

    # the re-run finds the new compressor in the unit: one compressor fitted, the removed one stays removed
    line.run("sub_base_assembly", first, overrides={"CompressorSerial": "CMP-R-NEW"})
    assert removals(sessions, first, "compressor") == {"CMP-R-OLD": repaired_by, "CMP-R-NEW": None}

    # the removed compressor is the one an HPM-12's bill of materials names: it can be fitted there
    line12 = Line(client, model="HPM-12-R32-EVI")
    second = line12.work_order(first="HP26-6500001", quantity=1, number="WO-12R")[0]
    line12.run("coil_expansion", second)
    line12.run("brazing", second)
    line12.run("sub_base_assembly", second, overrides={"CompressorSerial": "CMP-R-OLD"})  # asserts PASS


def test_a_repair_recorded_over_rest_is_refused_like_the_tablets_and_replaces_nothing(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    first, second = line.work_order(first="HP26-5600001", quantity=2)
    line.run("coil_expansion", first)
    line.run("brazing", first)
    line.run("sub_base_assembly", first, overrides={"CompressorSerial": "CMP-IN-FIRST-R"})
    fail_sub_base_with(line, second, "CMP-S-OLD")
    assert line.start("repair", second).status_code == 201

    refused = [
        ({"ReplacedPartSerial": "CMP-S-NEW", "ReplacedPartModel": "RSC-38-EVI"}, 409, "needs compressor RSC-19-EVI"),
        ({"ReplacedPartSerial": "CMP-IN-FIRST-R", "ReplacedPartModel": "RSC-19-EVI"}, 409, f"fitted in {first}"),
        ({"ReplacedPartSerial": " ", "ReplacedPartModel": "RSC-19-EVI"}, 422, "serial is empty"),
        ({"ReplacedPartSerial": "CMP-S-NEW", "ReplacedPartModel": ""}, 422, "model is empty"),
    ]
    for values, status, words in refused:
        r = rest_repair(line, second, ReplacedPartKind="compressor", **values)
        assert r.status_code == status and words in r.json()["detail"], (values, r.text)
    for kind in ("cylinder_lot", "gearbox"):
        r = rest_repair(line, second, ReplacedPartKind=kind, ReplacedPartSerial="X-1", ReplacedPartModel="X")
        assert r.status_code == 422 and "compressor, inverter or evi_valve" in r.json()["detail"], r.text
    # each refusal rolled the whole repair record back: the wrong compressor is still the one fitted
    assert removals(sessions, second, "compressor") == {"CMP-S-OLD": None}
    assert genealogy(client, "CMP-S-NEW") == []
    assert line.unit(second)["next_step"] == "repair"


def test_a_sub_base_rerun_reporting_another_compressor_marks_the_earlier_one_removed_by_that_attempt(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    """The repair said in words only which compressor went in (no part kind): the re-run's scan of the
    new one is what takes the old one out of the unit's genealogy."""
    serial = line.work_order(first="HP26-5700001", quantity=1)[0]
    fail_sub_base_with(line, serial, "CMP-T-OLD")
    assert line.start("repair", serial).status_code == 201
    text_only = {"serial": serial, "action": "replace_part", "description": "compressor swapped for CMP-T-NEW"}
    assert client.post("/ui/tablet/REP-01/repair", json=text_only).status_code == 200

    rerun = line.run("sub_base_assembly", serial, overrides={"CompressorSerial": "CMP-T-NEW"})["attempt"]
    assert removals(sessions, serial, "compressor") == {"CMP-T-OLD": rerun["id"], "CMP-T-NEW": None}
    # the inverter board and EVI valve the re-run found again (the same serials) stay fitted
    assert set(removals(sessions, serial, "inverter").values()) == {None}
    assert set(removals(sessions, serial, "evi_valve").values()) == {None}
    [old] = client.get("/api/v1/genealogy", params={"identifier": "CMP-T-OLD"}).json()["units"]
    assert old["removed_by_attempt_id"] == rerun["id"] and old["removed_at"] is not None
    page = client.get(f"/ui/units/{serial}").text
    row = re.search(r'<tr class="removed"><td>compressor</td><td><a [^>]*>CMP-T-OLD</a>.*?</tr>', page)
    assert row is not None and f'by <a href="#attempt-{rerun["id"]}">attempt {rerun["id"]}</a>' in row.group(0)

    # taken out, the old compressor can go into the unit whose bill of materials names it
    line12 = Line(client, model="HPM-12-R32-EVI")
    other = line12.work_order(first="HP26-6700001", quantity=1, number="WO-12T")[0]
    line12.run("coil_expansion", other)
    line12.run("brazing", other)
    line12.run("sub_base_assembly", other, overrides={"CompressorSerial": "CMP-T-OLD"})  # asserts PASS


def test_a_wrong_part_reported_at_a_sub_base_rerun_counts_as_fitted_and_takes_the_earlier_ones_place(
    line: Line, sessions: sessionmaker[Session]
) -> None:
    """A FAILed result's parts count as fitted (as before): a wrong compressor found on the re-run is the
    unit's compressor now, until the repair bench replaces it."""
    serial = line.work_order(first="HP26-5800001", quantity=1)[0]
    fail_sub_base_with(line, serial, "CMP-W-1")
    assert line.start("repair", serial).status_code == 201
    assert line.complete("repair", serial).status_code == 200  # recorded as a re-braze: no part named
    wrong_again = {"CompressorSerial": "CMP-W-2", "CompressorModel": "RSC-38-EVI"}
    rerun = line.run("sub_base_assembly", serial, expect="FAIL", overrides=wrong_again)["attempt"]
    assert removals(sessions, serial, "compressor") == {"CMP-W-1": rerun["id"], "CMP-W-2": None}


def test_a_result_that_records_no_part_removes_none(line: Line, client: Any, sessions: sessionmaker[Session]) -> None:
    """Refused before anything is stored, or a serial too long to record: the fitted compressor stays."""
    serial = line.work_order(first="HP26-5900001", quantity=1)[0]
    fail_sub_base_with(line, serial, "CMP-K-1")
    assert line.start("repair", serial).status_code == 201
    assert line.complete("repair", serial).status_code == 200
    assert line.start("sub_base_assembly", serial).status_code == 201
    refused = line.complete("sub_base_assembly", serial, overrides={"CompressorSerial": "C" * 65})
    assert refused.status_code == 422, refused.text
    assert removals(sessions, serial, "compressor") == {"CMP-K-1": None}

    # a PLC's result is stored as it came: the over-long serial FAILs the unit and is not recorded
    completion = operations.Completion(
        serial=serial,
        result_key="R-LONG-1",
        result=StationResult(
            measurements=tuple(
                Measurement(x["name"], x["value"], x["unit"])
                for x in station_payload("sub_base_assembly", serial, overrides={"CompressorSerial": "C" * 65})[
                    "measurements"
                ]
            )
        ),
    )
    with sessions() as session, session.begin():
        outcome = operations.complete_operation(
            session=session,
            serial_format=SERIAL_FORMAT,
            station_id="SBA-01",
            completion=completion,
            origin="plc",
            judge=client.app.state.judge,
        )
    assert outcome.attempt.verdict == "FAIL"
    assert removals(sessions, serial, "compressor") == {"CMP-K-1": None}


def test_a_part_that_fails_as_fitted_in_another_unit_takes_the_place_of_no_part(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    """A sub-base re-run reads another unit's compressor (a mis-read label): the result FAILs and keeps
    that record for the quality engineer, but the unit keeps its own compressor, which stays fitted there
    and so cannot go into a third unit. A part of the same result that fits (a new inverter board) still
    takes the place of the one it replaced."""
    own, other, third = line.work_order(first="HP26-7500001", quantity=3)
    for serial in (own, other, third):
        line.run("coil_expansion", serial)
        line.run("brazing", serial)
    line.run("sub_base_assembly", other, overrides={"CompressorSerial": "CMP-B"})
    earthed_badly = {"CompressorSerial": "CMP-A", "InverterSerial": "INV-A-1", "EarthContinuity_ohm": 0.5}
    line.run("sub_base_assembly", own, expect="FAIL", overrides=earthed_badly)
    assert line.start("repair", own).status_code == 201
    assert line.complete("repair", own).status_code == 200  # a re-braze: no part named

    misread = {"CompressorSerial": "CMP-B", "InverterSerial": "INV-A-2"}
    rerun = line.run("sub_base_assembly", own, expect="FAIL", overrides=misread)
    assert [c["rule"] for c in rerun["checks"] if c["verdict"] != "PASS"] == ["genealogy:fitted_elsewhere"]
    assert removals(sessions, own, "compressor") == {"CMP-A": None, "CMP-B": None}  # both records kept
    assert removals(sessions, other, "compressor") == {"CMP-B": None}
    assert removals(sessions, own, "inverter") == {"INV-A-1": rerun["attempt"]["id"], "INV-A-2": None}

    body = line.run("sub_base_assembly", third, expect="FAIL", overrides={"CompressorSerial": "CMP-A"})
    (told,) = [c["message"] for c in body["checks"] if c["verdict"] != "PASS"]
    assert told.startswith(f"compressor CMP-A is already fitted in {own}:"), told
