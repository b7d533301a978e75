"""Master data: product models, routes, market rules, stations; loading a master-data document.

A master-data document (JSON) is how a plant describes its line; ``load_document`` upserts it by
code, so loading the same document twice changes nothing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

import stations
from app.domain import routing
from app.domain.actors import Actor
from app.domain.errors import Conflict, InvalidInput
from app.persistence import models as m
from app.persistence import repositories as repo
from app.persistence.db import lock_until_commit
from app.services import audit
from app.services.clock import utcnow

DEMO_DOCUMENT = Path(__file__).with_name("demo_master_data.json")

# as long as the columns that hold them: product and route codes 64, market and line codes 32 characters
Code = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
ShortCode = Annotated[str, StringConstraints(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
StationTypeCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
StationId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RatingIn(_Strict):
    """EN 14511 rating points of a model (the cycle model is fitted to them)."""

    heating_a7w35_kw: PositiveFloat
    cop_a7w35: PositiveFloat
    heating_am7w35_kw: PositiveFloat
    cop_am7w35: PositiveFloat
    cooling_a35w7_kw: PositiveFloat
    eer_a35w7: PositiveFloat


class BomIn(_Strict):
    """Bill of materials: the models that sub-base assembly must scan."""

    compressor_model: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    inverter_model: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    evi_valve_model: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class RatingSpeedsIn(_Strict):
    """Compressor speeds the manufacturer declares for the rating tests (inverter units are rated at fixed speed)."""

    a7w35: PositiveFloat
    am7w35: PositiveFloat
    a35w7: PositiveFloat


class CyclePhysicsIn(_Strict):
    """What the cycle model needs beyond the rating numbers: product data, never fitted to anything."""

    compressor_displacement_cm3: PositiveFloat = Field(description="compressor datasheet; the fit starts here")
    rating_compressor_speed_rps: RatingSpeedsIn
    evi_on_in_ratings: list[Literal["A7/W35", "A-7/W35"]] = []
    evi_on_below_air_temp_c: Annotated[float, Field(ge=-40, le=30)] | None = None
    economiser_approach_k: Annotated[float, Field(gt=0, le=20)] | None = Field(
        default=None, description="economiser selection: liquid out minus injection saturation temperature"
    )
    injection_superheat_k: Annotated[float, Field(gt=0, le=20)] | None = Field(
        default=None, description="EVI valve superheat setpoint at the economiser's vapour outlet"
    )
    source: str = ""


class ProductModelIn(_Strict):
    """A product model as master data."""

    code: Code
    description: str = ""
    construction: Literal["monobloc_sealed", "split_outdoor"]
    refrigerant: Literal["R290", "R32"]
    gwp: Annotated[int, Field(ge=0, le=30000)]
    nominal_charge_g: PositiveFloat | None = Field(
        default=None, description="Charged on the line; null for units charged on site (split)."
    )
    charge_tolerance_g: NonNegativeFloat | None = None
    evi: bool
    internal_volume_l: PositiveFloat
    max_allowable_pressure_bar_g: PositiveFloat = Field(description="PS, high side, gauge")
    market: ShortCode
    route: Code
    rating: RatingIn
    bom: BomIn
    cycle_physics: CyclePhysicsIn | None = Field(
        default=None, description="cycle-model product data; without it run-in has no physics expectations"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProductModelIn:
        if (self.nominal_charge_g is None) != (self.charge_tolerance_g is None):
            raise ValueError("nominal_charge_g and charge_tolerance_g go together (both set or both null)")
        if self.evi and not self.bom.evi_valve_model:
            raise ValueError("an EVI model needs bom.evi_valve_model")
        if not self.evi and self.bom.evi_valve_model:
            raise ValueError("a model without EVI has no EVI valve in its bill of materials")
        physics = self.cycle_physics
        evi_data = (physics.economiser_approach_k, physics.injection_superheat_k) if physics else ()
        if physics and self.evi and None in evi_data:
            raise ValueError("an EVI model's cycle_physics needs economiser_approach_k and injection_superheat_k")
        if physics and not self.evi and (physics.evi_on_in_ratings or any(v is not None for v in evi_data)):
            raise ValueError("a model without EVI has no EVI data in its cycle_physics")
        return self


class ReworkRuleIn(_Strict):
    failed_at: StationTypeCode
    failure_mode: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")] | None = None
    action: Literal["hold", "repair", "repeat"]
    reenter_at: StationTypeCode | None = None
    note: str = ""
    counts_as_rework_loop: bool = Field(
        default=True,
        description="false for a 'repeat' because the test itself was not valid (e.g. the leak tester's "
        "reference-leak check expired): testing again reworks nothing, so it does not count against the loop cap",
    )


class RouteStepIn(_Strict):
    station_type: StationTypeCode
    required: bool = True


class RouteIn(_Strict):
    """An ordered list of operations by station type, with rework rules and a rework loop cap."""

    code: Code
    description: str = ""
    rework_loop_cap: Annotated[int, Field(ge=0, le=20)]
    steps: Annotated[list[RouteStepIn], Field(min_length=1, max_length=50)]
    rework: list[ReworkRuleIn] | None = Field(
        default=None,
        description="Where a FAIL sends the unit; omitted: the station types' defaults (line.md's table)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RouteIn:
        types = [s.station_type for s in self.steps]
        if len(set(types)) != len(types):
            raise ValueError("a station type appears twice in the route's steps")
        if routing.REPAIR in types:
            raise ValueError("repair is not a route step; it is reached through rework rules")
        for rule in self.rework or ():
            if rule.failed_at not in types:
                raise ValueError(f"rework rule for {rule.failed_at}, which is not a step of the route")
            if rule.reenter_at is not None and rule.reenter_at not in types:
                raise ValueError(f"rework rule re-enters at {rule.reenter_at}, which is not a step of the route")
            if rule.action == "repeat" and rule.reenter_at is None:
                raise ValueError("a 'repeat' rework rule needs reenter_at")
            if rule.action == "repair" and rule.reenter_at is None:
                raise ValueError("a 'repair' rework rule needs reenter_at")
            if rule.action != "repeat" and not rule.counts_as_rework_loop:
                raise ValueError(
                    f"rework rule for {rule.failed_at}: only a 'repeat' of a test that was not valid can be no "
                    "rework loop; a repair is rework of the unit and a hold counts no loop"
                )
        return self


class MarketRuleIn(_Strict):
    """Market × refrigerant × construction → the largest charge allowed, with its source."""

    market: ShortCode
    refrigerant: Literal["R290", "R32"]
    construction: Literal["monobloc_sealed", "split_outdoor"]
    max_charge_g: PositiveFloat
    source: Annotated[str, StringConstraints(min_length=3)]


_ENDPOINT = re.compile(
    r"opc\.tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?(/\S*)?"
)


class StationIn(_Strict):
    station_id: StationId
    station_type: StationTypeCode
    line: ShortCode
    description: str = ""
    opcua_endpoint: Annotated[str, StringConstraints(max_length=255)] | None = None

    @field_validator("opcua_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        """opc.tcp://host[:port][/path]; a user name or password in it would be used, and shown to
        everyone who reads the line's status (the OPC UA user is MES_OPCUA__USERNAME / __PASSWORD)."""
        if value is not None and not _ENDPOINT.fullmatch(value):
            raise ValueError(
                "must be opc.tcp://host[:port][/path] with a host name or address and no user name or "
                "password (the MES signs in with MES_OPCUA__USERNAME and MES_OPCUA__PASSWORD)"
            )
        return value


class MasterDataDocument(_Strict):
    routes: list[RouteIn] = []
    product_models: list[ProductModelIn] = []
    market_rules: list[MarketRuleIn] = []
    stations: list[StationIn] = []

    @model_validator(mode="after")
    def _each_key_once(self) -> MasterDataDocument:
        """A record named twice would be upserted twice, the last row winning silently: refuse instead."""
        keyed = {
            "route": [r.code for r in self.routes],
            "product model": [p.code for p in self.product_models],
            "market rule": [f"{r.market}/{r.refrigerant}/{r.construction}" for r in self.market_rules],
            "station": [s.station_id for s in self.stations],
        }
        twice = [
            f"{kind} {key} ({count} times)"
            for kind, keys in keyed.items()
            for key, count in Counter(keys).items()
            if count > 1
        ]
        if twice:
            shown = ", ".join(twice[:10]) + (f" and {len(twice) - 10} more" if len(twice) > 10 else "")
            raise ValueError(
                f"the document names {shown}; each record may appear once (which row should win?): "
                "remove the duplicates"
            )
        return self


def _audit_upsert(
    session: Session,
    *,
    actor: Actor,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    reason: str | None,
) -> None:
    """One audit event per record that changed; upserting an unchanged record records nothing."""
    if before != after:
        action = f"{entity_type}.{'create' if before is None else 'update'}"
        audit.record(
            session=session,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
            reason=reason,
        )


def _route_state(session: Session, route: m.Route) -> dict[str, Any]:
    steps = session.scalars(select(m.RouteStep).where(m.RouteStep.route_id == route.id).order_by(m.RouteStep.position))
    rules = session.scalars(select(m.ReworkRule).where(m.ReworkRule.route_id == route.id).order_by(m.ReworkRule.id))
    return audit.snapshot(route) | {
        "steps": [audit.snapshot(s, without=("route_id",)) for s in steps],
        "rework": [audit.snapshot(r, without=("id", "route_id")) for r in rules],
    }


def upsert_route(*, session: Session, route_in: RouteIn, actor: Actor, reason: str | None = None) -> m.Route:
    """Create or replace a route; refused when it names an unknown station type, re-enters after the
    failed step, or drops a step that units in process are due at."""
    _require_station_types(
        [s.station_type for s in route_in.steps]
        + [code for r in route_in.rework or () for code in (r.failed_at, r.reenter_at) if code is not None],
        where=f"route {route_in.code}",
    )
    _reentry_not_downstream(route_in)
    route = session.scalars(select(m.Route).where(m.Route.code == route_in.code)).one_or_none()
    if route is not None:
        _no_unit_stranded(session, route=route, route_in=route_in)
    before = _route_state(session, route) if route is not None else None
    if route is None:
        route = m.Route(code=route_in.code, revision=1)
        session.add(route)
    elif _route_changed(session, route, route_in):
        route.revision += 1
    route.description = route_in.description
    route.rework_loop_cap = route_in.rework_loop_cap
    session.flush()
    session.execute(delete(m.RouteStep).where(m.RouteStep.route_id == route.id))
    session.execute(delete(m.ReworkRule).where(m.ReworkRule.route_id == route.id))
    for position, step in enumerate(route_in.steps, start=1):
        session.add(
            m.RouteStep(
                route_id=route.id,
                position=position,
                station_type=step.station_type,
                required=step.required,
            )
        )
    for rule in route_in.rework if route_in.rework is not None else station_rework_defaults(route_in):
        session.add(
            m.ReworkRule(
                route_id=route.id,
                failed_at=rule.failed_at,
                failure_mode=rule.failure_mode,
                action=rule.action,
                reenter_at=rule.reenter_at,
                note=rule.note,
                counts_as_rework_loop=rule.counts_as_rework_loop,
            )
        )
    session.flush()
    after = _route_state(session, route)
    _audit_upsert(
        session, actor=actor, entity_type="route", entity_id=route.code, before=before, after=after, reason=reason
    )
    return route


def _require_station_types(codes: Iterable[str], *, where: str) -> None:
    known = {st.code for st in stations.all_station_types()}
    unknown = sorted(set(codes) - known)
    if unknown:
        raise InvalidInput(
            f"{where}: station type {', '.join(repr(c) for c in unknown)} is not one of this MES; "
            f"the known station types are {', '.join(sorted(known))}",
            known_station_types=sorted(known),
        )


def _reentry_not_downstream(route_in: RouteIn) -> None:
    """A unit re-enters at or before the step it failed: re-entering after it would skip the steps between."""
    order = [s.station_type for s in route_in.steps]
    for rule in route_in.rework if route_in.rework is not None else station_rework_defaults(route_in):
        if rule.reenter_at is None or rule.failed_at not in order or rule.reenter_at not in order:
            continue
        failed, reentry = order.index(rule.failed_at), order.index(rule.reenter_at)
        if reentry > failed:
            skipped = ", ".join(order[failed + 1 : reentry])
            raise InvalidInput(
                f"route {route_in.code}: the rework rule for a FAIL at {rule.failed_at} re-enters at "
                f"{rule.reenter_at}, after the failed step{f' (skipping {skipped})' if skipped else ''}; "
                f"a unit re-enters at {rule.failed_at} or a step before it"
            )


def _no_unit_stranded(session: Session, *, route: m.Route, route_in: RouteIn) -> None:
    """Refuse to drop a step that units in process (or on hold) of the route's models are due at next or
    re-enter at: they would wait for a step that no longer exists."""
    kept = {s.station_type for s in route_in.steps} | {routing.REPAIR}
    removed = (
        set(session.scalars(select(m.RouteStep.station_type).where(m.RouteStep.route_id == route.id)).all()) - kept
    )
    if not removed:
        return
    waiting = (
        select(m.Unit.serial)
        .join(m.ProductModel, m.ProductModel.id == m.Unit.product_model_id)
        .where(
            m.ProductModel.route_id == route.id,
            m.Unit.status.in_([routing.UnitStatus.IN_PROCESS.value, routing.UnitStatus.ON_HOLD.value]),
            or_(m.Unit.next_step.in_(sorted(removed)), m.Unit.reentry_step.in_(sorted(removed))),
        )
    )
    count, serials = _count_and_first_serials(session, waiting)
    if count:
        units = f"{count} units in process are" if count != 1 else "1 unit in process is"
        raise Conflict(
            f"route {route.code}: {units} due at {', '.join(sorted(removed))} (next or re-entry step), "
            f"e.g. {', '.join(serials)}; removing the step would strand {'them' if count != 1 else 'it'}: let "
            f"{'them' if count != 1 else 'it'} pass the step, or disposition {'them' if count != 1 else 'it'}, "
            "before removing it",
            units=count,
            serials=list(serials),
        )


def _count_and_first_serials(session: Session, waiting: Select[str]) -> tuple[int, list[str]]:
    """How many serials a query of units finds, and the first five of them (for a refusal's message)."""
    count = session.scalar(select(func.count()).select_from(waiting.subquery())) or 0
    serials = list(session.scalars(waiting.order_by(m.Unit.serial).limit(5)).all()) if count else []
    return count, serials


def _no_unit_moved_off_its_route(session: Session, *, model: m.ProductModel, route: m.Route) -> None:
    """Refuse to move a product model to another route while units of it are in process or on hold:
    they have passed steps of the route they follow and are due at a step of it, which the other route
    may not have or may order differently (a charged monobloc on the split route, which has no charging)."""
    waiting = select(m.Unit.serial).where(
        m.Unit.product_model_id == model.id,
        m.Unit.status.in_([routing.UnitStatus.IN_PROCESS.value, routing.UnitStatus.ON_HOLD.value]),
        m.Unit.id.in_(select(m.OperationAttempt.unit_id)),
    )
    count, serials = _count_and_first_serials(session, waiting)
    if count:
        units = f"{count} units" if count != 1 else "1 unit"
        raise Conflict(
            f"product model {model.code}: {units} of it are on their way along its route (e.g. "
            f"{', '.join(serials)}); moving the model to route {route.code} would strand them: let them finish "
            "or disposition them first, or give the new route to a new product model",
            units=count,
            serials=list(serials),
        )
    # units released but not started anywhere yet start on the new route: at its first step
    first_step = repo.route_def(session, route.id).steps[0].station_type
    session.execute(
        update(m.Unit)
        .where(
            m.Unit.product_model_id == model.id,
            m.Unit.status == routing.UnitStatus.IN_PROCESS.value,
            m.Unit.id.not_in(select(m.OperationAttempt.unit_id)),
        )
        .values(next_step=first_step, updated_at=utcnow())
    )


def station_rework_defaults(route_in: RouteIn) -> list[ReworkRuleIn]:
    """The rework rules the route's station types declare, kept where their re-entry is on this route."""
    types = {step.station_type for step in route_in.steps}
    rules = []
    for step in route_in.steps:
        try:
            declared = stations.get_station_type(step.station_type)
        except LookupError as exc:
            raise InvalidInput(f"route {route_in.code}: {step.station_type!r} is not a station type") from exc
        for default in declared.rework:
            if default.reentry_station_type is not None and default.reentry_station_type not in types:
                continue
            rules.append(
                ReworkRuleIn(
                    failed_at=step.station_type,
                    failure_mode=None if default.failure_mode == "*" else default.failure_mode,
                    action=default.action,
                    reenter_at=default.reentry_station_type,
                    note=default.note,
                    counts_as_rework_loop=default.counts_as_rework_loop,
                )
            )
    return rules


def _route_changed(session: Session, route: m.Route, route_in: RouteIn) -> bool:
    current = repo.route_def(session, route.id)
    wanted = (
        route_in.rework_loop_cap,
        [(s.station_type, s.required) for s in route_in.steps],
        sorted(
            (r.failed_at, r.failure_mode or "", r.action, r.reenter_at or "", r.counts_as_rework_loop)
            for r in (route_in.rework if route_in.rework is not None else station_rework_defaults(route_in))
        ),
    )
    have = (
        current.loop_cap,
        [(s.station_type, s.required) for s in current.steps],
        sorted(
            (r.failed_at, r.failure_mode or "", r.action.value, r.reenter_at or "", r.counts_as_rework_loop)
            for r in current.rework
        ),
    )
    return wanted != have or route.description != route_in.description


def upsert_product_model(
    *,
    session: Session,
    model_in: ProductModelIn,
    actor: Actor,
    reason: str | None = None,
    check_market_cap: bool = True,
) -> m.ProductModel:
    """Create or replace a product model; refused when its nominal charge plus tolerance is over the market
    charge cap that applies to it (``check_market_cap`` False: the caller checks, see :func:`load_document`)."""
    lock_until_commit(session, CHARGE_CAPS_LOCK)
    route = repo.route_by_code(session, model_in.route)
    model = session.scalars(select(m.ProductModel).where(m.ProductModel.code == model_in.code)).one_or_none()
    before = audit.snapshot(model) if model is not None else None
    if model is None:
        model = m.ProductModel(code=model_in.code)
        session.add(model)
    elif model.route_id != route.id:
        _no_unit_moved_off_its_route(session, model=model, route=route)
    fields = model_in.model_dump(exclude={"code", "route", "rating", "bom", "cycle_physics"})
    for name, value in fields.items():
        setattr(model, name, value)
    for name, value in model_in.rating.model_dump().items():
        setattr(model, name, value)
    model.bom_compressor_model = model_in.bom.compressor_model
    model.bom_inverter_model = model_in.bom.inverter_model
    model.bom_evi_valve_model = model_in.bom.evi_valve_model
    model.cycle_physics = model_in.cycle_physics.model_dump() if model_in.cycle_physics else None
    model.route_id = route.id
    session.flush()
    over = _charges_over_market_caps(session, m.ProductModel.id == model.id) if check_market_cap else []
    if over:
        units = "every unit of it" if over[0].every_unit else "a unit charged within its tolerance above the cap"
        raise InvalidInput(
            f"product model {model.code}: its {over[0].charge} is over {over[0].cap}, so {units} would FAIL at "
            f"charging; lower the nominal charge or its tolerance to fit under {over[0].rule.max_charge_g:g} g, "
            "or correct the market rule",
            product_models=[model.code],
        )
    after = audit.snapshot(model)
    _audit_upsert(
        session,
        actor=actor,
        entity_type="product_model",
        entity_id=model.code,
        before=before,
        after=after,
        reason=reason,
    )
    return model


def upsert_market_rule(
    *,
    session: Session,
    rule_in: MarketRuleIn,
    actor: Actor,
    reason: str | None = None,
    check_market_cap: bool = True,
) -> m.MarketRule:
    """Create or replace a market rule; refused when its cap is under the nominal charge plus tolerance of
    product models it applies to (``check_market_cap`` False: the caller checks, see :func:`load_document`)."""
    lock_until_commit(session, CHARGE_CAPS_LOCK)
    rule = session.scalars(
        select(m.MarketRule).where(
            m.MarketRule.market == rule_in.market,
            m.MarketRule.refrigerant == rule_in.refrigerant,
            m.MarketRule.construction == rule_in.construction,
        )
    ).one_or_none()
    before = audit.snapshot(rule) if rule is not None else None
    if rule is None:
        rule = m.MarketRule(market=rule_in.market, refrigerant=rule_in.refrigerant, construction=rule_in.construction)
        session.add(rule)
    rule.max_charge_g = rule_in.max_charge_g
    rule.source = rule_in.source
    session.flush()
    key = f"{rule.market}/{rule.refrigerant}/{rule.construction}"
    over = _charges_over_market_caps(session, m.MarketRule.id == rule.id) if check_market_cap else []
    if over:
        raise Conflict(
            f"market rule {key}: a cap of {rule.max_charge_g:g} g (source: {rule.source}) is under the charge of "
            f"product model {', '.join(f'{o.model.code} ({o.charge})' for o in over)}, whose units would FAIL at "
            "charging: change the product model first (a smaller charge or tolerance, or another market), then "
            "the rule",
            product_models=[o.model.code for o in over],
        )
    _audit_upsert(
        session,
        actor=actor,
        entity_type="market_rule",
        entity_id=key,
        before=before,
        after=audit.snapshot(rule),
        reason=reason,
    )
    return rule


def upsert_station(*, session: Session, station_in: StationIn, actor: Actor, reason: str | None = None) -> m.Station:
    """Create or replace a station; its type must be one of the registered station types."""
    _require_station_types([station_in.station_type], where=f"station {station_in.station_id}")
    station = session.get(m.Station, station_in.station_id)
    before = audit.snapshot(station) if station is not None else None
    if station is None:
        station = m.Station(station_id=station_in.station_id)
        session.add(station)
    elif station.station_type != station_in.station_type:
        used = session.scalars(
            select(m.OperationAttempt.id).where(m.OperationAttempt.station_id == station.station_id).limit(1)
        ).first()
        if used is not None:
            raise Conflict(
                f"station {station.station_id} has recorded attempts as {station.station_type}; "
                "its type cannot change (create a new station id)"
            )
    station.station_type = station_in.station_type
    station.line_code = station_in.line
    station.description = station_in.description
    station.opcua_endpoint = station_in.opcua_endpoint
    session.flush()
    after = audit.snapshot(station)
    _audit_upsert(
        session,
        actor=actor,
        entity_type="station",
        entity_id=station.station_id,
        before=before,
        after=after,
        reason=reason,
    )
    return station


@dataclass(frozen=True, slots=True)
class _OverCap:
    """A product model whose nominal charge plus tolerance is over the cap of the market rule for it."""

    model: m.ProductModel
    rule: m.MarketRule

    @property
    def every_unit(self) -> bool:
        """The nominal alone is over the cap: every unit charged to it FAILs, not only those above it."""
        return (self.model.nominal_charge_g or 0.0) > self.rule.max_charge_g

    @property
    def charge(self) -> str:
        """``nominal charge 149 g + 2 g tolerance = 151 g``"""
        nominal, tolerance = self.model.nominal_charge_g or 0.0, self.model.charge_tolerance_g or 0.0
        if not tolerance:
            return f"nominal charge {nominal:g} g"
        return f"nominal charge {nominal:g} g + {tolerance:g} g tolerance = {nominal + tolerance:g} g"

    @property
    def cap(self) -> str:
        """``the 150 g charge cap of market rule EU/R290/monobloc_sealed (source: …)``"""
        rule = self.rule
        return (
            f"the {rule.max_charge_g:g} g charge cap of market rule {rule.market}/{rule.refrigerant}/"
            f"{rule.construction} (source: {rule.source})"
        )


#: float sums of decimal grams (149.9 + 0.1) may land a hair above the cap they meet exactly
_CHARGE_ROUNDING_G = 1e-6


# Product models' charges and market rules' caps are checked against each other by whichever changes:
# without one lock, a charge raised and a cap lowered at once would each pass against the other's old
# value (write skew). Taken before either is read.
CHARGE_CAPS_LOCK = "master_data:charges_and_market_caps"


def _charges_over_market_caps(session: Session, where: ColumnElement[bool]) -> list[_OverCap]:
    """The product models ``where`` selects (each joined with the market rule for its market, refrigerant and
    construction) whose nominal charge plus its upper tolerance is over the rule's cap: a unit charged
    within the model's own tolerance would FAIL at charging against the cap (line.md: mass ≤ market cap)."""
    rows = session.execute(
        select(m.ProductModel, m.MarketRule)
        .join(
            m.MarketRule,
            and_(
                m.MarketRule.market == m.ProductModel.market,
                m.MarketRule.refrigerant == m.ProductModel.refrigerant,
                m.MarketRule.construction == m.ProductModel.construction,
            ),
        )
        .where(m.ProductModel.nominal_charge_g.is_not(None), where)
        .order_by(m.ProductModel.code)
    ).all()
    return [
        _OverCap(model, rule)
        for model, rule in rows
        if (model.nominal_charge_g or 0.0) + (model.charge_tolerance_g or 0.0) > rule.max_charge_g + _CHARGE_ROUNDING_G
    ]


def _document_within_market_caps(session: Session, document: MasterDataDocument) -> None:
    """The check of :func:`upsert_product_model` and :func:`upsert_market_rule`, made once every record of
    the document is in: a document may raise a cap and a charge (or lower both) together."""
    touched = [m.ProductModel.code.in_([p.code for p in document.product_models])] + [
        and_(
            m.MarketRule.market == r.market,
            m.MarketRule.refrigerant == r.refrigerant,
            m.MarketRule.construction == r.construction,
        )
        for r in document.market_rules
    ]
    over = _charges_over_market_caps(session, or_(*touched))
    if over:
        models = "; ".join(f"{o.model.code}: its {o.charge} is over {o.cap}" for o in over)
        raise InvalidInput(
            f"product model {models}; a unit charged within its model's tolerance above the cap would FAIL at "
            "charging: lower the nominal charge or its tolerance to fit under the cap, or correct the market rule",
            product_models=[o.model.code for o in over],
        )


def market_cap_g(session: Session, *, market: str, refrigerant: str, construction: str) -> m.MarketRule | None:
    return session.scalars(
        select(m.MarketRule).where(
            m.MarketRule.market == market,
            m.MarketRule.refrigerant == refrigerant,
            m.MarketRule.construction == construction,
        )
    ).one_or_none()


def load_document(
    *, session: Session, document: MasterDataDocument, actor: Actor, reason: str | None = None
) -> dict[str, int]:
    """Upsert every record of a master-data document; returns how many of each it holds.

    ``reason`` goes into every audit event the load records (e.g. the file and its SHA-256)."""
    if document.product_models or document.market_rules:
        lock_until_commit(session, CHARGE_CAPS_LOCK)
    for route_in in document.routes:
        upsert_route(session=session, route_in=route_in, actor=actor, reason=reason)
    for model_in in document.product_models:
        upsert_product_model(session=session, model_in=model_in, actor=actor, reason=reason, check_market_cap=False)
    for rule_in in document.market_rules:
        upsert_market_rule(session=session, rule_in=rule_in, actor=actor, reason=reason, check_market_cap=False)
    _document_within_market_caps(session, document)
    for station_in in document.stations:
        upsert_station(session=session, station_in=station_in, actor=actor, reason=reason)
    return {
        "routes": len(document.routes),
        "product_models": len(document.product_models),
        "market_rules": len(document.market_rules),
        "stations": len(document.stations),
    }


def read_document(path: Path) -> MasterDataDocument:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"master-data document {path} is not valid: {exc}") from exc
    return parse_document(data, name=str(path))


def parse_document(data: bytes, *, name: str) -> MasterDataDocument:
    """A master-data document from the bytes of its file (``name`` for the error message)."""
    try:
        return MasterDataDocument.model_validate(json.loads(data.decode("utf-8")))
    except ValueError as exc:
        raise InvalidInput(f"master-data document {name} is not valid: {exc}") from exc
