"""Queries shared by the services. No commits here: the caller's transaction decides."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import routing
from app.domain.errors import NotFound
from app.persistence import models as m


def station_for_update(session: Session, station_id: str) -> m.Station:
    station = session.scalars(
        select(m.Station).where(m.Station.station_id == station_id).with_for_update()
    ).one_or_none()
    if station is None:
        raise NotFound(f"station {station_id!r} is not in the master data", station_id=station_id)
    return station


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


def route_def(session: Session, route_id: int) -> routing.RouteDef:
    route = session.get(m.Route, route_id)
    assert route is not None
    steps = session.scalars(
        select(m.RouteStep).where(m.RouteStep.route_id == route_id).order_by(m.RouteStep.position)
    ).all()
    rules = session.scalars(select(m.ReworkRule).where(m.ReworkRule.route_id == route_id)).all()
    return routing.RouteDef(
        code=route.code,
        steps=tuple(routing.RouteStep(s.position, s.station_type, s.required, s.retest_cap) for s in steps),
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


def unit_view(session: Session, unit: m.Unit) -> routing.UnitView:
    reasons = tuple(h.reason for h in active_holds(session, unit.id)) if unit.status == "on_hold" else ()
    return routing.UnitView(
        serial=unit.serial,
        status=routing.UnitStatus(unit.status),
        next_step=unit.next_step,
        reentry_step=unit.reentry_step,
        rework_loops=unit.rework_loops,
        hold_reasons=reasons,
    )


def attempt_history(session: Session, unit_id: int) -> list[routing.AttemptView]:
    rows = session.scalars(
        select(m.OperationAttempt).where(m.OperationAttempt.unit_id == unit_id).order_by(m.OperationAttempt.id)
    ).all()
    return [
        routing.AttemptView(
            station_type=a.station_type,
            station_id=a.station_id,
            status=routing.AttemptStatus(a.status),
            summary=a.summary,
            failure_mode=a.failure_mode,
            use_as_is=a.use_as_is,
            started_at=a.started_at,
        )
        for a in rows
    ]


def unit_labels(session: Session, unit: m.Unit) -> tuple[str, str]:
    """The unit's product model code and work order number."""
    code, number = session.execute(
        select(m.ProductModel.code, m.WorkOrder.number)
        .select_from(m.Unit)
        .join(m.ProductModel, m.ProductModel.id == m.Unit.product_model_id)
        .join(m.WorkOrder, m.WorkOrder.id == m.Unit.work_order_id)
        .where(m.Unit.id == unit.id)
    ).one()
    return code, number
