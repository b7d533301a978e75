"""`mes audit verify` walks every stored event, not just those up to the head: the app's own database
role may append audit events and move the head (on PostgreSQL these tests act as that role, as
tests/api/test_audit_app_role.py does), so an event it appends outside the chain, or a head it moves
back, must be named as the first broken link, and the count reported is the count actually verified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.engine import make_url

from app.cli import main as mes
from app.domain.actors import Actor, Role
from app.persistence import models as m
from app.persistence.db import make_engine, make_session_factory
from app.services import audit
from tests.conftest import PG_APP_ROLE, DbUnderTest


def _app_engine(database: DbUnderTest) -> Engine:
    """The database as the app connects to it: on PostgreSQL the role that may only read and append."""
    engine = make_engine(database.url)
    if database.backend == "postgres":
        with engine.connect() as conn:
            me = conn.execute(text("SELECT current_user")).scalar_one()
        assert me == PG_APP_ROLE and me != make_url(database.owner).username
    return engine


def _head(engine: Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        seq, hash_ = conn.execute(select(m.AuditHead.seq, m.AuditHead.hash).where(m.AuditHead.id == 1)).one()
    return seq, hash_


def _stored_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


def _forged_event(event_id: int, **fields: Any) -> dict[str, Any]:
    """quality1 approving a revision a month ago: an event no one recorded through the MES."""
    return {
        "id": event_id,
        "at": datetime.now(UTC) - timedelta(days=30),
        "actor_username": "quality1",
        "actor_role": "quality_engineer",
        "actor_user_id": None,
        "action": "spec_revision.approve",
        "entity_type": "spec_revision",
        "entity_id": "999",
        "before": None,
        "after": '{"status":"approved"}',
        "reason": "forged",
        "signature_id": None,
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    } | fields


def _verify_cli(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = mes(["audit", "verify"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_unchained_event_appended_past_the_head_is_named(
    database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = _app_engine(database)
    try:
        seq, _ = _head(engine)
        with engine.begin() as conn:  # the app role may INSERT audit events
            conn.execute(insert(m.AuditEvent.__table__).values(**_forged_event(seq + 1)))
        assert _stored_count(engine) == seq + 1
    finally:
        engine.dispose()
    code, out, err = _verify_cli(capsys)
    assert code == 1 and out == ""
    assert f"first broken link at event {seq + 1}:" in err and "prev_hash" in err
    assert f"after {seq} verified events" in err  # not the rows stored, the events that held
    engine = make_engine(database.url)
    try:
        with make_session_factory(engine)() as session:
            check = audit.check_chain(session=session, batch_size=7)
    finally:
        engine.dispose()
    assert check.verified == seq and check.broken is not None and check.broken.event_id == seq + 1


def test_an_event_chained_properly_but_past_the_head_is_named(
    database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = _app_engine(database)
    try:
        seq, head_hash = _head(engine)
        forged = _forged_event(seq + 1, prev_hash=head_hash)
        forged["hash"] = audit.event_hash(m.AuditEvent(**{k: v for k, v in forged.items() if k != "hash"}))
        with engine.begin() as conn:
            conn.execute(insert(m.AuditEvent.__table__).values(**forged))
    finally:
        engine.dispose()
    code, _, err = _verify_cli(capsys)
    assert code == 1
    assert f"first broken link at event {seq + 1}:" in err and "beyond the audit head" in err


def test_a_head_moved_back_is_named_at_the_first_event_past_it(
    database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = _app_engine(database)
    try:
        seq, _ = _head(engine)
        back = seq - 5
        with engine.begin() as conn:  # the app role may UPDATE the head
            back_hash = conn.execute(select(m.AuditEvent.hash).where(m.AuditEvent.id == back)).scalar_one()
            conn.execute(update(m.AuditHead).where(m.AuditHead.id == 1).values(seq=back, hash=back_hash))
        assert _head(engine) == (back, back_hash)
    finally:
        engine.dispose()
    code, out, err = _verify_cli(capsys)
    assert code == 1 and out == ""
    assert f"first broken link at event {back + 1}:" in err and "beyond the audit head" in err
    assert f"after {back} verified events" in err


def test_the_reviewers_forgery_then_head_moved_back_is_still_named(
    database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = _app_engine(database)
    try:
        seq, _ = _head(engine)
        with engine.begin() as conn:
            conn.execute(insert(m.AuditEvent.__table__).values(**_forged_event(seq + 1)))
        assert _verify_cli(capsys)[0] == 1
        with engine.begin() as conn:
            back_hash = conn.execute(select(m.AuditEvent.hash).where(m.AuditEvent.id == seq - 5)).scalar_one()
            conn.execute(update(m.AuditHead).where(m.AuditHead.id == 1).values(seq=seq - 5, hash=back_hash))
    finally:
        engine.dispose()
    code, _, err = _verify_cli(capsys)
    assert code == 1 and f"first broken link at event {seq - 4}:" in err


def test_an_intact_trail_verifies_every_event_in_batches_with_the_right_count(
    database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = _app_engine(database)
    try:
        factory = make_session_factory(engine)
        for i in range(3):  # the app's own appends, as its role
            with factory() as session, session.begin():
                audit.record(
                    session=session,
                    actor=Actor(username="admin1", role=Role.ADMIN),
                    action="test.append",
                    entity_type="test",
                    entity_id=str(i),
                    before=None,
                    after={"i": i},
                    reason=None,
                )
        stored = _stored_count(engine)
        assert _head(engine)[0] == stored and stored > 50
        with factory() as session:
            for batch_size in (1, 7, stored, 1000):  # across batch boundaries, and all at once
                check = audit.check_chain(session=session, batch_size=batch_size)
                assert check.intact and check.verified == stored
    finally:
        engine.dispose()
    code, out, err = _verify_cli(capsys)
    assert code == 0 and err == ""
    assert out.strip() == f"OK: audit chain of {stored} events is intact"
