"""The SPC page's data over the real app and database: one value per unit, judged under one revision.

Units go through the stations over REST with the measured values set by the test; the reference
capability is computed here, with numpy, from the values put in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.persistence.db import make_engine, make_session_factory
from app.ui import spc
from app.ui.spc_data import Sample, characteristics, sample
from tests.api.driver import MONOBLOC, Line, station_payload

MODEL = "HPM-06-R290-EVI"


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


def _cpk(values: list[float], low: float, high: float) -> float:
    """Cpk with the within-subgroup sigma of an individuals chart: mean moving range / d2 (1.128)."""
    x = np.asarray(values)
    sigma = float(np.mean(np.abs(np.diff(x)))) / 1.128
    mean = float(np.mean(x))
    return min(high - mean, mean - low) / (3 * sigma)


def _page(client: Any, **params: Any) -> tuple[str, dict[str, Any]]:
    html = client.get("/ui/spc", params={"model": MODEL, **params})
    assert html.status_code == 200, html.text
    found = re.search(r'<script type="application/json" id="spc-data">(.*?)</script>', html.text, re.S)
    assert found, "no chart on the page"
    return html.text, json.loads(found.group(1))


def _text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(.*?)</(?:p|div)>', html, re.S)
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


def test_capability_is_computed_per_revision_and_results_under_other_limits_are_left_out(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    rng = np.random.default_rng(3)
    serials = line.work_order(first="HP26-5000001", quantity=40)
    old_values = [float(np.round(rng.normal(300.0, 2.0), 1)) for _ in range(20)]
    new_values = [float(np.round(rng.normal(320.0, 2.0), 1)) for _ in range(20)]
    old = {_braze(line, sn, i + 1, v) for i, (sn, v) in enumerate(zip(serials[:20], old_values, strict=True))}
    draft = client.post(
        "/api/v1/spec-revisions",
        json={
            "station_type": "brazing",
            "product_model": MODEL,
            "overrides": {"limits": {"belt_speed_mm_min": {"low": 304.0, "high": 336.0}}},
            "note": "new belt profile, 320 mm/min",
        },
    )
    assert draft.status_code == 201, draft.text
    approved = client.post(
        f"/api/v1/spec-revisions/{draft.json()['id']}/approve",
        json={"reason": "new furnace profile", "signature": {"secret": "demo-quality"}},
    )
    assert approved.status_code == 200, approved.text
    new = {_braze(line, sn, i + 21, v) for i, (sn, v) in enumerate(zip(serials[20:], new_values, strict=True))}
    assert len(old) == 1 and new == {draft.json()["id"]}
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
    assert "each unit's latest judged result" in _text_of(html, "basis")


def test_a_check_of_every_reading_is_charted_reading_by_reading_not_by_the_worst(
    line: Line, client: Any, sessions: sessionmaker[Session]
) -> None:
    """Each hairpin's peak force is a reading of the characteristic; the check row keeps only the
    worst of a coil's hairpins, whose capability says little about the expansion process."""
    rng = np.random.default_rng(5)
    serials = line.work_order(first="HP26-5000101", quantity=12)
    every: list[float] = []
    for i, sn in enumerate(serials):
        forces = [float(np.round(rng.normal(37.5, 1.2), 2)) for _ in range(6)]
        body = station_payload("coil_expansion", sn, seed=i + 1)
        (trace,) = [t for t in body["traces"] if t["channel"] == "HairpinPeakForce_kN"]
        trace["t_s"], trace["values"] = [float(k) for k in range(6)], forces
        for x in body["measurements"]:
            if x["name"] == "PeakForce_kN":
                x["value"] = max(forces)
        assert line.start("coil_expansion", sn).status_code == 201
        done = client.post("/api/v1/stations/CEX-01/complete", json=body)
        assert done.status_code == 200 and done.json()["attempt"]["verdict"] == "PASS", done.text
        every += forces

    got = _sample(sessions, "coil_expansion:hairpin_peak_force", limit=25)
    assert got.values == pytest.approx(every) and got.units == 12
    assert got.serials[:7] == [f"{serials[0]} hairpin {k}" for k in range(1, 7)] + [f"{serials[1]} hairpin 1"]
    assert (got.low, got.high) == (30.0, 45.0)
    reference = _cpk(every, 30.0, 45.0)
    assert spc.analyse(got.values, low=30.0, high=45.0).capability.cpk == pytest.approx(reference)

    html, chart = _page(client, characteristic="coil_expansion:hairpin_peak_force", n=25)
    assert _n_card(html) == 72 and chart["values"] == pytest.approx(every)
    assert _text_of(html, "cpk") == f"{reference:.3g}"
    assert "Every hairpin of each unit's latest judged result" in _text_of(html, "basis")
    assert "n counts hairpins, of 12 units" in _text_of(html, "basis")
