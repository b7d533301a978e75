"""What a plant's IT person meets at the `mes` command: refusals in one sentence rather than
tracebacks, a way out of the demo-password refusal without the API, and `make run` carrying on once
the demo work order is used up."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from app.cli import main as mes
from app.config import get_settings
from app.domain.actors import SYSTEM
from app.persistence import migrate
from app.persistence import models as m
from app.persistence.db import make_engine, make_session_factory
from app.services import master_data, operations, work_orders
from app.services.demo import DEMO_USERS
from app.startup import preflight
from tests.conftest import DbUnderTest, query_rows

# a plant's configuration: its own key, no demo secrets, and a password hash cost at OWASP's minimum (the
# tests' own cost is refused without the demo's flag)
PRODUCTION = {
    "MES_SECURITY__SECRET_KEY": "a-plant-secret-" + "x" * 40,
    "MES_SECURITY__ALLOW_DEMO_SECRETS": "false",
    "MES_SECURITY__PASSWORD_HASH_TIME_COST": "2",
    "MES_SECURITY__PASSWORD_HASH_MEMORY_KIB": str(19 * 1024),
}


def test_production_refuses_demo_passwords_and_the_cli_is_the_way_out(
    database: DbUnderTest, cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    assert mes(["serve"]) == 2  # refused before uvicorn starts: nothing is served
    refusal = capsys.readouterr().err
    assert refusal.startswith("error: users operator1, supervisor1") and "mes users set-password" in refusal
    assert "Traceback" not in refusal

    for demo in DEMO_USERS:
        if demo.username == "supervisor1":
            assert mes(["users", "deactivate", demo.username, "--by", "it-admin", "--reason", "demo user"]) == 0
        elif demo.password is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(f"new-passphrase-for-{demo.username}\n"))
            assert mes(["users", "set-password", demo.username, "--by", "it-admin"]) == 0
        else:  # operator1 signs in with the demo's badge PIN
            monkeypatch.setattr("sys.stdin", io.StringIO("739514\n"))
            assert mes(["users", "set-pin", demo.username, "--by", "it-admin"]) == 0
    assert "recorded in the audit trail as cli:it-admin" in capsys.readouterr().out
    preflight(get_settings())  # nothing left to refuse
    events = query_rows(
        database.owner, "SELECT actor_username, entity_id FROM audit_event WHERE actor_username = 'cli:it-admin'"
    )
    assert sorted(e[1] for e in events) == sorted(d.username for d in DEMO_USERS)
    assert mes(["audit", "verify"]) == 0


def test_a_service_account_bound_to_no_station_gets_its_stations_with_its_new_password(
    database: DbUnderTest, cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After migration 0016 a service account serves no station, and changing its password alone is
    refused ("give stations"): production's refusal named a command that could not clear it."""
    engine = create_engine(database.owner)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM service_account_station"))
    engine.dispose()
    monkeypatch.setattr("sys.stdin", io.StringIO("new-passphrase-for-svc\n"))
    assert mes(["users", "set-password", "svc-leak-test", "--by", "it-admin"]) == 2
    assert "give stations" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("new-passphrase-for-svc\n"))
    assert mes(["users", "set-password", "svc-leak-test", "--stations", "LKT-01", "--by", "it-admin"]) == 0
    assert query_rows(database.owner, "SELECT station_id FROM service_account_station") == [("LKT-01",)]


def test_a_misspelt_variable_stops_the_command_before_it_touches_a_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """It ran on the default, an empty SQLite database in the data directory, instead of the plant's."""
    monkeypatch.delenv("MES_DATABASE_URL", raising=False)
    monkeypatch.setenv("MES_DATABSE_URL", "postgresql+psycopg://mes@db-host/mes")
    monkeypatch.setenv("MES_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        assert mes(["db", "upgrade"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "unknown configuration variable(s) MES_DATABSE_URL (did you mean MES_DATABASE_URL?)" in err
    assert not (tmp_path / "data" / "mes.db").exists()


def test_serve_refuses_a_database_one_revision_behind_in_one_sentence(
    database: DbUnderTest, cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MES_SECURITY__ALLOW_DEMO_SECRETS", "true")
    get_settings.cache_clear()
    head = migrate.head_revision()
    migrate.downgrade(database.owner, f"{int(head) - 1:04d}")
    assert mes(["serve"]) == 2
    err = capsys.readouterr().err
    assert f"this MES needs {head}: run 'mes db upgrade'" in err and "Traceback" not in err


def _start_at_coil_expansion(session: Session, serials: Sequence[str]) -> None:
    for serial in serials:
        operations.start_operation(
            session=session,
            serial_format=get_settings().serial.format(),
            station_id="CEX-01",
            serial=serial,
            operator="op",
            origin="operator",
        )


def test_fresh_serials_releases_a_follow_up_order_once_the_demo_order_is_used_up(
    database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = get_settings()
    engine = make_engine(database.url)
    with make_session_factory(engine)() as session, session.begin():
        order = work_orders.create_work_order(
            session=session,
            serial_format=settings.serial.format(),
            number="WO-T",
            product_model_code="HPM-06-R290-EVI",
            first_serial="HP26-0900001",
            quantity=2,
            actor=SYSTEM,
        )
        _start_at_coil_expansion(session, ["HP26-0900001", "HP26-0900002"])  # the order is used up
        assert order.number == "WO-T"
    assert mes(["demo", "fresh-serials", "--work-order", "WO-T"]) == 2
    assert "every unit of WO-T has been started" in capsys.readouterr().err

    assert mes(["demo", "fresh-serials", "--work-order", "WO-T", "--release-more"]) == 0
    captured = capsys.readouterr()
    number, first, count = captured.out.split()
    highest = max(query_rows(database.owner, "SELECT serial FROM unit"))[0]
    assert (number, count) == ("WO-T-2", "2") and "released WO-T-2" in captured.err
    assert int(first) == int(highest.split("-")[1]) - 1  # right after every serial released before it
    assert mes(["demo", "fresh-serials", "--work-order", "WO-T", "--release-more"]) == 0
    assert capsys.readouterr().out.split() == ["WO-T-2", first, "2"]  # the untouched follow-up, not a third
    with make_session_factory(engine)() as session:
        assert session.scalars(select(m.WorkOrder.number).where(m.WorkOrder.number.like("WO-T%"))).all() == [
            "WO-T",
            "WO-T-2",
        ]
        follow_up = session.scalars(
            select(m.Unit.serial).join(m.WorkOrder).where(m.WorkOrder.number == "WO-T-2").order_by(m.Unit.serial)
        ).all()
    with make_session_factory(engine)() as session, session.begin():
        _start_at_coil_expansion(session, follow_up)  # the follow-up used up too
    assert mes(["demo", "fresh-serials", "--work-order", "WO-T", "--release-more"]) == 0
    assert capsys.readouterr().out.split()[0] == "WO-T-3"  # numbered after the demo order, not WO-T-2-2
    engine.dispose()


def test_loading_the_demo_again_keeps_master_data_changed_since_and_says_how_to_restore_it(
    database: DbUnderTest, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(database.url)
    document = master_data.read_document(master_data.DEMO_DOCUMENT)
    station = next(s for s in document.stations if s.station_id == "CHG-01")
    with make_session_factory(engine)() as session, session.begin():  # as PUT /api/v1/stations/CHG-01 does
        changed = station.model_copy(update={"description": "charging board moved to bay 4"})
        master_data.upsert_station(session=session, station_in=changed, actor=SYSTEM)

    assert mes(["demo", "load"]) == 0  # what `make run` does at every start

    out = capsys.readouterr().out
    assert "master_data_records_added 0" in out and "mes masterdata load" in out
    [(description,)] = query_rows(database.owner, "SELECT description FROM station WHERE station_id = 'CHG-01'")
    assert description == "charging board moved to bay 4"
    assert mes(["masterdata", "load", str(master_data.DEMO_DOCUMENT), "--by", "it-admin"]) == 0  # restored on request
    [(description,)] = query_rows(database.owner, "SELECT description FROM station WHERE station_id = 'CHG-01'")
    assert description == station.description
    engine.dispose()
