"""The OPC UA contract differs on purpose from REST: a PLC's result without a release is stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.config import Settings
from app.domain.results import Measurement, StationResult
from app.persistence import models as m
from app.persistence.db import make_engine, make_session_factory
from app.services import operations
from app.services.judging import EngineJudge, default_expectations
from tests.api.driver import Line


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
