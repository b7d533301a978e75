"""On PostgreSQL the app runs as a role that owns no table: `mes db grant-app-role` gives it what the
app needs, and on the audit trail only reading and appending. Each forbidden act is tried as that role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.cli import main as mes
from app.domain.actors import Actor, Role
from app.persistence import models as m
from app.persistence.db import make_engine, make_session_factory
from app.services import audit, holds
from tests.conftest import DbUnderTest


@pytest.fixture
def app_role(pg_database: DbUnderTest) -> Iterator[str]:
    """A uniquely named login role (roles are cluster-wide), dropped with its grants afterwards."""
    role = f"mes_app_{uuid.uuid4().hex[:10]}"
    owner = create_engine(pg_database.url, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    try:
        yield role
    finally:
        with owner.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))  # its grants in this database
            conn.execute(text(f"DROP ROLE {role}"))
        owner.dispose()


def _grant(pg_database: DbUnderTest, role: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from app.config import get_settings

    app_url = make_url(pg_database.url).set(username=role, password=None).render_as_string(hide_password=False)
    monkeypatch.setenv("MES_DATABASE_URL", app_url)
    monkeypatch.setenv("MES_OWNER_DATABASE_URL", pg_database.url)
    get_settings.cache_clear()
    try:
        assert mes(["db", "grant-app-role", role]) == 0
        assert mes(["db", "grant-app-role"]) == 0  # again, as after every upgrade; the role of MES_DATABASE_URL
    finally:
        get_settings.cache_clear()
    return app_url


FORBIDDEN = [
    ("UPDATE audit_event SET reason = 'rewritten' WHERE id = 1", "permission denied"),
    ("DELETE FROM audit_event WHERE id = 1", "permission denied"),
    ("TRUNCATE audit_event CASCADE", "permission denied"),
    ("ALTER TABLE audit_event DISABLE TRIGGER ALL", "must be owner"),
    ("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only", "must be owner"),
    ("UPDATE e_signature SET reason = 'x'", "permission denied"),
    ("DELETE FROM e_signature", "permission denied"),
    ("DROP TABLE audit_event", "must be owner"),
    ("SET session_replication_role = replica", "permission denied"),
]


def test_the_app_role_cannot_rewrite_the_audit_trail_but_does_its_normal_work(
    pg_database: DbUnderTest, app_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_url = _grant(pg_database, app_role, monkeypatch)
    engine = make_engine(app_url, pool_size=2)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == app_role
        for statement, refusal in FORBIDDEN:
            with pytest.raises(DBAPIError, match=refusal), engine.begin() as conn:
                conn.execute(text(statement))

        # The app's own work, audit appends included, goes through as this role.
        actor = Actor(username="supervisor1", role=Role.SUPERVISOR)
        with make_session_factory(engine)() as session, session.begin():
            hold = holds.place_hold(session=session, serial="HP26-0000001", reason="suspect joint", actor=actor)
            hold_id = hold.id
        with make_session_factory(engine)() as session:
            events = audit.list_events(session=session, entity_type="hold", entity_id=str(hold_id))
            assert [e.action for e in events] == ["hold.place"] and events[0].actor_username == "supervisor1"
            assert session.get(m.Hold, hold_id) is not None
            assert audit.verify_chain(session=session) is None
    finally:
        engine.dispose()


def test_grant_refuses_a_superuser_or_a_role_that_owns_tables(
    pg_database: DbUnderTest, app_role: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.config import get_settings

    monkeypatch.setenv("MES_DATABASE_URL", pg_database.url)
    get_settings.cache_clear()
    try:
        assert mes(["db", "grant-app-role", "postgres"]) == 2
        assert "superuser" in capsys.readouterr().err
        owner = create_engine(pg_database.url, isolation_level="AUTOCOMMIT")
        with owner.connect() as conn:
            conn.execute(text(f"ALTER TABLE station_alarm OWNER TO {app_role}"))
        owner.dispose()
        assert mes(["db", "grant-app-role", app_role]) == 2
        assert "owns station_alarm" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_the_postgres_suite_runs_the_app_as_a_role_that_owns_no_table(database: DbUnderTest) -> None:
    engine = create_engine(database.url)
    try:
        with engine.connect() as conn:
            me = conn.execute(text("SELECT current_user")).scalar_one()
            owned = conn.execute(text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")).scalar_one()
            assert me != make_url(database.owner).username and owned == 0
        with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_event"))
    finally:
        engine.dispose()
