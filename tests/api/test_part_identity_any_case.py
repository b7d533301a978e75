"""One part, one unit, whatever the case of its serial (SQLite and PostgreSQL): the genealogy finds
CMP-CASE-1 when cmp-case-1 is typed, so the checks that a part is fitted in one unit only, and that a
part takes the place of another, treat the two as one part too, on every channel (a station's result,
the tablet's scan, the repair bench)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from app.domain.results import Measurement, StationResult
from app.services import operations
from tests.api.driver import Line
from tests.api.test_repair_genealogy import removals, rest_repair
from tests.conftest import DbUnderTest


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def fitted_now(client: Any, identifier: str) -> list[tuple[str, str]]:
    """(unit, identifier as recorded) of each unit the compressor is fitted in now, by the genealogy."""
    r = client.get("/api/v1/genealogy", params={"identifier": identifier, "kind": "compressor"})
    assert r.status_code == 200, r.text
    return [(u["serial"], u["identifier"]) for u in r.json()["units"] if u["removed_at"] is None]


def brazed(line: Line, *serials: str) -> None:
    for serial in serials:
        line.run("coil_expansion", serial)
        line.run("brazing", serial)


def test_a_station_result_naming_a_part_fitted_elsewhere_in_another_case_fails_as_fitted_elsewhere(
    line: Line, client: Any
) -> None:
    first, second = line.work_order(first="HP26-7400001", quantity=2)
    brazed(line, first, second)
    line.run("sub_base_assembly", first, overrides={"CompressorSerial": "CMP-CASE-1"})
    body = line.run("sub_base_assembly", second, expect="FAIL", overrides={"CompressorSerial": "cmp-case-1"})
    (told,) = [c for c in body["checks"] if c["verdict"] != "PASS"]
    assert told["rule"] == "genealogy:fitted_elsewhere", told
    assert told["message"].startswith(f"compressor cmp-case-1 is already fitted in {first}:"), told


def test_a_tablet_scan_of_a_part_fitted_elsewhere_in_another_case_is_refused(line: Line, client: Any) -> None:
    first, second = line.work_order(first="HP26-7410001", quantity=2)
    brazed(line, first, second)
    line.run("sub_base_assembly", first, overrides={"CompressorSerial": "CMP-CASE-2"})
    assert line.start("sub_base_assembly", second).status_code == 201
    part = {"kind": "compressor", "identifier": "Cmp-Case-2", "model": "RSC-19-EVI"}
    r = client.post("/ui/tablet/SBA-01/parts", json={"serial": second, "parts": [part]})
    assert r.status_code == 409 and f"Cmp-Case-2 is already fitted in {first}" in r.json()["detail"], r.text
    assert fitted_now(client, "CMP-CASE-2") == [(first, "CMP-CASE-2")]


def test_a_part_the_tablet_scanned_is_stored_once_when_the_result_repeats_it_in_another_case(
    line: Line, client: Any
) -> None:
    serial = line.work_order(first="HP26-7420001", quantity=1)[0]
    brazed(line, serial)
    assert line.start("sub_base_assembly", serial).status_code == 201
    part = {"kind": "compressor", "identifier": "CMP-CASE-3", "model": "RSC-19-EVI"}
    assert client.post("/ui/tablet/SBA-01/parts", json={"serial": serial, "parts": [part]}).status_code == 200
    r = line.complete("sub_base_assembly", serial, overrides={"CompressorSerial": "cmp-case-3"})
    assert r.status_code == 200 and r.json()["attempt"]["verdict"] == "PASS", r.text
    assert fitted_now(client, "CMP-CASE-3") == [(serial, "CMP-CASE-3")]


def test_a_repair_naming_a_part_fitted_elsewhere_or_the_units_own_in_another_case_is_refused(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    first, second = line.work_order(first="HP26-7430001", quantity=2)
    brazed(line, first, second)
    line.run("sub_base_assembly", first, overrides={"CompressorSerial": "CMP-CASE-4"})
    earthed_badly = {"CompressorSerial": "CMP-CASE-5", "EarthContinuity_ohm": 0.5}
    line.run("sub_base_assembly", second, expect="FAIL", overrides=earthed_badly)
    assert line.start("repair", second).status_code == 201

    fitted = {"ReplacedPartKind": "compressor", "ReplacedPartModel": "RSC-19-EVI"}
    r = rest_repair(line, second, ReplacedPartSerial="cmp-case-4", **fitted)
    assert r.status_code == 409 and f"already fitted in {first}" in r.json()["detail"], r.text
    r = rest_repair(line, second, ReplacedPartSerial="cmp-case-5", **fitted)
    assert r.status_code == 409 and f"is the one fitted in {second}" in r.json()["detail"], r.text
    assert removals(sessions, second, "compressor") == {"CMP-CASE-5": None}


def test_a_sub_base_rerun_reporting_the_units_own_part_in_another_case_removes_nothing(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    serial = line.work_order(first="HP26-7440001", quantity=1)[0]
    brazed(line, serial)
    earthed_badly = {"CompressorSerial": "CMP-CASE-6", "EarthContinuity_ohm": 0.5}
    line.run("sub_base_assembly", serial, expect="FAIL", overrides=earthed_badly)
    assert line.start("repair", serial).status_code == 201
    assert line.complete("repair", serial).status_code == 200  # a re-braze: no part named
    line.run("sub_base_assembly", serial, overrides={"CompressorSerial": "cmp-case-6"})
    assert removals(sessions, serial, "compressor") == {"CMP-CASE-6": None, "cmp-case-6": None}


BULK_PARTS = 20_000


def test_the_fitted_elsewhere_check_reads_the_any_case_index_on_a_large_genealogy(
    line: Line, database: DbUnderTest, sessions: sessionmaker[Session]
) -> None:
    """The query a station's result runs to find its parts in other units, EXPLAINed as it is sent, on a
    component_use of tens of thousands of rows with fresh statistics: an index lookup, not a scan."""
    serial = line.work_order(first="HP26-7450001", quantity=1)[0]
    brazed(line, serial)
    owner = create_engine(database.owner)
    try:
        with owner.begin() as conn:
            unit_id, attempt_id = conn.execute(
                text("SELECT unit_id, attempt_id FROM component_use ORDER BY id DESC LIMIT 1")
            ).one()
            conn.execute(
                text(
                    "INSERT INTO component_use (attempt_id, unit_id, kind, identifier, model, station_id, consumed_at)"
                    " VALUES (:attempt_id, :unit_id, 'compressor', :identifier, 'RSC-19-EVI', 'SBA-01', :at)"
                ),
                [
                    {"attempt_id": attempt_id, "unit_id": unit_id, "identifier": f"CMP-BULK-{i}", "at": "2026-01-01"}
                    for i in range(BULK_PARTS)
                ],
            )
            conn.execute(text("ANALYZE"))

        sent: list[tuple[str, Any]] = []
        result = StationResult(measurements=(Measurement("CompressorSerial", "cmp-bulk-7", None),))
        with sessions() as session:
            engine = session.get_bind()

            def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
                if "component_use" in statement:
                    sent.append((statement, parameters))

            event.listen(engine, "before_cursor_execute", keep)
            try:
                fitted = operations.fitted_elsewhere(
                    session, unit_id=-1, station_type="sub_base_assembly", result=result
                )
            finally:
                event.remove(engine, "before_cursor_execute", keep)
        assert [p.identifier for p in fitted] == ["cmp-bulk-7"]  # found, recorded as CMP-BULK-7
        (statement, parameters), *_ = sent

        explain = "EXPLAIN " if database.backend == "postgres" else "EXPLAIN QUERY PLAN "
        with owner.connect() as conn:
            plan = conn.exec_driver_sql(explain + statement, parameters).all()
    finally:
        owner.dispose()
    described = " ".join(str(cell) for row in plan for cell in row)
    assert "ix_component_identifier_lower" in described, described
