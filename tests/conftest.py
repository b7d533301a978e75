"""Test databases: built once per backend by `alembic upgrade head` + the demo data, then cloned
per test (PostgreSQL: CREATE DATABASE … TEMPLATE; SQLite: a file copy), and dropped afterwards.

PostgreSQL comes from MES_TEST_POSTGRES_URL (default: the local server, user postgres). When it
cannot be reached the PostgreSQL half is skipped and says so; with MES_REQUIRE_POSTGRES=1 that
skip is an error instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import OpcuaSettings, Settings
from app.persistence import migrate
from app.persistence.db import make_engine, make_session_factory

warnings.filterwarnings("ignore", category=DeprecationWarning, module="starlette.testclient")
warnings.filterwarnings("ignore", message=".*httpx2.*")

PG_ADMIN_URL = os.environ.get("MES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("MES_REQUIRE_POSTGRES") == "1"
RUN_ID = uuid.uuid4().hex[:8]


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # the reason goes into the skip message
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


_PG_PROBLEM = _pg_available()


def pytest_report_header(config: pytest.Config) -> str:
    if _PG_PROBLEM is None:
        return f"PostgreSQL: {make_url(PG_ADMIN_URL).render_as_string(hide_password=True)}"
    return f"PostgreSQL NOT AVAILABLE ({_PG_PROBLEM}): the PostgreSQL half of the suite is skipped"


def require_postgres() -> None:
    if _PG_PROBLEM is None:
        return
    message = f"PostgreSQL half skipped: {_PG_PROBLEM}"
    if REQUIRE_PG:
        pytest.fail(f"MES_REQUIRE_POSTGRES=1 but {message}")
    pytest.skip(message)


def _admin():  # type: ignore[no-untyped-def]
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def create_pg_database(name: str, template: str | None = None) -> str:
    engine = _admin()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    engine.dispose()
    return _pg_url(name)


def drop_pg_database(name: str) -> None:
    engine = _admin()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _load_demo(url: str) -> None:
    from app.services.demo import load_demo

    engine = make_engine(url)
    with make_session_factory(engine)() as session, session.begin():
        load_demo(session=session, serial_format=Settings().serial.format())
    engine.dispose()


@dataclass(frozen=True)
class DbUnderTest:
    backend: str
    url: str


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    _load_demo(url)
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    require_postgres()
    name = f"mes_test_{RUN_ID}_template"
    url = create_pg_database(name)
    try:
        migrate.upgrade(url)
        _load_demo(url)
        yield name
    finally:
        drop_pg_database(name)


def _sqlite_clone(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "mes.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbUnderTest]:
    """A fresh database with the schema at head and the demo data, on each backend."""
    if request.param == "sqlite":
        yield DbUnderTest("sqlite", _sqlite_clone(request.getfixturevalue("sqlite_template"), tmp_path))
        return
    template = request.getfixturevalue("pg_template")
    name = f"mes_test_{RUN_ID}_{uuid.uuid4().hex[:10]}"
    url = create_pg_database(name, template=template)
    try:
        yield DbUnderTest("postgres", url)
    finally:
        drop_pg_database(name)


@pytest.fixture
def pg_database(tmp_path: Path) -> Iterator[DbUnderTest]:
    """PostgreSQL only (concurrency tests)."""
    require_postgres()
    name = f"mes_test_{RUN_ID}_{uuid.uuid4().hex[:10]}"
    url = create_pg_database(name)
    try:
        migrate.upgrade(url)
        _load_demo(url)
        yield DbUnderTest("postgres", url)
    finally:
        drop_pg_database(name)


@pytest.fixture
def settings(database: DbUnderTest, tmp_path: Path) -> Settings:
    # the OPC UA adapter is tested on its own and end to end in tests/integration
    return Settings(database_url=database.url, data_dir=tmp_path, opcua=OpcuaSettings(enabled=False))


@pytest.fixture
def client(settings: Settings) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
