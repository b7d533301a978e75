"""Concurrency on PostgreSQL with real connections, through a real uvicorn server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from app.config import OpcuaSettings, Settings
from app.main import create_app
from tests.api.driver import station_payload
from tests.auth_support import auth_headers
from tests.conftest import DbUnderTest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(pg_database: DbUnderTest, tmp_path: object) -> Iterator[str]:
    port = _free_port()
    app = create_app(Settings(database_url=pg_database.url, db_pool_size=30, opcua=OpcuaSettings(enabled=False)))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _put_station(base: str, station_id: str) -> None:
    r = httpx.put(
        f"{base}/api/v1/stations/{station_id}",
        json={"station_id": station_id, "station_type": "coil_expansion", "line": "LINE-T"},
        headers=auth_headers("admin"),
    )
    assert r.status_code == 200, r.text


def _work_order(base: str, first: str, quantity: int, number: str) -> list[str]:
    r = httpx.post(
        f"{base}/api/v1/work-orders",
        json={
            "number": number,
            "product_model": "HPM-06-R290-EVI",
            "first_serial": first,
            "quantity": quantity,
        },
        headers=auth_headers("supervisor"),
    )
    assert r.status_code == 201, r.text
    head, seq = first.split("-")
    return [f"{head}-{int(seq) + i:07d}" for i in range(quantity)]


def test_two_stations_starting_the_same_unit_at_once_exactly_one_wins(server: str) -> None:
    _put_station(server, "CEX-02")
    serials = _work_order(server, "HP26-8000001", 20, "WO-RACE")
    for serial in serials:
        barrier = threading.Barrier(2)

        def start(station: str, serial: str = serial, barrier: threading.Barrier = barrier) -> httpx.Response:
            with httpx.Client(base_url=server, headers=auth_headers("supervisor")) as c:
                barrier.wait()
                return c.post(f"/api/v1/stations/{station}/start", json={"serial": serial})

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(start, ["CEX-01", "CEX-02"]))
        codes = sorted(r.status_code for r in results)
        assert codes == [201, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409)
        assert "still in process at" in loser.json()["detail"]
        # the winner's station then moves on to the next serial; keep the stations free
        winner = next(r for r in results if r.status_code == 201).json()["attempt"]["station_id"]
        r = httpx.post(
            f"{server}/api/v1/stations/{winner}/complete",
            json=station_payload("coil_expansion", serial),
            headers=auth_headers("supervisor"),
        )
        assert r.status_code == 200, r.text


def test_fifty_concurrent_completions_for_fifty_units_lose_nothing(server: str, pg_database: DbUnderTest) -> None:
    stations = [f"CEX-T{i:02d}" for i in range(50)]
    for station in stations:
        _put_station(server, station)
    serials = _work_order(server, "HP26-8100001", 50, "WO-FIFTY")
    with httpx.Client(base_url=server, headers=auth_headers("supervisor")) as c:
        for station, serial in zip(stations, serials, strict=True):
            assert c.post(f"/api/v1/stations/{station}/start", json={"serial": serial}).status_code == 201
    barrier = threading.Barrier(50)
    payloads = {s: station_payload("coil_expansion", s, overrides={"CoilBatch": "CB-FIFTY"}) for s in serials}
    per_unit = len(payloads[serials[0]]["measurements"])

    def complete(pair: tuple[str, str]) -> int:
        station, serial = pair
        body = payloads[serial]
        with httpx.Client(base_url=server, timeout=60, headers=auth_headers("supervisor")) as c:
            barrier.wait()
            return c.post(f"/api/v1/stations/{station}/complete", json=body).status_code

    with ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(complete, zip(stations, serials, strict=True)))
    assert codes == [200] * 50
    engine = create_engine(pg_database.url)
    with engine.connect() as conn:
        passed = conn.execute(
            text(
                "SELECT count(*) FROM operation_attempt a JOIN unit u ON u.id = a.unit_id "
                "WHERE u.serial LIKE 'HP26-81%' AND a.status = 'passed'"
            )
        ).scalar_one()
        measurements = conn.execute(
            text(
                "SELECT count(*) FROM measurement m JOIN operation_attempt a ON a.id = m.attempt_id "
                "JOIN unit u ON u.id = a.unit_id WHERE u.serial LIKE 'HP26-81%'"
            )
        ).scalar_one()
        next_steps = (
            conn.execute(text("SELECT DISTINCT next_step FROM unit WHERE serial LIKE 'HP26-81%'")).scalars().all()
        )
    engine.dispose()
    assert passed == 50 and measurements == 50 * per_unit and next_steps == ["brazing"]
    lot = httpx.get(
        f"{server}/api/v1/genealogy", params={"identifier": "CB-FIFTY"}, headers=auth_headers("supervisor")
    ).json()
    assert sorted(u["serial"] for u in lot["units"]) == serials


def test_same_result_delivered_twice_at_once_is_stored_once(server: str, pg_database: DbUnderTest) -> None:
    serial = _work_order(server, "HP26-8200001", 1, "WO-DUP")[0]
    assert (
        httpx.post(
            f"{server}/api/v1/stations/CEX-01/start", json={"serial": serial}, headers=auth_headers("supervisor")
        ).status_code
        == 201
    )
    barrier = threading.Barrier(4)
    body = station_payload("coil_expansion", serial) | {"result_id": "BOOT7-42"}

    def complete(_: int) -> httpx.Response:
        with httpx.Client(base_url=server, headers=auth_headers("supervisor")) as c:
            barrier.wait()
            return c.post(
                "/api/v1/stations/CEX-01/complete",
                json=body,
            )

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(complete, range(4)))
    assert [r.status_code for r in results] == [200] * 4
    assert sorted(r.json()["duplicate"] for r in results) == [False, True, True, True]
    assert len({r.json()["attempt"]["id"] for r in results}) == 1
    engine = create_engine(pg_database.url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM measurement WHERE name = 'LengthLoss_mm'")).scalar_one()
    engine.dispose()
    assert stored == 1
