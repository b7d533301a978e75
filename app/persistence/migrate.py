"""Run the alembic revisions programmatically (``mes db upgrade`` and the test fixtures)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


class SchemaNotCurrent(RuntimeError):
    """The database is not at the revision this code needs; the message says what to run."""


@cache
def head_revision() -> str:
    """The newest revision this code knows (read once per process)."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(database: str | Engine) -> str | None:
    """The revision the database (a URL, or an engine) is at (None: never migrated)."""
    engine = create_engine(database) if isinstance(database, str) else database
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if isinstance(database, str):
            engine.dispose()


def require_head(database: str | Engine) -> None:
    """Refuse to serve a database at another revision than this code's head: with an older schema
    every result touching a newer column fails, is never acknowledged, and blocks its station."""
    current, head = current_revision(database), head_revision()
    if current != head:
        raise SchemaNotCurrent(
            f"the database is at revision {current or '(none: never migrated)'}, this MES needs {head}: "
            "run 'mes db upgrade' (as the owner role; then 'mes db grant-app-role' on PostgreSQL)"
            if current is None or current < head
            else f"the database is at revision {current}, newer than this MES's {head}: run the MES version "
            "that migrated it"
        )
