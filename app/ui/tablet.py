"""The station tablet: pick a station, scan a serial, start, see the verdict; manual actions.

Write routes open one transaction each (``with session.begin()``) and call the same services as
the REST API; domain errors go to the app's one handler (problem details the page shows). Whoever
acts is the signed-in user (badge + PIN), never a name typed into a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

import stations
from app.api.authz import CurrentActorDep
from app.api.deps import SerialFormatDep, SessionDep
from app.domain import routing
from app.domain.actors import Role
from app.domain.errors import Conflict, DomainError
from app.domain.results import CheckResult, Component, ComponentKind, Measurement, StationResult, Verdict
from app.persistence import models as m
from app.persistence import repositories as repo
from app.security.access import allow
from app.services import holds, operations, overrides, scans, specs, traceability
from app.ui.templating import render
from app.ui.unit_panel import Panel, build_panel, last_attempt_here
from stations import _checks as kinds
from stations.repair import REPAIR_ACTIONS

router = APIRouter()

Serial = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]
# Suggestions in the manual-check dialog; the operator may name any other check.
MANUAL_CHECK_NAMES = (
    "visual_inspection",
    "fin_damage",
    "label_check",
    "wiring_routing",
    "insulation",
    "fastener_count",
    "cleanliness",
)


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: Serial


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: Serial
    reason: Text


class PartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ComponentKind
    identifier: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class PartsIn(BaseModel):
    """Parts scanned at the sub-base (usually one per scan)."""

    model_config = ConfigDict(extra="forbid")
    serial: Serial
    parts: Annotated[list[PartIn], Field(min_length=1, max_length=8)]


class ManualCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: Serial
    name: Annotated[str, StringConstraints(min_length=2, max_length=64, strip_whitespace=True)]
    verdict: Literal["PASS", "FAIL"]
    message: Text


class RepairIn(BaseModel):
    """What the operator did at the repair bench (the repair station type's measurements).

    A replaced compressor, inverter board or EVI valve is named by its kind, serial and model: it
    enters the unit's genealogy and the part it replaces is marked removed. Without a kind, the
    replaced part's serial is kept as text only (a part the genealogy does not track).
    """

    model_config = ConfigDict(extra="forbid")
    serial: Serial
    action: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    description: Text
    replaced_part_serial: Annotated[str, StringConstraints(max_length=64, strip_whitespace=True)] = ""
    replaced_part_kind: ComponentKind | None = None
    replaced_part_model: Annotated[str, StringConstraints(max_length=64, strip_whitespace=True)] = ""
    # required on a unit that holds its charge (operations.held_charge): recovered before the repair
    recovered_mass_g: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


@router.get("/tablet", response_class=HTMLResponse, dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR)])
def tablet_page(request: Request, session: SessionDep) -> HTMLResponse:
    """The tablet page; the station is picked once and remembered by the tablet (localStorage)."""
    rows = session.execute(select(m.Station.station_id, m.Station.station_type).order_by(m.Station.station_id)).all()
    return render(
        request,
        "tablet.html",
        stations=[{"id": sid, "type": st} for sid, st in rows],
        live_units={sid: _live_units(st) for sid, st in rows},
        repair_actions=REPAIR_ACTIONS,
        manual_check_names=MANUAL_CHECK_NAMES,
    )


def _live_units(station_type: str) -> dict[str, str]:
    """The unit of each live channel of a station type (its traces'), for the tablet's live tiles."""
    try:
        declared = stations.get_station_type(station_type)
    except LookupError:
        return {}
    return {t.channel: t.unit for t in declared.traces}


@dataclass(frozen=True, slots=True)
class BelowTimer:
    """What the tablet times from live values while a unit runs: a channel at or below a threshold for a
    minimum time (vacuum: the pressure ≤ 50 Pa for 30 min), as the unit's specification revision sets them."""

    channel: str
    threshold: float
    unit: str
    minimum_s: float


def _below_timer(session: Session, panel: Panel) -> BelowTimer | None:
    """The timer of the unit's open operation here, from the revision in force when it started, the one
    it will be judged by (None without one)."""
    attempt = panel.open_here
    if attempt is None:
        return None
    declared = stations.get_station_type(panel.station_type)
    check = next((c for c in declared.checks if isinstance(c, kinds.TimeBelowCheck)), None)
    if check is None:
        return None
    spec = specs.effective_spec(
        session, station_type=panel.station_type, product_model_id=panel.unit.product_model_id, at=attempt.started_at
    )
    if spec is None:
        return None
    limits = spec.limits
    threshold, duration = limits.get(check.threshold_limit), limits.get(check.duration_limit)
    if threshold is None or threshold.high is None or duration is None or duration.low is None:
        return None
    return BelowTimer(check.channel, threshold.high, threshold.unit, duration.low)


@router.get(
    "/tablet/{station_id}/panel", response_class=HTMLResponse, dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR)]
)
def tablet_panel(
    request: Request, station_id: str, serial: str, session: SessionDep, serial_format: SerialFormatDep
) -> HTMLResponse:
    """The unit panel as an HTML fragment (the page swaps it in after a scan or an event)."""
    try:
        panel = build_panel(session=session, serial_format=serial_format, station_id=station_id, serial=serial.strip())
    except DomainError as exc:
        # the fragment is a view of the operator's input: shown with the reason, not a failed load
        return render(request, "_panel_error.html", message=exc.detail, problem=exc.slug)
    return render(
        request,
        "_panel.html",
        panel=panel,
        sent_to_repair=_sent_to_repair(session, panel),
        held_charge=_held(session, panel),
        timer=_below_timer(session, panel),
    )


def _held(session: Session, panel: Panel) -> operations.HeldCharge | None:
    """At the repair bench, with the unit's repair open: the charge it holds, if any (the form asks for the
    recovered mass then; the completion refuses the record without it)."""
    if panel.station_type != routing.REPAIR or panel.open_here is None:
        return None
    return operations.held_charge(session=session, unit=panel.unit)


@dataclass(frozen=True, slots=True)
class SentToRepair:
    """At the repair bench: the failed result that sent the unit there, with what to do about it."""

    station_id: str
    station_type: str
    completed_at: datetime | None
    failed_checks: list[CheckResult]
    note: str  # what the route's rework rule says to do (e.g. "re-braze the joint"), or ""

    @property
    def station_name(self) -> str:
        """The failing station's type in the plant's words."""
        return stations.plant_name(self.station_type)


def _sent_to_repair(session: Session, panel: Panel) -> SentToRepair | None:
    """At the repair bench, while the unit is due there or its repair is open: the failure that sent it,
    with the checks that failed (which joint leaked, which part is the wrong model) and the route's rework
    rule's note. None when no failure sent it (a quality engineer's decision did)."""
    if panel.station_type != routing.REPAIR:
        return None
    if panel.unit.next_step != routing.REPAIR and panel.open_here is None:
        return None
    a = m.OperationAttempt
    failed = session.scalars(
        select(a)
        .where(
            a.unit_id == panel.unit.id,
            a.station_type != routing.REPAIR,
            a.status.not_in([routing.AttemptStatus.OPEN.value, routing.AttemptStatus.ABORTED.value]),
        )
        .order_by(a.id.desc())
        .limit(1)
    ).first()
    if failed is None or overrides.effective_verdict(session, failed) != Verdict.FAIL.value:
        return None  # sent here by a quality engineer's decision, not by a rework rule
    _unit, route = repo.unit_state(session, panel.unit.serial)
    rule = route.rework_for(failed.station_type, failed.failure_mode)
    note = rule.note if rule is not None and rule.action is routing.ReworkAction.REPAIR and rule.note else ""
    return SentToRepair(
        station_id=failed.station_id,
        station_type=failed.station_type,
        completed_at=failed.completed_at,
        failed_checks=[c for c in operations.checks_of(session, failed.id) if c.verdict is not Verdict.PASS],
        note=note,
    )


@router.post("/tablet/{station_id}/start", dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR)])
def tablet_start(
    station_id: str, body: StartIn, session: SessionDep, serial_format: SerialFormatDep, actor: CurrentActorDep
) -> dict[str, object]:
    """Start the unit here as the signed-in operator; a refusal comes back as 409 with the interlock's reason
    (another unit's open attempt here is closed as aborted all the same: operations.start_operation)."""
    with session.begin():
        try:
            outcome = operations.start_operation(
                session=session,
                serial_format=serial_format,
                station_id=station_id,
                serial=body.serial,
                operator=actor.username,
                origin="operator",
            )
        except operations.RefusedAfterAbort as refused:
            kept = refused  # leaving the block commits the abort
        else:
            return {
                "attempt_id": outcome.attempt.id,
                "resumed": outcome.resumed,
                "aborted": list(outcome.aborted_serials),
            }
    raise kept


@router.post("/tablet/hold", dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR)])
def tablet_hold(
    body: HoldIn, session: SessionDep, serial_format: SerialFormatDep, actor: CurrentActorDep
) -> dict[str, object]:
    """Put the unit on hold with the operator's reason (held by the signed-in user)."""
    serial_format.validate(body.serial)
    with session.begin():
        hold = holds.place_hold(session=session, serial=body.serial, reason=body.reason, actor=actor)
        return {"hold_id": hold.id}


@router.post("/tablet/{station_id}/repair", dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR)])
def tablet_repair(
    station_id: str,
    body: RepairIn,
    request: Request,
    session: SessionDep,
    serial_format: SerialFormatDep,
    actor: CurrentActorDep,
) -> dict[str, object]:
    """Record a repair through the normal completion service (judged like any station result), which
    fits a replaced serialised part in the unit's genealogy as it does for every channel."""
    measurements = [
        Measurement("RepairAction", body.action),
        Measurement("RepairDescription", body.description),
    ]
    if body.replaced_part_kind is not None:
        measurements.append(Measurement("ReplacedPartKind", body.replaced_part_kind.value))
    if body.replaced_part_serial:
        measurements.append(Measurement("ReplacedPartSerial", body.replaced_part_serial))
    if body.replaced_part_model:
        measurements.append(Measurement("ReplacedPartModel", body.replaced_part_model))
    if body.recovered_mass_g is not None:
        measurements.append(Measurement(operations.RECOVERED_MASS, body.recovered_mass_g, "g"))
    completion = operations.Completion(
        serial=body.serial,
        result_key=None,
        result=StationResult(measurements=tuple(measurements)),
        operator=actor.username,
    )
    with session.begin():
        outcome = operations.complete_operation(
            session=session,
            serial_format=serial_format,
            station_id=station_id,
            completion=completion,
            origin="operator",
            judge=request.app.state.judge,
            validate=True,
        )
        answer: dict[str, object] = {"verdict": outcome.attempt.verdict, "instruction": outcome.attempt.instruction}
        if body.replaced_part_kind is not None:  # fitted, or the completion was refused
            fitted = Component(body.replaced_part_kind, body.replaced_part_serial, body.replaced_part_model)
            removed = traceability.parts_removed_by(
                session=session, unit_id=outcome.unit.id, attempt_id=outcome.attempt.id
            )
            answer |= {"fitted": _part_out(fitted), "removed": [c.identifier for c in removed]}
        return answer


@router.get("/tablet/bom-check", dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR)])
def tablet_bom_check(
    serial: str, kind: ComponentKind, model: str, session: SessionDep, serial_format: SerialFormatDep
) -> dict[str, object]:
    """Check a part's model against the unit's bill of materials without recording it."""
    serial_format.validate(serial)
    verdict = scans.check_part(session=session, serial=serial, kind=kind, model=model[:64])
    return {"ok": verdict.ok, "expected": verdict.expected, "message": verdict.message}


@router.post("/tablet/{station_id}/parts", dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR)])
def tablet_parts(
    station_id: str, body: PartsIn, session: SessionDep, serial_format: SerialFormatDep, actor: CurrentActorDep
) -> dict[str, object]:
    """Record parts scanned at the sub-base on the unit's open attempt; a wrong part is refused (409)."""
    with session.begin():
        outcome = scans.record_component_scans(
            session=session,
            serial_format=serial_format,
            station_id=station_id,
            serial=body.serial,
            components=[Component(kind=p.kind, identifier=p.identifier, model=p.model) for p in body.parts],
            by=actor.username,
        )
        return {
            "attempt_id": outcome.attempt_id,
            "stored": [_part_out(c) for c in outcome.stored],
            "recorded": [_part_out(c) for c in outcome.recorded],
            "message": "; ".join(
                f"{scans.kind_word(c.kind)} {c.identifier} ({c.model}) recorded" for c in outcome.stored
            ),
        }


def _part_out(c: Component) -> dict[str, str | None]:
    return {"kind": c.kind.value, "identifier": c.identifier, "model": c.model}


@router.post("/tablet/{station_id}/manual-check", dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR)])
def tablet_manual_check(
    station_id: str, body: ManualCheckIn, session: SessionDep, serial_format: SerialFormatDep, actor: CurrentActorDep
) -> dict[str, object]:
    """Record a person's check on the unit's latest attempt at this station; a FAIL holds the unit."""
    serial_format.validate(body.serial)
    with session.begin():
        repo.station_type_of(session, station_id)
        unit = repo.unit_by_serial(session, body.serial)
        attempt = last_attempt_here(session, unit_id=unit.id, station_id=station_id)
        if attempt is None:
            raise Conflict(
                f"{body.serial} has no operation at {station_id} to record a check on: start it here first",
                serial=body.serial,
                station_id=station_id,
            )
        check = overrides.record_manual_check(
            session=session,
            attempt_id=attempt.id,
            name=body.name,
            verdict=Verdict(body.verdict),
            message=body.message,
            actor=actor,
        )
        return {"id": check.id, "attempt_id": attempt.id, "verdict": check.verdict}
