"""The SPC page's data over the real app and database: one value per unit, judged under one revision.

Units go through the stations over REST with the measured values set by the test; the reference
capability is computed here, with numpy, from the values put in and the textbook formulas (AIAG SPC
manual, ISO 22514-2), never with the code under test."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.persistence.db import make_engine, make_session_factory
from app.ui import spc
from app.ui.spc_data import Sample, characteristics, sample
from tests.api.driver import MONOBLOC, Line, station_payload
from tests.conftest import DbUnderTest

MODEL = "HPM-06-R290-EVI"
D2 = 2.0 / math.sqrt(math.pi)  # d2 of moving ranges of two: E|X1 − X2| for two standard normal values


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client, model=MODEL)


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def _sample(sessions: sessionmaker[Session], key: str, *, limit: int, revision_id: int | None = None) -> Sample:
    """A sample read in a transaction of its own (SQLite: the app's requests must not wait for it)."""
    characteristic = next(c for c in characteristics() if c.key == key)
    chosen = {} if revision_id is None else {"revision_id": revision_id}
    with sessions() as session:
        return sample(session=session, characteristic=characteristic, product_model=MODEL, limit=limit, **chosen)


def _cpk(values: list[float], low: float | None, high: float | None, *, overall: bool = False) -> float:
    """Cpk with the within sigma of an individuals chart, mean moving range / d2; with ``overall``,
    Ppk with the standard deviation of the values. A one-sided spec: the bounded side only."""
    x = np.asarray(values)
    sigma = float(np.std(x, ddof=1)) if overall else float(np.mean(np.abs(np.diff(x)))) / D2
    mean = float(np.mean(x))
    sides = [d for d in (None if high is None else high - mean, None if low is None else mean - low) if d is not None]
    return min(sides) / (3 * sigma)


def _c4(n: float) -> float:
    """c4 = √(2/(n−1))·Γ(n/2)/Γ((n−1)/2): E[s]/σ for n normal values."""
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def _rise_test_unit(line: Line, serial: str, seed: int, **overrides: float) -> dict[str, Any]:
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial, seed=seed)
    expect = "FAIL" if overrides else "PASS"
    body = line.run("vacuum_dehydration", serial, expect, seed=seed, overrides=overrides)
    return next(c for c in body["checks"] if c["name"] == "rise_test")  # type: ignore[no-any-return]


def _page(client: Any, **params: Any) -> tuple[str, dict[str, Any]]:
    html = client.get("/ui/spc", params={"model": MODEL, **params})
    assert html.status_code == 200, html.text
    found = re.search(r'<script type="application/json" id="spc-data">(.*?)</script>', html.text, re.S)
    assert found, "no chart on the page"
    return html.text, json.loads(found.group(1))


def _text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(.*?)</(?:p|div|ul)>', html, re.S)
    assert found, f"no #{element_id} on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def _n_card(html: str) -> int:
    found = re.search(r'muted">n</div><div class="big">(\d+)<', html)
    assert found
    return int(found.group(1))


def _braze(line: Line, serial: str, seed: int, belt_speed_mm_min: float) -> int:
    line.run("coil_expansion", serial, seed=seed)
    body = line.run("brazing", serial, overrides={"BeltSpeed_mm_min": belt_speed_mm_min}, seed=seed)
    return int(body["attempt"]["spec_revision_id"])


def _approve_new_belt_profile(client: Any, *, note: str) -> int:
    """A brazing revision for a 320 mm/min belt profile (304–336 mm/min), approved: its id."""
    draft = client.post(
        "/api/v1/spec-revisions",
        json={
            "station_type": "brazing",
            "product_model": MODEL,
            "overrides": {"limits": {"belt_speed_mm_min": {"low": 304.0, "high": 336.0}}},
            "note": note,
        },
    )
    assert draft.status_code == 201, draft.text
    approved = client.post(
        f"/api/v1/spec-revisions/{draft.json()['id']}/approve",
        json={"reason": "new furnace profile", "signature": {"secret": "demo-quality"}},
    )
    assert approved.status_code == 200, approved.text
    return int(draft.json()["id"])


def test_capability_is_computed_per_revision_and_results_under_other_limits_are_left_out(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    rng = np.random.default_rng(3)
    serials = line.work_order(first="HP26-5000001", quantity=40)
    old_values = [float(np.round(rng.normal(300.0, 2.0), 1)) for _ in range(20)]
    new_values = [float(np.round(rng.normal(320.0, 2.0), 1)) for _ in range(20)]
    old = {_braze(line, sn, i + 1, v) for i, (sn, v) in enumerate(zip(serials[:20], old_values, strict=True))}
    new_revision_id = _approve_new_belt_profile(client, note="new belt profile, 320 mm/min")
    new = {_braze(line, sn, i + 21, v) for i, (sn, v) in enumerate(zip(serials[20:], new_values, strict=True))}
    assert len(old) == 1 and new == {new_revision_id}
    (old_revision,), (new_revision,) = old, new
    reference_new = _cpk(new_values, 304.0, 336.0)
    reference_old = _cpk(old_values, 285.0, 315.0)

    newest = _sample(sessions, "brazing:belt_speed", limit=40)
    report = spc.analyse(newest.values, low=newest.low, high=newest.high)
    assert report.capability.cpk == pytest.approx(reference_new)
    assert newest.values == pytest.approx(new_values) and newest.serials == serials[20:]
    assert (newest.low, newest.high) == (304.0, 336.0) and newest.revision_id == new_revision
    assert [(r.revision_id, r.units) for r in newest.left_out_earlier] == [(old_revision, 20)]

    earlier = _sample(sessions, "brazing:belt_speed", limit=40, revision_id=old_revision)
    assert earlier.values == pytest.approx(old_values) and (earlier.low, earlier.high) == (285.0, 315.0)
    assert spc.analyse(earlier.values, low=285.0, high=315.0).capability.cpk == pytest.approx(reference_old)
    assert [(r.revision_id, r.units) for r in earlier.left_out_later] == [(new_revision, 20)]

    html, chart = _page(client, characteristic="brazing:belt_speed", n=40)
    assert _text_of(html, "cpk") == f"{reference_new:.3g}" and _n_card(html) == 20
    assert chart["values"] == pytest.approx(new_values) and (chart["low"], chart["high"]) == (304.0, 336.0)
    left_out = _text_of(html, "left-out")
    assert f"20 earlier result(s) (revision {old_revision}: 20)" in left_out, left_out
    assert f"judged under spec revision {new_revision}" in _text_of(html, "basis")

    html, chart = _page(client, characteristic="brazing:belt_speed", n=40, revision=old_revision)
    assert _text_of(html, "cpk") == f"{reference_old:.3g}"
    assert chart["values"] == pytest.approx(old_values) and (chart["low"], chart["high"]) == (285.0, 315.0)
    assert f"20 later result(s) (revision {new_revision}: 20)" in _text_of(html, "left-out")


def test_last_n_counts_units_each_with_its_latest_judged_value(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    rng = np.random.default_rng(11)
    serials = line.work_order(first="HP26-5000001", quantity=30)
    final: dict[str, float] = {}
    for i, sn in enumerate(serials):
        for station_type in MONOBLOC[:4]:
            line.run(station_type, sn, seed=i + 1)
        value = float(np.round(rng.normal(140.0, 0.5), 2))
        if i % 6 == 5:  # near the upper limit: a RETEST, then the same charge measured again
            line.run("charging", sn, expect="RETEST", overrides={"ChargedMass_g": 141.8})
            value = 141.4
            line.run("charging", sn, overrides={"ChargedMass_g": value}, seed=99)
        elif i == 10:  # overcharged: FAIL, recovered at repair, evacuated and charged again
            line.run("charging", sn, expect="FAIL", overrides={"ChargedMass_g": 143.0})
            assert line.start("repair", sn).status_code == 201
            assert line.complete("repair", sn, overrides={"RecoveredMass_g": 143.0}).status_code == 200
            line.run("vacuum_dehydration", sn, seed=50)
            line.run("charging", sn, overrides={"ChargedMass_g": value}, seed=98)
        else:
            line.run("charging", sn, overrides={"ChargedMass_g": value})
        final[sn] = value
    last_units = serials[-25:]
    expected = [final[sn] for sn in last_units]

    got = _sample(sessions, "charging:charged_mass", limit=25)
    assert got.serials == last_units
    assert got.values == pytest.approx(expected)
    assert got.low is not None and got.high is not None
    reference = _cpk(expected, got.low, got.high)
    assert spc.analyse(got.values, low=got.low, high=got.high).capability.cpk == pytest.approx(reference)

    html, chart = _page(client, characteristic="charging:charged_mass", n=25)
    assert _n_card(html) == 25 and chart["serials"] == last_units
    assert _text_of(html, "cpk") == f"{reference:.3g}"
    assert _text_of(html, "ppk") == f"{_cpk(expected, got.low, got.high, overall=True):.3g}"
    assert _text_of(html, "pp") == f"{(got.high - got.low) / (6 * np.std(expected, ddof=1)):.3g}"
    assert "each unit's latest judged result" in _text_of(html, "basis")


def test_the_charted_limits_are_the_revisions_even_where_every_row_recorded_others(
    line: Line, client: Any, sessions: sessionmaker[Session], database: DbUnderTest
) -> None:
    """The brazing revision's belt speed limits are 285 … 315 mm/min; rows that recorded other limits
    (written by an older rules version, or edited) do not move the spec lines nor the capability."""
    serials = line.work_order(first="HP26-5000401", quantity=3)
    speeds = [299.0, 301.5, 300.2]
    revisions = {_braze(line, sn, i + 1, v) for i, (sn, v) in enumerate(zip(serials, speeds, strict=True))}
    assert len(revisions) == 1
    engine = create_engine(database.owner)
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                text("UPDATE check_result SET limit_low = 290.0, limit_high = 310.0 WHERE name = 'belt_speed'")
            )
            assert changed.rowcount == 3
    finally:
        engine.dispose()

    got = _sample(sessions, "brazing:belt_speed", limit=25)
    assert got.values == pytest.approx(speeds)
    assert (got.low, got.high) == (285.0, 315.0)
    html, chart = _page(client, characteristic="brazing:belt_speed", n=25)
    assert (chart["low"], chart["high"]) == (285.0, 315.0)
    assert _text_of(html, "cpk") == f"{_cpk(speeds, 285.0, 315.0):.3g}"


def test_a_chosen_revision_without_results_falls_back_to_the_newest_revision_with_results(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    serials = line.work_order(first="HP26-5000501", quantity=3)
    speeds = [299.0, 301.5, 300.2]
    (judged_under,) = {_braze(line, sn, i + 1, v) for i, (sn, v) in enumerate(zip(serials, speeds, strict=True))}
    new_revision_id = _approve_new_belt_profile(client, note="new belt profile, nothing brazed under it yet")

    got = _sample(sessions, "brazing:belt_speed", limit=25, revision_id=new_revision_id)
    assert got.revision_id == judged_under and got.values == pytest.approx(speeds)
    assert (got.low, got.high) == (285.0, 315.0)
    html, chart = _page(client, characteristic="brazing:belt_speed", n=25, revision=new_revision_id)
    assert chart["values"] == pytest.approx(speeds) and (chart["low"], chart["high"]) == (285.0, 315.0)
    assert f"judged under spec revision {judged_under}" in _text_of(html, "basis")


def test_a_moving_range_above_its_limit_alone_says_cpk_is_not_meaningful(line: Line, client: Any) -> None:
    """No Nelson rule on the individuals chart, every value inside x̄ ± 3σ, but one jump between two
    units wider than D4·MR̄ (3.267 × 0.154 g = 0.503 g): the process is out of control all the same."""
    serials = line.work_order(first="HP26-5000601", quantity=14)
    steps = [0, 1, 1, 0, 0, 1, -3, 4, 1, 0, 0, 1, 1, 0]
    masses = [round(140.0 + 0.1 * k, 1) for k in steps]
    for i, (sn, mass) in enumerate(zip(serials, masses, strict=True)):
        for station_type in MONOBLOC[:4]:
            line.run(station_type, sn, seed=i + 1)
        line.run("charging", sn, overrides={"ChargedMass_g": mass})
    ranges = np.abs(np.diff(masses))
    assert [i + 1 for i, r in enumerate(ranges) if r > 3.267 * ranges.mean()] == [7]  # 139.7 g → 140.4 g

    html, chart = _page(client, characteristic="charging:charged_mass", n=25)
    assert chart["values"] == pytest.approx(masses) and chart["flagged"] == [] and chart["dispersion_flagged"] == [7]
    assert _text_of(html, "violations").startswith("Moving-range chart: 1 moving range(s) above the upper limit")
    assert serials[7] in _text_of(html, "violations")
    assert "Cp and Cpk are not a meaningful capability" in _text_of(html, "out-of-control")


def test_a_unit_whose_latest_result_is_a_retest_is_charted_with_the_retest_value(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    """A RETEST is a judged result inside the guard band: leaving it out would chart only the values
    clear of the limits and flatter the capability."""
    serials = line.work_order(first="HP26-5000301", quantity=4)
    masses = [140.0, 140.3, 139.6, 141.8]  # the last one between the limit shrunk and widened by U
    for i, (sn, mass) in enumerate(zip(serials, masses, strict=True)):
        for station_type in MONOBLOC[:4]:
            line.run(station_type, sn, seed=i + 1)
        line.run("charging", sn, expect="RETEST" if i == 3 else "PASS", overrides={"ChargedMass_g": mass})

    got = _sample(sessions, "charging:charged_mass", limit=25)
    assert got.serials == serials and got.values == pytest.approx(masses) and got.units == 4
    html, chart = _page(client, characteristic="charging:charged_mass", n=25)
    assert chart["values"] == pytest.approx(masses) and _n_card(html) == 4
    assert _text_of(html, "ppk") == f"{_cpk(masses, got.low, got.high, overall=True):.3g}"


def test_each_units_readings_are_one_subgroup_on_an_xbar_s_chart_and_cpk_is_not_claimed_out_of_control(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    """Hairpins of one coil are one rational subgroup. Coil to coil σ 2.6 kN, within a coil 0.25 kN:
    charted hairpin by hairpin on an I-MR chart, σ within came mostly from consecutive hairpins of one
    coil and Cpk read about 4.5 where the coils made show a Ppk about 1.1. Coils have 4 to 8 hairpins:
    the subgroup sizes differ."""
    rng = np.random.default_rng(7)
    serials = line.work_order(first="HP26-5000101", quantity=30)
    coils: list[list[float]] = []
    for i, (sn, coil_mean) in enumerate(zip(serials, rng.normal(38.5, 2.6, len(serials)), strict=True)):
        forces = [float(np.round(f, 2)) for f in rng.normal(coil_mean, 0.25, int(rng.integers(4, 9)))]
        body = station_payload("coil_expansion", sn, seed=i + 1)
        (trace,) = [t for t in body["traces"] if t["channel"] == "HairpinPeakForce_kN"]
        trace["t_s"], trace["values"] = [float(k) for k in range(len(forces))], forces
        for x in body["measurements"]:
            if x["name"] == "PeakForce_kN":
                x["value"] = max(forces)
        assert line.start("coil_expansion", sn).status_code == 201
        done = client.post("/api/v1/stations/CEX-01/complete", json=body)
        assert done.status_code == 200 and done.json()["attempt"]["verdict"] == "PASS", done.text
        coils.append(forces)
    assert len({len(c) for c in coils}) > 1

    # The reference, from the formulas: pooled s over Σ(n − 1) degrees of freedom, σ within = s_p / c4(ν + 1).
    sizes = np.array([len(c) for c in coils])
    means = np.array([np.mean(c) for c in coils])
    sds = np.array([np.std(c, ddof=1) for c in coils])
    dof = int(np.sum(sizes - 1))
    sigma_within = math.sqrt(float(np.sum((sizes - 1) * sds**2)) / dof) / _c4(dof + 1)
    every = np.concatenate(coils)
    grand, sigma_overall = float(every.mean()), float(np.std(every, ddof=1))
    low, high = 30.0, 45.0
    cp, pp = (high - low) / (6 * sigma_within), (high - low) / (6 * sigma_overall)
    cpk = min(high - grand, grand - low) / (3 * sigma_within)
    ppk = min(high - grand, grand - low) / (3 * sigma_overall)
    c4_n = np.array([_c4(n) for n in sizes])
    s_centre = c4_n * sigma_within
    s_ucl = s_centre + 3 * sigma_within * np.sqrt(1 - c4_n**2)
    s_lcl = np.maximum(0.0, s_centre - 3 * sigma_within * np.sqrt(1 - c4_n**2))
    xbar_ucl, xbar_lcl = grand + 3 * sigma_within / np.sqrt(sizes), grand - 3 * sigma_within / np.sqrt(sizes)
    assert ppk < 1.33 < cpk  # the case: a capable-looking Cpk, a process whose coils are not

    html, chart = _page(client, characteristic="coil_expansion:hairpin_peak_force", n=30)
    assert _text_of(html, "cpk") == f"{cpk:.3g}"
    shown = {k: _text_of(html, k) for k in ("cp", "pp", "ppk")}
    assert shown == {"cp": f"{cp:.3g}", "pp": f"{pp:.3g}", "ppk": f"{ppk:.3g}"}
    assert chart["kind"] == "xbar_s" and chart["serials"] == serials and chart["sizes"] == sizes.tolist()
    assert chart["values"] == pytest.approx(means.tolist()) and chart["mean"] == pytest.approx(grand)
    assert chart["ucl"] == pytest.approx(xbar_ucl.tolist()) and chart["lcl"] == pytest.approx(xbar_lcl.tolist())
    assert chart["s"] == pytest.approx(sds.tolist()) and chart["s_centre"] == pytest.approx(s_centre.tolist())
    assert chart["s_ucl"] == pytest.approx(s_ucl.tolist()) and chart["s_lcl"] == pytest.approx(s_lcl.tolist())
    assert _text_of(html, "sigma-within") == f"{sigma_within:.4g}"
    assert _text_of(html, "sigma-overall") == f"{sigma_overall:.4g}"
    outside = int(np.sum((means > xbar_ucl) | (means < xbar_lcl)))
    assert outside > 0  # coils beyond the X̄ limits: out of statistical control
    assert f"Rule 1 (a point beyond 3σ): {outside} unit(s)" in _text_of(html, "violations")
    warning = _text_of(html, "out-of-control")
    assert "Cp and Cpk are not a meaningful capability" in warning and "Only Pp and Ppk" in warning
    assert _n_card(html) == every.size and _text_of(html, "subgroups") == "30"
    assert "n counts hairpins, of 30 units" in _text_of(html, "basis")

    got = _sample(sessions, "coil_expansion:hairpin_peak_force", limit=30)
    assert [len(g.readings) for g in got.subgroups] == sizes.tolist()
    assert [x for g in got.subgroups for x in g.readings] == pytest.approx(every.tolist())
    assert [g.serial for g in got.subgroups] == serials and got.units == 30
    assert (got.low, got.high) == (low, high)


def test_the_vacuum_rise_is_charted_in_pa_against_the_tight_rise_limit_of_its_revision(
    line: Line, client: Any, sessions: sessionmaker[Session], database: DbUnderTest
) -> None:
    """Every rise test records the tight-rise limit (30 Pa, U 2 Pa); a test too short records no rise,
    so it is not charted (it recorded its duration, 300 s, among rises of about 11 Pa); the sample's
    limits are the revision's, also when its newest row recorded none (a tight PASS under rules-3)."""
    serials = line.work_order(first="HP26-5000201", quantity=11)
    rises = [_rise_test_unit(line, sn, seed=i + 1) for i, sn in enumerate(serials[:10])]
    too_short = _rise_test_unit(line, serials[10], seed=50, RiseTestDuration_s=300.0)
    assert too_short["rule"] == "rise_test:too_short" and too_short["measured"] is None
    assert all((r["verdict"], r["limit_high"], r["uncertainty"]) == ("PASS", 30.0, 2.0) for r in rises)
    values = [r["measured"] for r in rises]
    assert all(0 < v < 30.0 for v in values)

    got = _sample(sessions, "vacuum_dehydration:rise_test", limit=25)
    assert got.values == pytest.approx(values) and got.serials == serials[:10]
    assert (got.low, got.high) == (None, 30.0)
    html, chart = _page(client, characteristic="vacuum_dehydration:rise_test", n=25)
    assert chart["values"] == pytest.approx(values) and (chart["low"], chart["high"]) == (None, 30.0)
    assert _text_of(html, "cp") == "—"  # one-sided: Cpk and Ppk on the upper side only
    assert _text_of(html, "cpk") == f"{_cpk(values, None, 30.0):.3g}"
    assert _text_of(html, "ppk") == f"{_cpk(values, None, 30.0, overall=True):.3g}"

    engine = create_engine(database.owner)  # the newest unit's rise test as rules-3 recorded a tight PASS
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                text(
                    "UPDATE check_result SET limit_high = NULL, uncertainty = NULL WHERE name = 'rise_test' "
                    "AND attempt_id = (SELECT max(a.id) FROM operation_attempt a JOIN unit u ON u.id = a.unit_id "
                    "WHERE u.serial = :sn AND a.station_type = 'vacuum_dehydration')"
                ),
                {"sn": serials[9]},
            )
            assert changed.rowcount == 1
    finally:
        engine.dispose()
    assert _sample(sessions, "vacuum_dehydration:rise_test", limit=25).high == 30.0
    assert _page(client, characteristic="vacuum_dehydration:rise_test", n=25)[1]["high"] == 30.0
