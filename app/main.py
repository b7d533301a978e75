"""create_app(): the FastAPI application. The lifespan will start and stop the OPC UA supervisor."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app.api import errors, limits
from app.api.query_params import refuse_unknown_query_parameters
from app.api.routers import audit, auth, holds, line, master_data, operations, quality, traceability
from app.api.shared_routes import include_router_shared
from app.config import Settings, get_settings
from app.opcua.live import LiveBus
from app.persistence import migrate
from app.persistence.db import make_engine, make_session_factory
from app.security import access, passwords
from app.security.secrets import refuse_demo_users, secret_key
from app.services.judging import EngineJudge, default_expectations
from app.supervision import start_supervisor
from app.ui import install as install_ui

DESCRIPTION = """
Manufacturing execution for air-source heat pump lines: master data, work orders and serials,
the route interlock at every station, results with measurements, traces and consumed components,
holds and dispositions, and traceability (birth records, reverse genealogy).

Errors are RFC 9457 problem details (`application/problem+json`); `detail` is written for the
person who has to act on it. Numbers must be finite: "not measured" is `null`.
"""


#: Allocations between young-generation collections (CPython's default is 700). A reverse-genealogy
#: answer allocates tens of thousands of short-lived rows; at 700 it triggers dozens of collections,
#: and every tenth of those a middle-generation one, for objects that die with the request anyway.
GC_YOUNG_THRESHOLD = 20_000
_gc_tuned = False


def tune_garbage_collector() -> None:
    """Once the app has started: move what start-up built (modules, routes, metadata, the schema)
    out of the collector's sight, and collect the young generation less often.

    The collector stays on: cycles made while serving are still found. What changes is that a full
    collection no longer walks the ~200,000 start-up objects that live as long as the process
    (each such walk was a pause of tens of milliseconds, the tail of the traceability latencies).
    Once per process: a second app in the same process (tests) changes nothing.
    """
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url(), pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate.require_head(engine)
        if not settings.security.allow_demo_secrets:
            refuse_demo_users(app.state.session_factory)
        supervisor = await start_supervisor(app, settings) if settings.opcua.enabled else None
        tune_garbage_collector()
        try:
            yield
        finally:
            if supervisor is not None:
                await supervisor.stop()
            engine.dispose()

    app = FastAPI(
        title="ASHP line MES",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "operations", "description": "Route interlock, starts and results at stations"},
            {"name": "traceability", "description": "Units, birth records, traces, reverse genealogy"},
            {"name": "holds", "description": "Holds and dispositions"},
            {"name": "quality", "description": "Station types, specification revisions, re-judging, nameplates"},
            {"name": "master data", "description": "Products, routes, market rules, stations, work orders"},
            {"name": "line", "description": "Stations' OPC UA links, handshakes and alarms"},
            {"name": "audit", "description": "The append-only, hash-chained audit trail of every change"},
            {"name": "access", "description": "Sign-in, bearer tokens and users (every other route needs a token)"},
            {"name": "service", "description": "Health"},
        ],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.serial_format = settings.serial.format()
    app.state.judge = EngineJudge(default_expectations)
    app.state.live_bus = LiveBus()
    app.state.supervisor = None
    errors.install(app)
    app.add_middleware(limits.EdgeLimits, max_bytes=settings.api.max_request_bytes)
    for router in (
        operations.router,
        traceability.router,
        holds.router,
        quality.router,
        line.router,
        master_data.router,
        auth.router,
        audit.router,
    ):
        include_router_shared(app, router, prefix="/api/v1", dependencies=[Depends(refuse_unknown_query_parameters)])

    @app.get(
        "/api/v1/health",
        operation_id="health",
        summary="Liveness",
        tags=["service"],
        dependencies=[access.public("a load balancer's liveness probe")],
    )
    def health() -> dict[str, str]:
        return {"status": "ok"}

    install_ui(app)
    access.install(app, secret_key=secret_key(settings.security), cache_seconds=settings.security.token_cache_seconds)
    passwords.configure(settings.security)  # once nothing can refuse the app any more
    return app
