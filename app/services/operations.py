"""Starting and completing operations: the route interlock, results, verdicts and where units go next.

Lock order, everywhere: the station row, then the unit row. Two stations starting the same unit
serialise on the unit; two units arriving at one station serialise on the station.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.domain import routing
from app.domain.errors import InterlockRefused, NoOpenAttempt
from app.domain.results import CheckResult, Judgement, Measurement, StationResult, Verdict
from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.persistence import repositories as repo
from app.persistence import trace_codec
from app.services.clock import utcnow

NO_RELEASE = "no release for this serial here"


@dataclass(frozen=True, slots=True)
class JudgeContext:
    """What a judge needs besides the result: the unit, its model and the attempt being completed."""

    station: m.Station
    unit: m.Unit
    product_model: m.ProductModel
    attempt: m.OperationAttempt
    retest_cap: int


Judge = Callable[[JudgeContext, StationResult], Judgement]


@dataclass(frozen=True, slots=True)
class Completion:
    """A completed cycle as submitted; ``verdict``/``checks`` only count where no judge is configured."""

    serial: str
    result_key: str | None
    result: StationResult
    verdict: Verdict | None = None
    checks: tuple[CheckResult, ...] = ()
    failure_mode: str | None = None
    spec_revision_id: int | None = None
    model_version: str | None = None
    operator: str | None = None


@dataclass(frozen=True, slots=True)
class StartOutcome:
    attempt: m.OperationAttempt
    resumed: bool
    aborted_serials: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompletionOutcome:
    attempt: m.OperationAttempt
    unit: m.Unit
    duplicate: bool
    checks: list[m.CheckResultRow] = field(default_factory=list)


def check_interlock(
    *, session: Session, serial_format: SerialFormat, station_id: str, serial: str
) -> routing.StartDecision:
    """What a start would answer, without starting (for tablets and dry runs)."""
    serial_format.validate(serial)
    station = repo.get_station(session, station_id)
    unit = repo.unit_by_serial(session, serial)
    return _decide(session, station, unit)


def _decide(session: Session, station: m.Station, unit: m.Unit) -> routing.StartDecision:
    model = session.get(m.ProductModel, unit.product_model_id)
    assert model is not None
    return routing.check_start(
        route=repo.route_def(session, model.route_id),
        unit=repo.unit_view(session, unit),
        history=repo.attempt_history(session, unit.id),
        station_type=station.station_type,
        station_id=station.station_id,
    )


def start_operation(
    *,
    session: Session,
    serial_format: SerialFormat,
    station_id: str,
    serial: str,
    operator: str | None,
    origin: str,
) -> StartOutcome:
    """Open an attempt of ``serial`` at ``station_id`` if the route allows it; else raise InterlockRefused."""
    serial_format.validate(serial)
    station = repo.station_for_update(session, station_id)
    unit = repo.unit_by_serial(session, serial, for_update=True)
    decision = _decide(session, station, unit)
    if not decision.allowed:
        raise InterlockRefused(decision.reason, serial=serial, station_id=station_id)
    if decision.resume_open_attempt:
        attempt = _open_attempt(session, unit_id=unit.id, station_id=station_id)
        assert attempt is not None
        return StartOutcome(attempt=attempt, resumed=True)

    now = utcnow()
    aborted = _abort_open_attempts_at(session, station_id=station_id, now=now)
    attempt = m.OperationAttempt(
        unit_id=unit.id,
        station_id=station_id,
        station_type=station.station_type,
        status=routing.AttemptStatus.OPEN.value,
        retest_index=decision.retest_index,
        started_at=now,
        started_by=operator,
        origin=origin,
        use_as_is=False,
    )
    session.add(attempt)
    unit.updated_at = now
    session.flush()
    return StartOutcome(attempt=attempt, resumed=False, aborted_serials=aborted)


def _abort_open_attempts_at(session: Session, *, station_id: str, now: datetime) -> tuple[str, ...]:
    """A station handles one unit at a time: a new release closes any open attempt there as aborted."""
    rows = session.execute(
        select(m.OperationAttempt, m.Unit.serial)
        .join(m.Unit, m.Unit.id == m.OperationAttempt.unit_id)
        .where(m.OperationAttempt.station_id == station_id, m.OperationAttempt.status == "open")
    ).all()
    for attempt, _serial in rows:
        attempt.status = routing.AttemptStatus.ABORTED.value
        attempt.completed_at = now
        attempt.summary = "station moved on without a result"
    session.flush()
    return tuple(serial for _attempt, serial in rows)


def _open_attempt(session: Session, *, unit_id: int, station_id: str) -> m.OperationAttempt | None:
    return session.scalars(
        select(m.OperationAttempt).where(
            m.OperationAttempt.unit_id == unit_id,
            m.OperationAttempt.station_id == station_id,
            m.OperationAttempt.status == "open",
        )
    ).one_or_none()


def find_by_result_key(session: Session, *, station_id: str, result_key: str) -> m.OperationAttempt | None:
    return session.scalars(
        select(m.OperationAttempt).where(
            m.OperationAttempt.station_id == station_id, m.OperationAttempt.result_key == result_key
        )
    ).one_or_none()


def complete_operation(
    *,
    session: Session,
    serial_format: SerialFormat,
    station_id: str,
    completion: Completion,
    origin: str,
    judge: Judge | None = None,
    store_without_release: bool = False,
) -> CompletionOutcome:
    """Store a result, judge it and move the unit on, all in the caller's transaction.

    The same ``result_key`` at the same station returns the stored outcome (``duplicate=True``).
    Without an open attempt: refused (REST), or with ``store_without_release`` (OPC UA, where a
    PLC's result must never be lost) stored as a FAIL with an alarm and the unit put on hold.
    """
    serial_format.validate(completion.serial)
    station = repo.station_for_update(session, station_id)
    if completion.result_key is not None:
        stored = find_by_result_key(session, station_id=station_id, result_key=completion.result_key)
        if stored is not None:
            unit = session.get(m.Unit, stored.unit_id)
            assert unit is not None
            return CompletionOutcome(attempt=stored, unit=unit, duplicate=True, checks=_checks_of(session, stored.id))

    unit = repo.unit_by_serial(session, completion.serial, for_update=True)
    model = session.get(m.ProductModel, unit.product_model_id)
    assert model is not None
    route = repo.route_def(session, model.route_id)
    now = utcnow()
    attempt = _open_attempt(session, unit_id=unit.id, station_id=station_id)
    released = attempt is not None
    if attempt is None:
        if not store_without_release:
            raise NoOpenAttempt(_no_open_reason(session, unit, station), serial=unit.serial, station_id=station_id)
        attempt = m.OperationAttempt(
            unit_id=unit.id,
            station_id=station_id,
            station_type=station.station_type,
            status=routing.AttemptStatus.OPEN.value,
            retest_index=0,
            started_at=now,
            origin=origin,
            use_as_is=False,
            alarm=f"result for {unit.serial} without a release at {station_id}",
        )
        session.add(attempt)
        session.flush()

    step = route.step(station.station_type)
    retest_cap = step.retest_cap if step is not None else 0
    if judge is not None:
        judgement = judge(
            JudgeContext(station=station, unit=unit, product_model=model, attempt=attempt, retest_cap=retest_cap),
            completion.result,
        )
    else:
        judgement = Judgement(
            verdict=completion.verdict or Verdict.FAIL,
            checks=completion.checks,
            failure_mode=completion.failure_mode,
            spec_revision_id=completion.spec_revision_id,
            model_version=completion.model_version,
        )
    checks = list(judgement.checks)
    verdict = judgement.verdict
    if not released:
        checks.insert(0, CheckResult(name="release", verdict=Verdict.FAIL, message=NO_RELEASE, rule="release"))
        verdict = Verdict.FAIL
    if verdict is Verdict.RETEST and attempt.retest_index >= retest_cap:
        checks.append(
            CheckResult(
                name="retest_cap",
                verdict=Verdict.FAIL,
                rule="retest_cap",
                message=f"retest cap reached ({retest_cap} at {station.station_type})",
                measured=float(attempt.retest_index),
                limit_high=float(retest_cap),
            )
        )
        verdict = Verdict.FAIL

    _store_result(session, attempt=attempt, unit_id=unit.id, result=completion.result)
    _store_checks(session, attempt_id=attempt.id, checks=checks)
    failing = [c for c in checks if c.verdict is not Verdict.PASS]
    summary = "; ".join(c.message for c in failing if c.verdict is verdict) or None
    failure_mode = judgement.failure_mode or next((c.failure_mode for c in failing if c.failure_mode), None)

    attempt.status = routing.AttemptStatus.from_verdict(verdict).value
    attempt.verdict = verdict.value
    attempt.completed_at = now
    attempt.completed_by = completion.operator
    attempt.result_key = completion.result_key
    attempt.summary = summary
    attempt.failure_mode = failure_mode if verdict is Verdict.FAIL else None
    attempt.spec_revision_id = judgement.spec_revision_id
    attempt.model_version = judgement.model_version

    view = repo.unit_view(session, unit)
    if not released:
        transition = routing.Transition(
            status=routing.UnitStatus.ON_HOLD,
            next_step=unit.next_step,
            reentry_step=unit.reentry_step,
            rework_loops=unit.rework_loops,
            hold_reason=f"result at {station_id} without a release (alarm); quality engineer decides",
            instruction="hold for a quality engineer",
        )
    else:
        transition = routing.after_verdict(
            route=route,
            unit=view,
            station_type=station.station_type,
            verdict=verdict,
            failure_mode=failure_mode,
            summary=summary,
        )
    _apply_transition(session, unit=unit, attempt=attempt, transition=transition, now=now)
    session.flush()
    return CompletionOutcome(attempt=attempt, unit=unit, duplicate=False, checks=_checks_of(session, attempt.id))


def _no_open_reason(session: Session, unit: m.Unit, station: m.Station) -> str:
    elsewhere = session.scalars(
        select(m.OperationAttempt).where(m.OperationAttempt.unit_id == unit.id, m.OperationAttempt.status == "open")
    ).one_or_none()
    if elsewhere is not None:
        return (
            f"{unit.serial} has no open operation at {station.station_id}; it is in process at {elsewhere.station_id}"
        )
    return f"{unit.serial} has no open operation at {station.station_id}: start it there first"


def _apply_transition(
    session: Session, *, unit: m.Unit, attempt: m.OperationAttempt, transition: routing.Transition, now: datetime
) -> None:
    unit.next_step = transition.next_step
    unit.reentry_step = transition.reentry_step
    unit.rework_loops = transition.rework_loops
    unit.updated_at = now
    attempt.instruction = transition.instruction
    if transition.hold_reason is not None:
        session.add(
            m.Hold(
                unit_id=unit.id,
                reason=transition.hold_reason,
                scope="verdict",
                scope_ref=attempt.station_id,
                attempt_id=attempt.id,
                created_at=now,
                created_by=attempt.completed_by or "mes",
            )
        )
        unit.status = routing.UnitStatus.ON_HOLD.value
    else:
        unit.status = transition.status.value


def _store_result(session: Session, *, attempt: m.OperationAttempt, unit_id: int, result: StationResult) -> None:
    if result.measurements:
        session.execute(insert(m.Measurement), [_measurement_row(attempt.id, x) for x in result.measurements])
    for trace in result.traces:
        session.add(
            m.TraceRow(
                attempt_id=attempt.id,
                channel=trace.channel,
                n_samples=len(trace.values),
                encoding=trace_codec.ENCODING,
                t_blob=trace_codec.encode(trace.t_s),
                value_blob=trace_codec.encode(trace.values),
                **trace_codec.summary(trace.t_s, trace.values),
            )
        )
    if result.components:
        session.execute(
            insert(m.ComponentUse),
            [
                {
                    "attempt_id": attempt.id,
                    "unit_id": unit_id,
                    "kind": c.kind.value,
                    "identifier": c.identifier,
                    "model": c.model,
                }
                for c in result.components
            ],
        )


def _measurement_row(attempt_id: int, measurement: Measurement) -> dict[str, object]:
    value = measurement.value
    row: dict[str, object] = {
        "attempt_id": attempt_id,
        "name": measurement.name,
        "unit": measurement.unit,
        "value": None,
        "text": None,
    }
    if value is None:
        row["kind"] = "number"
    elif isinstance(value, bool):
        row.update(kind="bool", value=1.0 if value else 0.0)
    elif isinstance(value, int | float):
        row.update(kind="number", value=float(value) if math.isfinite(value) else None)
    elif isinstance(value, datetime):
        row.update(kind="datetime", text=value.isoformat())
    else:
        row.update(kind="string", text=str(value))
    return row


def _store_checks(session: Session, *, attempt_id: int, checks: list[CheckResult]) -> None:
    if not checks:
        return
    session.execute(
        insert(m.CheckResultRow),
        [
            {
                "attempt_id": attempt_id,
                "name": c.name,
                "verdict": c.verdict.value,
                "rule": c.rule,
                "message": c.message,
                "measured": _finite(c.measured),
                "expected": _finite(c.expected),
                "limit_low": _finite(c.limit_low),
                "limit_high": _finite(c.limit_high),
                "uncertainty": _finite(c.uncertainty),
                "failure_mode": c.failure_mode,
            }
            for c in checks
        ],
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _checks_of(session: Session, attempt_id: int) -> list[m.CheckResultRow]:
    return list(session.scalars(select(m.CheckResultRow).where(m.CheckResultRow.attempt_id == attempt_id)))
