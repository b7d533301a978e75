"""The OPC UA contract differs on purpose from REST: a PLC's result without a release is stored."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.domain.results import Measurement, StationResult, Verdict
from app.opcua.backend import PlcResult, PlcValue
from app.persistence import models as m
from app.persistence.db import make_engine, make_session_factory
from app.services import operations
from app.services.judging import EngineJudge, default_expectations
from app.services.plc_gateway import DatabaseStationBackend
from tests.api.driver import Line
from tests.auth_support import auth_headers
from tests.conftest import DbUnderTest


def test_result_without_release_is_stored_as_fail_with_alarm_and_unit_held(client: Any, settings: Settings) -> None:
    serial = Line(client).work_order()[0]
    engine = make_engine(settings.resolved_database_url())
    factory = make_session_factory(engine)
    completion = operations.Completion(
        serial=serial,
        result_key="BOOT9-1",
        result=StationResult(measurements=(Measurement("LengthLoss_mm", 1.2, "mm"),)),
    )
    judge = EngineJudge(default_expectations)
    with factory() as session, session.begin():
        outcome = operations.complete_operation(
            session=session,
            serial_format=settings.serial.format(),
            station_id="CEX-01",
            completion=completion,
            origin="plc",
            store_without_release=True,
            judge=judge,
        )
        assert outcome.attempt.verdict == "FAIL"
        assert outcome.attempt.alarm and outcome.attempt.alarm.startswith(
            f"result for {serial} without a release at CEX-01"
        )
    with factory() as session:
        unit = session.scalars(select(m.Unit).where(m.Unit.serial == serial)).one()
        assert unit.status == "on_hold"
        checks = session.scalars(select(m.CheckResultRow)).all()
        assert checks[0].name == "release" and checks[0].message == "no release for this serial here"
        assert all(c.verdict in ("PASS", "FAIL", "RETEST") for c in checks) and checks[0].verdict == "FAIL"
        assert session.scalars(select(m.Measurement.value)).all() == [1.2]
    # delivered again (the Ack was lost): nothing new is stored, the stored verdict is answered
    with factory() as session, session.begin():
        again = operations.complete_operation(
            session=session,
            serial_format=settings.serial.format(),
            station_id="CEX-01",
            completion=completion,
            origin="plc",
            store_without_release=True,
            judge=judge,
        )
        assert again.duplicate and again.attempt.verdict == "FAIL"
    with factory() as session:
        assert len(session.scalars(select(m.OperationAttempt)).all()) == 1
    engine.dispose()


def test_a_plc_result_whose_serial_names_no_unit_is_kept_whole_as_an_orphan_fail_with_an_alarm(
    client: Any, settings: Settings
) -> None:
    """It cannot be stored with a unit, and re-offering it forever would block the station: it is kept
    whole, judged FAIL (so the PLC gets its Ack and sends the unit out) and alarmed; read twice, once."""
    engine = make_engine(settings.resolved_database_url())
    backend = DatabaseStationBackend(
        session_factory=make_session_factory(engine),
        serial_format=settings.serial.format(),
        judge=EngineJudge(default_expectations),
    )
    checked_at = datetime(2026, 11, 29, 6, tzinfo=UTC)
    unknown = PlcResult(
        result_id="LKB-7",
        serial="HP99-9999999",  # the plant's format, but no work order released it
        values={
            "InstrumentId": PlcValue("HLD-1", "good"),
            "LeakSignal_mbar_l_s": PlcValue(2.0e-6, "uncertain"),
            "RefLeakCheckAt": PlcValue(checked_at, "good"),
            "TestPressure_bar": PlcValue(None, "bad"),
            "RefLeakReading_mbar_l_s": PlcValue(float("-inf"), "good"),  # JSON has no such number
        },
        traces={"LeakSignal_mbar_l_s": ((0.0, 1.0), (1.0e-6, float("nan")))},
    )
    garbled = PlcResult(result_id="", serial="??", values={}, traces={}, trace_status={"Pressure_Pa": "bad"})
    try:
        first = backend._result("LKT-01", unknown)
        again = backend._result("LKT-01", unknown)  # the Ack was lost: read again
        assert first.verdict == again.verdict == Verdict.FAIL and not first.duplicate and again.duplicate
        # no Result.Id: the key made from its content recognises the second read
        assert [backend._result("LKT-01", garbled).duplicate for _ in range(2)] == [False, True]
        other = dataclasses.replace(garbled, trace_status={"Pressure_Pa": "uncertain"})  # another cycle
        assert not backend._result("LKT-01", other).duplicate
    finally:
        engine.dispose()

    listed = client.get("/api/v1/line/orphan-results")
    assert listed.status_code == 200, listed.text
    newest, older, oldest = listed.json()
    assert oldest["result_id"] == "LKB-7" and oldest["serial"] == "HP99-9999999" and oldest["verdict"] == "FAIL"
    assert oldest["reason"] == "HP99-9999999 has not been released by any work order"
    assert oldest["values"] == {
        "InstrumentId": {"value": "HLD-1", "quality": "good"},
        "LeakSignal_mbar_l_s": {"value": 2.0e-6, "quality": "uncertain"},
        "RefLeakCheckAt": {"value": checked_at.isoformat(), "quality": "good"},
        "TestPressure_bar": {"value": None, "quality": "bad"},
        "RefLeakReading_mbar_l_s": {"value": "-inf", "quality": "good"},
    }
    assert oldest["traces"] == {"LeakSignal_mbar_l_s": {"t_s": [0.0, 1.0], "values": [1.0e-6, None], "quality": "good"}}
    assert newest["result_id"].startswith("no-id-sha256-") and older["result_id"].startswith("no-id-sha256-")
    assert newest["result_id"] != older["result_id"] and newest["id"] > older["id"]
    assert "'??' is not a serial number of this plant" in newest["reason"]
    assert older["traces"] == {"Pressure_Pa": {"t_s": [], "values": [], "quality": "bad"}}
    assert newest["traces"] == {"Pressure_Pa": {"t_s": [], "values": [], "quality": "uncertain"}}
    alarms = [a["message"] for a in client.get("/api/v1/stations/LKT-01/alarms").json()]
    assert len(alarms) == 5 and f"kept as orphan result {oldest['id']} " in alarms[-1]
    # and the two without a Result.Id each ask the PLC for one
    assert (
        sorted(a.split(":")[0] for a in alarms if "came without a Result.Id" in a)
        == ["result for ?? came without a Result.Id"] * 2
    )
    assert client.get("/api/v1/line/orphan-results", params={"station_id": "CEX-01"}).json() == []
    assert client.get("/api/v1/line/orphan-results", headers=auth_headers("operator")).status_code == 403
    engine = make_engine(settings.resolved_database_url())
    try:
        with make_session_factory(engine)() as session:
            assert session.scalars(select(m.OperationAttempt)).all() == []  # nothing stored against a unit
    finally:
        engine.dispose()


def test_the_birth_record_shows_the_status_a_value_and_a_trace_were_read_with(client: Any, settings: Settings) -> None:
    serial = Line(client).work_order()[0]
    engine = make_engine(settings.resolved_database_url())
    backend = DatabaseStationBackend(
        session_factory=make_session_factory(engine),
        serial_format=settings.serial.format(),
        judge=EngineJudge(default_expectations),
    )
    result = PlcResult(
        result_id="Q-1",
        serial=serial,
        values={"LengthLoss_mm": PlcValue(2.1, "uncertain"), "FinPitch_mm": PlcValue(1.8, "good")},
        traces={"Force_kN": ((0.0, 1.0), (0.0, 41.0))},
        trace_status={"Force_kN": "uncertain"},
    )
    try:
        assert backend._request("CEX-01", serial).release
        backend._result("CEX-01", result)
    finally:
        engine.dispose()
    record = client.get(f"/api/v1/units/{serial}/birth-record")
    assert record.status_code == 200, record.text
    (attempt,) = [a for a in record.json()["attempts"] if a["station_id"] == "CEX-01"]
    assert {x["name"]: x["quality"] for x in attempt["measurements"]} == {
        "LengthLoss_mm": "uncertain",
        "FinPitch_mm": None,
    }
    assert [(t["channel"], t["quality"]) for t in attempt["traces"]] == [("Force_kN", "uncertain")]


def test_an_orphan_read_again_after_its_serial_was_released_is_not_stored_a_second_time(
    client: Any, settings: Settings
) -> None:
    """The Ack of an orphan result was lost, and a work order released its serial before the PLC
    offered it again: it is the same result, answered FAIL as stored, not a second record that
    would also put the newly released unit on hold."""
    engine = make_engine(settings.resolved_database_url())
    factory = make_session_factory(engine)
    backend = DatabaseStationBackend(
        session_factory=factory, serial_format=settings.serial.format(), judge=EngineJudge(default_expectations)
    )
    serial = "HP98-0000001"
    result = PlcResult(result_id="CEB-41", serial=serial, values={"LengthLoss_mm": PlcValue(1.2, "good")}, traces={})
    try:
        first = backend._result("CEX-01", result)
        assert first.verdict == Verdict.FAIL and not first.duplicate
        assert Line(client).work_order(first=serial, quantity=1) == [serial]
        again = backend._result("CEX-01", result)
        assert again.verdict == Verdict.FAIL and again.duplicate
        with factory() as session:
            assert session.scalars(select(m.OperationAttempt)).all() == []
            assert session.scalars(select(m.OrphanResult.result_key)).all() == ["CEB-41"]
            assert session.scalars(select(m.Unit.status).where(m.Unit.serial == serial)).one() == "in_process"
            alarms = session.scalars(select(m.StationAlarm.message)).all()
        assert len(alarms) == 1 and "kept as orphan result" in alarms[0]
        # the unit's own cycle is still stored with it
        assert backend._request("CEX-01", serial).release
        assert not backend._result("CEX-01", dataclasses.replace(result, result_id="CEB-42")).duplicate
        with factory() as session:
            assert session.scalars(select(m.OperationAttempt.result_key)).all() == ["CEB-42"]
    finally:
        engine.dispose()


def test_a_result_without_release_is_stored_while_another_units_attempt_is_open_there(
    client: Any, settings: Settings
) -> None:
    """The PLC was released for one unit; a tablet then started another unit at the same station (which
    closes the first attempt as aborted); the PLC's result for the first unit arrives. It used to break
    the station's one-open-attempt index on every read: never stored, never acknowledged, station stuck."""
    line = Line(client)
    first, second = line.work_order(quantity=2, first="HP26-5400001")
    engine = make_engine(settings.resolved_database_url())
    factory = make_session_factory(engine)
    backend = DatabaseStationBackend(
        session_factory=factory, serial_format=settings.serial.format(), judge=EngineJudge(default_expectations)
    )
    try:
        assert backend._request("CEX-01", first).release
        started = line.start("coil_expansion", second)
        assert started.status_code == 201, started.text
        result = PlcResult(result_id="CEB-9", serial=first, values={"LengthLoss_mm": PlcValue(1.2, "good")}, traces={})
        stored = backend._result("CEX-01", result)
        assert stored.verdict == Verdict.FAIL and not stored.duplicate
        assert backend._result("CEX-01", result).duplicate  # recognised when read again
        with factory() as session:
            attempts = {
                (serial, a.status)
                for a, serial in session.execute(
                    select(m.OperationAttempt, m.Unit.serial).join(m.Unit, m.Unit.id == m.OperationAttempt.unit_id)
                )
            }
            statuses = dict(session.execute(select(m.Unit.serial, m.Unit.status)).all())
        assert attempts == {(first, "aborted"), (first, "failed"), (second, "open")}
        assert statuses[first] == "on_hold" and statuses[second] == "in_process"
    finally:
        engine.dispose()


def test_the_database_itself_keeps_one_result_per_station_and_result_id(database: DbUnderTest) -> None:
    """A PLC re-offers a result until it sees the Ack: whatever the code checks first, the database
    refuses a second attempt or orphan under the same station and Result.Id (another station may use it)."""
    engine = create_engine(database.owner)
    at = datetime(2026, 11, 29, 6, tzinfo=UTC)
    attempt = {"station_type": "coil_expansion", "status": "passed", "verdict": "PASS", "retest_index": 0,
               "started_at": at, "origin": "plc", "use_as_is": False, "result_key": "CEB-1"}  # fmt: skip
    orphan = {"serial": "HP99-9999999", "reason": "no unit", "received_at": at, "result_values": {}, "traces": {},
              "result_key": "CEB-1"}  # fmt: skip
    try:
        with engine.begin() as conn:
            unit_id = conn.execute(select(m.Unit.id).order_by(m.Unit.id).limit(1)).scalar_one()
            for station_id in ("CEX-01", "BRZ-01"):
                conn.execute(insert(m.OperationAttempt), {**attempt, "unit_id": unit_id, "station_id": station_id})
                conn.execute(insert(m.OrphanResult), {**orphan, "station_id": station_id})
        for table, row in ((m.OperationAttempt, {**attempt, "unit_id": unit_id}), (m.OrphanResult, orphan)):
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(insert(table), {**row, "station_id": "CEX-01"})
        with engine.connect() as conn:
            for table in (m.OperationAttempt, m.OrphanResult):
                keys = conn.execute(select(table.station_id).where(table.result_key == "CEB-1")).scalars().all()
                assert sorted(keys) == ["BRZ-01", "CEX-01"]
    finally:
        engine.dispose()
