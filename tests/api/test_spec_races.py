"""Specification revisions against what happens at the same time: operations already started, and an
edit of the draft being approved (PostgreSQL, two connections interleaved deterministically)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

from app.persistence.db import make_engine, make_session_factory
from app.services import specs
from app.services.signatures import VerifiedSignature
from app.services.users import actor_of, user_by_name
from tests.api.driver import Line
from tests.conftest import DbUnderTest, cloned_database

QUALITY_SIGNATURE = {"secret": "demo-quality"}  # quality1's password, re-entered to sign


def test_an_approval_dated_back_within_the_tolerance_does_not_judge_an_operation_already_started(
    client: Any,
) -> None:
    line = Line(client)
    (serial,) = line.work_order(quantity=1)
    line.run("coil_expansion", serial)
    in_force = client.get(
        "/api/v1/spec-revisions", params={"station_type": "brazing", "product_model": "HPM-06-R290-EVI"}
    ).json()
    assert [r["status"] for r in in_force] == ["approved"]
    started = line.start("brazing", serial)
    assert started.status_code == 201, started.text
    started_at = datetime.fromisoformat(started.json()["attempt"]["started_at"])

    draft = client.post(
        "/api/v1/spec-revisions",
        json={
            "station_type": "brazing",
            "product_model": "HPM-06-R290-EVI",
            "note": "tighter oxygen",
            "overrides": {"limits": {"o2_ppm": {"high": 30.0, "uncertainty": 1.0}}},
        },
    )
    assert draft.status_code == 201, draft.text
    # a tablet whose clock is a few seconds behind: its "now" lies before the operation's start
    back_dated = started_at - timedelta(seconds=3)
    approved = client.post(
        f"/api/v1/spec-revisions/{draft.json()['id']}/approve",
        json={"reason": "supplier audit", "signature": QUALITY_SIGNATURE, "effective_from": back_dated.isoformat()},
    )
    assert approved.status_code == 200, approved.text

    completed = line.complete("brazing", serial, overrides={"O2_ppm": 40.0})  # over the new limit only
    assert completed.status_code == 200, completed.text
    attempt = completed.json()["attempt"]
    assert (attempt["spec_revision_id"], attempt["verdict"]) == (in_force[0]["id"], "PASS")
    # the back-dated time was clock skew: the revision took effect when it was approved
    assert approved.json()["effective_from"] == approved.json()["approved_at"]


# --- approve versus edit of the same draft, on PostgreSQL ---------------------------------------------

NARROW = {"limits": {"fin_pitch_mm": {"low": 1.76, "high": 1.84}}}
WIDE = {"limits": {"fin_pitch_mm": {"low": 1.60, "high": 2.00}}}


@pytest.fixture
def pg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbUnderTest]:
    with cloned_database("postgres", request, tmp_path) as db:
        yield db


def _pausing_after_reading_the_revision(engine: Engine, read: threading.Event, go: threading.Event) -> None:
    """The first statement on ``engine`` that reads spec_revision signals ``read`` and waits for ``go``,
    its transaction (and any row lock it took) held open meanwhile."""

    def after(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not read.is_set() and statement.lstrip().upper().startswith("SELECT") and "FROM spec_revision" in statement:
            read.set()
            assert go.wait(timeout=30), "the test never let the first transaction go on"

    event.listen(engine, "after_cursor_execute", after)


def _waits_for_a_lock(observer: Engine, future: Future[str], timeout_s: float = 10.0) -> bool:
    """True once a session of this database waits for a row lock; False if ``future`` finished first."""
    deadline = time.monotonic() + timeout_s
    with observer.connect() as conn:
        while time.monotonic() < deadline and not future.done():
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting:
                return True
            time.sleep(0.02)
    return False


def _interleave(
    db: DbUnderTest, first: Callable[[Session], object], second: Callable[[Session], object]
) -> tuple[str, str, bool]:
    """``first`` reads the revision and holds its transaction open; ``second`` then runs in another
    session; ``first`` commits. Returns how each ended and whether ``second`` had to wait for ``first``."""
    engine_first, engine_second = make_engine(db.url), make_engine(db.url)
    # each poll its own transaction: PostgreSQL snapshots pg_stat_activity once per transaction
    observer = create_engine(db.owner, isolation_level="AUTOCOMMIT")
    read, go = threading.Event(), threading.Event()
    _pausing_after_reading_the_revision(engine_first, read, go)

    def run(engine: Engine, work: Callable[[Session], object]) -> str:
        try:
            with make_session_factory(engine)() as session, session.begin():
                work(session)
            return "done"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    try:
        with ThreadPoolExecutor(2) as pool:
            done_first = pool.submit(run, engine_first, first)
            assert read.wait(timeout=30), done_first.result() if done_first.done() else "first never read"
            done_second = pool.submit(run, engine_second, second)
            second_waited = _waits_for_a_lock(observer, done_second)
            go.set()
            return done_first.result(timeout=30), done_second.result(timeout=30), second_waited
    finally:
        go.set()
        for engine in (engine_first, engine_second, observer):
            engine.dispose()


def _draft_and_signer(db: DbUnderTest) -> tuple[int, Callable[[Session], object], Callable[[Session], object]]:
    """A coil expansion draft with the NARROW limits, an approval of it and an edit of it to WIDE."""
    engine = make_engine(db.url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            engineer = user_by_name(session=session, username="quality1")
            actor, signature = actor_of(engineer), VerifiedSignature.of(engineer)
            revision_id = specs.create_draft(
                session=session,
                station_type="coil_expansion",
                product_model_code="HPM-06-R290-EVI",
                overrides=NARROW,
                note="narrow",
                actor=actor,
            ).id
    finally:
        engine.dispose()

    def approve(session: Session) -> object:
        return specs.approve(
            session=session, revision_id=revision_id, actor=actor, reason="new tool", signature=signature
        )

    def edit(session: Session) -> object:
        return specs.update_draft(session=session, revision_id=revision_id, overrides=WIDE, note=None, actor=actor)

    return revision_id, approve, edit


def _stored(db: DbUnderTest, revision_id: int) -> tuple[str, dict[str, Any], float]:
    """Status, overrides and the frozen document's fin pitch low limit of a revision."""
    engine = create_engine(db.owner)
    try:
        with engine.connect() as conn:
            status, overrides, document = conn.execute(
                text("SELECT status, overrides, document FROM spec_revision WHERE id = :id"), {"id": revision_id}
            ).one()
    finally:
        engine.dispose()
    return status, json.loads(overrides), json.loads(document)["limits"]["fin_pitch_mm"]["low"]


def test_an_edit_during_an_approval_waits_for_it_and_is_refused(pg: DbUnderTest) -> None:
    revision_id, approve, edit = _draft_and_signer(pg)
    approved, edited, edit_waited = _interleave(pg, approve, edit)
    assert approved == "done"
    assert _stored(pg, revision_id) == ("approved", NARROW, 1.76)  # overrides as the frozen document says
    assert edit_waited, f"the edit did not wait for the approval's lock ({edited})"
    assert edited.startswith("Conflict") and "approved" in edited


def test_an_approval_during_an_edit_waits_for_it_and_freezes_the_edited_limits(pg: DbUnderTest) -> None:
    revision_id, approve, edit = _draft_and_signer(pg)
    edited, approved, approval_waited = _interleave(pg, edit, approve)
    assert edited == "done"
    assert approval_waited, f"the approval did not wait for the edit's lock ({approved})"
    assert approved == "done"
    assert _stored(pg, revision_id) == ("approved", WIDE, 1.60)
