"""Queries shared by the services. No commits here: the caller's transaction decides."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    LargeBinary,
    String,
    Table,
    Text,
    TextClause,
    and_,
    bindparam,
    exists,
    insert,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.domain import routing
from app.domain.errors import NotFound, UnknownSerial
from app.persistence import models as m
from app.persistence.driver import DriverStatement
from stations.repair import RECOVERED_MASS


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
        raise unit_not_found(serial)
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
                note=r.note or "",
                counts_as_rework_loop=r.counts_as_rework_loop,
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
# An ORM entity load costs several times a round trip on this stack, and even a column read or a
# bulk write through the ORM layer costs more than the round trip; so the start/complete path builds
# its statements on the tables and runs them on the transaction's connection (``core``), reading
# columns into these plain records.


def table(model: type[m.Base]) -> Table:
    """The model's table, for statements that must not go through the ORM layer."""
    return m.Base.metadata.tables[model.__tablename__]


def core(session: Session) -> Connection:
    """The connection of the session's transaction: Core statements run here skip the ORM layer."""
    return session.connection()


_WRITES_TOGETHER: dict[tuple[object, ...], DriverStatement] = {}


def write_together(
    session: Session,
    *,
    inserts: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]] = (),
    updates: Sequence[tuple[Table, Mapping[str, Any]]] = (),
) -> None:
    """Several inserts (each of rows with the same keys) and updates by primary key, in one round trip.

    On PostgreSQL, one statement of data-modifying CTEs: each insert an ``INSERT … SELECT * FROM
    unnest(one array per column)`` (the same short text for any number of rows: a multi-row VALUES
    statement differs with every row count and carries a parameter per cell, so psycopg would parse it
    anew each time, and executemany polls the socket in pipeline mode), each update an ``UPDATE … FROM
    jsonb_populate_record(…)`` of its values (their keys the columns, ``id`` the row). They touch
    distinct rows and each runs exactly once; one fails, the statement fails. The statement keeps
    under psycopg's limits for caching its parsed form (4 kB, 50 parameters): an update is one
    parameter, an insert one per column, and binary values one each (an array of large bytea
    values would be escaped element by element into array text). Elsewhere (SQLite): one
    statement each.
    """
    inserts = [(t, rows) for t, rows in inserts if rows]
    connection = core(session)
    if connection.dialect.name != "postgresql":
        for t, rows in inserts:
            connection.execute(insert(t), list(rows))
        for t, values in updates:
            connection.execute(
                t.update()
                .where(t.c.id == bindparam("w_id"))
                .values({k: bindparam(f"w_{k}") for k in values if k != "id"}),
                {f"w_{k}": v for k, v in values.items()},
            )
        return
    shape = (
        tuple((t.name, tuple(rows[0]), len(rows) if _binary(t) else 0) for t, rows in inserts),
        tuple((t.name, tuple(values)) for t, values in updates),
    )
    statement = _WRITES_TOGETHER.get(shape)
    if statement is None:
        statement = DriverStatement(
            _writes_together(
                [(t, tuple(rows[0]), len(rows)) for t, rows in inserts], [(t, tuple(values)) for t, values in updates]
            ),
            returns_rows=False,
        )
        if len(_WRITES_TOGETHER) > 1000:
            _WRITES_TOGETHER.clear()
        _WRITES_TOGETHER[shape] = statement
    params: dict[str, Any] = {}
    for i, (t, rows) in enumerate(inserts):
        for k, name in enumerate(rows[0]):
            if isinstance(t.c[name].type, LargeBinary):
                for r, row in enumerate(rows):
                    params[f"b{i}_{k}_{r}"] = row[name]
            else:
                params[f"a{i}_{k}"] = [row[name] for row in rows]
    for j, (_, values) in enumerate(updates):
        params[f"u{j}"] = json.dumps(values, default=_json_instant)
    statement.rows(connection, params)


#: a verdict's checks in the judge's order; those stored before migration 0008 (no position) by name after them
CHECK_ORDER = (
    table(m.CheckResultRow).c.position.is_(None),
    table(m.CheckResultRow).c.position,
    table(m.CheckResultRow).c.name,
)


def _json_instant(value: object) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"{value!r} cannot be written here")


def _binary(t: Table) -> bool:
    return any(isinstance(c.type, LargeBinary) for c in t.c)


def _sql_type(column_type: Any, dialect: Any) -> str:
    # text, not VARCHAR(n): an explicit cast would cut a long value short where the write refuses it
    return "TEXT" if isinstance(column_type, String) else str(column_type.compile(dialect=dialect))


def _writes_together(
    inserts: Sequence[tuple[Table, tuple[str, ...], int]], updates: Sequence[tuple[Table, tuple[str, ...]]]
) -> TextClause:
    dialect = postgresql.dialect()
    quote = dialect.identifier_preparer.quote
    parts: list[str] = []
    binds: list[BindParameter[Any]] = []
    for i, (t, names, n_rows) in enumerate(inserts):
        arrays = []
        for k, n in enumerate(names):
            column_type = t.c[n].type
            if isinstance(column_type, LargeBinary):
                arrays.append("ARRAY[" + ", ".join(f"CAST(:b{i}_{k}_{r} AS BYTEA)" for r in range(n_rows)) + "]")
                binds += [bindparam(f"b{i}_{k}_{r}", type_=column_type) for r in range(n_rows)]
            else:
                arrays.append(f"CAST(:a{i}_{k} AS {_sql_type(column_type, dialect)}[])")
                binds.append(bindparam(f"a{i}_{k}", type_=postgresql.ARRAY(column_type)))
        columns = ", ".join(quote(n) for n in names)
        parts.append(f"i{i} AS (INSERT INTO {quote(t.name)} ({columns}) SELECT * FROM unnest({', '.join(arrays)}))")
    for j, (t, names) in enumerate(updates):
        table_name = quote(t.name)
        sets = ", ".join(f"{quote(n)} = x.{quote(n)}" for n in names if n != "id")
        parts.append(
            f"u{j} AS (UPDATE {table_name} SET {sets} FROM jsonb_populate_record(NULL::{table_name}, "
            f"CAST(:u{j} AS JSONB)) AS x WHERE {table_name}.id = x.id)"
        )
        binds.append(bindparam(f"u{j}", type_=Text()))
    return text("WITH " + ", ".join(parts) + " SELECT 1").bindparams(*binds)


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
    rules_version: str | None
    use_as_is: bool


_A = table(m.OperationAttempt).c
_STATION = table(m.Station)
_UNIT = table(m.Unit)
_PRODUCT_MODEL = table(m.ProductModel)
_WORK_ORDER = table(m.WorkOrder)
_ROUTE = table(m.Route)
ATTEMPT_COLUMNS = tuple(_A[f] for f in AttemptState.__dataclass_fields__)
_UNIT_COLUMNS = (
    *(_UNIT.c[f] for f in UnitState.__dataclass_fields__ if f not in ("product_model_code", "work_order_number")),
    _PRODUCT_MODEL.c.code,
    _WORK_ORDER.c.number,
)
_UNIT_JOINS = _UNIT.join(_PRODUCT_MODEL, _PRODUCT_MODEL.c.id == _UNIT.c.product_model_id).join(
    _WORK_ORDER, _WORK_ORDER.c.id == _UNIT.c.work_order_id
)


# Statements built once: SQLAlchemy memoises a statement's cache key, so re-executing a prebuilt
# statement with new parameters skips the traversal a freshly built one costs.
_STATION_TYPE = select(_STATION.c.station_type).where(_STATION.c.station_id == bindparam("station_id"))
_STATION_TYPE_LOCKED = _STATION_TYPE.with_for_update()


def lock_station(session: Session, station_id: str) -> str:
    """Lock the station row (serialises everything that happens at one station); returns its type."""
    station_type = core(session).execute(_STATION_TYPE_LOCKED, {"station_id": station_id}).scalar_one_or_none()
    if station_type is None:
        raise NotFound(f"station {station_id!r} is not in the master data", station_id=station_id)
    return station_type


def station_type_of(session: Session, station_id: str) -> str:
    station_type = session.execute(_STATION_TYPE, {"station_id": station_id}).scalar_one_or_none()
    if station_type is None:
        raise NotFound(f"station {station_id!r} is not in the master data", station_id=station_id)
    return station_type


_ON_THE_SAME_LINE = _STATION.alias("on_the_same_line")
_STATIONS_OF_TYPE_ON_LINE = (
    select(_STATION.c.station_id)
    .join(_ON_THE_SAME_LINE, _ON_THE_SAME_LINE.c.line_code == _STATION.c.line_code)
    .where(_ON_THE_SAME_LINE.c.station_id == bindparam("station_id"), _STATION.c.station_type == bindparam("type"))
    .order_by(_STATION.c.station_id)
)


def stations_of_type_on_line(session: Session, *, station_id: str, station_type: str) -> list[str]:
    """The ids of the stations of ``station_type`` on ``station_id``'s line (the repair bench a refusal
    there sends a unit to)."""
    rows = session.execute(_STATIONS_OF_TYPE_ON_LINE, {"station_id": station_id, "type": station_type})
    return list(rows.scalars())


_UNIT_STATE = (
    select(*_UNIT_COLUMNS, _PRODUCT_MODEL.c.route_id, _ROUTE.c.revision)
    .select_from(_UNIT_JOINS.join(_ROUTE, _ROUTE.c.id == _PRODUCT_MODEL.c.route_id))
    .where(_UNIT.c.serial == bindparam("serial"))
)
_UNIT_STATE_LOCKED = _UNIT_STATE.with_for_update(of=_UNIT)
_UNIT_STATE_BY_ID = select(*_UNIT_COLUMNS).select_from(_UNIT_JOINS).where(_UNIT.c.id == bindparam("unit_id"))


def unit_state(session: Session, serial: str, *, for_update: bool = False) -> tuple[UnitState, routing.RouteDef]:
    """The unit (locked if asked), its labels and its route, in one round trip when the route is cached."""
    row = core(session).execute(_UNIT_STATE_LOCKED if for_update else _UNIT_STATE, {"serial": serial}).one_or_none()
    if row is None:
        raise NotFound(f"{serial} has not been released by any work order", serial=serial)
    *fields, route_id, revision = row
    return UnitState(*fields), route_def_cached(session, route_id, revision)


# The station row locked first, then (a LATERAL subquery, run once the station row is locked) the
# unit row; the unit's columns are NULL when no unit has the serial, no row when the station is unknown.
_LOCKED_STATION = (
    select(_STATION.c.station_id, _STATION.c.station_type)
    .where(_STATION.c.station_id == bindparam("station_id"))
    .with_for_update()
    .subquery("locked_station")
)
_LOCKED_UNIT = (
    select(*_UNIT_COLUMNS, _PRODUCT_MODEL.c.route_id, _ROUTE.c.revision)
    .select_from(_UNIT_JOINS.join(_ROUTE, _ROUTE.c.id == _PRODUCT_MODEL.c.route_id))
    .where(_UNIT.c.serial == bindparam("serial"), _LOCKED_STATION.c.station_id.is_not(None))
    .with_for_update(of=_UNIT)
    .lateral("locked_unit")
)
_LOCK_STATION_AND_UNIT = DriverStatement(
    select(_LOCKED_STATION.c.station_type, *_LOCKED_UNIT.c).select_from(_LOCKED_STATION.outerjoin(_LOCKED_UNIT, true()))
)


def lock_station_and_unit(
    session: Session, station_id: str, serial: str
) -> tuple[str, tuple[UnitState, routing.RouteDef] | None]:
    """:func:`lock_station` and then ``unit_state(…, for_update=True)`` in one round trip.

    Returns the station's type and the unit with its route, or None when no unit has the serial.
    On PostgreSQL one statement locks the station row before the unit row (the lock order); a
    read that must see what committed before the locks were granted still needs a statement of
    its own after this one. Elsewhere: the two statements.
    """
    connection = core(session)
    if connection.dialect.name != "postgresql":
        station_type = lock_station(session, station_id)
        try:
            return station_type, unit_state(session, serial, for_update=True)
        except NotFound:
            return station_type, None
    row = _LOCK_STATION_AND_UNIT.one_or_none(connection, {"station_id": station_id, "serial": serial})
    if row is None:
        raise NotFound(f"station {station_id!r} is not in the master data", station_id=station_id)
    station_type, *fields, route_id, revision = row
    if fields[0] is None:
        return station_type, None
    return station_type, (UnitState(*fields), route_def_cached(session, route_id, revision))


def unit_not_found(serial: str) -> UnknownSerial:
    return UnknownSerial(f"{serial} has not been released by any work order", serial=serial)


def unit_state_by_id(session: Session, unit_id: int) -> UnitState:
    return UnitState(*core(session).execute(_UNIT_STATE_BY_ID, {"unit_id": unit_id}).one())


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
_OPEN_AT_STATION_OR_OF_UNIT = DriverStatement(
    select(*ATTEMPT_COLUMNS)
    .where(or_(_A.unit_id == bindparam("unit_id"), (_A.station_id == bindparam("station_id")) & (_A.status == "open")))
    .order_by(_A.id)
)
_ATTEMPT_BY_ID = select(*ATTEMPT_COLUMNS).where(_A.id == bindparam("attempt_id"))
# whether an operator already scanned parts on the attempt (app/services/scans.py): most have none
_SCANNED = exists().where(table(m.ComponentUse).c.attempt_id == _A.id).label("scanned")
_FOR_RESULT = DriverStatement(
    select(*ATTEMPT_COLUMNS, _SCANNED).where(_A.station_id == bindparam("station_id"), _A.status == "open")
)
_FOR_RESULT_KEY = DriverStatement(
    select(*ATTEMPT_COLUMNS, _SCANNED).where(
        _A.station_id == bindparam("station_id"), or_(_A.status == "open", _A.result_key == bindparam("result_key"))
    )
)


def attempts_at_station(session: Session, station_id: str, *, result_key: str | None) -> list[AttemptState]:
    """The open attempt at a station and, if ``result_key`` is given, the attempt that stored it."""
    if result_key is None:
        rows = core(session).execute(_OPEN_AT_STATION, {"station_id": station_id}).all()
    else:
        rows = (
            core(session)
            .execute(_OPEN_OR_STORED_AT_STATION, {"station_id": station_id, "result_key": result_key})
            .all()
        )
    return [AttemptState(*row) for row in rows]


def attempts_for_result(
    session: Session, *, station_id: str, result_key: str | None
) -> list[tuple[AttemptState, bool]]:
    """Like :func:`attempts_at_station`, each with whether parts were already recorded on it."""
    if result_key is None:
        rows = _FOR_RESULT.rows(core(session), {"station_id": station_id})
    else:
        rows = _FOR_RESULT_KEY.rows(core(session), {"station_id": station_id, "result_key": result_key})
    return [(AttemptState(*row[:-1]), bool(row[-1])) for row in rows]


def attempts_for_start(
    session: Session, *, station_id: str, unit_id: int
) -> tuple[list[AttemptState], list[routing.AttemptView]]:
    """The open attempt at the station and the unit's history, in one read.

    Read it only once both the station and the unit are locked: it must see what committed before.
    """
    rows = [
        AttemptState(*row)
        for row in _OPEN_AT_STATION_OR_OF_UNIT.rows(core(session), {"unit_id": unit_id, "station_id": station_id})
    ]
    open_here = [a for a in rows if a.station_id == station_id and a.status == "open"]
    history = [
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
        if a.unit_id == unit_id
    ]
    return open_here, history


def attempt_state(session: Session, attempt_id: int) -> AttemptState:
    return AttemptState(*core(session).execute(_ATTEMPT_BY_ID, {"attempt_id": attempt_id}).one())


@dataclass(frozen=True, slots=True)
class ChargeRecord:
    """A charging attempt with a result and what it says about the charge in the unit."""

    attempt_id: int
    station_id: str
    charged_mass_g: float | None  # None when the station reported no finite mass
    refrigerant: str


_RESULT_STATUSES = (
    routing.AttemptStatus.PASSED.value,
    routing.AttemptStatus.FAILED.value,
    routing.AttemptStatus.RETEST.value,
)
_MEASUREMENT = table(m.Measurement).c
# A repair that recorded the recovered mass emptied the circuit as an evacuation does (line.md: recover first).
_RECOVERY_RECORDED = (
    select(_MEASUREMENT.attempt_id)
    .where(_MEASUREMENT.attempt_id == _A.id, _MEASUREMENT.name == RECOVERED_MASS)
    .exists()
)
_LAST_EVACUATION_OR_CHARGE = (
    select(_A.id, _A.station_type, _A.station_id)
    .where(
        _A.unit_id == bindparam("unit_id"),
        _A.status.in_(_RESULT_STATUSES),
        or_(
            _A.station_type.in_(("vacuum_dehydration", "charging")),
            and_(_A.station_type == "repair", _RECOVERY_RECORDED),
        ),
    )
    .order_by(_A.id.desc())
    .limit(1)
)


def charge_after_last_evacuation(session: Session, unit: UnitState) -> ChargeRecord | None:
    """The unit's latest charging attempt with a result (passed, failed or retest) when neither a
    vacuum_dehydration attempt with a result nor a repair with a result that recorded the recovered mass
    came after it (attempts in the order they were opened); None otherwise, or when nothing was charged."""
    connection = core(session)
    row = connection.execute(_LAST_EVACUATION_OR_CHARGE, {"unit_id": unit.id}).first()
    if row is None or row.station_type != "charging":
        return None
    mass = connection.execute(
        select(_MEASUREMENT.value).where(_MEASUREMENT.attempt_id == row.id, _MEASUREMENT.name == "ChargedMass_g")
    ).scalar()
    refrigerant = connection.execute(
        select(_PRODUCT_MODEL.c.refrigerant).where(_PRODUCT_MODEL.c.id == unit.product_model_id)
    ).scalar_one()
    return ChargeRecord(attempt_id=row.id, station_id=row.station_id, charged_mass_g=mass, refrigerant=refrigerant)
