"""Starting and completing operations: the route interlock, results, verdicts and where units go next.

Lock order, everywhere: the station row, then the unit row. Two stations starting the same unit
serialise on the unit; two units arriving at one station serialise on the station.

This is the line's hot path (every PLC request and result), so it reads columns into plain
records and writes with Core statements; see repositories.py.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, Table, bindparam, func, insert, literal, select, update
from sqlalchemy.orm import Session

import stations
from app import rules
from app.domain import routing
from app.domain.actors import SYSTEM
from app.domain.errors import InterlockRefused, InvalidInput, NoOpenAttempt
from app.domain.results import (
    CheckResult,
    Component,
    ComponentKind,
    Judgement,
    Measurement,
    StationResult,
    Trace,
    Verdict,
    finite_or_none,
    trace_status_key,
)
from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.persistence import repositories as repo
from app.persistence import trace_codec
from app.persistence.driver import DriverStatement
from app.persistence.repositories import AttemptState, UnitState
from app.rules import ValueStatus
from app.services import audit, scans, traceability
from app.services.clock import utcnow
from stations.repair import RECOVERED_MASS

NO_RELEASE = "no release for this serial here"
RELEASE_RULE = "release"  # the check a result without a release fails
ISO_INSTANT_NEEDED = "must be an ISO-8601 instant with its UTC offset, e.g. 2026-11-27T06:00:00Z"

# Statements built once on the tables (their cache keys are memoised, and they skip the ORM's
# bulk-DML layer); parameters are bound per call and they run on repo.core(session).
_ATTEMPT = repo.table(m.OperationAttempt)
_A = _ATTEMPT.c
_UNIT = repo.table(m.Unit)
# a result's rows, its closed attempt and its unit's move are written together (repo.write_together)
_MEASUREMENT = repo.table(m.Measurement)
_TRACE = repo.table(m.TraceRow)
_COMPONENT_USE = repo.table(m.ComponentUse)
_CHECK_RESULT = repo.table(m.CheckResultRow)
_INSERT_HOLD = insert(repo.table(m.Hold))
_ATTEMPT_FIELDS = tuple(f for f in AttemptState.__dataclass_fields__ if f != "id")
# an attempt is opened with every field given: compiled once, run on the driver (driver.py)
_OPEN_ATTEMPT = DriverStatement(insert(_ATTEMPT).values({f: bindparam(f) for f in _ATTEMPT_FIELDS}).returning(_A.id))


@dataclass(frozen=True, slots=True)
class JudgeContext:
    """What a judge needs besides the result: where, which unit, which attempt, the retest cap."""

    station_id: str
    station_type: str
    unit: UnitState
    attempt: AttemptState
    value_status: Mapping[str, ValueStatus]
    # the judging instant: time-dependent checks use it, and the attempt records it as completed_at,
    # so a re-derivation of the verdict (app.services.rederive) judges at the same instant
    judged_at: datetime


Judge = Callable[[Session, JudgeContext, StationResult], Judgement]


@dataclass(frozen=True, slots=True)
class Completion:
    """A completed cycle as delivered; the verdict is always the judge's, never the sender's.

    ``value_status`` names the values whose OPC UA status was not Good ("uncertain" or "bad").
    """

    serial: str
    result_key: str | None
    result: StationResult
    operator: str | None = None
    value_status: Mapping[str, ValueStatus] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StartOutcome:
    attempt: AttemptState
    unit: UnitState
    resumed: bool
    aborted_serials: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompletionOutcome:
    attempt: AttemptState
    unit: UnitState
    duplicate: bool
    checks: list[CheckResult] = field(default_factory=list)


def check_interlock(
    *, session: Session, serial_format: SerialFormat, station_id: str, serial: str
) -> routing.StartDecision:
    """What a start would answer, without starting (for tablets and dry runs)."""
    serial_format.validate(serial)
    station_type = repo.station_type_of(session, station_id)
    unit, route = repo.unit_state(session, serial)
    return _decide(session, station_id, station_type, unit, route)


def _decide(
    session: Session, station_id: str, station_type: str, unit: UnitState, route: routing.RouteDef
) -> routing.StartDecision:
    return routing.check_start(
        route=route,
        unit=repo.view_of(session, unit),
        history=repo.attempt_history(session, unit.id),
        station_type=station_type,
        station_id=station_id,
        stations_of_type=_stations_on_line_of(session, station_id),
    )


def _stations_on_line_of(session: Session, station_id: str) -> Callable[[str], list[str]]:
    """The stations of a type on ``station_id``'s line, read when a refusal names where the unit must go."""
    return lambda station_type: repo.stations_of_type_on_line(session, station_id=station_id, station_type=station_type)


def start_operation(
    *,
    session: Session,
    serial_format: SerialFormat,
    station_id: str,
    serial: str,
    operator: str | None,
    origin: str,
) -> StartOutcome:
    """Open an attempt of ``serial`` at ``station_id`` if the route allows it; else raise InterlockRefused.

    A station handles one unit at a time, and a station asks for a serial only when a unit is in it: a
    request for another unit that exists (released by a work order) means the unit whose attempt here
    has no result left the station, so that attempt is closed as aborted ("station moved on without a
    result") whether this request is then released or refused. A refused request raises
    :class:`RefusedAfterAbort`, which carries the aborted serials: the caller commits the abort, then
    answers the refusal. A malformed serial or one in no work order (a misread scan) aborts nothing.
    """
    serial_format.validate(serial)
    station_type, found = repo.lock_station_and_unit(session, station_id, serial)
    if found is None:
        raise repo.unit_not_found(serial)
    unit, route = found
    open_here, history = repo.attempts_for_start(session, station_id=station_id, unit_id=unit.id)
    decision = routing.check_start(
        route=route,
        unit=repo.view_of(session, unit),
        history=history,
        station_type=station_type,
        station_id=station_id,
        stations_of_type=_stations_on_line_of(session, station_id),
    )
    now = utcnow()
    aborted = _abort(session, [a for a in open_here if a.unit_id != unit.id], now=now)
    if not decision.allowed:
        if aborted:
            raise RefusedAfterAbort(decision.reason, serial=serial, station_id=station_id, aborted_serials=aborted)
        raise InterlockRefused(decision.reason, serial=serial, station_id=station_id)
    if decision.resume_open_attempt:
        return StartOutcome(
            attempt=next(a for a in open_here if a.unit_id == unit.id), unit=unit, resumed=True, aborted_serials=aborted
        )

    attempt = AttemptState(
        id=0,
        unit_id=unit.id,
        station_id=station_id,
        station_type=station_type,
        status=routing.AttemptStatus.OPEN.value,
        verdict=None,
        retest_index=decision.retest_index,
        started_at=now,
        completed_at=None,
        started_by=operator,
        completed_by=None,
        origin=origin,
        result_key=None,
        failure_mode=None,
        summary=None,
        alarm=None,
        instruction=None,
        spec_revision_id=None,
        model_version=None,
        rules_version=None,
        use_as_is=False,
    )
    values = {k: getattr(attempt, k) for k in _ATTEMPT_FIELDS}
    attempt.id = _OPEN_ATTEMPT.one(repo.core(session), values)[0]
    return StartOutcome(attempt=attempt, unit=unit, resumed=False, aborted_serials=aborted)


class RefusedAfterAbort(InterlockRefused):
    """A refused start that closed another unit's open attempt at the station as aborted first.

    The abort is a fact (the other unit left the station) and must outlast the refusal: the boundary
    that owns the transaction catches this, commits, then answers the refusal. A caller that does not
    catch it rolls the abort back with everything else, as for any refusal."""

    def __init__(self, detail: str, *, serial: str, station_id: str, aborted_serials: tuple[str, ...]) -> None:
        super().__init__(detail, serial=serial, station_id=station_id, aborted_serials=list(aborted_serials))
        self.aborted_serials = aborted_serials


def _abort(session: Session, attempts: list[AttemptState], *, now: datetime) -> tuple[str, ...]:
    """A station handles one unit at a time: a request for another unit closes any open attempt there as aborted."""
    if not attempts:
        return ()
    ids = [a.id for a in attempts]
    connection = repo.core(session)
    connection.execute(
        update(_ATTEMPT)
        .where(_A.id.in_(ids))
        .values(
            status=routing.AttemptStatus.ABORTED.value, completed_at=now, summary="station moved on without a result"
        )
    )
    units = [a.unit_id for a in attempts]
    return tuple(connection.execute(select(_UNIT.c.serial).where(_UNIT.c.id.in_(units))).scalars())


def complete_operation(
    *,
    session: Session,
    serial_format: SerialFormat,
    station_id: str,
    completion: Completion,
    origin: str,
    judge: Judge,
    store_without_release: bool = False,
    validate: bool = False,
) -> CompletionOutcome:
    """Store a result, judge it and move the unit on, all in the caller's transaction.

    The same ``result_key`` at the same station returns the stored outcome (``duplicate=True``).
    Without an open attempt: refused (REST), or with ``store_without_release`` (OPC UA, where a
    PLC's result must never be lost) stored as a FAIL with an alarm and the unit put on hold.
    With ``validate`` (REST), a result that does not fit the station type's schema is refused
    (InvalidInput) before anything is written; a PLC's result is stored and judged as it came.
    """
    serial_format.validate(completion.serial)
    # the station, then the unit, locked before anything at the station is read (the lock order)
    station_type, found = repo.lock_station_and_unit(session, station_id, completion.serial)
    if validate:
        completion = dataclasses.replace(completion, result=_checked(station_type, completion.result))
    here_scanned = repo.attempts_for_result(session, station_id=station_id, result_key=completion.result_key)
    here = [a for a, _ in here_scanned]
    stored = next((a for a in here if completion.result_key and a.result_key == completion.result_key), None)
    if stored is not None:
        if found is not None and found[0].id == stored.unit_id:
            unit = found[0]
        else:
            unit = repo.unit_state_by_id(session, stored.unit_id)
        return CompletionOutcome(attempt=stored, unit=unit, duplicate=True, checks=checks_of(session, stored.id))

    if found is None:
        raise repo.unit_not_found(completion.serial)
    unit, route = found
    now = utcnow()
    attempt = next((a for a in here if a.status == "open" and a.unit_id == unit.id), None)
    released = attempt is not None
    if attempt is None:
        if not store_without_release:
            raise NoOpenAttempt(_no_open_reason(session, unit, station_id), serial=unit.serial, station_id=station_id)
        attempt = _unreleased_attempt(
            session, unit=unit, station_id=station_id, station_type=station_type, origin=origin, now=now
        )
    elif station_type == routing.REPAIR:
        _refuse_repair_of_a_charged_circuit(session, unit=unit, station_id=station_id, result=completion.result)

    context = JudgeContext(
        station_id=station_id,
        station_type=station_type,
        unit=unit,
        attempt=attempt,
        value_status=completion.value_status,
        judged_at=now,
    )
    judgement = judge(session, context, completion.result)
    checks = list(judgement.checks)
    verdict = judgement.verdict
    alarms = [c.message for c in checks if c.rule.startswith("alarm:")]
    if not validate:  # a PLC's result (REST refuses these with 422 before anything is written)
        over_long = over_long_component_checks(station_type, completion.result)
        if over_long:
            checks += over_long
            verdict = Verdict.FAIL
    elsewhere = fitted_elsewhere(session, unit_id=unit.id, station_type=station_type, result=completion.result)
    if elsewhere:
        checks += fitted_elsewhere_checks(elsewhere)
        verdict = Verdict.FAIL
    if not released:
        checks.insert(0, CheckResult(name="release", verdict=Verdict.FAIL, message=NO_RELEASE, rule=RELEASE_RULE))
        verdict = Verdict.FAIL
        alarms.insert(0, attempt.alarm or NO_RELEASE)

    scanned = any(s for a, s in here_scanned if a.id == attempt.id)
    inserts = _result_rows(
        session,
        unit=unit,
        attempt=attempt,
        station_type=station_type,
        result=completion.result,
        scanned=scanned,
        value_status=completion.value_status,
        released=released,
    )
    inserts.append((_CHECK_RESULT, _check_rows(attempt.id, checks)))
    failing = [c for c in checks if c.verdict is not Verdict.PASS]
    summary = "; ".join(c.message for c in failing if c.verdict is verdict) or None
    failure_mode = judgement.failure_mode or next((c.failure_mode for c in failing if c.failure_mode), None)

    if released:
        transition = routing.after_verdict(
            route=route,
            unit=repo.view_of(session, unit),
            station_type=station_type,
            verdict=verdict,
            failure_mode=failure_mode,
            summary=summary,
            history=repo.attempt_history(session, unit.id) if verdict is Verdict.FAIL else (),
        )
    else:
        transition = routing.Transition(
            status=routing.UnitStatus.ON_HOLD,
            next_step=unit.next_step,
            reentry_step=unit.reentry_step,
            rework_loops=unit.rework_loops,
            hold_reason=f"result at {station_id} without a release (alarm); quality engineer decides",
            instruction="hold for a quality engineer",
        )
    attempt = dataclasses.replace(
        attempt,
        status=routing.AttemptStatus.from_verdict(verdict).value,
        verdict=verdict.value,
        completed_at=now,
        completed_by=completion.operator,
        result_key=completion.result_key,
        summary=summary,
        failure_mode=failure_mode if verdict is Verdict.FAIL else None,
        spec_revision_id=judgement.spec_revision_id,
        model_version=judgement.model_version,
        rules_version=judgement.rules_version,
        instruction=transition.instruction,
        alarm="; ".join(alarms) or None,
    )
    closed = {
        "id": attempt.id,
        "status": attempt.status,
        "verdict": attempt.verdict,
        "completed_at": now,
        "completed_by": attempt.completed_by,
        "result_key": attempt.result_key,
        "summary": summary,
        "failure_mode": attempt.failure_mode,
        "spec_revision_id": attempt.spec_revision_id,
        "model_version": attempt.model_version,
        "rules_version": attempt.rules_version,
        "alarm": attempt.alarm,
        "instruction": attempt.instruction,
    }
    moved = _apply_transition(session, unit=unit, attempt=attempt, transition=transition, now=now)
    # the result, its checks, the closed attempt and the unit's move: one round trip on PostgreSQL
    repo.write_together(session, inserts=inserts, updates=[(_ATTEMPT, closed), (_UNIT, moved)])
    if scanned or _records_serialised_parts(inserts):
        # a part recorded on this attempt takes the place of the unit's part of its kind (kept, marked removed),
        # unless it is another unit's: then the unit keeps its own (and other units cannot take it)
        traceability.remove_displaced(
            session=session, unit_id=unit.id, attempt_id=attempt.id, removed_at=now, fitted_elsewhere=elsewhere
        )
    return CompletionOutcome(attempt=attempt, unit=unit, duplicate=False, checks=checks)


@dataclass(frozen=True, slots=True)
class HeldCharge:
    """The refrigerant a unit holds: charged at ``station_id`` and not evacuated since."""

    serial: str
    refrigerant: str
    station_id: str
    charged_mass_g: float | None

    @property
    def instruction(self) -> str:
        mass = "" if self.charged_mass_g is None else f", {self.charged_mass_g:g} g"
        return (
            f"{self.serial} holds its {self.refrigerant} charge (charged at {self.station_id}{mass}): "
            "recover the refrigerant and record the recovered mass before repairing"
        )


def held_charge(*, session: Session, unit: UnitState) -> HeldCharge | None:
    """The charge ``unit`` holds, or None. A unit holds refrigerant when its latest charging attempt with
    a result (passed, failed or retest: the charge went in, whole or in part) was opened after its latest
    vacuum_dehydration attempt with a result (which evacuates the circuit) and its latest repair with a
    result that recorded the recovered mass (the refrigerant came out); open and aborted attempts count
    for none of them. A split (never charged on the line) and a monobloc failed before charging hold none."""
    charge = repo.charge_after_last_evacuation(session, unit)
    if charge is None:
        return None
    return HeldCharge(
        serial=unit.serial,
        refrigerant=charge.refrigerant,
        station_id=charge.station_id,
        charged_mass_g=charge.charged_mass_g,
    )


def _refuse_repair_of_a_charged_circuit(
    session: Session, *, unit: UnitState, station_id: str, result: StationResult
) -> None:
    """A repair on a unit that holds refrigerant (brazing a charged R290 circuit is a fire hazard) is
    refused (InvalidInput, nothing stored) unless it records the recovered mass, a finite number ≥ 0 g."""
    recorded = next((x.value for x in result.measurements if x.name == RECOVERED_MASS), None)
    if (
        isinstance(recorded, int | float)
        and not isinstance(recorded, bool)
        and math.isfinite(recorded)
        and recorded >= 0
    ):
        return
    charge = held_charge(session=session, unit=unit)
    if charge is None:
        return
    wrong = "" if recorded is None else f" (a mass in grams, 0 or more; {recorded!r} was given)"
    raise InvalidInput(charge.instruction + wrong, serial=unit.serial, station_id=station_id)


def _unreleased_attempt(
    session: Session, *, unit: UnitState, station_id: str, station_type: str, origin: str, now: datetime
) -> AttemptState:
    values = dict.fromkeys(_ATTEMPT_FIELDS) | {
        "unit_id": unit.id,
        "station_id": station_id,
        "station_type": station_type,
        # never open: another unit's attempt may be open at this station (released there after this
        # unit's was aborted), and the station's one open attempt must not block storing this result;
        # a result without a release is always a FAIL
        "status": routing.AttemptStatus.FAILED.value,
        "retest_index": 0,
        "started_at": now,
        "origin": origin,
        "use_as_is": False,
        "alarm": f"result for {unit.serial} without a release at {station_id}",
    }
    # the unit is here: a stale open attempt of it elsewhere is closed as aborted
    _abort(session, [a for a in _open_attempts_of(session, unit.id)], now=now)
    attempt_id = _OPEN_ATTEMPT.one(repo.core(session), values)[0]
    return repo.attempt_state(session, attempt_id)


_OPEN_OF_UNIT = select(*repo.ATTEMPT_COLUMNS).where(_A.unit_id == bindparam("unit_id"), _A.status == "open")


def _open_attempts_of(session: Session, unit_id: int) -> list[AttemptState]:
    rows = repo.core(session).execute(_OPEN_OF_UNIT, {"unit_id": unit_id}).all()
    return [AttemptState(*row) for row in rows]


def _no_open_reason(session: Session, unit: UnitState, station_id: str) -> str:
    elsewhere = _open_attempts_of(session, unit.id)
    if elsewhere:
        return f"{unit.serial} has no open operation at {station_id}; it is in process at {elsewhere[0].station_id}"
    return f"{unit.serial} has no open operation at {station_id}: start it there first"


def _apply_transition(
    session: Session, *, unit: UnitState, attempt: AttemptState, transition: routing.Transition, now: datetime
) -> dict[str, object]:
    """Moves ``unit`` (and places the verdict's hold, if any); returns the unit row's new values."""
    unit.next_step = transition.next_step
    unit.reentry_step = transition.reentry_step
    unit.rework_loops = transition.rework_loops
    unit.updated_at = now
    if unit.status == routing.UnitStatus.SCRAPPED.value:
        pass  # scrapped while its operation ran: the result is kept, the unit stays out of production
    elif transition.hold_reason is not None:
        repo.core(session).execute(
            _INSERT_HOLD,
            dict(
                unit_id=unit.id,
                reason=transition.hold_reason,
                scope="verdict",
                scope_ref=attempt.station_id,
                attempt_id=attempt.id,
                created_at=now,
                created_by=attempt.completed_by or "mes",
            ),
        )
        # Rare (a FAIL past the loop cap, a result without a release): the audit append costs nothing per unit.
        audit.record(
            session=session,
            actor=SYSTEM,
            action="hold.place.by_verdict",
            entity_type="unit",
            entity_id=unit.serial,
            before={"status": unit.status},
            after={"status": routing.UnitStatus.ON_HOLD.value, "attempt_id": attempt.id, "station": attempt.station_id},
            reason=transition.hold_reason,
        )
        unit.status = routing.UnitStatus.ON_HOLD.value
    elif unit.status != routing.UnitStatus.ON_HOLD.value:
        unit.status = transition.status.value
    # else a hold placed while the operation ran stays until it is released: the unit moves along its
    # route (next step, rework loops) but does not start anywhere before that
    return {
        "id": unit.id,
        "status": unit.status,
        "next_step": unit.next_step,
        "reentry_step": unit.reentry_step,
        "rework_loops": unit.rework_loops,
        "updated_at": now,
    }


_Rows = list[tuple[Table, list[dict[str, object]]]]


def _result_rows(
    session: Session,
    *,
    unit: UnitState,
    attempt: AttemptState,
    station_type: str,
    result: StationResult,
    scanned: bool,
    value_status: Mapping[str, ValueStatus],
    released: bool,
) -> _Rows:
    """The rows a result adds (measurements, traces, consumed parts), per table, for repo.write_together.
    Each value and trace keeps the status it was read with (None when Good).

    A released repair that names the part it fitted (ReplacedPartKind, -Serial, -Model) stores it as one
    of its components, checked like a scan (traceability.replace_part: a part that does not fit is
    refused, and nothing of the result stored), whichever channel recorded it."""
    attempt_id = attempt.id
    rows: _Rows = []
    if result.measurements:
        rows.append(
            (
                _MEASUREMENT,
                [_measurement_row(attempt_id, x) | {"quality": value_status.get(x.name)} for x in result.measurements],
            )
        )
    if result.traces:
        rows.append(
            (
                _TRACE,
                [
                    _trace_row(attempt_id, t) | {"quality": value_status.get(trace_status_key(t.channel))}
                    for t in result.traces
                ],
            )
        )
    # parts the operator already scanned on this attempt (app/services/scans.py) are not stored twice
    # (``scanned`` says whether there are any: most attempts have none, and then nothing is read)
    # a text the genealogy cannot hold whole is not recorded (a FAIL check carries it: over_long_component_checks)
    reported = tuple(
        c
        for c in _components(station_type, result)
        if len(c.identifier) <= rules.COMPONENT_TEXT_MAX and len(c.model or "") <= rules.COMPONENT_TEXT_MAX
    )
    if released and station_type == routing.REPAIR:
        fitted_at_repair = traceability.replace_part(session=session, unit=unit, result=result)
        if fitted_at_repair is not None:
            reported += (fitted_at_repair,)
    if scanned:
        components = scans.unrecorded(session, attempt_id=attempt_id, components=reported)
    else:
        components = _each_once(reported)
    if components:
        rows.append(
            (
                _COMPONENT_USE,
                [
                    {
                        "attempt_id": attempt_id,
                        "unit_id": attempt.unit_id,
                        "kind": c.kind.value,
                        "identifier": c.identifier,
                        "model": c.model,
                        "station_id": attempt.station_id,
                        "consumed_at": attempt.started_at,
                    }
                    for c in components
                ],
            )
        )
    return rows


_SERIALISED_KINDS = frozenset(k.value for k in ComponentKind if k.one_per_unit)


def _records_serialised_parts(inserts: _Rows) -> bool:
    """Whether the rows store a compressor, inverter board or EVI valve (a lot or a run is no one's part)."""
    return any(row["kind"] in _SERIALISED_KINDS for table, rows in inserts if table is _COMPONENT_USE for row in rows)


def _trace_row(attempt_id: int, trace: Trace) -> dict[str, object]:
    t_s, values = trace.arrays()  # converted once for validation, judging and storage
    return {
        "attempt_id": attempt_id,
        "channel": trace.channel,
        "n_samples": len(values),
        "encoding": trace_codec.ENCODING,
        "t_blob": trace_codec.encode(t_s),
        "value_blob": trace_codec.encode(values),
        **trace_codec.summary(t_s, values),
    }


def over_long_component_checks(station_type: str, result: StationResult) -> list[CheckResult]:
    """A FAIL check for each scanned identifier or model longer than the genealogy holds, with the whole
    text in its message: the result FAILs (the route's rework or hold follows, as for any FAIL) and that
    component is not recorded (rather than recorded cut short, where a genealogy search would miss it)."""
    try:
        declared = stations.get_station_type(station_type)
    except LookupError:
        return []
    return [
        CheckResult(
            name=f"genealogy:{name}",
            verdict=Verdict.FAIL,
            rule="genealogy",
            message=f"{name} {rules.over_long_message(kind, text)}; not recorded as a component: {text}",
        )
        for name, kind, text in rules.over_long_component_texts(declared, result)
    ]


FITTED_ELSEWHERE_RULE = "genealogy:fitted_elsewhere"


def fitted_elsewhere(
    session: Session, *, unit_id: int, station_type: str, result: StationResult
) -> dict[Component, str]:
    """Each serialised part the result reports that is already fitted in another unit still on the line
    (recorded there in any case: the genealogy's one part), with that unit's serial. Locks each part's
    identity, as a scan does, so the answer holds until the transaction ends."""
    reported = _each_once(
        tuple(
            c
            for c in _components(station_type, result)
            if c.kind.one_per_unit
            and c.identifier
            and len(c.identifier) <= rules.COMPONENT_TEXT_MAX
            and len(c.model or "") <= rules.COMPONENT_TEXT_MAX
        )
    )
    if not reported:
        return {}
    scans.lock_part_identities(session, reported)  # after the station and unit: the scans' lock order
    cu = m.ComponentUse
    rows = session.execute(
        select(cu.kind, cu.identifier, m.Unit.serial)
        .join(m.Unit, m.Unit.id == cu.unit_id)
        .where(
            # lower(identifier), the expression ix_component_identifier_lower indexes, lowered alike on both sides
            func.lower(cu.identifier).in_([func.lower(literal(c.identifier, String)) for c in reported]),
            cu.kind.in_({c.kind.value for c in reported}),
            cu.unit_id != unit_id,
            cu.removed_at.is_(None),  # taken out at the repair bench: in no unit now
            m.Unit.status != routing.UnitStatus.SCRAPPED.value,
        )
        .order_by(m.Unit.serial)
    ).all()
    # the first unit by serial for each part (identity folds case as lower() did on the database)
    fitted = {(ComponentKind(kind), identifier.lower()): serial for kind, identifier, serial in reversed(rows)}
    return {part: fitted[scans.identity(part)] for part in reported if scans.identity(part) in fitted}


def fitted_elsewhere_checks(fitted: Mapping[Component, str]) -> list[CheckResult]:
    """A FAIL check for each part fitted in another unit (:func:`fitted_elsewhere`): a tablet scan is
    refused for that; a station's result is stored, so it FAILs the unit and keeps both records for the
    quality engineer. A fact of the genealogy when judged, not of the rules: a re-derivation carries it
    over."""
    return [
        CheckResult(
            name=f"fitted_elsewhere:{part.kind.value}",
            verdict=Verdict.FAIL,
            rule=FITTED_ELSEWHERE_RULE,
            message=f"{scans.kind_word(part.kind)} {part.identifier} is already fitted in {serial}: one part cannot "
            "be in two units; a quality engineer corrects the record",
            failure_mode="wrong_part",
        )
        for part, serial in fitted.items()
    ]


def _each_once(components: tuple[Component, ...]) -> tuple[Component, ...]:
    """The components in order, each part once (kind and identifier in any case), as scans.unrecorded
    keeps them."""
    seen: set[tuple[ComponentKind, str]] = set()
    fresh = []
    for c in components:
        if scans.identity(c) not in seen:
            seen.add(scans.identity(c))
            fresh.append(c)
    return tuple(fresh)


def _checked(station_type: str, result: StationResult) -> StationResult:
    """The result with ISO-8601 texts turned into instants where the schema says datetime; refuses
    unknown names, wrong kinds and malformed traces with every problem listed."""
    declared = stations.get_station_type(station_type)
    coerced = []
    problems: list[dict[str, str]] = []
    for measurement in result.measurements:
        schema = declared.measurement(measurement.name)
        value = measurement.value
        if schema is not None and schema.kind == "datetime" and isinstance(value, str):
            try:
                instant = datetime.fromisoformat(value)
            except ValueError:
                instant = None
            if instant is None or instant.tzinfo is None:
                problems.append(
                    {
                        "field": f"measurements.{measurement.name}",
                        "message": "must be an ISO-8601 instant with its UTC offset, e.g. 2026-11-27T06:00:00Z",
                    }
                )
                continue
            measurement = dataclasses.replace(measurement, value=instant)
        coerced.append(measurement)
    checked = dataclasses.replace(result, measurements=tuple(coerced))
    problems += [
        {"field": p.field, "message": p.message} for p in rules.validate_result(station_type=declared, result=checked)
    ]
    if problems:
        shown = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InvalidInput(f"the result does not fit {station_type}: {shown}{more}", errors=problems)
    return checked


def _components(station_type: str, result: StationResult) -> tuple[Component, ...]:
    """What the unit consumed: scanned identifiers named by the station type, and explicit ones."""
    try:
        declared = stations.get_station_type(station_type)
    except LookupError:
        return result.components
    return rules.components_of(station_type=declared, result=result)


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
        # NaN is "not measured" (no value); an infinite reading is kept, spelled out in text, as read
        infinite = math.isinf(value)
        row.update(
            kind="number",
            value=float(value) if math.isfinite(value) else None,
            text=str(float(value)) if infinite else None,
        )
    elif isinstance(value, datetime):
        row.update(kind="datetime", text=value.isoformat())
    else:
        row.update(kind="string", text=str(value))
    return row


def _check_rows(attempt_id: int, checks: list[CheckResult]) -> list[dict[str, object]]:
    return [
        {
            "attempt_id": attempt_id,
            "name": c.name,
            "verdict": c.verdict.value,
            "rule": c.rule,
            "message": c.message,
            "measured": finite_or_none(c.measured),
            "expected": finite_or_none(c.expected),
            "limit_low": finite_or_none(c.limit_low),
            "limit_high": finite_or_none(c.limit_high),
            "uncertainty": finite_or_none(c.uncertainty),
            "failure_mode": c.failure_mode,
            "position": position,
        }
        for position, c in enumerate(checks)
    ]


def checks_of(session: Session, attempt_id: int) -> list[CheckResult]:
    # in the order the judge gave them: a repeated delivery answers as the first did
    rows = session.scalars(
        select(m.CheckResultRow).where(m.CheckResultRow.attempt_id == attempt_id).order_by(*repo.CHECK_ORDER)
    )
    return [check_of_row(r) for r in rows]


def check_of_row(row: m.CheckResultRow) -> CheckResult:
    """A stored check as the judge gave it."""
    return CheckResult(
        name=row.name,
        verdict=Verdict(row.verdict),
        message=row.message,
        rule=row.rule,
        measured=row.measured,
        expected=row.expected,
        limit_low=row.limit_low,
        limit_high=row.limit_high,
        uncertainty=row.uncertainty,
        failure_mode=row.failure_mode,
    )
