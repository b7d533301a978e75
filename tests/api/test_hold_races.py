"""Two releases of one hold at once, on PostgreSQL through a real server: the second sees the first; so does
a lot hold's release racing a single release of one of its holds."""

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
from tests.api.driver import Line
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


def _lot_of_three(server: str) -> tuple[list[str], int, list[int]]:
    """Three units brazed in one furnace run, held by one lot hold: (serials, lot hold id, hold ids)."""
    with httpx.Client(base_url=server, headers=auth_headers("supervisor"), timeout=60) as supervisor:
        line = Line(supervisor)
        serials = line.work_order(first="HP26-5300001", quantity=3)
        for serial in serials:
            line.run("coil_expansion", serial)
            line.run("brazing", serial, overrides={"FurnaceRun": "FR-RACE-7"})
    r = httpx.post(
        f"{server}/api/v1/holds/by-component",
        json={"identifier": "FR-RACE-7", "kind": "furnace_run", "reason": "furnace run alarm"},
        headers=auth_headers("quality_engineer"),
    )
    assert r.status_code == 201, r.text
    held = sorted(r.json()["held"], key=lambda h: h["serial"])
    return serials, r.json()["lot_hold_id"], [h["id"] for h in held]


@pytest.mark.parametrize("first", ["single", "lot"])
def test_a_single_release_and_a_lot_hold_release_at_once_release_each_hold_once(
    server: str, pg: DbUnderTest, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    """Whichever takes the locks first, the other sees it: the lot hold reports the hold released one by one
    as already released, or the single release is refused; each hold is released and audited once."""
    qe = auth_headers("quality_engineer")
    serials, lot_hold_id, hold_ids = _lot_of_three(server)
    middle = hold_ids[1]  # the lot release locks the first unit, then waits for (or holds) the middle one
    hook = FirstReleaseWaits()
    monkeypatch.setattr(holds, "utcnow", hook)

    def single() -> httpx.Response:
        body = {"disposition": "rework", "reason": "re-braze", "reenter_at": "brazing", "signature": SIGNATURE}
        return httpx.post(f"{server}/api/v1/holds/{middle}/release", json=body, headers=qe, timeout=60)

    def lot() -> httpx.Response:
        body = {"disposition": "use_as_is", "reason": "false alarm", "signature": SIGNATURE}
        return httpx.post(f"{server}/api/v1/lot-holds/{lot_hold_id}/release", json=body, headers=qe, timeout=60)

    calls = {"single": single, "lot": lot}
    with ThreadPoolExecutor(2) as pool:
        winner: Future[httpx.Response] = pool.submit(calls[first])
        assert hook.locked.wait(TIMEOUT_S), "the first release never took its locks"
        loser: Future[httpx.Response] = pool.submit(calls["lot" if first == "single" else "single"])
        _wait_for_a_lock_wait(pg.owner)  # the second release now waits behind the first one's locks
        hook.go.set()
        won, lost = winner.result(timeout=60), loser.result(timeout=60)

    assert won.status_code == 200, won.text
    by_lot = won if first == "lot" else lost
    if first == "single":
        assert lost.status_code == 200, lost.text
        assert [h["id"] for h in by_lot.json()["already_released"]] == [middle]
        assert by_lot.json()["already_released"][0]["disposition"] == "rework"
        assert sorted(h["id"] for h in by_lot.json()["released"]) == [hold_ids[0], hold_ids[2]]
    else:
        assert sorted(h["id"] for h in by_lot.json()["released"]) == hold_ids
        assert lost.status_code == 409, lost.text
        assert f"hold {middle} on {serials[1]} was already released (use_as_is)" in lost.json()["detail"]

    expected_middle = "rework" if first == "single" else "use_as_is"
    engine = create_engine(pg.owner)
    try:
        with engine.connect() as conn:
            releases = conn.execute(
                text(
                    "SELECT entity_id, action FROM audit_event WHERE entity_type = 'hold' "
                    "AND action LIKE 'hold.release%' ORDER BY entity_id"
                )
            ).all()
            assert sorted((int(i), a) for i, a in releases) == [
                (hold_ids[0], "hold.release.use_as_is"),
                (middle, f"hold.release.{expected_middle}"),
                (hold_ids[2], "hold.release.use_as_is"),
            ]
            signed = conn.execute(text("SELECT entity_type FROM e_signature ORDER BY id")).scalars().all()
            assert sorted(signed) == (["hold", "lot_hold"] if first == "single" else ["lot_hold"])
            dispositions = conn.execute(text("SELECT id, disposition FROM hold ORDER BY id")).all()
            assert dispositions == [(hold_ids[0], "use_as_is"), (middle, expected_middle), (hold_ids[2], "use_as_is")]
    finally:
        engine.dispose()
