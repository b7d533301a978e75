"""The birth record's CSV export (SQLite and PostgreSQL): safe to open in a spreadsheet, and complete
enough for an auditor to read alone (the verdict that counts, overrides, holds)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

import pytest

from app.ui.workbench import lot_scope
from tests.api.driver import MONOBLOC, Line

QUALITY_SIGNATURE = {"secret": "demo-quality"}  # quality1's password, re-entered to sign
EVIL_LOT = '=HYPERLINK("http://evil","x")'
# The columns of earlier exports, at the positions their readers know; new columns come after them.
EARLIER_COLUMNS = [
    "serial",
    "attempt_id",
    "station_id",
    "station_type",
    "started_at",
    "attempt_verdict",
    "spec_revision_id",
    "model_version",
    "row",
    "name",
    "value",
    "unit",
    "expected",
    "limit_low",
    "limit_high",
    "uncertainty",
    "check_verdict",
    "rule",
    "message",
]


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _csv(client: Any, serial: str) -> tuple[list[str], list[dict[str, str]]]:
    r = client.get(f"/ui/units/{serial}/birth-record.csv")
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    header = rows[0]
    assert all(len(row) == len(header) for row in rows)
    return header, [dict(zip(header, row, strict=True)) for row in rows[1:]]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_a_formula_in_a_scanned_lot_is_exported_as_text_and_a_negative_reading_stays_a_number(
    line: Line, client: Any
) -> None:
    serial = line.work_order(quantity=1)[0]
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)
    line.run("charging", serial, overrides={"CylinderLot": EVIL_LOT, "LiquidTemp_C": -1.5})

    _, rows = _csv(client, serial)
    lot = [r for r in rows if r["row"] == "component" and r["name"] == "cylinder_lot"]
    assert [r["value"] for r in lot] == ["'" + EVIL_LOT]
    scanned = [r for r in rows if r["row"] == "measurement" and r["name"] == "CylinderLot"]
    assert [r["value"] for r in scanned] == ["'" + EVIL_LOT]
    [liquid] = [r for r in rows if r["row"] == "measurement" and r["name"] == "LiquidTemp_C"]
    assert liquid["value"] == "-1.5" and float(liquid["value"]) == -1.5
    # no cell a spreadsheet would evaluate is left, unless it is a number
    evaluated = [c for r in rows for c in r.values() if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(c)]
    assert evaluated == []


def test_a_concession_over_a_fail_shows_in_the_csv_with_who_when_and_why(line: Line, client: Any) -> None:
    serial = line.work_order(quantity=1)[0]
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)
    failed = line.run("charging", serial, "FAIL", overrides={"ChargedMass_g": 143.0})["attempt"]
    r = client.post(
        f"/api/v1/attempts/{failed['id']}/override",
        json={"verdict": "PASS", "reason": "concession per deviation D-17", "signature": QUALITY_SIGNATURE},
    )
    assert r.status_code == 201, r.text
    for station_type in MONOBLOC[5:]:
        line.run(station_type, serial)
    assert line.unit(serial)["status"] == "finished"
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    [override] = next(a["overrides"] for a in record["attempts"] if a["id"] == failed["id"])

    header, rows = _csv(client, serial)
    assert header[: len(EARLIER_COLUMNS)] == EARLIER_COLUMNS
    charging = [r for r in rows if r["attempt_id"] == str(failed["id"]) and r["row"] != "hold"]
    assert charging and {r["attempt_verdict"] for r in charging} == {"FAIL"}  # the engine's, as recorded
    assert {r["effective_verdict"] for r in charging} == {"PASS"}
    assert {r["use_as_is"] for r in charging} == {"true"}
    assert {r["override_by"] for r in charging} == {override["by"]} == {"quality1"}
    assert {r["override_reason"] for r in charging} == {"concession per deviation D-17"}
    [at] = {r["override_at"] for r in charging}
    assert datetime.fromisoformat(at) == datetime.fromisoformat(override["at"])
    others = [r for r in rows if r["attempt_id"] != str(failed["id"]) and r["row"] != "hold"]
    assert {r["effective_verdict"] for r in others} == {"PASS"}
    assert {r["override_by"] + r["override_at"] + r["override_reason"] for r in others} == {""}


def test_a_second_override_is_the_verdict_that_counts_in_the_csv(line: Line, client: Any) -> None:
    """A concession withdrawn: FAIL by the engine, PASS by a first override, FAIL by a second. The
    latest override counts, with its own who, when and why."""
    serial = line.work_order(quantity=1)[0]
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)
    failed = line.run("charging", serial, "FAIL", overrides={"ChargedMass_g": 143.0})["attempt"]
    given = []
    for verdict, reason in (("PASS", "concession per deviation D-17"), ("FAIL", "D-17 withdrawn by the customer")):
        r = client.post(
            f"/api/v1/attempts/{failed['id']}/override",
            json={"verdict": verdict, "reason": reason, "signature": QUALITY_SIGNATURE},
        )
        assert r.status_code == 201, r.text
        given.append(r.json())

    _, rows = _csv(client, serial)
    charging = [r for r in rows if r["attempt_id"] == str(failed["id"]) and r["row"] != "hold"]
    assert charging and {r["attempt_verdict"] for r in charging} == {"FAIL"}
    assert {r["effective_verdict"] for r in charging} == {"FAIL"}
    assert {r["use_as_is"] for r in charging} == {"false"}
    assert {r["override_reason"] for r in charging} == {"D-17 withdrawn by the customer"}
    [at] = {r["override_at"] for r in charging}
    assert datetime.fromisoformat(at) == datetime.fromisoformat(given[1]["at"])


def test_the_units_holds_are_rows_of_the_csv_placed_released_and_disposed(line: Line, client: Any) -> None:
    serial = line.work_order(quantity=1)[0]
    line.run("coil_expansion", serial, overrides={"CoilBatch": "CB-77"})
    placed = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "suspect brazing alloy"})
    assert placed.status_code == 201, placed.text
    release = {"disposition": "rework", "reason": "alloy certificate checked", "signature": QUALITY_SIGNATURE}
    assert client.post(f"/api/v1/holds/{placed.json()['id']}/release", json=release).status_code == 200
    lot = client.post(
        "/api/v1/holds/by-component", json={"identifier": "CB-77", "kind": "coil_batch", "reason": "batch recall"}
    )
    assert lot.status_code == 201, lot.text
    holds = client.get(f"/api/v1/units/{serial}/birth-record").json()["holds"]

    _, rows = _csv(client, serial)
    unit_hold, lot_hold = [r for r in rows if r["row"] == "hold"]
    assert unit_hold["hold_id"] == str(holds[0]["id"]) and unit_hold["name"] == "unit"
    assert unit_hold["message"] == "suspect brazing alloy" and unit_hold["hold_placed_by"] == holds[0]["created_by"]
    assert unit_hold["hold_placed_at"] and unit_hold["hold_released_at"]
    assert unit_hold["hold_released_by"] == "quality1" and unit_hold["hold_disposition"] == "rework"
    assert unit_hold["hold_release_reason"] == "alloy certificate checked"
    assert unit_hold["serial"] == serial and unit_hold["attempt_id"] == ""  # a hold of the unit, not of a result
    assert lot_hold["name"] == "component" and lot_hold["value"] == "coil_batch:CB-77"
    assert lot_hold["message"] == "batch recall" and lot_hold["hold_id"] == str(holds[1]["id"])
    assert lot_hold["hold_released_at"] == lot_hold["hold_disposition"] == ""  # still in force
    assert lot_hold["hold_lot_hold_id"] == str(lot.json()["lot_hold_id"]) and unit_hold["hold_lot_hold_id"] == ""
    assert {r["hold_lot_hold_id"] for r in rows if r["row"] != "hold"} == {""}


def test_run_in_residual_limits_say_they_are_residuals_of_the_expected_value_with_units(
    line: Line, client: Any
) -> None:
    serial = line.work_order(quantity=1)[0]
    for station_type in MONOBLOC:
        line.run(station_type, serial)

    header, rows = _csv(client, serial)
    assert header[: len(EARLIER_COLUMNS)] == EARLIER_COLUMNS  # the new columns are appended
    assert header[-3:] == ["limit_basis", "limit_unit", "hold_lot_hold_id"]
    checks = {r["name"]: r for r in rows if r["row"] == "check"}
    capacity, evaporating = checks["M10_capacity_w"], checks["M10_evaporating_temp_c"]
    # measured and expected are absolute; the band and U are a fraction of expected / a difference from it
    assert (capacity["unit"], capacity["limit_basis"], capacity["limit_unit"]) == ("W", "fraction of expected", "1")
    assert float(capacity["limit_high"]) == 0.08 and float(capacity["expected"]) > 1000
    assert (evaporating["unit"], evaporating["limit_basis"], evaporating["limit_unit"]) == (
        "°C",
        "residual of expected",
        "K",
    )
    charged = checks["charged_mass"]
    assert (charged["unit"], charged["limit_basis"], charged["limit_unit"]) == ("g", "absolute", "g")
    assert {r["limit_basis"] + r["limit_unit"] for r in rows if r["row"] != "check"} == {""}

    page = client.get(f"/ui/units/{serial}").text
    row = re.search(r'<tr data-check="M10_capacity_w" data-basis="fraction of expected">(.*?)</tr>', page)
    assert row is not None, "the capacity residual's row"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells[2].endswith(" W") and cells[3].endswith(" W")  # measured, expected
    assert cells[4] == "-8 % of expected" and cells[5] == "+8 % of expected"
    assert cells[6].endswith(" % of expected")  # U
    row = re.search(r'<tr data-check="M10_evaporating_temp_c" data-basis="residual of expected">(.*?)</tr>', page)
    assert row is not None, "the evaporating temperature residual's row"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells[2].endswith(" °C") and cells[4] == "-1.5 K from expected" and cells[5] == "+1.5 K from expected"
    row = re.search(r'<tr data-check="charged_mass" data-basis="absolute">(.*?)</tr>', page)
    assert row is not None and re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))[4].endswith(" g")


def test_a_lot_holds_scope_reads_as_kind_and_identifier_even_when_the_identifier_holds_a_colon() -> None:
    assert lot_scope("furnace_run:FR-0001") == ("furnace_run", "FR-0001")
    assert lot_scope("coil_batch:CB:7") == ("coil_batch", "CB:7")
    assert lot_scope("LOT:7") == (None, "LOT:7")  # typed without a kind: "LOT" is no component kind
    assert lot_scope("CB-77") == (None, "CB-77")
