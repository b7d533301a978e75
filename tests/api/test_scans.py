"""Parts scanned at the sub-base become part of the unit's record on its open attempt (SQLite and
PostgreSQL): what is stored, and each scan the service refuses with its reason."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.domain.errors import Conflict, InvalidInput, NoOpenAttempt, NotFound
from app.domain.results import Component, ComponentKind
from app.persistence import models as m
from app.services import scans
from app.services.scans import ScanOutcome
from tests.api.driver import Line

SERIAL_FORMAT = Settings().serial.format()
COMPRESSOR = Component(ComponentKind.COMPRESSOR, "C-7001", "RSC-19-EVI")  # HPM-06-R290-EVI's bill of materials
INVERTER = Component(ComponentKind.INVERTER, "I-7001", "INV-06")
EVI_VALVE = Component(ComponentKind.EVI_VALVE, "V-7001", "EVV-2")


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def at_sub_base(line: Line, serial: str) -> None:
    """The unit passed coil expansion and brazing and is started at SBA-01."""
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    assert line.start("sub_base_assembly", serial).status_code == 201


def scan(
    sessions: sessionmaker[Session], serial: str, *parts: Component, station: str = "SBA-01", by: str = "OP-17"
) -> ScanOutcome:
    """One scan, committed once as a route does."""
    with sessions() as session, session.begin():
        return scans.record_component_scans(
            session=session,
            serial_format=SERIAL_FORMAT,
            station_id=station,
            serial=serial,
            components=list(parts),
            by=by,
        )


def stored(sessions: sessionmaker[Session], serial: str) -> list[tuple[str, str, str | None, str, int]]:
    """The unit's parts recorded at the sub-base (earlier stations record coil batches, furnace runs)."""
    cu = m.ComponentUse
    with sessions() as session:
        rows = session.execute(
            select(cu.kind, cu.identifier, cu.model, cu.station_id, cu.attempt_id)
            .join(m.Unit, m.Unit.id == cu.unit_id)
            .where(m.Unit.serial == serial, cu.station_id.like("SBA-%"))
            .order_by(cu.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_scanned_parts_are_stored_on_the_open_attempt_at_its_start(line: Line, sessions: Any, client: Any) -> None:
    serial = "HP26-0000401"
    at_sub_base(line, serial)
    outcome = scan(sessions, serial, COMPRESSOR)
    outcome = scan(sessions, serial, Component(ComponentKind.INVERTER, "  I-7001 ", " INV-06 "), EVI_VALVE)
    assert outcome.by == "OP-17" and outcome.stored == (INVERTER, EVI_VALVE)
    assert outcome.recorded == (COMPRESSOR, INVERTER, EVI_VALVE)
    attempt = client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"][-1]
    assert attempt["status"] == "open" and attempt["id"] == outcome.attempt_id
    assert [(c["kind"], c["identifier"], c["model"]) for c in attempt["components"]] == [
        ("compressor", "C-7001", "RSC-19-EVI"),
        ("inverter", "I-7001", "INV-06"),
        ("evi_valve", "V-7001", "EVV-2"),
    ]
    with sessions() as session:
        started_at = session.scalars(
            select(m.OperationAttempt.started_at).where(m.OperationAttempt.id == outcome.attempt_id)
        ).one()
        consumed = set(
            session.scalars(select(m.ComponentUse.consumed_at).where(m.ComponentUse.attempt_id == outcome.attempt_id))
        )
    assert outcome.consumed_at == started_at and consumed == {started_at}
    assert {(s[3], s[4]) for s in stored(sessions, serial)} == {("SBA-01", outcome.attempt_id)}
    genealogy = client.get("/api/v1/genealogy", params={"identifier": "C-7001"}).json()
    assert [u["serial"] for u in genealogy["units"]] == [serial]


def test_a_scan_without_an_open_operation_here_is_refused(line: Line, sessions: Any) -> None:
    serial = "HP26-0000402"
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    with pytest.raises(NoOpenAttempt, match="no open operation at SBA-01: start it there first"):
        scan(sessions, serial, COMPRESSOR)
    assert line.start("sub_base_assembly", serial).status_code == 201
    assert line.complete("sub_base_assembly", serial).status_code == 200
    with pytest.raises(NoOpenAttempt):  # the operation is over: its parts came with the result
        scan(sessions, serial, Component(ComponentKind.COMPRESSOR, "C-7002", "RSC-19-EVI"))
    assert line.start("vacuum_dehydration", serial).status_code == 201
    with pytest.raises(NoOpenAttempt, match="in process at VAC-01"):
        scan(sessions, serial, Component(ComponentKind.COMPRESSOR, "C-7003", "RSC-19-EVI"))
    assert not {"C-7001", "C-7002", "C-7003"} & {s[1] for s in stored(sessions, serial)}


def test_parts_are_scanned_only_at_a_sub_base_station(line: Line, sessions: Any) -> None:
    serial = "HP26-0000403"
    line.run("coil_expansion", serial)
    assert line.start("brazing", serial).status_code == 201
    with pytest.raises(InvalidInput, match="BRZ-01 is a brazing"):
        scan(sessions, serial, COMPRESSOR, station="BRZ-01")
    with pytest.raises(NotFound, match="not in the master data"):
        scan(sessions, serial, COMPRESSOR, station="SBA-99")
    with pytest.raises(NotFound, match="has not been released"):
        scan(sessions, "HP26-0009999", COMPRESSOR)
    assert stored(sessions, serial) == []


def test_a_part_already_recorded_on_the_attempt_is_refused(line: Line, sessions: Any) -> None:
    serial = "HP26-0000404"
    at_sub_base(line, serial)
    scan(sessions, serial, COMPRESSOR)
    with pytest.raises(Conflict, match="compressor C-7001 is already recorded on HP26-0000404 at SBA-01"):
        scan(sessions, serial, COMPRESSOR)
    with pytest.raises(Conflict, match=r"already has compressor C-7001 recorded .* put the unit on hold"):
        scan(sessions, serial, Component(ComponentKind.COMPRESSOR, "C-7999", "RSC-19-EVI"))
    assert [s[1] for s in stored(sessions, serial)] == ["C-7001"]


def test_a_wrong_part_refuses_the_whole_scan_with_the_bill_of_materials(line: Line, sessions: Any) -> None:
    serial = "HP26-0000405"
    at_sub_base(line, serial)
    wrong = Component(ComponentKind.COMPRESSOR, "C-7005", "RSC-38-EVI")
    with pytest.raises(Conflict, match="WRONG PART: HPM-06-R290-EVI needs compressor RSC-19-EVI, not RSC-38-EVI"):
        scan(sessions, serial, INVERTER, wrong)
    assert stored(sessions, serial) == []  # the inverter of the same scan is not stored either
    split = "HP26-0002005"  # HPS-10-R32: no EVI valve in its bill of materials
    at_sub_base(line, split)
    with pytest.raises(Conflict, match="HPS-10-R32 has no EVI valve in its bill of materials"):
        scan(sessions, split, Component(ComponentKind.EVI_VALVE, "V-7005", "EVV-2"))


def test_a_part_fitted_in_another_unit_is_refused_unless_that_unit_was_scrapped(
    line: Line, sessions: Any, client: Any
) -> None:
    first, second = "HP26-0000406", "HP26-0000407"
    part = Component(ComponentKind.COMPRESSOR, "C-7006", "RSC-19-EVI")
    at_sub_base(line, first)
    scan(sessions, first, part)
    at_sub_base(line, second)  # the station moves on: the first unit's operation is aborted, its part stays
    with pytest.raises(Conflict, match="C-7006 is already fitted in HP26-0000406"):
        scan(sessions, second, part)
    hold = client.post(f"/api/v1/units/{first}/holds", json={"reason": "dropped from the hoist"})
    assert hold.status_code == 201, hold.text
    released = client.post(
        f"/api/v1/holds/{hold.json()['id']}/release",
        json={"disposition": "scrap", "reason": "frame bent beyond repair", "signature": {"secret": "demo-quality"}},
    )
    assert released.status_code == 200, released.text
    scan(sessions, second, part)  # a part recovered from a scrapped unit may be fitted again
    assert [s[1] for s in stored(sessions, second)] == ["C-7006"]


@pytest.mark.parametrize(
    ("parts", "by", "reason"),
    [
        ((), "OP-17", "no part was scanned"),
        ((COMPRESSOR,), "  ", "operator badge is empty"),
        ((Component(ComponentKind.COIL_BATCH, "CB-1", "x"),), "OP-17", "a coil batch is not scanned at the sub-base"),
        ((Component(ComponentKind.COMPRESSOR, " ", "RSC-19-EVI"),), "OP-17", "compressor serial is empty"),
        ((Component(ComponentKind.INVERTER, "I-1", None),), "OP-17", "inverter board model is empty"),
        ((Component(ComponentKind.INVERTER, "I" * 65, "INV-06"),), "OP-17", "at most 64 characters"),
        ((COMPRESSOR, Component(ComponentKind.COMPRESSOR, "C-2", "RSC-19-EVI")), "OP-17", "two compressors"),
    ],
)
def test_a_scan_that_cannot_be_a_part_is_invalid_input(
    line: Line, sessions: Any, parts: tuple[Component, ...], by: str, reason: str
) -> None:
    serial = "HP26-0000408"
    at_sub_base(line, serial)
    with pytest.raises(InvalidInput, match=reason):
        scan(sessions, serial, *parts, by=by)
    assert stored(sessions, serial) == []


def test_unrecorded_leaves_out_what_the_operator_already_scanned(line: Line, sessions: Any) -> None:
    serial = "HP26-0000409"
    at_sub_base(line, serial)
    outcome = scan(sessions, serial, COMPRESSOR)
    reported = [
        Component(ComponentKind.COMPRESSOR, "C-7001", "RSC-19-EVI"),
        INVERTER,
        INVERTER,
        Component(ComponentKind.INVERTER, "C-7001", "INV-06"),  # same identifier, other kind: another part
    ]
    with sessions() as session:
        fresh = scans.unrecorded(session, attempt_id=outcome.attempt_id, components=reported)
    assert fresh == (INVERTER, Component(ComponentKind.INVERTER, "C-7001", "INV-06"))


def test_a_scanned_serial_the_result_repeats_is_stored_once(line: Line, sessions: Any) -> None:
    serial = "HP26-0000410"
    at_sub_base(line, serial)
    scan(sessions, serial, COMPRESSOR, INVERTER)
    overrides = {"CompressorSerial": "C-7001", "CompressorModel": "RSC-19-EVI", "InverterSerial": "I-7001"}
    r = line.complete("sub_base_assembly", serial, overrides=overrides)
    assert r.status_code == 200 and r.json()["attempt"]["verdict"] == "PASS", r.text
    identifiers = sorted(s[1] for s in stored(sessions, serial))
    assert len(identifiers) == 3 and identifiers[:2] == ["C-7001", "I-7001"]  # plus the EVI valve the PLC reported


def test_a_station_result_naming_a_part_fitted_in_another_unit_fails_and_keeps_both_records(
    line: Line, client: Any
) -> None:
    """A tablet scan of such a part is refused; a station's result is stored as it came (nothing is lost),
    so it FAILs the unit, naming the other one, and the re-derivation carries that fact over."""
    first, second, third = line.work_order(quantity=3, first="HP26-5500001")
    same = {"CompressorSerial": "C-SHARED-1"}
    for serial in (first, second, third):
        line.run("coil_expansion", serial)
        line.run("brazing", serial)
    line.run("sub_base_assembly", first, overrides=same)
    body = line.run("sub_base_assembly", second, "FAIL", overrides=same)
    fitted = next(c for c in body["checks"] if c["name"] == "fitted_elsewhere:compressor")
    assert fitted["message"].startswith(f"compressor C-SHARED-1 is already fitted in {first}")
    assert body["attempt"]["failure_mode"] == "wrong_part"
    assert [c for c in body["checks"] if c["verdict"] != "PASS"] == [fitted]  # lots and the other parts are fine
    redone = client.get(f"/api/v1/attempts/{body['attempt']['id']}/rederivation").json()
    assert redone["reproduced"] is True, redone["differences"]
    # a scrapped unit's parts are free again: the third unit is told only of the second
    hold_id = client.post(f"/api/v1/units/{first}/holds", json={"reason": "dropped"}).json()["id"]
    scrap = {"disposition": "scrap", "reason": "crushed", "signature": {"secret": "demo-quality"}}
    assert client.post(f"/api/v1/holds/{hold_id}/release", json=scrap).status_code == 200
    body = line.run("sub_base_assembly", third, "FAIL", overrides=same)
    (told,) = [c["message"] for c in body["checks"] if c["verdict"] != "PASS"]
    assert told.startswith(f"compressor C-SHARED-1 is already fitted in {second}:")
