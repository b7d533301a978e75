"""The interlock as pure functions: cases the HTTP tests do not reach."""

from __future__ import annotations

import pytest

from app.domain.results import Verdict
from app.domain.routing import (
    AttemptStatus,
    AttemptView,
    ReworkAction,
    ReworkRule,
    RouteDef,
    RouteStep,
    UnitStatus,
    UnitView,
    after_verdict,
    check_start,
)

ROUTE = RouteDef(
    code="R",
    steps=(RouteStep(1, "a"), RouteStep(2, "b", required=False), RouteStep(3, "c")),
    rework=(ReworkRule("c", ReworkAction.REPAIR, "a"),),
    loop_cap=1,
)


def _unit(next_step: str | None, loops: int = 0, status: UnitStatus = UnitStatus.IN_PROCESS) -> UnitView:
    return UnitView("HP26-0000001", status, next_step, None, loops)


def test_optional_step_may_be_skipped_but_not_a_required_one() -> None:
    history = [AttemptView("a", "A-1", AttemptStatus.PASSED)]
    assert check_start(route=ROUTE, unit=_unit("b"), history=history, station_type="c", station_id="C-1").allowed
    assert check_start(route=ROUTE, unit=_unit("b"), history=history, station_type="b", station_id="B-1").allowed
    refused = check_start(route=ROUTE, unit=_unit("a"), history=[], station_type="c", station_id="C-1")
    assert not refused.allowed and refused.reason == "HP26-0000001 has not passed a (no attempt yet)"


def test_second_rework_past_a_cap_of_one_goes_on_hold() -> None:
    first = after_verdict(
        route=ROUTE, unit=_unit("c"), station_type="c", verdict=Verdict.FAIL, failure_mode=None, summary="x"
    )
    assert (first.status, first.next_step, first.reentry_step, first.rework_loops) == (
        UnitStatus.IN_PROCESS,
        "repair",
        "a",
        1,
    )
    second = after_verdict(
        route=ROUTE, unit=_unit("c", loops=1), station_type="c", verdict=Verdict.FAIL, failure_mode=None, summary="x"
    )
    assert second.status is UnitStatus.ON_HOLD and second.hold_reason and "loop cap 1" in second.hold_reason


def test_a_repeat_that_is_no_rework_loop_never_reaches_the_loop_cap() -> None:
    """A test repeated because the test was not valid (the instrument, not the unit) reworks nothing."""
    retest = ReworkRule(
        "c",
        ReworkAction.REPEAT,
        "c",
        failure_mode="instrument",
        note="check the instrument first",
        counts_as_rework_loop=False,
    )
    route = RouteDef("R", ROUTE.steps, (retest, ReworkRule("c", ReworkAction.REPEAT, "c")), loop_cap=1)
    for _ in range(3):
        t = after_verdict(
            route=route, unit=_unit("c"), station_type="c", verdict=Verdict.FAIL, failure_mode="instrument", summary="x"
        )
        assert (t.status, t.next_step, t.rework_loops, t.hold_reason) == (UnitStatus.IN_PROCESS, "c", 0, None)
    assert t.instruction == "test again at c (check the instrument first): the test was not valid, no rework loop"
    counted = after_verdict(
        route=route,
        unit=_unit("c", loops=1),
        station_type="c",
        verdict=Verdict.FAIL,
        failure_mode="moisture",
        summary="x",
    )
    assert counted.status is UnitStatus.ON_HOLD and counted.rework_loops == 2


def test_fail_without_a_rework_rule_holds_for_a_quality_engineer() -> None:
    t = after_verdict(
        route=ROUTE, unit=_unit("a"), station_type="a", verdict=Verdict.FAIL, failure_mode=None, summary="bent fin"
    )
    assert t.status is UnitStatus.ON_HOLD and t.hold_reason and "no rework path" in t.hold_reason


def test_use_as_is_attempt_counts_as_passed_for_later_steps() -> None:
    history = [AttemptView("a", "A-1", AttemptStatus.FAILED, use_as_is=True)]
    assert check_start(route=ROUTE, unit=_unit("c"), history=history, station_type="c", station_id="C-1").allowed


def test_a_retest_restarts_the_same_station_and_counts_the_retests() -> None:
    history = [
        AttemptView("a", "A-1", AttemptStatus.PASSED),
        AttemptView("c", "C-1", AttemptStatus.RETEST),
        AttemptView("c", "C-1", AttemptStatus.RETEST),
    ]
    d = check_start(route=ROUTE, unit=_unit("c"), history=history, station_type="c", station_id="C-1")
    assert d.allowed and d.retest_index == 2


def test_an_aborted_attempt_neither_counts_as_a_retest_nor_resets_the_count() -> None:
    """A station that moved on without a result measured nothing: the unit's retests at that station
    before it still count against the cap (else abandoning a cycle would buy another retest)."""
    history = [
        AttemptView("a", "A-1", AttemptStatus.PASSED),
        AttemptView("c", "C-1", AttemptStatus.RETEST),
        AttemptView("c", "C-1", AttemptStatus.ABORTED),
        AttemptView("c", "C-1", AttemptStatus.RETEST),
        AttemptView("c", "C-1", AttemptStatus.ABORTED),
    ]
    d = check_start(route=ROUTE, unit=_unit("c"), history=history, station_type="c", station_id="C-1")
    assert d.allowed and d.retest_index == 2
    after_a_fail = [*history[:2], AttemptView("c", "C-1", AttemptStatus.FAILED), history[3]]
    d = check_start(route=ROUTE, unit=_unit("c"), history=after_a_fail, station_type="c", station_id="C-1")
    assert d.retest_index == 1  # a result with another outcome still ends the run of retests


def test_a_rework_loop_starts_the_retest_count_again() -> None:
    """A RETEST overridden to FAIL stays a RETEST in the record; after the rework loop the unit's new
    attempt at that station starts with its whole retest allowance."""
    history = [
        AttemptView("a", "A-1", AttemptStatus.PASSED),
        AttemptView("c", "C-1", AttemptStatus.RETEST),
        AttemptView("c", "C-1", AttemptStatus.RETEST),
        AttemptView("a", "A-1", AttemptStatus.PASSED),  # the rework loop re-entered at a
        AttemptView("c", "C-1", AttemptStatus.ABORTED),
    ]
    d = check_start(route=ROUTE, unit=_unit("c", loops=1), history=history, station_type="c", station_id="C-1")
    assert d.allowed and d.retest_index == 0


@pytest.mark.parametrize(
    ("status", "summary", "described"),
    [
        (AttemptStatus.RETEST, "leak signal inside the guard band", "RETEST, leak signal inside the guard band"),
        (AttemptStatus.ABORTED, "station moved on without a result", "aborted, station moved on without a result"),
    ],
    ids=["retest", "aborted"],
)
def test_an_earlier_step_whose_latest_attempt_is_a_retest_or_aborted_has_not_passed(
    status: AttemptStatus, summary: str, described: str
) -> None:
    """The interlock's own check of the earlier steps, not only ``next_step``: were the unit's next step
    ever wrong (a data repair, a migration), a step measured again after its PASS still blocks what follows
    it until it has a PASS of its own (a RETEST or an abort measured nothing that counts)."""
    history = [
        AttemptView("a", "A-1", AttemptStatus.PASSED),
        AttemptView("a", "A-1", status, summary=summary),
    ]
    refused = check_start(route=ROUTE, unit=_unit("c"), history=history, station_type="c", station_id="C-1")
    assert (refused.allowed, refused.reason) == (False, f"HP26-0000001 has not passed a (last attempt: {described})")
