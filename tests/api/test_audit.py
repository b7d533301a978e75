"""The audit trail: every change is an event (who, when, what, before/after, reason), the events are
append-only in the database itself, hash-chained, the chain survives concurrent writers, and
`mes audit verify` names the first broken link."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from app.cli import main as mes
from app.domain.actors import Actor, Role
from app.persistence import models as m
from app.persistence.db import make_engine, make_session_factory
from app.services import audit
from tests.api.driver import Line
from tests.conftest import DbUnderTest

QUALITY_SECRET = {"secret": "demo-quality"}


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _events(client: Any, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit-events", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def _verify(database: DbUnderTest) -> audit.BrokenLink | None:
    engine = make_engine(database.url)
    try:
        with make_session_factory(engine)() as session:
            return audit.verify_chain(session=session)
    finally:
        engine.dispose()


def test_changes_to_master_data_holds_and_specs_are_audited_with_who_what_and_why(
    client: Any, line: Line, database: DbUnderTest
) -> None:
    station = client.get("/api/v1/stations/BRZ-01").json()
    changed = station | {"description": "brazing furnace, relined 2026"}
    assert client.put("/api/v1/stations/BRZ-01", json=changed).status_code == 200
    assert client.put("/api/v1/stations/BRZ-01", json=changed).status_code == 200  # unchanged: no event
    created, event = _events(client, entity_type="station", entity_id="BRZ-01")
    assert created["action"] == "station.create" and created["actor_username"] == "mes"  # the demo data
    assert event["action"] == "station.update" and event["actor_username"] == "admin1"
    assert event["actor_role"] == "admin" and event["actor_user_id"] is not None
    assert event["before"]["description"] == station["description"]
    assert event["after"]["description"] == "brazing furnace, relined 2026"

    serial = line.work_order(quantity=1)[0]
    [order] = _events(client, entity_type="work_order", entity_id=f"WO-T-{serial}")
    assert order["action"] == "work_order.create" and order["after"]["quantity"] == 1

    hold = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "suspect brazing alloy"}).json()
    release = {"disposition": "rework", "reason": "alloy certificate checked", "signature": QUALITY_SECRET}
    assert client.post(f"/api/v1/holds/{hold['id']}/release", json=release).status_code == 200
    placed, released = _events(client, entity_type="hold", entity_id=str(hold["id"]))
    assert placed["action"] == "hold.place" and placed["reason"] == "suspect brazing alloy"
    assert placed["before"]["hold"] is None and placed["after"]["unit"]["status"] == "on_hold"
    assert released["action"] == "hold.release.rework" and released["reason"] == "alloy certificate checked"
    assert released["before"]["unit"]["status"] == "on_hold" and released["after"]["hold"]["disposition"] == "rework"
    assert released["signature"]["meaning"] == "release hold with disposition"
    assert released["actor_username"] == "quality1"

    draft = client.post(
        "/api/v1/spec-revisions",
        json={"station_type": "brazing", "product_model": "HPM-06-R290-EVI", "overrides": {}, "note": "same"},
    ).json()
    body = {"reason": "reviewed", "signature": QUALITY_SECRET}
    assert client.post(f"/api/v1/spec-revisions/{draft['id']}/approve", json=body).status_code == 200
    drafted, approved = _events(client, entity_type="spec_revision", entity_id=str(draft["id"]))
    assert (drafted["action"], approved["action"]) == ("spec_revision.draft", "spec_revision.approve")
    assert approved["before"]["status"] == "draft" and approved["after"]["status"] == "approved"
    assert approved["after"]["document_sha256"] and approved["reason"] == "reviewed"

    assert _verify(database) is None


def test_audit_events_page_by_id_in_chain_order(client: Any) -> None:
    first = client.get("/api/v1/audit-events", params={"limit": 7}).json()
    assert [e["id"] for e in first["items"]] == list(range(1, 8)) and first["next_after_id"] == 7
    second = client.get("/api/v1/audit-events", params={"limit": 7, "after_id": 7}).json()
    assert second["items"][0]["id"] == 8 and second["items"][0]["prev_hash"] == first["items"][-1]["hash"]
    assert first["items"][0]["prev_hash"] == audit.GENESIS_HASH
    assert first["items"][0]["actor_username"] == "mes"  # the demo data was loaded by the MES itself


def test_audit_rows_cannot_be_changed_or_deleted_even_by_the_tables_owner(database: DbUnderTest) -> None:
    engine = create_engine(database.owner)  # the app's own role may not even try (test_audit_app_role.py)
    statements = ["UPDATE audit_event SET reason = 'rewritten' WHERE id = 1", "DELETE FROM audit_event WHERE id = 1"]
    statements += ["UPDATE e_signature SET reason = 'x'", "DELETE FROM e_signature", "DELETE FROM audit_head"]
    if database.backend == "postgres":
        statements += ["TRUNCATE audit_event CASCADE", "TRUNCATE e_signature CASCADE", "TRUNCATE audit_head"]
    try:
        with engine.begin() as conn:  # appending is allowed
            conn.execute(
                text(
                    "INSERT INTO e_signature (username, display_name, meaning, reason, signed_at, entity_type,"
                    " entity_id) VALUES ('quality1', 'Quinn Quality', 'test', 'test', CURRENT_TIMESTAMP, 'test', '1')"
                )
            )
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT reason FROM audit_event WHERE id = 1")).scalar() is None
    finally:
        engine.dispose()
    assert _verify(database) is None


def _tamper(database: DbUnderTest, *statements: str) -> None:
    """Change audit rows the way only someone with the owner's or a superuser's rights could."""
    engine = create_engine(database.owner)
    try:
        with engine.begin() as conn:
            if database.backend == "postgres":
                conn.execute(text("SET LOCAL session_replication_role = replica"))  # superuser: triggers off
            else:
                for trigger in ("audit_event_no_update", "audit_event_no_delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def test_verify_says_ok_with_the_count_then_names_the_event_someone_rewrote(
    database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mes(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    engine = create_engine(database.url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    engine.dispose()
    assert out.startswith("OK") and f"{count} events" in out and count > 50

    _tamper(database, "UPDATE audit_event SET reason = 'nothing to see' WHERE id = 17")
    assert mes(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "event 17:" in err and "do not match the stored hash" in err


def test_verify_names_a_deleted_event_and_events_cut_off_the_end(
    database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _tamper(database, "DELETE FROM audit_event WHERE id = 30")
    assert mes(["audit", "verify"]) == 1
    assert "event 31:" in capsys.readouterr().err  # the link after the gap is the first broken one

    _tamper(database, "DELETE FROM audit_event WHERE id >= 30")
    assert mes(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "audit head:" in err and "cut off the end" in err


def test_rehashing_a_rewritten_event_still_breaks_the_next_link(database: DbUnderTest) -> None:
    engine = make_engine(database.url)
    with make_session_factory(engine)() as session:
        event = session.get(m.AuditEvent, 12)
        assert event is not None
        event.reason = "forged"
        forged_hash = audit.event_hash(event)
        session.rollback()
    engine.dispose()
    _tamper(database, f"UPDATE audit_event SET reason = 'forged', hash = '{forged_hash}' WHERE id = 12")
    broken = _verify(database)
    assert broken is not None and broken.event_id == 13 and "prev_hash" in broken.problem


def test_concurrent_appends_queue_and_never_fork_the_chain(pg_database: DbUnderTest) -> None:
    engine = make_engine(pg_database.url, pool_size=8)
    factory = make_session_factory(engine)
    with factory() as session:
        before = audit.count_events(session=session)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        actor = Actor(username=f"writer{n}", role=Role.ADMIN)
        try:
            start.wait()
            for i in range(25):
                with factory() as session, session.begin():  # one transaction per append
                    audit.record(
                        session=session,
                        actor=actor,
                        action="test.append",
                        entity_type="test",
                        entity_id=f"{n}-{i}",
                        before=None,
                        after={"n": n, "i": i},
                        reason=None,
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as session:
        assert audit.verify_chain(session=session) is None
        assert audit.count_events(session=session) == before + 200
        shared = session.execute(
            select(m.AuditEvent.prev_hash).group_by(m.AuditEvent.prev_hash).having(func.count() > 1)
        ).all()
        assert shared == []
        ids = session.scalars(select(m.AuditEvent.id).order_by(m.AuditEvent.id)).all()
        assert ids == list(range(1, before + 201))
    engine.dispose()


def test_a_hold_placed_by_a_verdict_is_audited_as_the_mes(line: Line, client: Any, database: DbUnderTest) -> None:
    from app.opcua.simulator.faults import Fault
    from tests.api.driver import MONOBLOC

    serial = line.work_order()[0]
    for station_type in MONOBLOC[:3]:
        line.run(station_type, serial)
    for seed in range(2):  # the demo cap is two loops: these go to rework, no hold
        line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.MOISTURE, seed=seed)
    assert _events(client, entity_type="unit", entity_id=serial) == []
    line.run("vacuum_dehydration", serial, "FAIL", fault=Fault.MOISTURE, seed=7)
    [event] = _events(client, entity_type="unit", entity_id=serial)
    assert event["action"] == "hold.place.by_verdict" and event["actor_username"] == "mes"
    assert event["before"] == {"status": "in_process"} and event["after"]["status"] == "on_hold"
    assert "rework loop cap" in event["reason"]
    assert _verify(database) is None
