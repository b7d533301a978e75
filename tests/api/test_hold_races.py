"""Two releases of one hold at once, on PostgreSQL through a real server: the second sees the first."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from app.config import OpcuaSettings, Settings
from app.main import create_app
from app.services import holds
from app.services.clock import utcnow
from tests.auth_support import auth_headers
from tests.conftest import DbUnderTest, cloned_database, require_postgres

SIGNATURE = {"secret": "demo-quality"}  # quality1's password, re-entered to sign
TIMEOUT_S = 20


@pytest.fixture
def pg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbUnderTest]:
    require_postgres()
    with cloned_database("postgres", request, tmp_path) as db:
        yield db


@pytest.fixture
def server(pg: DbUnderTest) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(Settings(database_url=pg.url, opcua=OpcuaSettings(enabled=False)))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT_S
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


class FirstReleaseWaits:
    """Stands in for ``holds.utcnow``, which a release calls once it holds its locks: the first
    release to get there waits, inside its transaction, until the test lets it go on."""

    def __init__(self) -> None:
        self.locked = threading.Event()
        self.go = threading.Event()
        self._calls = 0
        self._guard = threading.Lock()

    def __call__(self) -> datetime:
        with self._guard:
            self._calls += 1
            first = self._calls == 1
        if first:
            self.locked.set()
            assert self.go.wait(TIMEOUT_S), "the test never let the first release go on"
        return utcnow()


def _wait_for_a_lock_wait(owner_url: str) -> None:
    """Until a session in this test's database waits for a row lock (the second release)."""
    engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")  # a transaction would see one snapshot
    try:
        deadline = time.monotonic() + TIMEOUT_S
        with engine.connect() as conn:
            while True:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
                if waiting:
                    return
                assert time.monotonic() < deadline, "the second release never waited for the first one's lock"
                time.sleep(0.02)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("first", "second"), [("scrap", "rework"), ("rework", "scrap")])
def test_a_hold_released_twice_at_once_is_released_once(
    server: str, pg: DbUnderTest, monkeypatch: pytest.MonkeyPatch, first: str, second: str
) -> None:
    qe = auth_headers("quality_engineer")
    r = httpx.post(
        f"{server}/api/v1/work-orders",
        json={
            "number": "WO-RACE-HOLD",
            "product_model": "HPM-06-R290-EVI",
            "first_serial": "HP26-5200001",
            "quantity": 1,
        },
        headers=auth_headers("supervisor"),
    )
    assert r.status_code == 201, r.text
    serial = "HP26-5200001"
    r = httpx.post(f"{server}/api/v1/units/{serial}/holds", json={"reason": "dropped by the crane"}, headers=qe)
    assert r.status_code == 201, r.text
    hold_id = r.json()["id"]
    hook = FirstReleaseWaits()
    monkeypatch.setattr(holds, "utcnow", hook)

    def release(disposition: str) -> httpx.Response:
        body = {
            "disposition": disposition,
            "reason": f"{disposition}: quality engineer's decision",
            "reenter_at": "coil_expansion" if disposition == "rework" else None,
            "signature": SIGNATURE,
        }
        return httpx.post(f"{server}/api/v1/holds/{hold_id}/release", json=body, headers=qe, timeout=60)

    with ThreadPoolExecutor(2) as pool:
        winner: Future[httpx.Response] = pool.submit(release, first)
        assert hook.locked.wait(TIMEOUT_S), "the first release never took its locks"
        loser: Future[httpx.Response] = pool.submit(release, second)
        _wait_for_a_lock_wait(pg.owner)  # the second release now waits behind the first one's locks
        hook.go.set()
        won, lost = winner.result(timeout=60), loser.result(timeout=60)

    assert won.status_code == 200, won.text
    assert won.json()["disposition"] == first
    assert lost.status_code == 409, lost.text
    assert lost.headers["content-type"].startswith("application/problem+json")
    assert f"hold {hold_id} on {serial} was already released ({first})" in lost.json()["detail"]

    unit = httpx.get(f"{server}/api/v1/units/{serial}", headers=qe).json()
    if first == "scrap":
        assert unit["status"] == "scrapped"
    else:
        assert (unit["status"], unit["next_step"]) == ("in_process", "coil_expansion")
    engine = create_engine(pg.owner)
    try:
        with engine.connect() as conn:
            events = conn.execute(
                text(
                    "SELECT action FROM audit_event WHERE entity_type = 'hold' AND entity_id = :hold "
                    "AND action LIKE 'hold.release%' ORDER BY id"
                ),
                {"hold": str(hold_id)},
            ).scalars()
            assert list(events) == [f"hold.release.{first}"]
            signed = conn.execute(
                text("SELECT count(*) FROM e_signature WHERE entity_type = 'hold' AND entity_id = :hold"),
                {"hold": str(hold_id)},
            ).scalar_one()
            assert signed == 1
    finally:
        engine.dispose()
