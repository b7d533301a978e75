"""Quality engineers' API: station types, specification revisions, re-judging, nameplates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

import stations
from app.config import Settings
from tests.api.driver import MONOBLOC, Line
from tests.stations.test_registry import THROWAWAY


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _draft(client: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "station_type": "brazing",
        "product_model": "HPM-06-R290-EVI",
        "note": "tighter oxygen",
        "overrides": {"limits": {"o2_ppm": {"high": 30.0, "uncertainty": 1.0}}},
    }
    body.update(overrides)
    r = client.post("/api/v1/spec-revisions", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


QUALITY_SIGNATURE = {"secret": "demo-quality"}  # quality1's password, re-entered to sign


def _approve(client: Any, revision_id: int, **extra: Any) -> Any:
    return client.post(
        f"/api/v1/spec-revisions/{revision_id}/approve",
        json={"reason": "supplier audit finding 12", "signature": QUALITY_SIGNATURE, **extra},
    )


def test_station_types_are_listed_with_their_schema(client: Any) -> None:
    listed = {st["code"]: st for st in client.get("/api/v1/station-types").json()}
    assert set(listed) == {
        "coil_expansion",
        "brazing",
        "sub_base_assembly",
        "vacuum_dehydration",
        "charging",
        "leak_test",
        "run_in",
        "repair",
    }
    assert client.get("/api/v1/station-types/charging").json()["code"] == "charging"
    assert client.get("/api/v1/station-types/nope").status_code == 404


def test_a_station_types_limits_say_what_a_specification_revision_may_do_with_them(client: Any) -> None:
    charging = client.get("/api/v1/station-types/charging").json()
    limits = {lim["name"]: lim for lim in charging["default_limits"]}
    assert limits["market_cap_g"]["set_elsewhere"].startswith("the market charge cap is market-rule data")
    assert limits["charged_mass_g"]["not_above"] == "market_cap_g" and limits["charged_mass_g"]["non_negative"]
    assert limits["charged_mass_g"]["set_elsewhere"] is None
    run_in = {lim["name"]: lim for lim in client.get("/api/v1/station-types/run_in").json()["default_limits"]}
    assert run_in["capacity_residual_fraction"]["uncertainty_from_model"] is True
    assert run_in["plateau_slope_k_per_min"]["uncertainty_from_model"] is False


def test_a_new_station_module_appears_in_the_api_listing(client: Any, tmp_path: Path) -> None:
    (tmp_path / "label_printing.py").write_text(THROWAWAY, encoding="utf-8")
    stations.__path__.append(str(tmp_path))
    stations.refresh_station_types()
    try:
        codes = [st["code"] for st in client.get("/api/v1/station-types").json()]
        assert "label_printing" in codes
        described = client.get("/api/v1/station-types/label_printing").json()
        assert "PrintContrast_pct" in str(described)
        ids = stations.node_ids(station_id="LBL-01", station_type="label_printing")
        assert ids.values["PrintContrast_pct"] == "LBL-01.Result.Values.PrintContrast_pct"
    finally:
        stations.__path__.remove(str(tmp_path))
        stations.refresh_station_types()


def test_units_are_judged_by_the_revision_in_force_when_their_operation_started(line: Line, client: Any) -> None:
    first, second = line.work_order(quantity=2)
    for serial in (first, second):
        line.run("coil_expansion", serial)
    initial = client.get(
        "/api/v1/spec-revisions", params={"station_type": "brazing", "product_model": "HPM-06-R290-EVI"}
    ).json()
    assert [r["status"] for r in initial] == ["approved"]
    old_id = initial[0]["id"]
    assert line.start("brazing", first).status_code == 201  # started under the old revision

    draft = _draft(client)
    assert draft["status"] == "draft" and draft["specification"]["limits"]["o2_ppm"]["high"] == 30.0
    approved = _approve(client, draft["id"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "quality1" and approved.json()["approval_reason"]
    signature = approved.json()["approval_signature"]
    assert signature["username"] == "quality1" and signature["meaning"] == "approve specification revision"

    old = line.complete("brazing", first, overrides={"O2_ppm": 40.0}).json()
    assert old["attempt"]["verdict"] == "PASS" and old["attempt"]["spec_revision_id"] == old_id
    new = line.run("brazing", second, "FAIL", overrides={"O2_ppm": 40.0})
    assert new["attempt"]["spec_revision_id"] == draft["id"]
    failing = next(c for c in new["checks"] if c["verdict"] == "FAIL")
    assert failing["limit_high"] == 30.0 and failing["uncertainty"] == 1.0 and "40" in failing["message"]


def test_an_approved_revision_cannot_change_not_even_in_the_database(client: Any, settings: Settings) -> None:
    draft = _draft(client)
    assert _approve(client, draft["id"]).status_code == 200
    r = client.put(f"/api/v1/spec-revisions/{draft['id']}", json={"overrides": {}})
    assert r.status_code == 409 and "approved" in r.json()["detail"]
    assert _approve(client, draft["id"]).status_code == 409
    engine = create_engine(settings.resolved_database_url())
    try:
        for statement in (
            "UPDATE spec_revision SET note = 'edited' WHERE id = :id",
            "DELETE FROM spec_revision WHERE id = :id",
        ):
            with pytest.raises(DBAPIError, match="approved"), engine.begin() as conn:
                conn.execute(text(statement), {"id": draft["id"]})
        with engine.connect() as conn:
            note = conn.execute(text("SELECT note FROM spec_revision WHERE id = :id"), {"id": draft["id"]}).scalar()
        assert note == "tighter oxygen"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"limits": {"no_such_limit": {"high": 1}}}, "no_such_limit"),
        ({"limits": {"o2_ppm": {"high": "lots"}}}, "o2_ppm"),
        ({"retest_cap": -1}, "retest_cap"),
    ],
)
def test_invalid_overrides_are_refused_with_the_reason(client: Any, overrides: dict[str, Any], words: str) -> None:
    r = client.post(
        "/api/v1/spec-revisions",
        json={"station_type": "brazing", "product_model": "HPM-06-R290-EVI", "overrides": overrides},
    )
    assert r.status_code == 422 and words in r.json()["detail"], r.text


def test_approval_cannot_reach_into_the_past(client: Any) -> None:
    draft = _draft(client)
    r = _approve(client, draft["id"], effective_from="2020-01-01T00:00:00Z")
    assert r.status_code == 422 and "past" in r.json()["detail"]


def test_rejudge_reports_what_would_change_and_rewrites_nothing(line: Line, client: Any) -> None:
    serials = line.work_order(quantity=3)
    for serial, o2 in zip(serials, (10.0, 40.0, 45.0), strict=True):
        line.run("coil_expansion", serial)
        line.run("brazing", serial, overrides={"O2_ppm": o2})
    draft = _draft(client)  # a draft is enough for a what-if
    report = client.post(
        "/api/v1/rejudge", json={"spec_revision_id": draft["id"], "work_order": f"WO-T-{serials[0]}"}
    ).json()
    assert report["judged"] == 3 and report["changed"] == 2
    verdicts = {a["serial"]: (a["recorded_verdict"], a["what_if_verdict"]) for a in report["attempts"]}
    assert verdicts == {serials[0]: ("PASS", "PASS"), serials[1]: ("PASS", "FAIL"), serials[2]: ("PASS", "FAIL")}
    assert any("o2" in c.lower() for c in report["attempts"][1]["changed_checks"])
    for serial in serials:
        record = client.get(f"/api/v1/units/{serial}/birth-record").json()
        assert record["attempts"][-1]["verdict"] == "PASS"
    r = client.post("/api/v1/rejudge", json={"spec_revision_id": draft["id"]})
    assert r.status_code == 422 and "say which units" in r.json()["detail"]


def test_nameplate_carries_the_judged_charge_and_its_co2_equivalent(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)
    r = client.get(f"/api/v1/units/{serial}/nameplate")
    assert r.status_code == 409 and "no passed charge" in r.json()["detail"]
    line.run("charging", serial, overrides={"ChargedMass_g": 140.6})
    plate = client.get(f"/api/v1/units/{serial}/nameplate").json()
    assert plate["charged_mass_kg"] == pytest.approx(0.1406)
    assert plate["co2_equivalent_t"] == pytest.approx(140.6 * 3 / 1e6, abs=1e-6)  # to the gram of CO2e
    assert plate["refrigerant"] == "R290" and plate["charge_status"] == "factory_charged"
    assert {r["point"] for r in plate["ratings"]} == {"A7/W35", "A-7/W35", "A35/W7"}


def test_split_unit_nameplate_says_charged_on_site(line: Line, client: Any) -> None:
    serial = line.work_order(model="HPS-10-R32", first="HP26-6100001")[0]
    plate = client.get(f"/api/v1/units/{serial}/nameplate").json()
    assert plate["charge_status"] == "charged_on_site" and plate["co2_equivalent_t"] is None
    assert "charged on site" in plate["charge_text"]


@pytest.fixture(autouse=True)
def _no_stray_station_types() -> Iterator[None]:
    yield
    assert "label_printing" not in [st.code for st in stations.all_station_types()]


def test_override_is_recorded_beside_the_engine_verdict_and_routes_the_unit(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    line.run("coil_expansion", serial)
    failed = line.run("brazing", serial, "FAIL", overrides={"O2_ppm": 80.0})
    attempt_id = failed["attempt"]["id"]
    r = client.post(
        f"/api/v1/attempts/{attempt_id}/override",
        json={"verdict": "PASS", "reason": "O2 probe fault, joint inspected by X-ray", "signature": QUALITY_SIGNATURE},
    )
    assert r.status_code == 201, r.text
    assert r.json()["engine_verdict"] == "FAIL" and r.json()["by"] == "quality1"
    assert r.json()["signature"]["meaning"] == "override verdict" and r.json()["signature"]["signed_at"]
    assert line.unit(serial)["next_step"] == "sub_base_assembly"
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    brazing = record["attempts"][1]
    assert brazing["verdict"] == "FAIL"  # the engine's verdict stays
    assert [o["verdict"] for o in brazing["overrides"]] == ["PASS"]
    assert brazing["overrides"][0]["signature"]["display_name"] == "Quinn Quality"  # shown with the record
    line.run("sub_base_assembly", serial)
    # only the latest result can be overridden
    body = {"verdict": "FAIL", "reason": "changed mind", "signature": QUALITY_SIGNATURE}
    r = client.post(f"/api/v1/attempts/{attempt_id}/override", json=body)
    assert r.status_code == 409 and "latest result" in r.json()["detail"]


def test_override_to_fail_sends_a_passed_unit_to_rework(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    line.run("coil_expansion", serial)
    passed = line.run("brazing", serial)
    r = client.post(
        f"/api/v1/attempts/{passed['attempt']['id']}/override",
        json={"verdict": "FAIL", "reason": "furnace log shows a belt stop", "signature": QUALITY_SIGNATURE},
    )
    assert r.status_code == 201, r.text
    unit = line.unit(serial)
    assert unit["next_step"] == "repair" and unit["reentry_step"] == "brazing"


def test_a_failed_manual_check_holds_the_unit(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    done = line.run("coil_expansion", serial)
    r = client.post(
        f"/api/v1/attempts/{done['attempt']['id']}/manual-checks",
        json={"name": "visual_fins", "verdict": "FAIL", "message": "bent fins on the left edge"},
    )
    assert r.status_code == 201, r.text
    assert line.unit(serial)["status"] == "on_hold"
    refused = line.start("brazing", serial)
    assert refused.status_code == 409 and "bent fins" in refused.json()["detail"]
