"""The audit trail: every change is an event (who, when, what, before/after, reason), the events are
append-only in the database itself, hash-chained, the chain survives concurrent writers, and
`mes audit verify` names the first broken link."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import Executable, create_engine, func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.cli import main as mes
from app.domain.actors import Actor, Role
from app.persistence import models as m
from app.persistence.db import make_engine, make_session_factory
from app.services import audit
from tests.api.driver import Line
from tests.conftest import DbUnderTest, auth_headers

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


def _tamper(database: DbUnderTest, *statements: str | Executable) -> None:
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
                conn.execute(text(statement) if isinstance(statement, str) else statement)
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


def _two_signed_releases(line: Line, client: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two units held and released for rework, each release e-signed (its reason not plain ASCII): the
    two hold.release events, the second the last of the chain."""
    events = []
    for serial in line.work_order(quantity=2):
        hold = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "dropped by forklift"}).json()
        release = {"disposition": "rework", "reason": "frame straight (Prüfprotokoll 7)", "signature": QUALITY_SECRET}
        assert client.post(f"/api/v1/holds/{hold['id']}/release", json=release).status_code == 200
        [event] = _events(client, entity_type="hold", entity_id=str(hold["id"]), action="hold.release.rework")
        events.append(event)
    first, last = events
    assert client.get("/api/v1/audit-events", params={"after_id": last["id"]}).json()["items"] == []
    return first, last


def _recanonical(stored: str) -> str:
    """The same JSON object with one more key, spelled canonically (as the stored before/after are)."""
    return json.dumps(json.loads(stored) | {"forged": True}, sort_keys=True, separators=(",", ":"))


# How someone with table access would rewrite each stored column of the last event (``other``: the
# release event before it, ``admin_id``: admin1's user id). Keyed by every column but ``hash``.
FORGERIES: dict[str, Any] = {
    "id": lambda e, other, admin_id: e.id + 1,
    "at": lambda e, other, admin_id: e.at + timedelta(seconds=1),
    "actor_username": lambda e, other, admin_id: "admin1",
    "actor_role": lambda e, other, admin_id: "admin",
    "actor_user_id": lambda e, other, admin_id: admin_id,
    "action": lambda e, other, admin_id: "hold.release.use_as_is",
    "entity_type": lambda e, other, admin_id: "unit",
    "entity_id": lambda e, other, admin_id: other["entity_id"],
    "before": lambda e, other, admin_id: _recanonical(e.before),
    "after": lambda e, other, admin_id: _recanonical(e.after),
    "reason": lambda e, other, admin_id: "nothing to see",
    "signature_id": lambda e, other, admin_id: other["signature"]["id"],  # re-linked to another signature
    "prev_hash": lambda e, other, admin_id: "f" * 64,
}


@pytest.mark.parametrize("column", [c.name for c in m.AuditEvent.__table__.columns if c.name != "hash"])
def test_verify_names_the_event_whatever_stored_column_of_it_was_rewritten(
    column: str, line: Line, client: Any, database: DbUnderTest
) -> None:
    """Every stored field is covered: who acted, under which signature, on what, when and why. A rewrite
    of any one of them (the hash left as it was) is named at that event."""
    other, last = _two_signed_releases(line, client)
    engine = make_engine(database.url)
    try:
        with make_session_factory(engine)() as session:
            event = session.get(m.AuditEvent, last["id"])
            admin_id = session.scalar(select(m.AppUser.id).where(m.AppUser.username == "admin1"))
            assert event is not None and admin_id is not None
            original = getattr(event, column)
            forged = FORGERIES[column](event, other, admin_id)
    finally:
        engine.dispose()
    assert forged != original and original is not None
    table = m.AuditEvent.__table__
    _tamper(database, update(table).where(table.c.id == last["id"]).values({column: forged}))

    broken = _verify(database)
    assert broken is not None, f"rewriting {column} went unnoticed"
    if column == "id":
        assert (broken.event_id, broken.problem) == (
            last["id"] + 1,
            f"expected event {last['id']} next; events {last['id']}..{last['id']} are missing",
        )
    elif column == "prev_hash":
        assert broken.event_id == last["id"] and broken.problem.startswith(f"prev_hash {'f' * 64} is not the hash")
    else:
        assert broken.event_id == last["id"]
        assert broken.problem.startswith(f"contents do not match the stored hash (stored {last['hash']}, recomputed ")


def test_an_events_hash_is_the_documented_sha256_of_its_fields_recomputed_independently(
    line: Line, client: Any, database: DbUnderTest
) -> None:
    """The formula of app/services/audit.py's docstring, as an external auditor would re-implement it,
    over a real, e-signed event: SHA-256 (hex) of the UTF-8 canonical JSON (keys sorted, ``,`` and ``:``,
    non-ASCII kept) of its 13 fields, ``at`` as UTC with microseconds, before/after as stored text."""
    _, last = _two_signed_releases(line, client)
    engine = make_engine(database.url)
    try:
        with make_session_factory(engine)() as session:
            event = session.get(m.AuditEvent, last["id"])
            assert event is not None
            fields = {
                "action": event.action,
                "actor_role": event.actor_role,
                "actor_user_id": event.actor_user_id,
                "actor_username": event.actor_username,
                "after": event.after,
                "at": event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
                "before": event.before,
                "entity_id": event.entity_id,
                "entity_type": event.entity_type,
                "id": event.id,
                "prev_hash": event.prev_hash,
                "reason": event.reason,
                "signature_id": event.signature_id,
            }
            stored_hash = event.hash
    finally:
        engine.dispose()
    assert None not in fields.values()  # every field takes part, the signature's id and the actor's too
    assert fields["signature_id"] == last["signature"]["id"] and fields["actor_username"] == "quality1"
    assert fields["reason"] == "frame straight (Prüfprotokoll 7)"  # non-ASCII, hashed as itself (UTF-8)
    for text_field in ("before", "after"):  # stored canonical: the same text as the API's object re-spelled
        assert fields[text_field] == json.dumps(
            last[text_field], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == stored_hash == last["hash"]


def test_an_override_is_audited_with_the_verdicts_before_and_after_its_signature_and_the_hold_it_released(
    line: Line, client: Any, database: DbUnderTest
) -> None:
    serial = line.work_order(quantity=1)[0]
    failed = line.run("coil_expansion", serial, "FAIL", overrides={"FinPitch_mm": 1.95})
    [hold] = client.get("/api/v1/holds").json()
    attempt_id = failed["attempt"]["id"]
    r = client.post(
        f"/api/v1/attempts/{attempt_id}/override",
        json={"verdict": "PASS", "reason": "fin gauge out of calibration", "signature": QUALITY_SECRET},
    )
    assert r.status_code == 201, r.text
    override = r.json()

    events = _events(client, entity_type="verdict_override", entity_id=str(override["id"]))
    assert [e["action"] for e in events] == ["verdict.override"]
    event = events[0]
    assert (event["actor_username"], event["actor_role"]) == ("quality1", "quality_engineer")
    assert event["reason"] == "fin gauge out of calibration"
    assert event["signature"] == override["signature"] and event["signature"]["meaning"] == "override verdict"
    assert event["before"] == {
        "attempt_id": attempt_id,
        "effective_verdict": "FAIL",
        "unit": {
            "serial": serial,
            "status": "on_hold",
            "next_step": "coil_expansion",
            "reentry_step": "coil_expansion",
        },
    }
    recorded = event["after"]["override"]
    assert (recorded["id"], recorded["attempt_id"], recorded["engine_verdict"], recorded["verdict"]) == (
        override["id"],
        attempt_id,
        "FAIL",
        "PASS",
    )
    assert recorded["signature_id"] == override["signature"]["id"] and recorded["by"] == "quality1"
    assert event["after"]["unit"] == {
        "serial": serial,
        "status": "in_process",
        "next_step": "brazing",
        "reentry_step": None,
    }

    [released] = _events(client, entity_type="hold", entity_id=str(hold["id"]), action="hold.release.use_as_is")
    assert released["id"] == event["id"] + 1 and released["signature"] == override["signature"]
    assert released["reason"] == "verdict override: fin gauge out of calibration"
    assert released["after"]["hold"]["disposition"] == "use_as_is" and released["before"]["hold"]["released_at"] is None
    assert _verify(database) is None


def test_manual_checks_are_audited_and_a_failed_one_audits_the_hold_it_placed(
    line: Line, client: Any, database: DbUnderTest
) -> None:
    serial = line.work_order(quantity=1)[0]
    attempt_id = line.run("coil_expansion", serial)["attempt"]["id"]

    def check(verdict: str, message: str) -> dict[str, Any]:
        r = client.post(
            f"/api/v1/attempts/{attempt_id}/manual-checks",
            json={"name": "visual_fins", "verdict": verdict, "message": message},
            headers=auth_headers("operator"),
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def recorded(check_id: int) -> dict[str, Any]:
        events = _events(client, entity_type="manual_check", entity_id=str(check_id))
        assert [e["action"] for e in events] == ["manual_check.record"]
        event = events[0]
        assert (event["actor_username"], event["actor_role"]) == ("operator1", "operator")
        assert event["before"] is None and event["signature"] is None
        return event

    passed = check("PASS", "fins straight")
    event = recorded(passed["id"])
    assert event["reason"] == "fins straight"
    assert {k: event["after"]["check"][k] for k in ("id", "attempt_id", "name", "verdict", "message", "by")} == {
        "id": passed["id"],
        "attempt_id": attempt_id,
        "name": "visual_fins",
        "verdict": "PASS",
        "message": "fins straight",
        "by": "operator1",
    }
    assert event["after"]["unit"]["status"] == "in_process"
    assert _events(client, entity_type="hold") == []

    failed = check("FAIL", "bent fins on the left edge")
    event = recorded(failed["id"])
    assert event["reason"] == "bent fins on the left edge" and event["after"]["check"]["verdict"] == "FAIL"
    assert event["after"]["unit"]["status"] == "on_hold"
    [placed] = _events(client, entity_type="hold")
    assert placed["id"] == event["id"] + 1 and placed["action"] == "hold.place"
    assert placed["reason"] == "manual check visual_fins failed at CEX-01: bent fins on the left edge"
    assert placed["after"]["hold"]["attempt_id"] == attempt_id and placed["after"]["hold"]["scope"] == "verdict"
    assert (placed["before"]["unit"]["status"], placed["after"]["unit"]["status"]) == ("in_process", "on_hold")
    assert _verify(database) is None
