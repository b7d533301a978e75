"""The PostgreSQL side of bench_opcua's verdict round trip: master data, released units and the real judge.

Every station of the benchmark gets a product model whose route is that station's type alone, so a
fresh unit is startable there through the request handshake (the interlock wants every earlier step
passed). The bench models are copies of HPM-06-R290-EVI with their own code and route; the cycle
model judges their run-in against HPM-06-R290-EVI's physics and fitted parameters, and the simulated
PLCs draw their results from the same product's physics. Each station has its own block of serials.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from functools import cache

from sqlalchemy import text

from app.config import Settings
from app.cyclemodel.paramsets import load_shipped
from app.cyclemodel.products import DEMO_PRODUCTS
from app.cyclemodel.provider import CoolPropExpectations
from app.domain.actors import SYSTEM
from app.domain.expectations import CycleExpectations
from app.opcua.simulator.line import MONOBLOC_ROUTE, station_id_for
from app.persistence.db import make_engine, make_session_factory
from app.services import master_data, specs, work_orders
from app.services.judging import EngineJudge
from app.services.plc_gateway import DatabaseStationBackend

PHYSICS_MODEL = "HPM-06-R290-EVI"
SERIALS_PER_STATION = 500  # cycles one station may run in one case (a 20 s case needs about 50)
SERIAL_YEAR = "27"  # clear of the demo work orders' HP26 serials


def abbreviation(station_type: str) -> str:
    """``CEX``, ``BRZ``… as in the station ids."""
    return station_id_for(station_type).removesuffix("-01")


def product_code(station_type: str) -> str:
    return f"HPM-06-BENCH-{abbreviation(station_type)}"


def route_code(station_type: str) -> str:
    return f"BENCH-{abbreviation(station_type)}"


def serial_for(*, gateway: int, station_type: str, cycle: int) -> str:
    """The serial a station releases in its ``cycle``-th cycle: one block of serials per station."""
    if not 0 <= cycle < SERIALS_PER_STATION:
        raise ValueError(f"cycle {cycle} is outside the station's {SERIALS_PER_STATION} serials")
    number = MONOBLOC_ROUTE.index(station_type) * 100_000 + gateway * SERIALS_PER_STATION + cycle + 1
    return f"HP{SERIAL_YEAR}-{number:07d}"


def seed(*, database_url: str, stations: Sequence[tuple[int, str, str]]) -> None:
    """Routes, product models, approved specs, the stations ``(gateway, id, type)`` and their units."""
    serial_format = Settings().serial.format()
    document = master_data.read_document(master_data.DEMO_DOCUMENT)
    template = next(p for p in document.product_models if p.code == PHYSICS_MODEL)
    gateways = 1 + max(g for g, _, _ in stations)
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            for station_type in MONOBLOC_ROUTE:
                master_data.upsert_route(
                    session=session,
                    route_in=master_data.RouteIn(
                        code=route_code(station_type),
                        description=f"benchmark: {station_type} alone",
                        rework_loop_cap=2,
                        steps=[master_data.RouteStepIn(station_type=station_type)],
                    ),
                    actor=SYSTEM,
                )
                master_data.upsert_product_model(
                    session=session,
                    model_in=template.model_copy(
                        update={
                            "code": product_code(station_type),
                            "route": route_code(station_type),
                            "description": f"benchmark copy of {PHYSICS_MODEL} routed through {station_type} only",
                        }
                    ),
                    actor=SYSTEM,
                )
            for gateway, station_id, station_type in stations:
                master_data.upsert_station(
                    session=session,
                    station_in=master_data.StationIn(
                        station_id=station_id, station_type=station_type, line=f"BENCH-G{gateway}"
                    ),
                    actor=SYSTEM,
                )
            specs.ensure_initial_revisions(session=session, actor=SYSTEM, reason="benchmark: station defaults")
            for station_type in MONOBLOC_ROUTE:
                work_orders.create_work_order(
                    session=session,
                    serial_format=serial_format,
                    number=f"WO-BENCH-{abbreviation(station_type)}",
                    product_model_code=product_code(station_type),
                    first_serial=serial_for(gateway=0, station_type=station_type, cycle=0),
                    quantity=gateways * SERIALS_PER_STATION,
                    actor=SYSTEM,
                )
    finally:
        engine.dispose()


@cache
def bench_expectations() -> CycleExpectations:
    """The shipped cycle model, with every bench model aliased to HPM-06-R290-EVI's physics and parameters."""
    physics = DEMO_PRODUCTS[PHYSICS_MODEL]
    parameters = load_shipped(product_model_code=PHYSICS_MODEL)
    aliases = {product_code(st): dataclasses.replace(physics, model_code=product_code(st)) for st in MONOBLOC_ROUTE}
    return CoolPropExpectations(
        products={**DEMO_PRODUCTS, **aliases},
        parameter_sets={code: parameters for code in aliases},
    )


def database_backend(database_url: str, *, pool_size: int = 20) -> DatabaseStationBackend:
    """The adapter's real backend: the services, one transaction per result, the engine judge."""
    expectations: Callable[[], CycleExpectations | None] = bench_expectations
    return DatabaseStationBackend(
        session_factory=make_session_factory(make_engine(database_url, pool_size=pool_size)),
        serial_format=Settings().serial.format(),
        judge=EngineJudge(expectations),
    )


def stored_summary(database_url: str) -> dict[str, object]:
    """What the MES committed: results per station type and verdict, attempts with an alarm, station alarms."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT station_type, verdict, count(*) FROM operation_attempt "
                    "WHERE result_key IS NOT NULL AND station_id LIKE 'G%' GROUP BY station_type, verdict"
                )
            ).all()
            with_alarm = conn.scalar(
                text("SELECT count(*) FROM operation_attempt WHERE alarm IS NOT NULL AND station_id LIKE 'G%'")
            )
            alarms = conn.scalar(text("SELECT count(*) FROM station_alarm"))
            run_in_models = conn.scalars(
                text("SELECT DISTINCT model_version FROM operation_attempt WHERE station_type = 'run_in'")
            ).all()
    finally:
        engine.dispose()
    results: dict[str, dict[str, int]] = {}
    for station_type, verdict, count in rows:
        results.setdefault(station_type, {})[str(verdict)] = int(count)
    return {
        "results_by_station_type": results,
        "attempts_with_alarm": with_alarm,
        "station_alarms": alarms,
        "run_in_model_versions": list(run_in_models),
    }


def warm_up() -> None:
    """Load the refrigerant tables and the parameter sets before the clock runs (the shipped MES does on first use)."""
    from app.cyclemodel.properties import table_properties

    expectations = bench_expectations()
    for station_type in MONOBLOC_ROUTE:
        expectations.model_version(product_code(station_type))
    table_properties(DEMO_PRODUCTS[PHYSICS_MODEL].refrigerant)
