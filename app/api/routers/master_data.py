"""Master data: product models, routes, market rules, stations, work orders."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api import schemas
from app.api.authz import CurrentActorDep
from app.api.deps import SerialFormatDep, SessionDep
from app.domain.actors import Role
from app.domain.errors import InvalidInput
from app.persistence import models as m
from app.persistence import repositories as repo
from app.security.access import allow
from app.services import master_data as md
from app.services import work_orders

router = APIRouter(tags=["master data"])
_ERRORS = schemas.problem_responses(404, 409, 422)


def _route_out(session: Session, route: m.Route) -> md.RouteIn:
    steps = session.scalars(select(m.RouteStep).where(m.RouteStep.route_id == route.id).order_by(m.RouteStep.position))
    rules = session.scalars(select(m.ReworkRule).where(m.ReworkRule.route_id == route.id).order_by(m.ReworkRule.id))
    return md.RouteIn(
        code=route.code,
        description=route.description,
        rework_loop_cap=route.rework_loop_cap,
        steps=[md.RouteStepIn(station_type=s.station_type, required=s.required) for s in steps],
        rework=[
            md.ReworkRuleIn(
                failed_at=r.failed_at,
                failure_mode=r.failure_mode,
                action=r.action,  # type: ignore[arg-type]
                reenter_at=r.reenter_at,
                note=r.note,
                counts_as_rework_loop=r.counts_as_rework_loop,
            )
            for r in rules
        ],
    )


def _model_out(session: Session, model: m.ProductModel) -> md.ProductModelIn:
    route = session.get(m.Route, model.route_id)
    assert route is not None
    return md.ProductModelIn(
        code=model.code,
        description=model.description,
        construction=model.construction,  # type: ignore[arg-type]
        refrigerant=model.refrigerant,  # type: ignore[arg-type]
        gwp=model.gwp,
        nominal_charge_g=model.nominal_charge_g,
        charge_tolerance_g=model.charge_tolerance_g,
        evi=model.evi,
        internal_volume_l=model.internal_volume_l,
        max_allowable_pressure_bar_g=model.max_allowable_pressure_bar_g,
        market=model.market,
        route=route.code,
        rating=md.RatingIn(
            heating_a7w35_kw=model.heating_a7w35_kw,
            cop_a7w35=model.cop_a7w35,
            heating_am7w35_kw=model.heating_am7w35_kw,
            cop_am7w35=model.cop_am7w35,
            cooling_a35w7_kw=model.cooling_a35w7_kw,
            eer_a35w7=model.eer_a35w7,
        ),
        bom=md.BomIn(
            compressor_model=model.bom_compressor_model,
            inverter_model=model.bom_inverter_model,
            evi_valve_model=model.bom_evi_valve_model,
        ),
        # returned so that a GET → PUT round trip keeps it (without it run-in has no cycle-model expectations)
        cycle_physics=md.CyclePhysicsIn.model_validate(model.cycle_physics) if model.cycle_physics else None,
    )


def _station_out(station: m.Station) -> md.StationIn:
    return md.StationIn(
        station_id=station.station_id,
        station_type=station.station_type,
        line=station.line_code,
        description=station.description,
        opcua_endpoint=station.opcua_endpoint,
    )


@router.get(
    "/routes",
    operation_id="listRoutes",
    summary="List routes",
    response_model=list[md.RouteIn],
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_routes(session: SessionDep) -> list[md.RouteIn]:
    return [_route_out(session, r) for r in session.scalars(select(m.Route).order_by(m.Route.code))]


@router.get(
    "/routes/{code}",
    operation_id="getRoute",
    summary="One route",
    response_model=md.RouteIn,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_route(code: str, session: SessionDep) -> md.RouteIn:
    return _route_out(session, repo.route_by_code(session, code))


@router.put(
    "/routes/{code}",
    operation_id="putRoute",
    summary="Create or replace a route",
    response_model=md.RouteIn,
    responses=_ERRORS,
    dependencies=[allow(Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def put_route(code: str, body: md.RouteIn, session: SessionDep, actor: CurrentActorDep) -> md.RouteIn:
    _same_code(code, body.code)
    with session.begin():
        return _route_out(session, md.upsert_route(session=session, route_in=body, actor=actor))


@router.get(
    "/product-models",
    operation_id="listProductModels",
    summary="List product models",
    response_model=list[md.ProductModelIn],
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_product_models(session: SessionDep) -> list[md.ProductModelIn]:
    return [_model_out(session, x) for x in session.scalars(select(m.ProductModel).order_by(m.ProductModel.code))]


@router.get(
    "/product-models/{code}",
    operation_id="getProductModel",
    summary="One product model",
    response_model=md.ProductModelIn,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_product_model(code: str, session: SessionDep) -> md.ProductModelIn:
    return _model_out(session, repo.product_model_by_code(session, code))


@router.put(
    "/product-models/{code}",
    operation_id="putProductModel",
    summary="Create or replace a product model",
    response_model=md.ProductModelIn,
    responses=_ERRORS,
    dependencies=[allow(Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def put_product_model(
    code: str, body: md.ProductModelIn, session: SessionDep, actor: CurrentActorDep
) -> md.ProductModelIn:
    _same_code(code, body.code)
    with session.begin():
        return _model_out(session, md.upsert_product_model(session=session, model_in=body, actor=actor))


@router.get(
    "/market-rules",
    operation_id="listMarketRules",
    summary="List market rules (charge caps)",
    response_model=list[md.MarketRuleIn],
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_market_rules(session: SessionDep) -> list[md.MarketRuleIn]:
    rows = session.scalars(select(m.MarketRule).order_by(m.MarketRule.market, m.MarketRule.refrigerant))
    return [
        md.MarketRuleIn(
            market=r.market,
            refrigerant=r.refrigerant,  # type: ignore[arg-type]
            construction=r.construction,  # type: ignore[arg-type]
            max_charge_g=r.max_charge_g,
            source=r.source,
        )
        for r in rows
    ]


@router.put(
    "/market-rules",
    operation_id="putMarketRule",
    summary="Create or replace a market rule",
    response_model=md.MarketRuleIn,
    responses=_ERRORS,
    dependencies=[allow(Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def put_market_rule(body: md.MarketRuleIn, session: SessionDep, actor: CurrentActorDep) -> md.MarketRuleIn:
    with session.begin():
        md.upsert_market_rule(session=session, rule_in=body, actor=actor)
    return body


@router.get(
    "/stations",
    operation_id="listStations",
    summary="List stations",
    response_model=list[md.StationIn],
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_stations(session: SessionDep) -> list[md.StationIn]:
    return [_station_out(x) for x in session.scalars(select(m.Station).order_by(m.Station.station_id))]


@router.get(
    "/stations/{station_id}",
    operation_id="getStation",
    summary="One station",
    response_model=md.StationIn,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_station(station_id: str, session: SessionDep) -> md.StationIn:
    return _station_out(repo.get_station(session, station_id))


@router.put(
    "/stations/{station_id}",
    operation_id="putStation",
    summary="Create or replace a station",
    response_model=md.StationIn,
    responses=_ERRORS,
    dependencies=[allow(Role.ADMIN)],
)
def put_station(station_id: str, body: md.StationIn, session: SessionDep, actor: CurrentActorDep) -> md.StationIn:
    _same_code(station_id, body.station_id)
    with session.begin():
        return _station_out(md.upsert_station(session=session, station_in=body, actor=actor))


@router.post(
    "/work-orders",
    operation_id="createWorkOrder",
    summary="Create a work order and release its serials",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.WorkOrderOut,
    responses=_ERRORS,
    dependencies=[allow(Role.SUPERVISOR, Role.ADMIN)],
)
def create_work_order(
    body: schemas.WorkOrderIn, session: SessionDep, serial_format: SerialFormatDep, actor: CurrentActorDep
) -> schemas.WorkOrderOut:
    """Releases ``quantity`` consecutive serials from ``first_serial``; every one must be new."""
    with session.begin():
        order = work_orders.create_work_order(
            session=session,
            serial_format=serial_format,
            number=body.number,
            product_model_code=body.product_model,
            first_serial=body.first_serial,
            quantity=body.quantity,
            actor=actor,
        )
        return _work_order_out(order, body.product_model)


@router.get(
    "/work-orders/{number}",
    operation_id="getWorkOrder",
    summary="One work order",
    response_model=schemas.WorkOrderOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_work_order(number: str, session: SessionDep) -> schemas.WorkOrderOut:
    order = work_orders.get_work_order(session=session, number=number)
    model = session.get(m.ProductModel, order.product_model_id)
    assert model is not None
    return _work_order_out(order, model.code)


def _work_order_out(order: m.WorkOrder, model_code: str) -> schemas.WorkOrderOut:
    return schemas.WorkOrderOut(
        number=order.number,
        product_model=model_code,
        quantity=order.quantity,
        first_serial=order.first_serial,
        last_serial=order.last_serial,
        created_at=order.created_at,
    )


def _same_code(path_code: str, body_code: str) -> None:
    if path_code != body_code:
        raise InvalidInput(f"the path says {path_code!r} but the body says {body_code!r}; they must agree")
