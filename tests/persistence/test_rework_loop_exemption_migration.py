"""Migration 0017 (a rework rule says whether its repeat counts as a rework loop) upgrades and
downgrades on both backends: the column comes and goes, the routes' rules stay, and a rule from
before it keeps counting."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, inspect, text

from app.persistence import migrate
from tests.conftest import DbUnderTest


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("rework_rule")}


def _rules(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM rework_rule")).scalar_one())


def test_the_rework_loop_column_upgrades_and_downgrades_and_old_rules_keep_counting(database: DbUnderTest) -> None:
    engine = create_engine(database.owner)
    try:
        assert "counts_as_rework_loop" in _columns(engine)
        rules = _rules(engine)
        assert rules > 0

        migrate.downgrade(database.owner, "0016")
        assert "counts_as_rework_loop" not in _columns(engine)
        assert _rules(engine) == rules

        migrate.upgrade(database.owner)
        assert "counts_as_rework_loop" in _columns(engine)
        with engine.connect() as conn:
            counted = conn.execute(text("SELECT DISTINCT counts_as_rework_loop FROM rework_rule")).scalars().all()
        assert [bool(c) for c in counted] == [True]  # the revision changes no route
    finally:
        engine.dispose()
