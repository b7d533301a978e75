"""Engine and session factory. Services never commit: the boundary (a request, the OPC UA result
handler) opens ``session.begin()`` and the transaction commits once, when that block ends."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    # hide_parameters: a statement's parameters (password and PIN hashes among them) never reach a log
    # line or an error's text, e.g. the one the API logs when the database refuses a change.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, hide_parameters=True)
    _ping_when_idle(engine)
    # A few rows inserted together (a result's traces, its parts) go as one INSERT … VALUES (…), (…),
    # as SQLAlchemy does for psycopg2, rather than through psycopg's executemany, which runs in
    # pipeline mode and polls the socket until PostgreSQL answers: CPU the other requests need.
    engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


#: A pooled connection idle longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, but only for connections that sat idle in the pool.

    ``pool_pre_ping`` costs a round trip on every checkout, one of a handful a station request makes.
    A connection checked in moments ago is as good as the server it came from; one that sat idle
    (a restart, a firewall's idle timeout) is pinged first and replaced if dead. A server lost within
    the idle window shows as a disconnect error in that request; SQLAlchemy then renews the pool, the
    station start/complete routes run once more on a fresh connection and any other request answers
    503 (app/api/routers/operations.py, app/api/errors.py).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError("a pooled connection was dead") from exc  # the pool retries afresh
            raise


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN until the first write, so two
    # requests could both read a unit as startable; BEGIN IMMEDIATE serialises them instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


_ADVISORY_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def advisory_lock_key(name: str) -> int:
    """A signed 64-bit key for ``name``, the same in every process (PostgreSQL advisory locks)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def lock_until_commit(session: Session, name: str) -> None:
    """Serialise the transactions that take the lock ``name`` until each ends. On PostgreSQL a
    transaction-scoped advisory lock; SQLite needs none: every transaction begins with BEGIN IMMEDIATE
    and so holds the database's write lock before it reads anything."""
    if is_postgres(session):
        session.execute(_ADVISORY_XACT_LOCK, {"key": advisory_lock_key(name)})
