"""A PostgreSQL restart between two requests: the pooled connections are dead, and the pool only pings
one that sat idle (app/persistence/db.py). Station starts and completions run again on a fresh
connection (they are safe to repeat); any other request answers 503 with Retry-After, and the next one
works."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.api.driver import Line
from tests.conftest import DbUnderTest

pytestmark = pytest.mark.parametrize("database", ["postgres"], indirect=True)


def _drop_the_apps_connections(database: DbUnderTest) -> int:
    """What a server restart does to the app's pooled connections (here: only this database's)."""
    engine = create_engine(database.owner)
    with engine.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        ).scalar_one()
    engine.dispose()
    assert killed >= 1, "the app held no connection: the test would prove nothing"
    return int(killed)


def test_station_start_and_completion_survive_a_database_restart(client: Any, database: DbUnderTest) -> None:
    line = Line(client)
    serial = line.work_order()[0]
    _drop_the_apps_connections(database)
    started = line.start("coil_expansion", serial)
    assert started.status_code == 201, started.text
    _drop_the_apps_connections(database)
    first = line.complete("coil_expansion", serial, result_id="R-RESTART-1")
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    _drop_the_apps_connections(database)
    again = line.complete("coil_expansion", serial, result_id="R-RESTART-1")
    assert again.status_code == 200, again.text
    assert again.json() == first.json() | {"duplicate": True}
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    assert len(record["attempts"]) == 1 and record["attempts"][0]["verdict"] == "PASS"


def test_other_requests_answer_503_with_retry_after_then_work(client: Any, database: DbUnderTest) -> None:
    line = Line(client)
    serial = line.work_order()[0]
    assert client.get(f"/api/v1/units/{serial}").status_code == 200
    _drop_the_apps_connections(database)
    lost = client.get(f"/api/v1/units/{serial}")
    assert lost.status_code == 503, lost.text
    assert lost.headers["content-type"] == "application/problem+json"
    assert lost.headers["retry-after"] == "1"
    assert "lost its connection to the database" in lost.json()["detail"]
    assert client.get(f"/api/v1/units/{serial}").status_code == 200
