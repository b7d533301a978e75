"""Master data and specification revisions refuse what would judge or route units wrongly: unknown
station types, rework that skips steps, a route change that strands units, codes longer than their
columns, revisions for steps a model never visits, limits without bounds, the market cap set outside
the market rules; and a product model read over the API can be written back unchanged."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.services.master_data import DEMO_DOCUMENT
from tests.api.driver import Line

KNOWN_TYPES = "brazing, charging, coil_expansion, leak_test, repair, run_in, sub_base_assembly, vacuum_dehydration"


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _route(client: Any, code: str = "MONOBLOC") -> dict[str, Any]:
    r = client.get(f"/api/v1/routes/{code}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _without_steps(route: dict[str, Any], *removed: str) -> dict[str, Any]:
    changed = copy.deepcopy(route)
    changed["steps"] = [s for s in changed["steps"] if s["station_type"] not in removed]
    changed["rework"] = [
        r for r in changed["rework"] if r["failed_at"] not in removed and r["reenter_at"] not in removed
    ]
    return changed


def test_a_product_model_read_over_the_api_keeps_its_cycle_physics_when_written_back(client: Any) -> None:
    demo = next(p for p in json.loads(DEMO_DOCUMENT.read_text())["product_models"] if p["code"] == "HPM-12-R32-EVI")
    read = client.get("/api/v1/product-models/HPM-12-R32-EVI").json()
    assert read["cycle_physics"]["compressor_displacement_cm3"] == demo["cycle_physics"]["compressor_displacement_cm3"]

    assert client.put("/api/v1/product-models/HPM-12-R32-EVI", json=read).status_code == 200
    assert client.get("/api/v1/product-models/HPM-12-R32-EVI").json()["cycle_physics"] == read["cycle_physics"]
    listed = {p["code"]: p for p in client.get("/api/v1/product-models").json()}
    assert listed["HPM-12-R32-EVI"]["cycle_physics"] == read["cycle_physics"]


def test_a_station_of_an_unknown_type_is_refused_naming_the_known_types(client: Any) -> None:
    r = client.put(
        "/api/v1/stations/XYZ-01", json={"station_id": "XYZ-01", "station_type": "teleporter", "line": "LINE-1"}
    )
    assert r.status_code == 422, r.text
    assert "'teleporter'" in r.json()["detail"] and KNOWN_TYPES in r.json()["detail"]
    assert client.get("/api/v1/stations/XYZ-01").status_code == 404


def test_an_endpoint_with_a_user_name_and_password_in_it_is_refused(client: Any) -> None:
    """asyncua signs in with credentials in the URL, and the line's status shows the URL to everyone."""
    station = {"station_id": "LKT-09", "station_type": "leak_test", "line": "LINE-1"}
    for endpoint in ("opc.tcp://mes:s3cret@10.0.0.7:4840/plc", "opc.tcp://:::::"):
        refused = client.put("/api/v1/stations/LKT-09", json=station | {"opcua_endpoint": endpoint})
        assert refused.status_code == 422, refused.text
        assert "no user name or password" in refused.text and "s3cret" not in refused.json()["detail"]
    accepted = client.put("/api/v1/stations/LKT-09", json=station | {"opcua_endpoint": "opc.tcp://[fd00::7]:4840/plc"})
    assert accepted.status_code == 200, accepted.text


def test_a_route_with_an_unknown_step_type_is_refused_even_with_explicit_rework_rules(client: Any) -> None:
    route = {
        "code": "BOGUS",
        "rework_loop_cap": 2,
        "steps": [{"station_type": "coil_expansion"}, {"station_type": "teleporter"}],
        "rework": [{"failed_at": "teleporter", "action": "repeat", "reenter_at": "teleporter"}],
    }
    r = client.put("/api/v1/routes/BOGUS", json=route)
    assert r.status_code == 422, r.text
    assert "'teleporter'" in r.json()["detail"] and KNOWN_TYPES in r.json()["detail"]
    assert client.get("/api/v1/routes/BOGUS").status_code == 404


def test_a_rework_rule_that_re_enters_after_the_failed_step_is_refused(client: Any) -> None:
    skipper = copy.deepcopy(_route(client))
    skipper["code"] = "SKIPPER"
    skipper["rework"] = [{"failed_at": "brazing", "action": "repeat", "reenter_at": "run_in"}]
    r = client.put("/api/v1/routes/SKIPPER", json=skipper)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "brazing" in detail and "run_in" in detail and "skipping sub_base_assembly" in detail

    skipper["rework"] = [{"failed_at": "charging", "action": "repair", "reenter_at": "vacuum_dehydration"}]
    assert client.put("/api/v1/routes/SKIPPER", json=skipper).status_code == 200  # upstream re-entry is fine


def test_a_rework_rule_that_re_enters_at_the_step_right_after_the_failed_one_is_refused(client: Any) -> None:
    """Re-entering one step after the failed step skips nothing in between, but skips the failed step."""
    skipper = copy.deepcopy(_route(client))
    skipper["code"] = "SKIPPER"
    skipper["rework"] = [{"failed_at": "brazing", "action": "repair", "reenter_at": "sub_base_assembly"}]
    r = client.put("/api/v1/routes/SKIPPER", json=skipper)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        "route SKIPPER: the rework rule for a FAIL at brazing re-enters at sub_base_assembly, after the failed "
        "step; a unit re-enters at brazing or a step before it"
    )
    assert client.get("/api/v1/routes/SKIPPER").status_code == 404


def test_a_route_without_steps_is_refused(client: Any) -> None:
    empty = _route(client) | {"code": "EMPTY", "steps": [], "rework": []}
    r = client.put("/api/v1/routes/EMPTY", json=empty)
    assert r.status_code == 422, r.text
    assert (
        r.json()["detail"]
        == "The request was not accepted: steps: List should have at least 1 item after validation, not 0"
    )
    assert client.get("/api/v1/routes/EMPTY").status_code == 404


def test_a_product_model_with_a_misspelt_field_is_refused_naming_it(client: Any) -> None:
    model = client.get("/api/v1/product-models/HPM-06-R290-EVI").json()
    model["charge_tolerence_g"] = 1.0  # meant: charge_tolerance_g
    r = client.put("/api/v1/product-models/HPM-06-R290-EVI", json=model)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "The request was not accepted: charge_tolerence_g: is not a field of this request"
    assert client.get("/api/v1/product-models/HPM-06-R290-EVI").json()["charge_tolerance_g"] == 2


def test_whether_a_repeat_counts_as_a_rework_loop_is_stated_per_rule_and_round_trips(client: Any, line: Line) -> None:
    monobloc = _route(client)
    counted = {(r["failed_at"], r["failure_mode"]): r["counts_as_rework_loop"] for r in monobloc["rework"]}
    assert counted[("leak_test", "instrument")] is False and counted[("leak_test", "test_invalid")] is False
    assert counted[("vacuum_dehydration", "moisture")] is True and counted[("leak_test", "leak")] is True
    assert client.put("/api/v1/routes/MONOBLOC", json=monobloc).status_code == 200
    assert _route(client) == monobloc

    serial = line.work_order(first="HP26-9000101", quantity=1)[0]
    for station_type in ("coil_expansion", "brazing", "sub_base_assembly", "vacuum_dehydration", "charging"):
        line.run(station_type, serial)
    # a plant that counts its instrument repeats after all says so in its route
    counting = copy.deepcopy(monobloc)
    for rule in counting["rework"]:
        if rule["failure_mode"] == "instrument":
            rule["counts_as_rework_loop"] = True
    assert client.put("/api/v1/routes/MONOBLOC", json=counting).status_code == 200
    assert _route(client) == counting
    expired = {"RefLeakCheckAt": "2020-01-01T00:00:00+00:00"}
    assert line.run("leak_test", serial, "FAIL", overrides=expired)["unit"]["rework_loops"] == 1

    repair_not_counted = copy.deepcopy(monobloc)
    for rule in repair_not_counted["rework"]:
        if rule["action"] == "repair":
            rule["counts_as_rework_loop"] = False
    r = client.put("/api/v1/routes/MONOBLOC", json=repair_not_counted)
    assert r.status_code == 422, r.text
    assert "a repair is rework of the unit" in r.text
    assert _route(client) == counting


def test_removing_a_step_units_are_due_at_is_refused_naming_them(client: Any, line: Line) -> None:
    waiting, in_repair = line.work_order(first="HP26-9000001", quantity=2)
    for serial in (waiting, in_repair):
        line.run("coil_expansion", serial)
    line.run("brazing", waiting)  # next: sub_base_assembly
    line.run("brazing", in_repair, "FAIL", overrides={"O2_ppm": 400.0})  # to repair, re-entering at brazing
    assert line.unit(in_repair)["reentry_step"] == "brazing"
    monobloc = _route(client)

    r = client.put("/api/v1/routes/MONOBLOC", json=_without_steps(monobloc, "brazing", "sub_base_assembly"))
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["units"] == 2 and body["serials"] == [waiting, in_repair]
    assert "2 units in process" in body["detail"] and waiting in body["detail"] and in_repair in body["detail"]
    assert _route(client) == monobloc

    # a step no unit is due at can go
    assert client.put("/api/v1/routes/MONOBLOC", json=_without_steps(monobloc, "run_in")).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/market-rules",
            {
                "market": "M" * 40,
                "refrigerant": "R290",
                "construction": "monobloc_sealed",
                "max_charge_g": 150,
                "source": "national rule",
            },
        ),
        ("/api/v1/stations/VAC-09", {"station_id": "VAC-09", "station_type": "vacuum_dehydration", "line": "L" * 40}),
    ],
)
def test_a_market_or_line_code_longer_than_its_column_is_refused(client: Any, path: str, body: dict[str, Any]) -> None:
    r = client.put(path, json=body)
    assert r.status_code == 422, r.text
    assert "at most 32 characters" in r.json()["detail"]


def test_a_product_models_market_longer_than_its_column_is_refused(client: Any) -> None:
    model = client.get("/api/v1/product-models/HPS-10-R32").json()
    model.update(code="HPS-LONGMARKET", market="M" * 40)
    r = client.put("/api/v1/product-models/HPS-LONGMARKET", json=model)
    assert r.status_code == 422, r.text
    assert "market" in r.json()["detail"] and "at most 32 characters" in r.json()["detail"]


def test_a_revision_for_a_station_type_not_on_the_models_route_is_refused(client: Any) -> None:
    r = client.post(
        "/api/v1/spec-revisions", json={"station_type": "charging", "product_model": "HPS-10-R32", "overrides": {}}
    )
    assert r.status_code == 422, r.text
    assert "charging is not a step of route SPLIT" in r.json()["detail"]
    for station_type in ("leak_test", "repair"):  # repair is reached by rework, never as a step
        r = client.post(
            "/api/v1/spec-revisions",
            json={"station_type": station_type, "product_model": "HPS-10-R32", "overrides": {}},
        )
        assert r.status_code == 201, r.text


def test_a_draft_based_on_a_revision_of_another_station_type_or_model_is_refused(client: Any) -> None:
    (brazing,) = client.get(
        "/api/v1/spec-revisions", params={"station_type": "brazing", "product_model": "HPM-06-R290-EVI"}
    ).json()
    for station_type, model in (("coil_expansion", "HPM-06-R290-EVI"), ("brazing", "HPM-12-R32-EVI")):
        r = client.post(
            "/api/v1/spec-revisions",
            json={"station_type": station_type, "product_model": model, "overrides": {}, "based_on": brazing["id"]},
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == f"revision {brazing['id']} is for another station type or product model"
    r = client.post(
        "/api/v1/spec-revisions",
        json={
            "station_type": "brazing",
            "product_model": "HPM-06-R290-EVI",
            "overrides": {},
            "based_on": brazing["id"],
        },
    )
    assert r.status_code == 201 and r.json()["based_on"] == brazing["id"], r.text


def test_a_revision_that_clears_a_limits_bound_is_refused_naming_the_limit(client: Any) -> None:
    r = client.post(
        "/api/v1/spec-revisions",
        json={
            "station_type": "leak_test",
            "product_model": "HPM-06-R290-EVI",
            "overrides": {"limits": {"leak_rate_g_per_year": {"high": None}}},
        },
    )
    assert r.status_code == 422, r.text
    assert "leak_rate_g_per_year" in r.json()["detail"] and "bound" in r.json()["detail"]


def test_the_market_cap_changes_through_the_market_rules_not_through_a_revision(client: Any) -> None:
    r = client.post(
        "/api/v1/spec-revisions",
        json={
            "station_type": "charging",
            "product_model": "HPM-06-R290-EVI",
            "overrides": {"limits": {"market_cap_g": {"high": 500}}},
        },
    )
    assert r.status_code == 422, r.text
    assert "PUT /api/v1/market-rules" in r.json()["detail"]

    rule = {
        "market": "EU",
        "refrigerant": "R290",
        "construction": "monobloc_sealed",
        "max_charge_g": 145,
        "source": "national rule X, 2026",
    }
    assert client.put("/api/v1/market-rules", json=rule).status_code == 200
    draft = client.post(
        "/api/v1/spec-revisions",
        json={"station_type": "charging", "product_model": "HPM-06-R290-EVI", "overrides": {}},
    )
    assert draft.status_code == 201, draft.text
    specification = draft.json()["specification"]
    assert specification["limits"]["market_cap_g"]["high"] == 145
    assert specification["product"]["market_cap_source"] == "national rule X, 2026"


def test_a_product_model_is_not_moved_to_another_route_while_its_units_are_on_their_way(
    client: Any, line: Line
) -> None:
    """A unit due at charging, its model moved to the split route (no charging): it was refused at
    charging ("not a step of route SPLIT") and at leak test ("expected at charging") for good."""
    started, _ = line.work_order(first="HP26-7930001", quantity=2)
    for station_type in ("coil_expansion", "brazing", "sub_base_assembly", "vacuum_dehydration"):
        line.run(station_type, started)
    model = client.get("/api/v1/product-models/HPM-06-R290-EVI").json()
    moved = client.put("/api/v1/product-models/HPM-06-R290-EVI", json=model | {"route": "SPLIT"})
    assert moved.status_code == 409, moved.text
    assert started in moved.json()["detail"] and "would strand them" in moved.json()["detail"]
    assert client.get("/api/v1/product-models/HPM-06-R290-EVI").json()["route"] == "MONOBLOC"
    assert line.start("charging", started).status_code == 201  # still on its way along MONOBLOC

    fresh = model | {"code": "HPM-06-R290-B"}  # a model whose units no station has seen yet may move
    assert client.put("/api/v1/product-models/HPM-06-R290-B", json=fresh).status_code == 200
    Line(client, model="HPM-06-R290-B").work_order(first="HP26-7940001", quantity=2)
    assert client.put("/api/v1/product-models/HPM-06-R290-B", json=fresh | {"route": "SPLIT"}).status_code == 200
