"""Routes and the route interlock: which station a unit may start at, and where a verdict sends it.

Pure functions over plain data. The services load a unit, its route and its attempt history,
ask ``check_start`` or ``after_verdict``, and persist what they answer. What they say names station
types in the plant's words (``stations.plant_name``: "vacuum dehydration", not its code).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.domain.results import Verdict
from stations import plant_name

REPAIR = "repair"


class UnitStatus(enum.StrEnum):
    IN_PROCESS = "in_process"
    ON_HOLD = "on_hold"
    FINISHED = "finished"
    SCRAPPED = "scrapped"


class AttemptStatus(enum.StrEnum):
    OPEN = "open"
    PASSED = "passed"
    FAILED = "failed"
    RETEST = "retest"
    ABORTED = "aborted"

    @staticmethod
    def from_verdict(verdict: Verdict) -> AttemptStatus:
        return {
            Verdict.PASS: AttemptStatus.PASSED,
            Verdict.FAIL: AttemptStatus.FAILED,
            Verdict.RETEST: AttemptStatus.RETEST,
        }[verdict]


class ReworkAction(enum.StrEnum):
    HOLD = "hold"  # a quality engineer decides
    REPAIR = "repair"  # to the repair bench, then re-enter the route
    REPEAT = "repeat"  # straight back to a station of the route


class Disposition(enum.StrEnum):
    REWORK = "rework"
    SCRAP = "scrap"
    USE_AS_IS = "use_as_is"


@dataclass(frozen=True, slots=True)
class RouteStep:
    position: int
    station_type: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class ReworkRule:
    """Where a FAIL at ``failed_at`` sends the unit; ``failure_mode`` None matches any mode.

    ``note`` is what the operator must know to do it (e.g. "monoblocs: recover the refrigerant first").
    ``counts_as_rework_loop`` False: a repeat because the test itself was not valid (the instrument's
    reference-leak check expired, the test pressure too low) reworks nothing on the unit, so it does
    not count against the route's loop cap."""

    failed_at: str
    action: ReworkAction
    reenter_at: str | None
    failure_mode: str | None = None
    note: str = ""
    counts_as_rework_loop: bool = True


@dataclass(frozen=True, slots=True)
class RouteDef:
    code: str
    steps: tuple[RouteStep, ...]
    rework: tuple[ReworkRule, ...]
    loop_cap: int

    def step(self, station_type: str) -> RouteStep | None:
        return next((s for s in self.steps if s.station_type == station_type), None)

    def following(self, station_type: str) -> str | None:
        """The station type after ``station_type`` on this route (None: the route is done)."""
        types = [s.station_type for s in self.steps]
        index = types.index(station_type)
        return types[index + 1] if index + 1 < len(types) else None

    def rework_for(self, station_type: str, failure_mode: str | None) -> ReworkRule | None:
        exact = [r for r in self.rework if r.failed_at == station_type and r.failure_mode == failure_mode]
        if exact and failure_mode is not None:
            return exact[0]
        return next((r for r in self.rework if r.failed_at == station_type and r.failure_mode is None), None)

    def startable_types(self, next_step: str) -> list[str]:
        """Station types a unit whose next step is ``next_step`` may start: optional steps may be skipped."""
        if next_step == REPAIR or self.step(next_step) is None:
            return [next_step]
        allowed = []
        for step in self.steps[self.steps.index(self.step(next_step)) :]:  # type: ignore[arg-type]
            allowed.append(step.station_type)
            if step.required:
                break
        return allowed


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One attempt of a unit at a station, as the interlock needs to see it."""

    station_type: str
    station_id: str
    status: AttemptStatus
    summary: str | None = None  # the failing checks' sentence, or the abort reason
    failure_mode: str | None = None
    use_as_is: bool = False
    started_at: datetime | None = None

    @property
    def counts_as_passed(self) -> bool:
        return self.status is AttemptStatus.PASSED or (self.status is AttemptStatus.FAILED and self.use_as_is)


@dataclass(frozen=True, slots=True)
class UnitView:
    serial: str
    status: UnitStatus
    next_step: str | None
    reentry_step: str | None
    rework_loops: int
    hold_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StartDecision:
    allowed: bool
    reason: str
    resume_open_attempt: bool = False
    retest_index: int = 0


@dataclass(frozen=True, slots=True)
class Transition:
    """The unit's state after a verdict; ``hold_reason`` set means: put the unit on hold."""

    status: UnitStatus
    next_step: str | None
    reentry_step: str | None
    rework_loops: int
    hold_reason: str | None = None
    instruction: str = ""


def _latest(history: Sequence[AttemptView], station_type: str) -> AttemptView | None:
    closed = [a for a in history if a.station_type == station_type and a.status is not AttemptStatus.OPEN]
    return closed[-1] if closed else None


def _describe(attempt: AttemptView) -> str:
    word = {
        AttemptStatus.FAILED: "FAIL",
        AttemptStatus.RETEST: "RETEST",
        AttemptStatus.ABORTED: "aborted",
        AttemptStatus.PASSED: "PASS",
        AttemptStatus.OPEN: "open",
    }[attempt.status]
    return f"{word}, {attempt.summary}" if attempt.summary else word


def _latest_results_in_a_row(
    history: Sequence[AttemptView], station_type: str, counts: Callable[[AttemptView], bool]
) -> int:
    """How many of the latest results are at ``station_type`` and ``counts`` says yes to, in a row; an open
    or aborted attempt has no result: it neither counts nor ends the run."""
    count = 0
    for attempt in reversed(history):
        if attempt.status in (AttemptStatus.OPEN, AttemptStatus.ABORTED):
            continue
        if attempt.station_type != station_type or not counts(attempt):
            break
        count += 1
    return count


def consecutive_retests(history: Sequence[AttemptView], station_type: str) -> int:
    """RETEST results at ``station_type`` since its last result with another outcome, there or at any
    other station (a rework loop starts the count again, even after a RETEST overridden to FAIL)."""
    return _latest_results_in_a_row(history, station_type, lambda a: a.status is AttemptStatus.RETEST)


def _tests_not_valid_in_a_row(route: RouteDef, history: Sequence[AttemptView], station_type: str) -> int:
    """FAIL results at ``station_type`` right before now whose rework was a repeat counting no rework loop."""

    def not_valid(attempt: AttemptView) -> bool:
        rule = route.rework_for(station_type, attempt.failure_mode)
        return (
            attempt.status is AttemptStatus.FAILED
            and rule is not None
            and rule.action is ReworkAction.REPEAT
            and not rule.counts_as_rework_loop
        )

    return _latest_results_in_a_row(history, station_type, not_valid)


def _no_stations(station_type: str) -> Sequence[str]:
    return ()


def _to_repair(unit: UnitView, stations_of_type: Callable[[str], Sequence[str]]) -> tuple[str, str]:
    """The repair a unit is due at, named with its bench(es), and where it re-enters after it:
    ("repair at REP-01", ", then re-enter at brazing")."""
    benches = stations_of_type(REPAIR)
    at = f" at {' or '.join(benches)}" if benches else ""
    then = f", then re-enter at {plant_name(unit.reentry_step)}" if unit.reentry_step else ""
    return f"{plant_name(REPAIR)}{at}", then


def _where_next(
    route: RouteDef, unit: UnitView, history: Sequence[AttemptView], stations_of_type: Callable[[str], Sequence[str]]
) -> str:
    """Where the unit must go next, in the route's terms: "repair at REP-01, then re-enter at brazing",
    "repeat vacuum dehydration", "leak test" ("" when it has no next step)."""
    next_step = unit.next_step
    if next_step is None:
        return ""
    if next_step == REPAIR:
        bench, then = _to_repair(unit, stations_of_type)
        return f"{bench}{then}"
    latest = _latest(history, next_step)
    if latest is not None and latest.status is AttemptStatus.RETEST:
        return f"measure again at {plant_name(next_step)}"
    if latest is not None and latest.status is AttemptStatus.FAILED:
        rule = route.rework_for(next_step, latest.failure_mode)
        if rule is not None and rule.action is ReworkAction.REPEAT and rule.reenter_at == next_step:
            return f"{'repeat' if rule.counts_as_rework_loop else 'test again at'} {plant_name(next_step)}"
    return plant_name(next_step)


def check_start(
    *,
    route: RouteDef,
    unit: UnitView,
    history: Sequence[AttemptView],
    station_type: str,
    station_id: str,
    stations_of_type: Callable[[str], Sequence[str]] = _no_stations,
) -> StartDecision:
    """May ``unit`` start at station ``station_id`` of type ``station_type``? If not, say why, and where
    the unit must go instead.

    ``stations_of_type``: the ids of the stations of a type on ``station_id``'s line (the repair bench a
    refusal sends the unit to); asked only to word a refusal."""
    serial = unit.serial
    if unit.status is UnitStatus.SCRAPPED:
        return StartDecision(False, f"{serial} was scrapped; it cannot start anywhere")
    if unit.status is UnitStatus.ON_HOLD:
        reasons = "; ".join(unit.hold_reasons) or "no reason recorded"
        return StartDecision(False, f"{serial} is on hold ({reasons}); a quality engineer must release it")
    if unit.status is UnitStatus.FINISHED:
        return StartDecision(False, f"{serial} has finished its route; it cannot start again without rework")

    open_attempts = [a for a in history if a.status is AttemptStatus.OPEN]
    if open_attempts:
        current = open_attempts[-1]
        if current.station_id == station_id:
            return StartDecision(True, "", resume_open_attempt=True)
        return StartDecision(
            False,
            f"{serial} is still in process at {current.station_id} ({plant_name(current.station_type)}) "
            "with no result yet; finish or abort it there first",
        )

    next_step = unit.next_step
    if next_step is None:
        return StartDecision(False, f"{serial} has no next step on route {route.code}")

    if station_type == REPAIR:
        if next_step == REPAIR:
            return StartDecision(True, "")
        return StartDecision(False, f"{serial} has no repair pending; its next step is {plant_name(next_step)}")

    step = route.step(station_type)
    if step is None:
        return StartDecision(
            False, f"{plant_name(station_type)} is not a step of route {route.code} that {serial} follows"
        )

    for earlier in route.steps:
        if earlier.position >= step.position or not earlier.required:
            continue
        latest = _latest(history, earlier.station_type)
        if latest is not None and latest.counts_as_passed:
            continue
        # Where to go comes before the last attempt's findings: a PLC's Reason is cut at 254 bytes.
        where = _where_next(route, unit, history, stations_of_type)
        not_passed = plant_name(earlier.station_type)
        instead = f"next: {where}; " if where not in ("", not_passed) and next_step != station_type else ""
        last = "no attempt yet" if latest is None else f"last attempt: {_describe(latest)}"
        return StartDecision(False, f"{serial} has not passed {not_passed} ({instead}{last})")

    if next_step == REPAIR:
        failed_at = next((a for a in reversed(history) if a.status is AttemptStatus.FAILED), None)
        why = f" (last failure at {plant_name(failed_at.station_type)}: {_describe(failed_at)})" if failed_at else ""
        bench, then = _to_repair(unit, stations_of_type)
        return StartDecision(False, f"{serial} must go to {bench} first{then}{why}")

    if station_type not in route.startable_types(next_step):
        latest = _latest(history, station_type)
        if latest is not None and latest.counts_as_passed:
            return StartDecision(
                False,
                f"{serial} has already passed {plant_name(station_type)}; its next step is {plant_name(next_step)} "
                "(running a passed station again needs a rework decision)",
            )
        return StartDecision(False, f"{serial} is expected at {plant_name(next_step)}, not {plant_name(station_type)}")

    # The retest cap is the specification's: judging turns a RETEST at the cap into a FAIL.
    return StartDecision(True, "", retest_index=consecutive_retests(history, station_type))


def _named(station_type: str | None) -> str | None:
    """A station type in the plant's words; None (no station named) stays None."""
    return None if station_type is None else plant_name(station_type)


def first_step_not_passed(route: RouteDef, passed: Collection[str]) -> str | None:
    """The first required step of ``route`` whose latest result does not count as passed (None: all do).

    ``passed`` names the station types whose latest result counts as passed (a PASS that no override
    turned into a FAIL, or a concession)."""
    return next((s.station_type for s in route.steps if s.required and s.station_type not in passed), None)


def route_complete(route: RouteDef, passed: Collection[str]) -> bool:
    """Has the unit passed (or been conceded at) the last step of its route? Only then is it finished."""
    return bool(route.steps) and route.steps[-1].station_type in passed


def after_verdict(
    *,
    route: RouteDef,
    unit: UnitView,
    station_type: str,
    verdict: Verdict,
    failure_mode: str | None,
    summary: str | None,
    history: Sequence[AttemptView] = (),
) -> Transition:
    """Where the unit goes after ``verdict`` at ``station_type`` (line.md's rework table, as route data).

    ``history``: the unit's attempts before this one; it bounds the repeats that count no rework loop
    (a test not valid, again and again, is a tester to look at: held at the route's loop cap)."""
    loops = unit.rework_loops
    if station_type == REPAIR:
        if verdict is Verdict.PASS:
            target = unit.reentry_step
            return Transition(UnitStatus.IN_PROCESS, target, None, loops, instruction=f"re-enter at {_named(target)}")
        if verdict is Verdict.RETEST:
            return Transition(UnitStatus.IN_PROCESS, REPAIR, unit.reentry_step, loops, instruction="repeat repair")
        # the repair is still to be done: a rework release with no target sends the unit back to it
        return Transition(
            UnitStatus.ON_HOLD,
            REPAIR,
            unit.reentry_step,
            loops,
            hold_reason=f"repair failed{': ' + summary if summary else ''}",
            instruction="hold for a quality engineer",
        )

    if verdict is Verdict.PASS:
        following = route.following(station_type)
        if following is None:
            return Transition(UnitStatus.FINISHED, None, None, loops, instruction="route complete")
        return Transition(UnitStatus.IN_PROCESS, following, None, loops, instruction=f"next: {plant_name(following)}")
    if verdict is Verdict.RETEST:
        return Transition(
            UnitStatus.IN_PROCESS, station_type, None, loops, instruction=f"measure again at {plant_name(station_type)}"
        )

    what = f"FAIL at {plant_name(station_type)}" + (f": {summary}" if summary else "")
    rule = route.rework_for(station_type, failure_mode)
    if rule is None:
        return Transition(
            UnitStatus.ON_HOLD,
            None,
            None,
            loops,
            hold_reason=f"{what} (no rework path on route {route.code}; quality engineer decides)",
            instruction="hold for a quality engineer",
        )
    noted = f" ({rule.note})" if rule.note else ""
    if rule.action is ReworkAction.HOLD:
        return Transition(
            UnitStatus.ON_HOLD,
            rule.reenter_at,
            rule.reenter_at,
            loops,
            hold_reason=f"{what} (quality engineer decides)",
            instruction=f"hold for a quality engineer{noted}",
        )
    if rule.action is ReworkAction.REPEAT and not rule.counts_as_rework_loop:
        in_a_row = 1 + _tests_not_valid_in_a_row(route, history, station_type)
        if in_a_row > route.loop_cap:
            return Transition(
                UnitStatus.ON_HOLD,
                rule.reenter_at,
                None,
                loops,
                hold_reason=f"{what} ({in_a_row} tests in a row not valid: look at the tester; quality engineer "
                "decides)",
                instruction=f"hold for a quality engineer: {in_a_row} tests in a row not valid",
            )
        return Transition(
            UnitStatus.IN_PROCESS,
            rule.reenter_at,
            None,
            loops,
            instruction=f"test again at {_named(rule.reenter_at)}{noted}: the test was not valid, no rework loop",
        )
    loops += 1
    next_step = REPAIR if rule.action is ReworkAction.REPAIR else rule.reenter_at
    reentry = rule.reenter_at if rule.action is ReworkAction.REPAIR else None
    if loops > route.loop_cap:
        return Transition(
            UnitStatus.ON_HOLD,
            next_step,
            rule.reenter_at,
            loops,
            hold_reason=f"{what} (rework loop cap {route.loop_cap} reached)",
            instruction="hold for a quality engineer: rework loop cap reached",
        )
    instruction = (
        f"to {plant_name(REPAIR)}{noted}, then re-enter at {_named(rule.reenter_at)}"
        if rule.action is ReworkAction.REPAIR
        else f"repeat {_named(rule.reenter_at)}{noted}"
    )
    return Transition(UnitStatus.IN_PROCESS, next_step, reentry, loops, instruction=instruction)
