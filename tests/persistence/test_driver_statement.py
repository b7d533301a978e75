"""DriverStatement (app/persistence/driver.py) against the real databases: the same rows, conversions,
transaction and errors as ``Connection.execute``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, exc, insert, select, text

from app.persistence import models as m
from app.persistence.db import make_engine
from app.persistence.driver import DriverStatement
from app.persistence.repositories import table
from tests.conftest import DbUnderTest

_HOLD = table(m.Hold)
_UNIT = table(m.Unit)
_FIRST_UNIT = select(_UNIT.c.id).order_by(_UNIT.c.id).limit(1)
_INSERT_HOLD = DriverStatement(
    insert(_HOLD)
    .values(
        unit_id=bindparam("unit_id"),
        reason=bindparam("reason"),
        scope="unit",
        created_at=bindparam("created_at"),
    )
    .returning(_HOLD.c.id, _HOLD.c.created_at)
)
_HOLDS_OF = DriverStatement(
    select(_HOLD.c.id, _HOLD.c.reason, _HOLD.c.created_at).where(_HOLD.c.unit_id == bindparam("unit_id"))
)


@pytest.fixture
def engine(database: DbUnderTest):  # type: ignore[no-untyped-def]
    engine = make_engine(database.owner)  # as the app configures it (SQLite: foreign keys on)
    yield engine
    engine.dispose()


def test_rows_and_conversions_match_connection_execute(engine) -> None:  # type: ignore[no-untyped-def]
    # a UTC instant given with another offset is stored and read back as UTC (UTCDateTime's conversions)
    at = datetime(2026, 11, 28, 7, 30, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as connection:
        unit_id = connection.execute(_FIRST_UNIT).scalar_one()
        hold_id, created = _INSERT_HOLD.one(connection, {"unit_id": unit_id, "reason": "driver test", "created_at": at})
        assert created == at and created.tzinfo == UTC
        through_driver = _HOLDS_OF.rows(connection, {"unit_id": unit_id})
        through_sqlalchemy = [tuple(r) for r in connection.execute(_HOLDS_OF.statement, {"unit_id": unit_id})]
        assert through_driver == through_sqlalchemy == [(hold_id, "driver test", at)]
        assert through_driver[0][2].tzinfo == UTC


def test_a_naive_instant_is_refused_as_through_sqlalchemy(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as connection, pytest.raises((ValueError, exc.StatementError), match="naive datetime"):
        unit_id = connection.execute(_FIRST_UNIT).scalar_one()
        _INSERT_HOLD.rows(connection, {"unit_id": unit_id, "reason": "x", "created_at": datetime(2026, 11, 28)})


def test_it_runs_in_the_connections_transaction(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        unit_id = connection.execute(_FIRST_UNIT).scalar_one()
        _INSERT_HOLD.rows(connection, {"unit_id": unit_id, "reason": "rolled back", "created_at": datetime.now(UTC)})
        assert _HOLDS_OF.rows(connection, {"unit_id": unit_id})
        connection.rollback()
        assert _HOLDS_OF.rows(connection, {"unit_id": unit_id}) == []


def test_a_database_error_is_raised_as_sqlalchemys(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as connection, pytest.raises(exc.IntegrityError):
        _INSERT_HOLD.rows(connection, {"unit_id": 10**9, "reason": "no such unit", "created_at": datetime.now(UTC)})


def test_a_lost_server_connection_is_invalidated_as_sqlalchemy_does(pg_database: DbUnderTest) -> None:
    engine = make_engine(pg_database.url)
    try:
        with engine.connect() as connection:
            unit_id = connection.execute(_FIRST_UNIT).scalar_one()
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            connection.commit()
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(exc.OperationalError) as raised:
                _HOLDS_OF.rows(connection, {"unit_id": unit_id})
            assert raised.value.connection_invalidated
            assert connection.invalidated
        with engine.connect() as connection:  # the pool hands out a fresh connection
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
