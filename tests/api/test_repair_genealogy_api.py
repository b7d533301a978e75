"""A part replaced at the repair bench as the REST API and the CSV show it (SQLite and PostgreSQL):
every component use says whether it was taken out again, when, and by which attempt (null while
the part is fitted), in the reverse genealogy, the birth record and the birth record's CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest

from tests.api.driver import MONOBLOC, Line

REMOVAL = ("removed_at", "removed_by_attempt_id")


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _repaired(line: Line, client: Any) -> tuple[str, int]:
    """A unit whose inverter INV-API-OLD was replaced by INV-API-NEW at REP-01; its repair attempt's id."""
    serial = line.work_order(first="HP26-5400001", quantity=1)[0]
    for station_type in MONOBLOC[:4]:
        overrides = {"InverterSerial": "INV-API-OLD"} if station_type == "sub_base_assembly" else None
        line.run(station_type, serial, overrides=overrides)
    line.run("charging", serial, expect="FAIL", overrides={"ChargedMass_g": 150.0})
    assert line.start("repair", serial).status_code == 201
    body = {"serial": serial, "action": "replace_part", "description": "inverter board swapped"}
    body |= {"replaced_part_kind": "inverter", "replaced_part_serial": "INV-API-NEW", "replaced_part_model": "INV-06"}
    body |= {"recovered_mass_g": 150.0}  # the charge is recovered before the repair
    r = client.post("/ui/tablet/REP-01/repair", json=body)
    assert r.status_code == 200, r.text
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    [repair] = [a for a in record["attempts"] if a["station_type"] == "repair"]
    return serial, repair["id"]


def test_the_genealogy_and_the_birth_record_say_when_and_by_which_attempt_a_part_was_removed(
    line: Line, client: Any
) -> None:
    serial, repair_id = _repaired(line, client)

    old = client.get("/api/v1/genealogy", params={"identifier": "INV-API-OLD"}).json()["units"]
    assert [(u["serial"], u["station_id"], u["removed_by_attempt_id"]) for u in old] == [(serial, "SBA-01", repair_id)]
    removed_at = datetime.fromisoformat(old[0]["removed_at"])
    assert removed_at >= datetime.fromisoformat(old[0]["consumed_at"]) and removed_at.utcoffset() is not None
    new = client.get("/api/v1/genealogy", params={"identifier": "INV-API-NEW", "kind": "inverter"}).json()["units"]
    assert [(u["station_id"], u["removed_at"], u["removed_by_attempt_id"]) for u in new] == [("REP-01", None, None)]

    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    components = [(a["station_id"], c) for a in record["attempts"] for c in a["components"]]
    assert all(set(REMOVAL) <= c.keys() for _, c in components)  # present, null, on every part still fitted
    inverters = {c["identifier"]: (station, c["removed_at"], c["removed_by_attempt_id"]) for station, c in components}
    assert inverters["INV-API-OLD"] == ("SBA-01", old[0]["removed_at"], repair_id)
    assert inverters["INV-API-NEW"] == ("REP-01", None, None)
    assert {c["removed_at"] for _, c in components if c["identifier"] != "INV-API-OLD"} == {None}


def test_the_birth_record_csv_carries_the_removal_in_two_appended_columns(line: Line, client: Any) -> None:
    serial, repair_id = _repaired(line, client)
    r = client.get(f"/ui/units/{serial}/birth-record.csv")
    assert r.status_code == 200, r.text
    header, *rows = list(csv.reader(io.StringIO(r.text)))
    at = header.index("removed_at")  # appended after the hold columns; later columns come after it
    assert tuple(header[at : at + 2]) == REMOVAL and header[at - 1] == "hold_release_reason"
    assert header[:2] == ["serial", "attempt_id"]
    assert all(len(row) == len(header) for row in rows)
    by_name = [dict(zip(header, row, strict=True)) for row in rows]
    [old] = [x for x in by_name if x["row"] == "component" and x["value"] == "INV-API-OLD"]
    assert old["removed_by_attempt_id"] == str(repair_id) and datetime.fromisoformat(old["removed_at"])
    others = [x for x in by_name if not (x["row"] == "component" and x["value"] == "INV-API-OLD")]
    assert others and {x["removed_at"] + x["removed_by_attempt_id"] for x in others} == {""}


def test_the_genealogy_page_marks_a_removed_part_removed(line: Line, client: Any) -> None:
    _serial, repair_id = _repaired(line, client)
    page = client.get("/ui/genealogy", params={"identifier": "INV-API-OLD"})
    assert page.status_code == 200, page.text
    assert '<tr class="removed">' in page.text and f'#attempt-{repair_id}">attempt {repair_id}</a>' in page.text
    fitted = client.get("/ui/genealogy", params={"identifier": "INV-API-NEW"}).text
    assert 'class="removed"' not in fitted and "INV-API-NEW" in fitted
