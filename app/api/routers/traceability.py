"""Traceability for quality engineers: units, birth records, traces, reverse genealogy."""

from __future__ import annotations

from typing import Literal

import pydantic_core
from fastapi import APIRouter, Query, Response

from app.api import presenters, schemas
from app.api.deps import SerialFormatDep, SessionDep, SettingsDep
from app.domain.actors import Role
from app.domain.errors import InvalidInput
from app.domain.results import ComponentKind, Verdict
from app.security.access import allow
from app.services import traceability

router = APIRouter(tags=["traceability"])
API_PREFIX = "/api/v1"
_ERRORS = schemas.problem_responses(404, 422)


@router.get(
    "/units",
    operation_id="listUnits",
    summary="List units",
    response_model=schemas.UnitPage,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_units(
    session: SessionDep,
    settings: SettingsDep,
    work_order: str | None = Query(default=None, max_length=64, description="Work order number"),
    status: Literal["in_process", "on_hold", "finished", "scrapped"] | None = Query(default=None),
    product_model: str | None = Query(default=None, max_length=64),
    station_id: str | None = Query(default=None, max_length=32, description="Units with an attempt at this station"),
    verdict: Verdict | None = Query(default=None, description="Units with an attempt of this verdict"),
    since: schemas.Instant | None = Query(
        default=None, description="Attempt started at or after (ISO-8601 with offset)"
    ),
    until: schemas.Instant | None = Query(default=None, description="Attempt started before (ISO-8601 with offset)"),
    limit: int = Query(default=100, ge=1, le=500),
    cursor: str | None = Query(default=None, max_length=20, description="next_cursor of the previous page"),
) -> schemas.UnitPage:
    """Units by work order, status, model; station, verdict and time range apply to one same attempt."""
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and int(cursor) <= schemas.MAX_BIGINT_ID):
        raise InvalidInput("cursor must be the next_cursor value of a previous page")
    rows, next_id = traceability.list_units(
        session=session,
        flt=traceability.UnitFilter(
            work_order=work_order,
            status=status,
            product_model=product_model,
            station_id=station_id,
            verdict=verdict.value if verdict else None,
            since=since,
            until=until,
        ),
        after_id=int(cursor) if cursor else None,
        limit=min(limit, settings.api.page_size_max),
    )
    return schemas.UnitPage(
        items=[presenters.unit_out(r) for r in rows], next_cursor=str(next_id) if next_id is not None else None
    )


@router.get(
    "/units/{serial}",
    operation_id="getUnit",
    summary="One unit's state",
    response_model=schemas.UnitOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_unit(serial: str, session: SessionDep, serial_format: SerialFormatDep) -> schemas.UnitOut:
    unit = traceability.unit_summary(session=session, serial_format=serial_format, serial=serial)
    return presenters.unit_state_out(unit)


@router.get(
    "/units/{serial}/birth-record",
    operation_id="getBirthRecord",
    summary="A unit's birth record",
    response_model=schemas.BirthRecordOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_birth_record(serial: str, session: SessionDep, serial_format: SerialFormatDep) -> Response:
    """Every attempt at every station in time order, with measurements, trace summaries (samples
    behind each trace's ``href``), consumed components, checks, verdicts and holds."""
    record = traceability.birth_record(session=session, serial_format=serial_format, serial=serial)
    return presenters.json_response(presenters.birth_record_out(record, api_prefix=API_PREFIX))


@router.get(
    "/attempts/{attempt_id}/traces/{channel}",
    operation_id="getTraceSamples",
    summary="The samples of one trace",
    response_model=schemas.TraceSamplesOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_trace(attempt_id: schemas.AttemptIdPath, channel: str, session: SessionDep) -> schemas.TraceSamplesOut:
    samples = traceability.trace_samples(session=session, attempt_id=attempt_id, channel=channel)
    return schemas.TraceSamplesOut(
        attempt_id=samples.attempt_id, channel=samples.channel, t_s=samples.t_s, values=samples.values
    )


@router.get(
    "/genealogy",
    operation_id="reverseGenealogy",
    summary="Every unit that consumed a component serial or lot",
    response_model=schemas.GenealogyOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def reverse_genealogy(
    session: SessionDep,
    identifier: str = Query(
        min_length=1,
        max_length=64,
        description="Component serial, lot, furnace run, cylinder lot; found in any case, surrounding "
        "whitespace ignored",
    ),
    kind: ComponentKind | None = Query(default=None),
) -> Response:
    """One entry per consumption of the identifier (a unit brazed twice in one furnace run is listed
    twice): ``count`` counts the entries, ``unit_count`` the distinct units."""
    identifier = identifier.strip()
    if not identifier:
        raise InvalidInput("identifier is blank: give a component serial, lot, furnace run or cylinder lot")
    entries = traceability.genealogy(session=session, identifier=identifier, kind=kind.value if kind else None)
    document = {
        "identifier": identifier,
        "kind": kind.value if kind else None,
        "count": len(entries),
        "unit_count": len({e.serial for e in entries}),
        "units": [
            {
                "serial": e.serial,
                "status": e.status,
                "product_model": e.product_model_code,
                "work_order": e.work_order_number,
                "kind": e.kind,
                "identifier": e.identifier,
                "component_model": e.component_model,
                "station_id": e.station_id,
                "attempt_id": e.attempt_id,
                "consumed_at": e.consumed_at,
                "removed_at": e.removed_at,
                "removed_by_attempt_id": e.removed_by_attempt_id,
            }
            for e in entries
        ],
    }
    # a lot can hold thousands of units: serialise the plain document once (schema: GenealogyOut)
    return Response(content=pydantic_core.to_json(document), media_type="application/json")
