"""Two sub-base stations scanning one part onto two units at the same moment (SQLite and PostgreSQL):
the check "not already fitted in another unit" and the insert that fits it are one step, so exactly
one unit gets the part and the other scan is refused."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.domain.errors import Conflict
from app.domain.results import Component, ComponentKind
from app.persistence import models as m
from app.services import scans
from app.services.scans import ScanOutcome
from tests.api.driver import Line
from tests.conftest import DbUnderTest

SERIAL_FORMAT = Settings().serial.format()
WAIT_S = 10.0


def scan(sessions: sessionmaker[Session], station: str, serial: str, part: Component) -> ScanOutcome | Conflict:
    """One scan committed as a route commits it; a refusal is returned rather than raised."""
    try:
        with sessions() as session, session.begin():
            return scans.record_component_scans(
                session=session,
                serial_format=SERIAL_FORMAT,
                station_id=station,
                serial=serial,
                components=[part],
                by="OP-17",
            )
    except Conflict as exc:
        return exc


@pytest.fixture
def lock_wait(database: DbUnderTest, sessions: sessionmaker[Session]) -> Iterator[Callable[[], bool]]:
    """Whether a transaction of this test's database waits for a lock another one holds."""
    if database.backend != "postgres":
        # SQLite: every transaction begins with BEGIN IMMEDIATE, which waits while another one is open
        beginning = threading.Event()
        event.listen(sessions.kw["bind"], "begin", lambda _conn: beginning.set(), insert=True)
        yield beginning.is_set
        return
    owner = create_engine(database.owner)
    ungranted = text(
        "select count(*) from pg_locks where not granted"
        " and pid in (select pid from pg_stat_activity where datname = current_database())"
    )

    def waiting() -> bool:
        with owner.connect() as conn:
            return bool(conn.execute(ungranted).scalar())

    yield waiting
    owner.dispose()


@pytest.mark.parametrize("second_spelling", ["C-RACE-1", "c-race-1"], ids=["same_case", "other_case"])
def test_one_compressor_scanned_onto_two_units_at_once_is_fitted_in_one(
    client: Any,
    sessions: sessionmaker[Session],
    lock_wait: Callable[[], bool],
    monkeypatch: pytest.MonkeyPatch,
    second_spelling: str,
) -> None:
    """The part's lock is keyed on its serial in lower case: the genealogy's one part, however typed."""
    put = client.put(
        "/api/v1/stations/SBA-02",
        json={"station_id": "SBA-02", "station_type": "sub_base_assembly", "line": "LINE-1", "description": "nest 2"},
    )
    assert put.status_code == 200, put.text
    line = Line(client)
    first, second = line.work_order(first="HP26-0000801", quantity=2)
    for serial, station in ((first, "SBA-01"), (second, "SBA-02")):
        line.run("coil_expansion", serial)
        line.run("brazing", serial)
        assert line.start("sub_base_assembly", serial, station=station).status_code == 201
    part = Component(ComponentKind.COMPRESSOR, "C-RACE-1", "RSC-19-EVI")

    # SBA-01's scan stops between its check and its insert, its transaction open, until released
    checked, release = threading.Event(), threading.Event()
    real_check = scans._refuse_unfit

    def check_then_hold(session: Session, **kw: Any) -> None:
        real_check(session, **kw)
        if kw["station_id"] == "SBA-01":
            checked.set()
            assert release.wait(WAIT_S), "the test never released SBA-01's scan"

    monkeypatch.setattr(scans, "_refuse_unfit", check_then_hold)
    with ThreadPoolExecutor(2) as pool:
        at_first: Future[ScanOutcome | Conflict] = pool.submit(scan, sessions, "SBA-01", first, part)
        assert checked.wait(WAIT_S), "SBA-01's scan never reached its check"
        at_second = pool.submit(scan, sessions, "SBA-02", second, dataclasses.replace(part, identifier=second_spelling))
        deadline = time.monotonic() + WAIT_S
        while not (at_second.done() or lock_wait()):  # SBA-02 either finished unguarded or waits for SBA-01
            assert time.monotonic() < deadline, "SBA-02's scan neither finished nor waited for a lock"
            time.sleep(0.02)
        release.set()
        outcomes = at_first.result(WAIT_S), at_second.result(WAIT_S)

    assert isinstance(outcomes[0], ScanOutcome), outcomes
    assert isinstance(outcomes[1], Conflict), outcomes
    assert (
        f"compressor {second_spelling} is already fitted in {first}; scan the part in your hand" in outcomes[1].detail
    )
    cu = m.ComponentUse
    with sessions() as session:
        fitted = session.execute(
            select(m.Unit.serial).join(cu, cu.unit_id == m.Unit.id).where(func.lower(cu.identifier) == "c-race-1")
        ).all()
    assert [s for (s,) in fitted] == [first]


def test_a_part_lock_key_is_the_same_in_every_process_and_fits_a_bigint() -> None:
    key = scans.part_lock_key(ComponentKind.COMPRESSOR, "C-RACE-1")
    assert key == 2871801188164088570  # not Python's hash(), which differs from one process to the next
    assert key == scans.part_lock_key(ComponentKind.COMPRESSOR, "c-race-1")  # one part in any case
    assert -(2**63) <= key < 2**63
    assert key != scans.part_lock_key(ComponentKind.INVERTER, "C-RACE-1")
