"""Bad input on every endpoint → a 4xx problem with a clear message, and the database unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from app.config import OpcuaSettings, Settings
from tests.api.driver import Line
from tests.conftest import RoleForRoute, cloned_database

GOOD_SERIAL = "HP26-0000007"  # released by the demo work order


def _state(engine: Engine) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    """Every table's row count and every unit's place on its route."""
    with engine.connect() as conn:
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        counts = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
        units = conn.execute(text("SELECT serial, status, next_step, rework_loops FROM unit ORDER BY id")).all()
    return counts, [tuple(u) for u in units]


def _complete(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "serial": GOOD_SERIAL,
        "result_id": "R-1",
        "measurements": [{"name": "LengthLoss_mm", "value": 1.0, "unit": "mm"}],
    }
    body.update(overrides)
    return body


def _trace(t: list[float], v: list[float]) -> dict[str, Any]:
    return {"channel": "Force_kN", "t_s": t, "values": v}


# (method, path, json body or raw bytes, expected status, words the detail must contain)
CASES: list[tuple[str, str, Any, int, str]] = [
    (
        "POST",
        "/api/v1/stations/CEX-01/start",
        {"serial": "HP26-123"},
        422,
        "is not a serial number of this plant",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/start",
        {"serial": "hp26-0000007"},
        422,
        "expected HP + two-digit year",
    ),
    ("POST", "/api/v1/stations/CEX-01/start", {"serial": ""}, 422, "is not a serial number"),
    ("POST", "/api/v1/stations/CEX-01/start", {"serial": "HP26-0000007 "}, 422, "is not a serial number"),
    ("POST", "/api/v1/stations/CEX-01/start", {"serial": 26}, 422, "serial"),
    ("POST", "/api/v1/stations/CEX-01/start", {"serial": None}, 422, "serial"),
    ("POST", "/api/v1/stations/CEX-01/start", {"serial": "X" * 200}, 422, "serial"),
    ("POST", "/api/v1/stations/CEX-01/start", {}, 422, "serial"),
    ("POST", "/api/v1/stations/CEX-01/start", {"serial": GOOD_SERIAL, "colour": "red"}, 422, "colour"),
    ("POST", "/api/v1/stations/CEX-01/start", {"serial": "HP26-9999999"}, 404, "has not been released"),
    ("POST", "/api/v1/stations/NOPE-01/start", {"serial": GOOD_SERIAL}, 404, "station 'NOPE-01'"),
    ("POST", "/api/v1/stations/CEX-01/start", b'{"serial": "HP26-00', 422, "not valid JSON"),
    ("POST", "/api/v1/stations/CEX-01/start", b"serial=HP26-0000007", 422, "JSON"),
    ("POST", "/api/v1/stations/BRZ-01/start", {"serial": GOOD_SERIAL}, 409, "has not passed coil expansion"),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        b'{"serial": "HP26-0000007", "result_id": "R-1",  "measurements": [{"name": "LengthLoss_mm", "value": NaN}]}',
        422,
        "finite number",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        b'{"serial": "HP26-0000007", "result_id": "R-1", '
        b' "measurements": [{"name": "LengthLoss_mm", "value": Infinity}]}',
        422,
        "finite number",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        b'{"serial": "HP26-0000007", "result_id": "R-1", '
        b' "measurements": [{"name": "LengthLoss_mm", "value": -Infinity}]}',
        422,
        "finite number",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        b'{"serial": "HP26-0000007", "result_id": "R-1",  "measurements": [{"name": "LengthLoss_mm", "value": 1e999}]}',
        422,
        "finite number",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        b'{"serial": "HP26-0000007", "result_id": "R-1", '
        b' "traces": [{"channel": "Force_kN", "t_s": [0, 1], "values": [1, NaN]}]}',
        422,
        "finite number",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(measurements=[{"name": "LengthLoss_mm", "value": {"v": 1}}]),
        422,
        "value",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(measurements=[{"name": "LengthLoss_mm", "value": [1, 2]}]),
        422,
        "value",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(measurements=[{"name": "Length Loss", "value": 1.0}]),
        422,
        "name",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(measurements=[{"name": "A", "value": 1.0}, {"name": "A", "value": 2.0}]),
        422,
        "appears twice",
    ),
    ("POST", "/api/v1/stations/CEX-01/complete", _complete(verdict="PASS"), 422, "verdict: is not a field"),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(measurements=[{"name": "ChargedMass_g", "value": 140.0, "unit": "g"}]),
        422,
        "coil_expansion reports no measurement 'ChargedMass_g'",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(measurements=[{"name": "LengthLoss_mm", "value": "2.1", "unit": "mm"}]),
        422,
        "LengthLoss_mm",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(measurements=[{"name": "LengthLoss_mm", "value": 2.1, "unit": "in"}]),
        422,
        "LengthLoss_mm",
    ),
    (
        "POST",
        "/api/v1/stations/LKT-01/complete",
        _complete(measurements=[{"name": "RefLeakCheckAt", "value": "2026-11-27T06:00:00"}]),
        422,
        "UTC offset",
    ),
    ("POST", "/api/v1/stations/CEX-01/complete", _complete(result_id=""), 422, "result_id"),
    ("POST", "/api/v1/stations/CEX-01/complete", _complete(result_id=None), 422, "result_id"),
    ("POST", "/api/v1/stations/CEX-01/complete", _complete(extra_field=1), 422, "extra_field"),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(traces=[_trace([0, 1, 2], [1, 2])]),
        422,
        "3 time stamps but 2 values",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(traces=[_trace([0, 2, 1], [1, 2, 3])]),
        422,
        "time must increase",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(traces=[_trace([0, 0], [1, 2])]),
        422,
        "time must increase",
    ),
    ("POST", "/api/v1/stations/CEX-01/complete", _complete(traces=[_trace("0,1", [1, 2])]), 422, "t_s"),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(traces=[_trace([float(i) for i in range(20_001)], [0.0] * 20_001)]),
        422,
        "20000",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(components=[{"kind": "gearbox", "identifier": "G-1"}]),
        422,
        "kind",
    ),
    (
        "POST",
        "/api/v1/stations/CEX-01/complete",
        _complete(components=[{"kind": "coil_batch", "identifier": "with space"}]),
        422,
        "identifier",
    ),
    ("POST", "/api/v1/stations/CEX-01/complete", _complete(serial="HP26-12"), 422, "is not a serial number"),
    ("POST", "/api/v1/stations/CEX-01/complete", _complete(), 409, "has no open operation at CEX-01"),
    ("POST", "/api/v1/stations/NOPE-01/complete", _complete(), 404, "station 'NOPE-01'"),
    (
        "POST",
        "/api/v1/work-orders",
        {"number": "WO-X", "product_model": "HPM-06-R290-EVI", "first_serial": "HP2-0000001", "quantity": 5},
        422,
        "is not a serial number",
    ),
    (
        "POST",
        "/api/v1/work-orders",
        {"number": "WO-X", "product_model": "HPM-06-R290-EVI", "first_serial": "HP26-7000001", "quantity": 0},
        422,
        "quantity",
    ),
    (
        "POST",
        "/api/v1/work-orders",
        {
            "number": "WO-X",
            "product_model": "HPM-06-R290-EVI",
            "first_serial": "HP26-7000001",
            "quantity": 10**7,
        },
        422,
        "quantity",
    ),
    (
        "POST",
        "/api/v1/work-orders",
        {
            "number": "WO-X",
            "product_model": "HPM-06-R290-EVI",
            "first_serial": "HP26-9999990",
            "quantity": 20,
        },
        422,
        "runs past",
    ),
    (
        "POST",
        "/api/v1/work-orders",
        {"number": "WO-X", "product_model": "NO-SUCH", "first_serial": "HP26-7000001", "quantity": 5},
        404,
        "NO-SUCH",
    ),
    (
        "POST",
        "/api/v1/work-orders",
        {
            "number": "WO-X",
            "product_model": "HPM-06-R290-EVI",
            "first_serial": "HP26-0000490",
            "quantity": 20,
        },
        409,
        "HP26-0000490",
    ),
    (
        "POST",
        "/api/v1/work-orders",
        {
            "number": "WO-DEMO-R290",
            "product_model": "HPM-06-R290-EVI",
            "first_serial": "HP26-7000001",
            "quantity": 5,
        },
        409,
        "already exists",
    ),
    (
        "PUT",
        "/api/v1/stations/CEX-09",
        {"station_id": "CEX-99", "station_type": "coil_expansion", "line": "LINE-1"},
        422,
        "must agree",
    ),
    (
        "PUT",
        "/api/v1/stations/cex.01",
        {"station_id": "cex.01", "station_type": "coil_expansion", "line": "LINE-1"},
        422,
        "station_id",
    ),
    (
        "PUT",
        "/api/v1/stations/VAC-01",
        {"station_id": "VAC-01", "station_type": "Vacuum Station", "line": "LINE-1"},
        422,
        "station_type",
    ),
    (
        "PUT",
        "/api/v1/routes/BAD",
        {
            "code": "BAD",
            "rework_loop_cap": 2,
            "steps": [{"station_type": "brazing"}, {"station_type": "repair"}],
        },
        422,
        "repair",
    ),
    (
        "PUT",
        "/api/v1/routes/BAD",
        {
            "code": "BAD",
            "rework_loop_cap": 2,
            "steps": [{"station_type": "brazing"}],
            "rework": [{"failed_at": "brazing", "action": "repair", "reenter_at": "charging"}],
        },
        422,
        "not a step of the route",
    ),
    (
        "PUT",
        "/api/v1/routes/BAD",
        {"code": "BAD", "rework_loop_cap": -1, "steps": [{"station_type": "brazing"}]},
        422,
        "rework_loop_cap",
    ),
    ("PUT", "/api/v1/product-models/HPM-06-R290-EVI", {"code": "HPM-06-R290-EVI"}, 422, "construction"),
    (
        "PUT",
        "/api/v1/market-rules",
        {
            "market": "EU",
            "refrigerant": "R290",
            "construction": "monobloc_sealed",
            "max_charge_g": -150,
            "source": "x rule",
        },
        422,
        "max_charge_g",
    ),
    ("POST", f"/api/v1/units/{GOOD_SERIAL}/holds", {"reason": ""}, 422, "reason"),
    ("POST", "/api/v1/units/HP26-XYZ/holds", {"reason": "suspect"}, 422, "is not a serial number"),
    ("POST", "/api/v1/units/HP26-9999999/holds", {"reason": "suspect"}, 404, "has not been released"),
    (
        "POST",
        "/api/v1/holds/999999/release",
        {"disposition": "scrap", "reason": "broken", "signature": {"secret": "demo-quality"}},
        404,
        "hold 999999",
    ),
    ("POST", "/api/v1/holds/1/release", {"disposition": "burn", "reason": "broken"}, 422, "disposition"),
    ("POST", "/api/v1/holds/1/release", {"disposition": "scrap", "reason": "broken"}, 422, "signature"),
    ("POST", "/api/v1/holds/abc/release", {"disposition": "scrap", "reason": "broken"}, 422, "hold_id"),
    ("POST", "/api/v1/holds/by-component", {"identifier": "", "reason": "recall"}, 422, "identifier"),
    ("GET", "/api/v1/units/HP26-1", None, 422, "is not a serial number"),
    ("GET", "/api/v1/units/HP26-9999999/birth-record", None, 404, "has not been released"),
    ("GET", "/api/v1/units?cursor=abc", None, 422, "cursor"),
    ("GET", "/api/v1/units?limit=0", None, 422, "limit"),
    ("GET", "/api/v1/units?status=lost", None, 422, "status"),
    ("GET", "/api/v1/units?since=yesterday", None, 422, "since"),
    ("GET", "/api/v1/genealogy", None, 422, "identifier"),
    ("GET", "/api/v1/genealogy?identifier=X&kind=gearbox", None, 422, "kind"),
    ("GET", "/api/v1/attempts/1/traces/Nope", None, 404, "no trace"),
    # found by tests/api/test_schemathesis.py: each of these answered 500 (or an undocumented 400) before
    ("POST", "/api/v1/stations/CEX-01/start", b'{"serial": "\xff\xfe"}', 422, "not valid JSON"),
    ("GET", "/api/v1/spec-revisions/2147483648", None, 422, "revision_id"),
    ("GET", "/api/v1/attempts/9223372036854775808/traces/Force_kN", None, 422, "attempt_id"),
    ("POST", "/api/v1/attempts/9223372036854775808/manual-checks", {}, 422, "attempt_id"),
    ("POST", "/api/v1/holds/9223372036854775808/release", {"disposition": "scrap", "reason": "broken"}, 422, "hold_id"),
    ("POST", "/api/v1/rejudge", {"spec_revision_id": 2147483648, "serial": GOOD_SERIAL}, 422, "spec_revision_id"),
    ("POST", "/api/v1/rejudge", {"spec_revision_id": 1, "since": "0001-01-01T00:00:00+01:00"}, 422, "since"),
    ("GET", "/api/v1/units?since=0001-01-01T00:00:00%2B01:00", None, 422, "since"),
    ("GET", "/api/v1/units?cursor=99999999999999999999", None, 422, "cursor"),
    ("GET", "/api/v1/units?cursor=%C2%B2", None, 422, "cursor"),  # '²' is a digit to str.isdigit, not to int()
    ("GET", "/api/v1/routes/MONO%00BLOC", None, 422, "NUL character"),
    ("GET", "/api/v1/genealogy?identifier=CB-%00", None, 422, "NUL character"),
    ("POST", f"/api/v1/units/{GOOD_SERIAL}/holds", {"reason": "leak\x00suspected"}, 422, "NUL character"),
    ("POST", "/api/v1/auth/tokens/9223372036854775808/revoke", None, 422, "token_id"),
    ("GET", "/api/v1/nothing-here", None, 404, "no GET /api/v1/nothing-here"),
    # a filter the route does not take is refused, not ignored (it answered with every unit)
    (
        "GET",
        "/api/v1/units?next_step=repair&limit=5",
        None,
        422,
        "next_step: is not a query parameter of GET /api/v1/units (it takes cursor, limit, product_model, "
        "since, station_id, status, until, verdict, work_order)",
    ),
    ("GET", "/api/v1/holds?serial=HP26-0000007", None, 422, "serial: is not a query parameter of GET /api/v1/holds"),
    ("GET", "/api/v1/units/HP26-0000007?verbose=1", None, 422, "verbose: is not a query parameter of GET"),
    ("DELETE", "/api/v1/units/HP26-0000007", None, 405, ""),
]


@pytest.fixture
def state(settings: Settings) -> Iterator[Engine]:
    engine = create_engine(settings.resolved_database_url())
    yield engine
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def unchanging(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, Engine]]:
    """One app and database per backend for the cases below: each must change nothing, and each checks
    that it changed nothing, so they can share them (an app and a database per case cost more than the case)."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with cloned_database(request.param, request, tmp_path_factory.mktemp("bad-input")) as db:
        settings = Settings(
            database_url=db.url, data_dir=tmp_path_factory.mktemp("bad-input-data"), opcua=OpcuaSettings(enabled=False)
        )
        app = create_app(settings)
        engine = create_engine(db.url)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                client.auth = RoleForRoute(app)
                yield client, engine
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    CASES,
    ids=[f"{c[0]} {c[1][:40]} {i}" for i, c in enumerate(CASES)],
)
def test_bad_input_is_a_clear_problem_and_changes_nothing(
    unchanging: tuple[Any, Engine], method: str, path: str, body: Any, status: int, words: str
) -> None:
    client, state = unchanging
    before = _state(state)
    if isinstance(body, bytes):
        response = client.request(method, path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["type"]
    assert words in problem["detail"], problem
    assert "Traceback" not in response.text
    assert _state(state) == before


def test_a_refused_request_lists_each_bad_field_with_its_message(client: Any, state: Engine) -> None:
    before = _state(state)
    body = {"number": "WO 1", "product_model": "HPM-06-R290-EVI", "first_serial": "HP26-0000001", "quantity": 0}
    response = client.post("/api/v1/work-orders", json=body | {"priority": "rush"})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Invalid input"
    assert [e["field"] for e in problem["errors"]] == ["number", "quantity", "priority"]
    assert problem["errors"][2] == {"field": "priority", "message": "is not a field of this request"}
    assert problem["detail"].startswith("The request was not accepted: number: String should match pattern")
    assert _state(state) == before


def test_oversized_payload_is_refused_with_413_before_parsing(client: Any, state: Engine) -> None:
    before = _state(state)
    big = json.dumps(_complete(note="x" * (17 * 1024 * 1024))).encode()
    response = client.post(
        "/api/v1/stations/CEX-01/complete", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than this MES accepts" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no content-length: counted while streaming
        for _ in range(20):
            yield b" " * (1024 * 1024)

    response = client.post(
        "/api/v1/stations/CEX-01/complete", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _state(state) == before


def test_refused_completion_with_results_leaves_no_partial_rows(client: Any, state: Engine) -> None:
    line = Line(client)
    serial = line.work_order()[0]
    line.start("coil_expansion", serial)
    before = _state(state)
    # the second completion's unit has no open attempt: nothing of it may be stored
    other = line.work_order(first="HP26-5100001")[0]
    r = line.complete("coil_expansion", other)  # with traces and a coil batch
    assert r.status_code == 409
    after_counts, _ = _state(state)
    assert after_counts["measurement"] == before[0]["measurement"]
    assert after_counts["trace"] == before[0]["trace"] and after_counts["component_use"] == before[0]["component_use"]


def test_nul_is_refused_even_with_its_escape_split_across_body_chunks(client: Any, state: Engine) -> None:
    before = _state(state)

    def chunks() -> Iterator[bytes]:  # no content-length: scanned while streaming
        yield b'{"serial": "HP26-0000007", "operator": "badge \\u00'
        yield b'00 1001"}'

    response = client.post(
        "/api/v1/stations/CEX-01/start", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert "NUL character" in response.json()["detail"]
    assert _state(state) == before


def test_a_scanned_identifier_longer_than_the_genealogy_holds_is_refused(client: Any, state: Engine) -> None:
    """PostgreSQL would keep it cut to 64 characters, and a genealogy search would miss the unit."""
    line = Line(client)
    serial = line.work_order()[0]
    assert line.start("coil_expansion", serial).status_code == 201
    before = _state(state)
    batch = "CB-" + "7" * 62  # 65 characters
    r = line.complete("coil_expansion", serial, overrides={"CoilBatch": batch})
    assert r.status_code == 422, r.text
    assert (
        "measurements.CoilBatch: names a coil_batch in 65 characters; the genealogy holds at most 64"
        in (r.json()["detail"])
    )
    assert _state(state) == before
    # one character less is stored whole and found by the genealogy
    assert line.complete("coil_expansion", serial, overrides={"CoilBatch": batch[:64]}).status_code == 200
    units = client.get("/api/v1/genealogy", params={"identifier": batch[:64]}).json()
    assert serial in json.dumps(units)
