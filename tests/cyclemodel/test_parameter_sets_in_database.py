"""Product physics from the master data and fitted parameter sets versioned in the database; judging
uses the current version and every verdict records it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import Settings
from app.cyclemodel import CODE_VERSION
from app.cyclemodel.fitting import fit_product
from app.cyclemodel.paramsets import load_shipped, parameter_set_id, read_seed
from app.cyclemodel.products import DEMO_PRODUCTS
from app.domain.actors import SYSTEM
from app.persistence import models as m
from app.persistence.db import make_engine, make_session_factory
from app.services import cycle_parameters
from tests.api.driver import MONOBLOC, Line
from tests.conftest import DbUnderTest

MODEL = "HPM-06-R290-EVI"


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.resolved_database_url())
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_product_physics_in_the_database_is_the_demo_master_data(session: Session) -> None:
    for code, from_document in DEMO_PRODUCTS.items():
        assert cycle_parameters.physics_of(session, product_model_code=code) == from_document


def test_demo_seed_is_fitted_to_the_master_data_rating_data() -> None:
    # A change of rating data or physics in the master data without a refit of the seed fails here.
    for code, seed in read_seed().items():
        product = DEMO_PRODUCTS[code]
        assert [dict(r) for r in seed.rating_data] == [dataclasses.asdict(p) for p in product.rating_points]
        assert seed.parameters.economiser_approach_k == product.economiser_approach_k
        assert seed.parameters.injection_superheat_k == product.injection_superheat_k


def test_demo_load_makes_the_seed_version_1_current(session: Session) -> None:
    for code in DEMO_PRODUCTS:
        current = cycle_parameters.current(session, product_model_code=code)
        assert current is not None and current.version == 1
        assert current.parameter_set_id == load_shipped(product_model_code=code).parameter_set_id
        assert current.parameters == load_shipped(product_model_code=code).parameters


def test_a_stored_version_is_numbered_next_and_its_bounds_check_recorded(session: Session) -> None:
    seed = load_shipped(product_model_code="HPS-10-R32")
    with session.begin():
        unchanged = cycle_parameters.store(
            session=session, actor=SYSTEM, parameter_set=seed, source="test", max_rating_error=0.0, if_changed=True
        )
        assert unchanged.version == 1
        too_small = dataclasses.replace(seed.parameters, displacement_cm3=1.0)  # below its physical bound
        odd = dataclasses.replace(
            seed, parameters=too_small, parameter_set_id=parameter_set_id(product_model_code=seed.product_model_code,
                                                                          parameters=too_small)
        )  # fmt: skip
        stored = cycle_parameters.store(
            session=session, actor=SYSTEM, parameter_set=odd, source="test", max_rating_error=0.5
        )
    assert stored.version == 2 and stored.parameters.displacement_cm3 == 1.0
    rows = cycle_parameters.versions(session, product_model_code="HPS-10-R32")
    assert [(r.version, r.within_bounds, r.out_of_bounds) for r in rows] == [
        (1, True, []),
        (2, False, ["displacement_cm3"]),
    ]
    assert rows[1].rating_data == [dict(r) for r in seed.rating_data]
    event = session.scalars(
        select(m.AuditEvent).where(m.AuditEvent.entity_type == "cycle_parameter_set").order_by(m.AuditEvent.id.desc())
    ).first()
    assert event is not None and (event.action, event.entity_id) == ("cycle_parameter_set.create", "HPS-10-R32#v2")


def test_a_stored_version_cannot_change_not_even_in_the_database(database: DbUnderTest) -> None:
    """Verdicts name the version they were judged with, and re-derive with it (migration 0013)."""
    engine = create_engine(database.owner)  # the tables' owner: the app's role may only read and append
    try:
        for statement in (
            "UPDATE cycle_parameter_set SET source = 'edited' WHERE version = 1",
            "DELETE FROM cycle_parameter_set WHERE version = 1",
        ):
            with pytest.raises(DBAPIError, match="parameter set version cannot be changed"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            sources = conn.execute(text("SELECT DISTINCT source FROM cycle_parameter_set")).scalars().all()
        assert sources == [cycle_parameters.DEMO_SEED_SOURCE]
    finally:
        engine.dispose()


def _run_in_version(line: Line, serial: str) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {}
    for station_type in MONOBLOC:
        body = line.run(station_type, serial)
    assert body["attempt"]["station_type"] == "run_in"
    return body["attempt"]["model_version"], {c["name"]: c for c in body["checks"]}


# A refit takes seconds of CPU: on PostgreSQL only. Switching versions between verdicts runs on both
# databases in tests/api/test_rederivation.py (a stored version without a fit).
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_new_fitted_version_is_the_one_later_verdicts_record(client: Any, settings: Settings) -> None:
    line = Line(client, model=MODEL)
    first, second = line.work_order(quantity=2)
    recorded_v1, _ = _run_in_version(line, first)
    seed = load_shipped(product_model_code=MODEL)
    assert recorded_v1 == f"{CODE_VERSION}/{seed.parameter_set_id}#v1"

    # The rating data is revised (a new test report: A7/W35 COP 4.9); the refit becomes version 2.
    engine = make_engine(settings.resolved_database_url())
    with make_session_factory(engine)() as session, session.begin():
        physics = cycle_parameters.physics_of(session, product_model_code=MODEL)
        revised = dataclasses.replace(
            physics, rating_points=(dataclasses.replace(physics.rating_points[0], cop=4.9), *physics.rating_points[1:])
        )
        outcome = fit_product(product=revised)
        stored = cycle_parameters.store(
            session=session,
            actor=SYSTEM,
            parameter_set=outcome.parameter_set,
            source="test refit",
            max_rating_error=0.0,
        )
    engine.dispose()
    assert stored.version == 2 and stored.parameter_set_id != seed.parameter_set_id

    recorded_v2, checks = _run_in_version(line, second)
    assert recorded_v2 == f"{CODE_VERSION}/{stored.parameter_set_id}#v2"
    assert checks["P07_cop"]["expected"] is not None
    # The earlier verdict keeps the version it was judged with.
    record = client.get(f"/api/v1/units/{first}/birth-record").json()
    run_in_first = [a for a in record["attempts"] if a["station_type"] == "run_in"]
    assert [a["model_version"] for a in run_in_first] == [recorded_v1]


# The fit (seconds of CPU) is the same on either database; storing versions runs on both above.
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_mes_cyclemodel_fit_adds_a_version_with_progress_output(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import main
    from app.config import get_settings

    monkeypatch.setenv("MES_DATABASE_URL", settings.resolved_database_url())
    get_settings.cache_clear()
    try:
        assert main(["cyclemodel", "fit", "HPS-10-R32"]) == 0  # the same numbers as the seed: nothing new
        assert main(["cyclemodel", "fit", "HPS-10-R32", "--always-new-version", "--source", "test"]) == 0
        assert main(["cyclemodel", "versions", "HPS-10-R32"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "evaluations, worst rating error" in out  # progress while fitting
    assert "unchanged: version 1 is current" in out and "stored as version 2 of HPS-10-R32" in out
    assert "v2  HPS-10-R32@" in out and "(test)" in out
