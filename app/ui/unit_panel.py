"""What a station tablet shows for a scanned serial: the unit, its route, the interlock, the verdict.

Read-only: every function here only queries, in the caller's session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import routing
from app.domain.results import CheckResult, Component
from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.persistence import repositories as repo
from app.persistence.repositories import AttemptState, UnitState
from app.services import operations, scans
from stations import plant_name

STEP_WORDS = {
    "passed": "passed",
    "failed": "failed",
    "retest": "retest",
    "aborted": "aborted",
    "open": "in process",
    "next": "next",
    "pending": "to do",
}


@dataclass(frozen=True, slots=True)
class StepState:
    """One step of the unit's route and where the unit stands with it."""

    station_type: str
    state: str  # passed | failed | retest | aborted | open | next | pending
    where: str = ""

    @property
    def word(self) -> str:
        return STEP_WORDS.get(self.state, self.state)

    @property
    def name(self) -> str:
        """The step's station type in the plant's words."""
        return plant_name(self.station_type)


@dataclass(frozen=True, slots=True)
class ManualCheckView:
    """A person's check on the attempt shown."""

    name: str
    verdict: str
    message: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OverrideView:
    """A quality engineer's verdict over the engine's on the attempt shown (the latest counts)."""

    verdict: str
    engine_verdict: str
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Panel:
    """Everything the tablet panel renders for one serial at one station."""

    station_id: str
    station_type: str
    unit: UnitState
    steps: list[StepState]
    may_start: bool
    refusal: str
    open_here: AttemptState | None
    last_here: AttemptState | None
    failed_checks: list[CheckResult] = field(default_factory=list)
    hold_reasons: tuple[str, ...] = ()
    components: list[Component] = field(default_factory=list)
    manual_checks: list[ManualCheckView] = field(default_factory=list)
    override: OverrideView | None = None

    @property
    def verdict(self) -> str | None:
        """The verdict that counts for the attempt shown: the latest override, else the engine's."""
        if self.last_here is None:
            return None
        return self.override.verdict if self.override is not None else self.last_here.verdict

    @property
    def next_words(self) -> str:
        """What happens to the unit next, in the operator's words (without a leading "Next:").

        After an override the engine's instruction no longer holds: the unit's own state says what follows."""
        if self.override is None:
            instruction = (self.last_here.instruction if self.last_here else None) or ""
            return instruction.removeprefix("next: ")
        status = self.unit.status
        if status == routing.UnitStatus.FINISHED:
            return "route complete"
        if status == routing.UnitStatus.ON_HOLD:
            return "on hold: a quality engineer decides"
        if status == routing.UnitStatus.SCRAPPED:
            return "scrapped"
        if self.unit.next_step is None:
            return ""
        then = f", then re-enter at {self.reentry_name}" if self.reentry_name else ""
        return f"{plant_name(self.unit.next_step)}{then}"

    @property
    def reentry_name(self) -> str:
        """Where the unit re-enters its route after a repair, in the plant's words ("" when not set)."""
        return plant_name(self.unit.reentry_step) if self.unit.reentry_step else ""

    @property
    def scanning(self) -> bool:
        """Parts are scanned into the record while the unit's operation at a sub-base is open."""
        return self.open_here is not None and self.station_type == scans.SUB_BASE

    @property
    def digest(self) -> str:
        """Changes whenever what the tablet shows would change (the event stream compares it)."""
        return state_digest(self.unit, self.last_here)


def state_digest(unit: UnitState, last_here: AttemptState | None) -> str:
    attempt = f"{last_here.id}:{last_here.status}" if last_here else "-"
    return f"{unit.status}|{unit.next_step}|{unit.rework_loops}|{attempt}"


def route_steps(*, route: routing.RouteDef, unit: UnitState, history: list[routing.AttemptView]) -> list[StepState]:
    """Each route step's state from the unit's attempt history (repair appears when it is pending)."""
    steps = []
    for step in route.steps:
        attempts = [a for a in history if a.station_type == step.station_type]
        latest = attempts[-1] if attempts else None
        if latest is not None and latest.status is routing.AttemptStatus.OPEN:
            steps.append(StepState(step.station_type, "open", latest.station_id))
        elif unit.next_step == step.station_type and unit.status == routing.UnitStatus.IN_PROCESS:
            steps.append(StepState(step.station_type, "next", latest.station_id if latest else ""))
        elif latest is not None:
            state = "passed" if latest.counts_as_passed else latest.status.value
            steps.append(StepState(step.station_type, state, latest.station_id))
        else:
            steps.append(StepState(step.station_type, "pending"))
    if unit.next_step == routing.REPAIR:
        then = plant_name(unit.reentry_step) if unit.reentry_step else "?"
        steps.append(StepState(routing.REPAIR, "next", f"then {then}"))
    return steps


def last_attempt_here(session: Session, *, unit_id: int, station_id: str) -> AttemptState | None:
    """The unit's most recent attempt at this station, open or closed."""
    a = m.OperationAttempt
    row = session.execute(
        select(*repo.ATTEMPT_COLUMNS)
        .where(a.unit_id == unit_id, a.station_id == station_id)
        .order_by(a.id.desc())
        .limit(1)
    ).one_or_none()
    return AttemptState(*row) if row else None


def manual_checks_of(session: Session, attempt_id: int) -> list[ManualCheckView]:
    mc = m.ManualCheck
    rows = session.execute(
        select(mc.name, mc.verdict, mc.message, mc.by, mc.at).where(mc.attempt_id == attempt_id).order_by(mc.id)
    ).all()
    return [ManualCheckView(*row) for row in rows]


def latest_override(session: Session, attempt_id: int) -> OverrideView | None:
    """The override in force on the attempt (the latest), or None."""
    vo = m.VerdictOverride
    row = session.execute(
        select(vo.verdict, vo.engine_verdict, vo.reason, vo.by, vo.at)
        .where(vo.attempt_id == attempt_id)
        .order_by(vo.id.desc())
        .limit(1)
    ).one_or_none()
    return OverrideView(*row) if row else None


def build_panel(*, session: Session, serial_format: SerialFormat, station_id: str, serial: str) -> Panel:
    """The tablet panel for ``serial`` at ``station_id``; raises NotFound/InvalidInput like the API."""
    serial_format.validate(serial)
    station_type = repo.station_type_of(session, station_id)
    unit, route = repo.unit_state(session, serial)
    history = repo.attempt_history(session, unit.id)
    decision = operations.check_interlock(
        session=session, serial_format=serial_format, station_id=station_id, serial=serial
    )
    last_here = last_attempt_here(session, unit_id=unit.id, station_id=station_id)
    open_here = last_here if last_here is not None and last_here.status == "open" else None
    failed: list[CheckResult] = []
    if last_here is not None and open_here is None:
        failed = [c for c in operations.checks_of(session, last_here.id) if c.verdict.value != "PASS"]
    return Panel(
        station_id=station_id,
        station_type=station_type,
        unit=unit,
        steps=route_steps(route=route, unit=unit, history=history),
        may_start=decision.allowed and not decision.resume_open_attempt,
        refusal=decision.reason,
        open_here=open_here,
        last_here=last_here,
        failed_checks=failed,
        hold_reasons=repo.hold_reasons(session, unit.id) if unit.status == routing.UnitStatus.ON_HOLD else (),
        components=scans.recorded_components(session, last_here.id) if last_here else [],
        manual_checks=manual_checks_of(session, last_here.id) if last_here else [],
        override=latest_override(session, last_here.id) if last_here and last_here.verdict else None,
    )


def current_digest(*, session: Session, station_id: str, serial: str) -> str:
    """The panel digest without building the panel (the event stream polls this)."""
    unit, _route = repo.unit_state(session, serial)
    return state_digest(unit, last_attempt_here(session, unit_id=unit.id, station_id=station_id))
