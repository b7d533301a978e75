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


# --- where a refusal sends the unit, in the plant's words ------------------------------------------

LINE_ROUTE = RouteDef(
    code="MONOBLOC",
    steps=tuple(
        RouteStep(i, t)
        for i, t in enumerate(
            ("coil_expansion", "brazing", "sub_base_assembly", "vacuum_dehydration", "charging", "leak_test"), 1
        )
    ),
    rework=(
        ReworkRule("brazing", ReworkAction.REPAIR, "brazing", note="re-braze"),
        ReworkRule("vacuum_dehydration", ReworkAction.REPEAT, "vacuum_dehydration", failure_mode="moisture"),
        ReworkRule("vacuum_dehydration", ReworkAction.REPAIR, "vacuum_dehydration", failure_mode="leak"),
        ReworkRule(
            "leak_test", ReworkAction.REPEAT, "leak_test", failure_mode="instrument", counts_as_rework_loop=False
        ),
    ),
    loop_cap=2,
)
PASSED_TO_SUB_BASE = [
    AttemptView("coil_expansion", "CEX-01", AttemptStatus.PASSED),
    AttemptView("brazing", "BRZ-01", AttemptStatus.PASSED),
    AttemptView("sub_base_assembly", "SBA-01", AttemptStatus.PASSED),
]


def _benches(station_type: str) -> list[str]:
    return {"repair": ["REP-01"]}.get(station_type, [])


def test_a_unit_refused_downstream_of_a_failed_brazing_is_told_to_go_to_the_repair_bench_first() -> None:
    history = [
        AttemptView("coil_expansion", "CEX-01", AttemptStatus.PASSED),
        AttemptView("brazing", "BRZ-01", AttemptStatus.FAILED, summary="peak part temperature 845 °C exceeds 830 °C"),
    ]
    unit = UnitView("HP26-0000001", UnitStatus.IN_PROCESS, "repair", "brazing", 1)
    downstream = check_start(
        route=LINE_ROUTE,
        unit=unit,
        history=history,
        station_type="sub_base_assembly",
        station_id="SBA-01",
        stations_of_type=_benches,
    )
    assert downstream.reason == (
        "HP26-0000001 has not passed brazing (next: repair at REP-01, then re-enter at brazing; "
        "last attempt: FAIL, peak part temperature 845 °C exceeds 830 °C)"
    )
    where_it_failed = check_start(
        route=LINE_ROUTE,
        unit=unit,
        history=history,
        station_type="brazing",
        station_id="BRZ-01",
        stations_of_type=_benches,
    )
    assert where_it_failed.reason == (
        "HP26-0000001 must go to repair at REP-01 first, then re-enter at brazing "
        "(last failure at brazing: FAIL, peak part temperature 845 °C exceeds 830 °C)"
    )
    unknown_bench = check_start(
        route=LINE_ROUTE, unit=unit, history=history, station_type="brazing", station_id="BRZ-01"
    )
    assert unknown_bench.reason.startswith("HP26-0000001 must go to repair first, then re-enter at brazing (")


@pytest.mark.parametrize(
    ("status", "mode", "next_words"),
    [
        (AttemptStatus.FAILED, "moisture", "repeat vacuum dehydration"),
        (AttemptStatus.RETEST, None, "measure again at vacuum dehydration"),
    ],
)
def test_a_unit_refused_downstream_of_a_vacuum_to_do_again_is_told_so(
    status: AttemptStatus, mode: str | None, next_words: str
) -> None:
    history = [*PASSED_TO_SUB_BASE, AttemptView("vacuum_dehydration", "VAC-01", status, "rise levels off", mode)]
    unit = UnitView("HP26-0000001", UnitStatus.IN_PROCESS, "vacuum_dehydration", None, 1)
    refused = check_start(route=LINE_ROUTE, unit=unit, history=history, station_type="charging", station_id="CHG-01")
    described = "FAIL" if status is AttemptStatus.FAILED else "RETEST"
    assert refused.reason == (
        f"HP26-0000001 has not passed vacuum dehydration (next: {next_words}; last attempt: {described}, "
        "rise levels off)"
    )


def test_a_leak_test_not_valid_is_to_be_tested_again_in_the_plants_words() -> None:
    history = [
        *PASSED_TO_SUB_BASE,
        AttemptView("vacuum_dehydration", "VAC-01", AttemptStatus.PASSED),
        AttemptView("charging", "CHG-01", AttemptStatus.PASSED),
        AttemptView("leak_test", "LKT-01", AttemptStatus.FAILED, "reference-leak check expired", "instrument"),
    ]
    unit = UnitView("HP26-0000001", UnitStatus.IN_PROCESS, "leak_test", None, 0)
    route = RouteDef("MONOBLOC", (*LINE_ROUTE.steps, RouteStep(7, "run_in")), LINE_ROUTE.rework, 2)
    refused = check_start(route=route, unit=unit, history=history, station_type="run_in", station_id="RUN-01")
    assert refused.reason.startswith("HP26-0000001 has not passed leak test (next: test again at leak test; ")


def test_the_other_refusals_name_station_types_in_the_plants_words() -> None:
    passed_vacuum = [*PASSED_TO_SUB_BASE, AttemptView("vacuum_dehydration", "VAC-01", AttemptStatus.PASSED)]
    due_at_charging = UnitView("HP26-0000001", UnitStatus.IN_PROCESS, "charging", None, 0)

    def reason(station_type: str, history: list[AttemptView], unit: UnitView = due_at_charging) -> str:
        return check_start(
            route=LINE_ROUTE, unit=unit, history=history, station_type=station_type, station_id="X-01"
        ).reason

    assert reason("sub_base_assembly", passed_vacuum) == (
        "HP26-0000001 has already passed sub-base assembly; its next step is charging "
        "(running a passed station again needs a rework decision)"
    )
    due_at_vacuum = UnitView("HP26-0000001", UnitStatus.IN_PROCESS, "vacuum_dehydration", None, 0)
    assert reason("charging", passed_vacuum, due_at_vacuum) == (
        "HP26-0000001 is expected at vacuum dehydration, not charging"
    )
    assert reason("repair", passed_vacuum) == "HP26-0000001 has no repair pending; its next step is charging"
    open_at_vacuum = [*PASSED_TO_SUB_BASE, AttemptView("vacuum_dehydration", "VAC-01", AttemptStatus.OPEN)]
    assert reason("charging", open_at_vacuum).startswith(
        "HP26-0000001 is still in process at VAC-01 (vacuum dehydration) with no result yet"
    )
    assert reason("run_in", passed_vacuum) == "run-in is not a step of route MONOBLOC that HP26-0000001 follows"


def test_the_stations_of_a_type_are_asked_only_to_word_a_refusal() -> None:
    """The release path (a PLC's request) reads no station list: only a refusal that names the bench does."""

    def never(station_type: str) -> list[str]:
        raise AssertionError(f"asked for the {station_type} stations on a release")

    unit = UnitView("HP26-0000001", UnitStatus.IN_PROCESS, "vacuum_dehydration", None, 0)
    released = check_start(
        route=LINE_ROUTE,
        unit=unit,
        history=PASSED_TO_SUB_BASE,
        station_type="vacuum_dehydration",
        station_id="VAC-01",
        stations_of_type=never,
    )
    assert released.allowed
