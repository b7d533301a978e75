"""Queries shared by the services. No commits here: the caller's transaction decides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from app.domain import routing
from app.domain.errors import NotFound
from app.persistence import models as m


def get_station(session: Session, station_id: str) -> m.Station:
    station = session.get(m.Station, station_id)
    if station is None:
        raise NotFound(f"station {station_id!r} is not in the master data", station_id=station_id)
    return station


def unit_by_serial(session: Session, serial: str, *, for_update: bool = False) -> m.Unit:
    query = select(m.Unit).where(m.Unit.serial == serial)
    if for_update:
        query = query.with_for_update()
    unit = session.scalars(query).one_or_none()
    if unit is None:
        raise NotFound(f"{serial} has not been released by any work order", serial=serial)
    return unit


def product_model_by_code(session: Session, code: str) -> m.ProductModel:
    model = session.scalars(select(m.ProductModel).where(m.ProductModel.code == code)).one_or_none()
    if model is None:
        raise NotFound(f"product model {code!r} is not in the master data", product_model=code)
    return model


def route_by_code(session: Session, code: str) -> m.Route:
    route = session.scalars(select(m.Route).where(m.Route.code == code)).one_or_none()
    if route is None:
        raise NotFound(f"route {code!r} is not in the master data", route=code)
    return route


_ROUTE_CACHE: dict[tuple[str, int, int], routing.RouteDef] = {}


def route_def_cached(session: Session, route_id: int, revision: int) -> routing.RouteDef:
    """The route as of ``revision``; a process keeps the ones it has read (routes change rarely)."""
    key = (str(session.get_bind().engine.url), route_id, revision)
    cached = _ROUTE_CACHE.get(key)
    if cached is None:
        cached = route_def(session, route_id)
        if len(_ROUTE_CACHE) > 1000:
            _ROUTE_CACHE.clear()
        _ROUTE_CACHE[key] = cached
    return cached


def route_def(session: Session, route_id: int) -> routing.RouteDef:
    route = session.get(m.Route, route_id)
    assert route is not None
    steps = session.scalars(
        select(m.RouteStep).where(m.RouteStep.route_id == route_id).order_by(m.RouteStep.position)
    ).all()
    rules = session.scalars(select(m.ReworkRule).where(m.ReworkRule.route_id == route_id)).all()
    return routing.RouteDef(
        code=route.code,
        steps=tuple(routing.RouteStep(s.position, s.station_type, s.required) for s in steps),
        rework=tuple(
            routing.ReworkRule(
                failed_at=r.failed_at,
                action=routing.ReworkAction(r.action),
                reenter_at=r.reenter_at,
                failure_mode=r.failure_mode,
            )
            for r in rules
        ),
        loop_cap=route.rework_loop_cap,
    )


def active_holds(session: Session, unit_id: int) -> list[m.Hold]:
    return list(
        session.scalars(
            select(m.Hold).where(m.Hold.unit_id == unit_id, m.Hold.released_at.is_(None)).order_by(m.Hold.id)
        )
    )


def attempt_history(session: Session, unit_id: int) -> list[routing.AttemptView]:
    rows = session.execute(_HISTORY, {"unit_id": unit_id}).all()
    return [
        routing.AttemptView(
            station_type=station_type,
            station_id=station_id,
            status=routing.AttemptStatus(status),
            summary=summary,
            failure_mode=failure_mode,
            use_as_is=use_as_is,
            started_at=started_at,
        )
        for station_type, station_id, status, summary, failure_mode, use_as_is, started_at in rows
    ]


_HISTORY = (
    select(
        m.OperationAttempt.station_type,
        m.OperationAttempt.station_id,
        m.OperationAttempt.status,
        m.OperationAttempt.summary,
        m.OperationAttempt.failure_mode,
        m.OperationAttempt.use_as_is,
        m.OperationAttempt.started_at,
    )
    .where(m.OperationAttempt.unit_id == bindparam("unit_id"))
    .order_by(m.OperationAttempt.id)
)


# --- the station hot path: column reads and Core writes, no ORM instances -----------------------
# An ORM entity load costs several times a round trip on this stack; the start/complete path
# runs a dozen statements per request, so it reads columns into these plain records instead.


@dataclass(slots=True)
class UnitState:
    id: int
    serial: str
    status: str
    next_step: str | None
    reentry_step: str | None
    rework_loops: int
    product_model_id: int
    work_order_id: int
    created_at: datetime
    updated_at: datetime
    product_model_code: str
    work_order_number: str


@dataclass(slots=True)
class AttemptState:
    id: int
    unit_id: int
    station_id: str
    station_type: str
    status: str
    verdict: str | None
    retest_index: int
    started_at: datetime
    completed_at: datetime | None
    started_by: str | None
    completed_by: str | None
    origin: str
    result_key: str | None
    failure_mode: str | None
    summary: str | None
    alarm: str | None
    instruction: str | None
    spec_revision_id: int | None
    model_version: str | None
    use_as_is: bool


_A = m.OperationAttempt
ATTEMPT_COLUMNS = tuple(getattr(_A, f) for f in AttemptState.__dataclass_fields__)
_UNIT_COLUMNS = (
    m.Unit.id,
    m.Unit.serial,
    m.Unit.status,
    m.Unit.next_step,
    m.Unit.reentry_step,
    m.Unit.rework_loops,
    m.Unit.product_model_id,
    m.Unit.work_order_id,
    m.Unit.created_at,
    m.Unit.updated_at,
    m.ProductModel.code,
    m.WorkOrder.number,
)


# Statements built once: SQLAlchemy memoises a statement's cache key, so re-executing a prebuilt
# statement with new parameters skips the traversal a freshly built one costs.
_STATION_TYPE = select(m.Station.station_type).where(m.Station.station_id == bindparam("station_id"))
_STATION_TYPE_LOCKED = _STATION_TYPE.with_for_update()


def lock_station(session: Session, station_id: str) -> str:
    """Lock the station row (serialises everything that happens at one station); returns its type."""
    station_type = session.execute(_STATION_TYPE_LOCKED, {"station_id": station_id}).scalar_one_or_none()
    if station_type is None:
        raise NotFound(f"station {station_id!r} is not in the master data", station_id=station_id)
    return station_type


def station_type_of(session: Session, station_id: str) -> str:
    station_type = session.execute(_STATION_TYPE, {"station_id": station_id}).scalar_one_or_none()
    if station_type is None:
        raise NotFound(f"station {station_id!r} is not in the master data", station_id=station_id)
    return station_type


_UNIT_STATE = (
    select(*_UNIT_COLUMNS, m.ProductModel.route_id, m.Route.revision)
    .join(m.ProductModel, m.ProductModel.id == m.Unit.product_model_id)
    .join(m.WorkOrder, m.WorkOrder.id == m.Unit.work_order_id)
    .join(m.Route, m.Route.id == m.ProductModel.route_id)
    .where(m.Unit.serial == bindparam("serial"))
)
_UNIT_STATE_LOCKED = _UNIT_STATE.with_for_update(of=m.Unit)


def unit_state(session: Session, serial: str, *, for_update: bool = False) -> tuple[UnitState, routing.RouteDef]:
    """The unit (locked if asked), its labels and its route, in one round trip when the route is cached."""
    row = session.execute(_UNIT_STATE_LOCKED if for_update else _UNIT_STATE, {"serial": serial}).one_or_none()
    if row is None:
        raise NotFound(f"{serial} has not been released by any work order", serial=serial)
    *fields, route_id, revision = row
    return UnitState(*fields), route_def_cached(session, route_id, revision)


def unit_state_by_id(session: Session, unit_id: int) -> UnitState:
    row = session.execute(
        select(*_UNIT_COLUMNS)
        .join(m.ProductModel, m.ProductModel.id == m.Unit.product_model_id)
        .join(m.WorkOrder, m.WorkOrder.id == m.Unit.work_order_id)
        .where(m.Unit.id == unit_id)
    ).one()
    return UnitState(*tuple(row))


def hold_reasons(session: Session, unit_id: int) -> tuple[str, ...]:
    return tuple(
        session.execute(
            select(m.Hold.reason).where(m.Hold.unit_id == unit_id, m.Hold.released_at.is_(None)).order_by(m.Hold.id)
        ).scalars()
    )


def view_of(session: Session, unit: UnitState | m.Unit) -> routing.UnitView:
    """The unit as the interlock sees it (hold reasons only read when it is on hold)."""
    reasons = hold_reasons(session, unit.id) if unit.status == routing.UnitStatus.ON_HOLD else ()
    return routing.UnitView(
        serial=unit.serial,
        status=routing.UnitStatus(unit.status),
        next_step=unit.next_step,
        reentry_step=unit.reentry_step,
        rework_loops=unit.rework_loops,
        hold_reasons=reasons,
    )


_OPEN_AT_STATION = select(*ATTEMPT_COLUMNS).where(_A.station_id == bindparam("station_id"), _A.status == "open")
_OPEN_OR_STORED_AT_STATION = select(*ATTEMPT_COLUMNS).where(
    _A.station_id == bindparam("station_id"), or_(_A.status == "open", _A.result_key == bindparam("result_key"))
)


def attempts_at_station(session: Session, station_id: str, *, result_key: str | None) -> list[AttemptState]:
    """The open attempt at a station and, if ``result_key`` is given, the attempt that stored it."""
    if result_key is None:
        rows = session.execute(_OPEN_AT_STATION, {"station_id": station_id}).all()
    else:
        rows = session.execute(_OPEN_OR_STORED_AT_STATION, {"station_id": station_id, "result_key": result_key}).all()
    return [AttemptState(*row) for row in rows]


def attempt_state(session: Session, attempt_id: int) -> AttemptState:
    return AttemptState(*session.execute(select(*ATTEMPT_COLUMNS).where(_A.id == attempt_id)).one())
