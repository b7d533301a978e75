"""Test databases: built once per backend by `alembic upgrade head` + the demo data, then cloned
per test (PostgreSQL: CREATE DATABASE … TEMPLATE; SQLite: a file copy), and dropped afterwards.

PostgreSQL comes from MES_TEST_POSTGRES_URL (default: the local server, user postgres). When it
cannot be reached the PostgreSQL half is skipped and says so; with MES_REQUIRE_POSTGRES=1 that
skip is an error instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import re
import secrets
import shutil
import threading
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import OpcuaSettings, Settings
from app.persistence import migrate
from app.persistence.db import make_engine, make_session_factory
from app.security import passwords

warnings.filterwarnings("ignore", category=DeprecationWarning, module="starlette.testclient")
warnings.filterwarnings("ignore", message=".*httpx2.*")

# Tests run with a key of their own; the demo users (published secrets) exist in every test database.
os.environ.setdefault("MES_SECURITY__SECRET_KEY", secrets.token_urlsafe(48))
os.environ.setdefault("MES_SECURITY__ALLOW_DEMO_SECRETS", "true")
# Passwords and PINs are hashed at a test cost (argon2id, one pass over 1 MiB, about 1 ms) instead of the
# plant's (about 0.1 s on both cores): some 900 sign-ins and e-signatures spent 140 of the suite's worker
# seconds in argon2. tests/security/test_password_cost.py holds the plant's defaults and the refusal of a
# cost this low outside the demo and the tests.
TEST_PASSWORD_HASH_COST = {
    "MES_SECURITY__PASSWORD_HASH_TIME_COST": "1",
    "MES_SECURITY__PASSWORD_HASH_MEMORY_KIB": "1024",
    "MES_SECURITY__PASSWORD_HASH_PARALLELISM": "1",
}
for _name, _value in TEST_PASSWORD_HASH_COST.items():
    os.environ.setdefault(_name, _value)
from tests.auth_support import auth_headers, bearer_token, preferred_role, seed_demo_users_and_tokens  # noqa: E402

__all__ = ["auth_headers", "bearer_token"]

passwords.configure(Settings().security)  # the template's demo users are hashed before any app is built

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
        seed_demo_users_and_tokens(session)
    engine.dispose()


class RoleForRoute(httpx.Auth):
    """httpx auth: a bearer token of a role the called route declares, unless the test set its own."""

    # FastAPI rebuilds every included route when asked for the effective routes (~0.2 s per app): the
    # table is kept per set of included routers and top-level routes (every test builds an app).
    _tables: ClassVar[dict[tuple[object, ...], list[tuple[re.Pattern[str], frozenset[str], str | None]]]] = {}

    def __init__(self, app: object) -> None:
        key = tuple(
            (id(route.original_router), len(route.original_router.routes))
            if hasattr(route, "original_router")
            else (
                type(route).__name__,
                getattr(route, "path", None),
                tuple(sorted(getattr(route, "methods", None) or ())),
            )
            for route in app.routes  # type: ignore[attr-defined]
        )
        if key not in self._tables:
            self._tables[key] = self._table(app)
        self.routes = self._tables[key]

    @staticmethod
    def _table(app: object) -> list[tuple[re.Pattern[str], frozenset[str], str | None]]:
        from fastapi.routing import APIRoute, iter_route_contexts
        from starlette.routing import compile_path

        from app.security.access import declared_access

        table = []
        for context in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
            if isinstance(context.route, APIRoute):
                access = declared_access(context.route)
                assert access is not None
                regex, _, _ = compile_path(context.path_format)
                roles = None if access.public_reason else preferred_role(access.roles)
                table.append((regex, frozenset(context.methods or ()), roles))
        return table

    def auth_flow(self, request):  # type: ignore[no-untyped-def]
        if "authorization" not in request.headers and "mes_session" not in request.headers.get("cookie", ""):
            for regex, methods, role in self.routes:
                if request.method in methods and regex.match(request.url.path):
                    if role is not None:
                        request.headers["Authorization"] = f"Bearer {bearer_token(role)}"
                    break
        yield request


@dataclass(frozen=True)
class DbUnderTest:
    backend: str
    url: str  # as the app connects: on PostgreSQL a role that owns no table (PG_APP_ROLE)
    owner_url: str | None = None  # the tables' owner (a superuser here), for tests that go behind the app's back

    @property
    def owner(self) -> str:
        return self.owner_url or self.url


def query_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on a test's database, read behind the app's back on a connection of its own."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    _load_demo(url)
    return path


class PgClonePool:
    """Clones of the template made ahead of need and dropped behind, by one background thread.

    A CREATE DATABASE … TEMPLATE and a DROP DATABASE take 0.3–2 s each here (WAL and checkpoint
    I/O, worse on a loaded machine) while most tests need well under a second of CPU: done in line they
    were about half of the suite's time. The thread keeps ``ahead`` clones ready and drops used ones
    while the tests run, a waiting create before any drop (a drop can wait for a SQLite test); a
    failure to create a clone is raised in the test that wanted it.
    """

    _CREATE, _DROP, _STOP = 0, 1, 2  # the order the thread takes its jobs in

    def __init__(self, template: str, ahead: int = 2) -> None:
        self._template = template
        self._jobs: queue.PriorityQueue[tuple[int, int, str]] = queue.PriorityQueue()
        self._sequence = itertools.count()  # first come, first served within a kind
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="pg-clone-pool", daemon=True)
        self._thread.start()
        for _ in range(ahead):
            self._put(self._CREATE)

    def _put(self, kind: int, name: str = "") -> None:
        self._jobs.put((kind, next(self._sequence), name))

    def _work(self) -> None:
        admin = _admin()
        try:
            while (job := self._jobs.get())[0] != self._STOP:
                kind, _, name = job
                try:
                    with admin.connect() as conn:
                        if kind == self._CREATE:
                            name = f"mes_test_{RUN_ID}_{uuid.uuid4().hex[:10]}"
                            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
                        else:
                            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    if kind == self._CREATE:
                        self._ready.put(name)
                except BaseException as exc:  # handed to the test waiting for a clone
                    if kind == self._CREATE:
                        self._ready.put(exc)
                    else:
                        warnings.warn(f"could not drop test database {name}: {exc}", stacklevel=1)
        finally:
            admin.dispose()

    def take(self) -> str:
        """A fresh clone's name (waits if none is ready); another is made to replace it."""
        self._put(self._CREATE)
        got = self._ready.get(timeout=120)
        if isinstance(got, BaseException):
            raise got
        return got

    def give_back(self, name: str) -> None:
        self._put(self._DROP, name)

    def close(self) -> None:
        """Drop the clones still ready and wait for every drop (the app role can go only after)."""
        self._put(self._STOP)
        self._thread.join()
        while not self._ready.empty():
            left = self._ready.get()
            if isinstance(left, str):
                drop_pg_database(left)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    require_postgres()
    name = f"mes_test_{RUN_ID}_template"
    url = create_pg_database(name)
    try:
        migrate.upgrade(url)
        _load_demo(url)
        _grant_app_role(url)  # clones carry the grants
        yield name
    finally:
        drop_pg_database(name)
        _drop_app_role()


@pytest.fixture(scope="session")
def pg_clones(pg_template: str) -> Iterator[PgClonePool]:
    pool = PgClonePool(pg_template)
    try:
        yield pool
    finally:
        pool.close()


# The PostgreSQL `database` fixture connects as this role, as production does (`mes db grant-app-role`):
# it owns no table and may only read and append the audit trail. Roles are cluster-wide, so the name is
# this run's own and the role is dropped with the template.
PG_APP_ROLE = f"mes_test_app_{RUN_ID}"


def _grant_app_role(url: str) -> None:
    from app.persistence.app_role import grant_app_role

    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {PG_APP_ROLE} LOGIN"))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        grant_app_role(conn, PG_APP_ROLE)
    engine.dispose()


def _drop_app_role() -> None:
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f"DROP ROLE IF EXISTS {PG_APP_ROLE}"))
    admin.dispose()


def _as_app_role(url: str) -> str:
    return make_url(url).set(username=PG_APP_ROLE, password=None).render_as_string(hide_password=False)


def _sqlite_clone(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "mes.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@contextlib.contextmanager
def cloned_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbUnderTest]:
    """A copy of the template (schema at head, demo data, demo users); on PostgreSQL the app's role
    owns no table. Dropped afterwards."""
    if backend == "sqlite":
        yield DbUnderTest("sqlite", _sqlite_clone(request.getfixturevalue("sqlite_template"), tmp_path))
        return
    clones: PgClonePool = request.getfixturevalue("pg_clones")
    name = clones.take()
    url = _pg_url(name)
    try:
        yield DbUnderTest("postgres", _as_app_role(url), owner_url=url)
    finally:
        clones.give_back(name)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbUnderTest]:
    """A fresh database with the schema at head and the demo data, on each backend."""
    with cloned_database(request.param, request, tmp_path) as db:
        yield db


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
def cli_env(database: DbUnderTest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The `mes` command (``app.cli.main``) in this test's process, on the test's database."""
    from app.config import get_settings

    monkeypatch.setenv("MES_DATABASE_URL", database.url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(database: DbUnderTest, tmp_path: Path) -> Settings:
    # the OPC UA adapter is tested on its own and end to end in tests/integration
    return Settings(database_url=database.url, data_dir=tmp_path, opcua=OpcuaSettings(enabled=False))


@pytest.fixture
def client(settings: Settings) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.auth = RoleForRoute(app)
        yield test_client
