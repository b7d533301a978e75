"""Migration 0018 (the genealogy's identifier in any case) upgrades and downgrades on both backends:
the index on lower(identifier) comes and goes, the exact-match index and the genealogy's rows stay."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text

from app.persistence import migrate
from tests.conftest import DbUnderTest


def _indexes(engine: Engine) -> set[str]:
    """The table's index names, read from the catalogue (SQLAlchemy does not reflect SQLite's expression indexes)."""
    if engine.dialect.name == "postgresql":
        names = "SELECT indexname FROM pg_indexes WHERE tablename = 'component_use'"
    else:
        names = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'component_use'"
    with engine.connect() as conn:
        return set(conn.execute(text(names)).scalars())


def test_the_case_insensitive_identifier_index_upgrades_and_downgrades(database: DbUnderTest) -> None:
    engine = create_engine(database.owner)
    try:
        assert {"ix_component_identifier_lower", "ix_component_identifier"} <= _indexes(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM component_use")).scalar_one()

        migrate.downgrade(database.owner, "0017")
        assert "ix_component_identifier_lower" not in _indexes(engine)
        assert "ix_component_identifier" in _indexes(engine)

        migrate.upgrade(database.owner)
        assert "ix_component_identifier_lower" in _indexes(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM component_use")).scalar_one() == rows
    finally:
        engine.dispose()
