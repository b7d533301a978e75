"""Starting and completing operations at stations (PLCs over HTTP, operators, integrations)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.api import presenters, schemas
from app.api.deps import SerialFormatDep, SessionDep
from app.api.json_body import JsonBodyRoute
from app.domain.actors import Actor, Role
from app.domain.errors import AccessDenied, InvalidInput
from app.domain.results import Component, Measurement, StationResult, Trace
from app.security.access import allow
from app.services import operations

# results carry large traces: their bodies are parsed by pydantic's JSON parser (json_body.py)
router = APIRouter(prefix="/stations/{station_id}", tags=["operations"], route_class=JsonBodyRoute)

_REFUSALS = schemas.problem_responses(404, 409, 422)
T = TypeVar("T")
log = logging.getLogger("app.api")


@router.get(
    "/interlock",
    operation_id="checkInterlock",
    summary="May this unit start here? (dry run)",
    response_model=schemas.InterlockOut,
    responses=_REFUSALS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.STATION)],
)
def check_interlock(
    station_id: str,
    session: SessionDep,
    serial_format: SerialFormatDep,
    request: Request,
    serial: str = Query(max_length=64, description="Serial number to check"),
) -> schemas.InterlockOut:
    """Runs the route interlock without opening anything: for tablets before a start."""
    _own_station(request.state.actor, station_id)
    decision = operations.check_interlock(
        session=session, serial_format=serial_format, station_id=station_id, serial=serial
    )
    return schemas.InterlockOut(serial=serial, station_id=station_id, allowed=decision.allowed, reason=decision.reason)


@router.post(
    "/start",
    operation_id="startOperation",
    summary="Start a unit at a station",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.StartResponse,
    responses=_REFUSALS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.STATION)],
)
def start_operation(station_id: str, body: schemas.StartRequest, request: Request) -> Response:
    """Opens the unit's attempt at this station if its route allows it; otherwise 409 with the reason.

    Asking again for a unit whose attempt here is still open answers with that same attempt.
    A request here for another unit (one a work order released), released or refused, closes the open
    attempt of the unit that was at this station as aborted: a refusal (409) then names it in
    ``aborted_serials``. A malformed serial or one of no work order aborts nothing.
    """
    state = request.app.state
    operator, origin = _who_acts(request, station_id, body.operator)
    outcome = _in_one_transaction(
        state,
        lambda session: operations.start_operation(
            session=session,
            serial_format=state.serial_format,
            station_id=station_id,
            serial=body.serial,
            operator=operator,
            origin=origin,
        ),
    )
    # the document of StartResponse, written once (see presenters.start_document)
    return presenters.plain_json_response(presenters.start_document(outcome), status_code=status.HTTP_201_CREATED)


def _own_station(actor: Actor, station_id: str) -> None:
    """A station's service account acts only at the stations it is bound to (the user's ``stations``)."""
    if not actor.may_act_at(station_id):
        serves = ", ".join(sorted(actor.stations)) or "no station yet"
        raise AccessDenied(
            f"{actor.username} is the service account of {serves}, not of {station_id}; an admin binds it to "
            f"the stations it serves (PUT /api/v1/users/{actor.username} with stations)",
            role=Role.STATION.value,
            stations=sorted(actor.stations),
        )


def _who_acts(request: Request, station_id: str, named: str | None) -> tuple[str, str]:
    """Who started or completed it, and the origin: the signed-in person, never a name typed into the
    request. A station's service account acts for its own stations only and may name the operator its
    own sign-in knows (recorded as the station says); without one the account itself is recorded."""
    actor: Actor = request.state.actor
    _own_station(actor, station_id)
    if actor.role is Role.STATION:
        return (named, "operator") if named else (actor.username, "rest")
    if named is not None and named != actor.username:
        raise InvalidInput(
            f"operator: you are signed in as {actor.username}; a start or a result is recorded under the "
            "signed-in person (only a station's service account may name the operator at its station)"
        )
    return actor.username, "operator"


def _in_one_transaction(state: Any, work: Callable[[Session], T]) -> T:
    """``work`` in a transaction of its own, committed; once more on a fresh connection if the pooled one
    proved dead (a database restart within the pool's idle-ping window, app/persistence/db.py).

    Safe for these two routes only: a start asked again resumes its open attempt, and a completion
    delivered again with its result_id answers as stored. A start refused after it aborted another
    unit's open attempt at the station (``RefusedAfterAbort``) commits that abort, then is answered.
    The session is opened here rather than by a dependency: on the line's busiest routes each FastAPI
    dependency costs more CPU than a session.
    """
    for attempt in (1, 2):
        try:
            with state.session_factory() as session:
                with session.begin():
                    try:
                        return work(session)
                    except operations.RefusedAfterAbort as refused:
                        kept = refused  # leaving the block commits the abort (another unit left the station)
                raise kept
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
            log.warning("database connection lost; the request runs again on a fresh one: %s", exc.orig)
    raise AssertionError("unreachable")


def to_station_result(body: schemas.CompleteRequest) -> StationResult:
    return StationResult(
        measurements=tuple(Measurement(x.name, x.value, x.unit) for x in body.measurements),
        traces=tuple(Trace(t.channel, tuple(t.t_s), tuple(t.values)) for t in body.traces),
        components=tuple(Component(c.kind, c.identifier, c.model) for c in body.components),
    )


@router.post(
    "/complete",
    operation_id="completeOperation",
    summary="Record the result of a unit's cycle at a station",
    response_model=schemas.CompletionResponse,
    responses=_REFUSALS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.STATION)],
)
def complete_operation(station_id: str, body: schemas.CompleteRequest, request: Request) -> Response:
    """Stores measurements, traces, consumed components and checks with the verdict, in one
    transaction, and moves the unit along its route (or into rework or hold).

    Refused with 409 when the unit has no open attempt at this station. Delivering the same
    ``result_id`` again records nothing new and answers the same (``duplicate: true``).
    """
    operator, origin = _who_acts(request, station_id, body.operator)
    completion = operations.Completion(
        serial=body.serial, result_key=body.result_id, result=to_station_result(body), operator=operator
    )
    state = request.app.state
    outcome = _in_one_transaction(
        state,
        lambda session: operations.complete_operation(
            session=session,
            serial_format=state.serial_format,
            station_id=station_id,
            completion=completion,
            origin=origin,
            judge=state.judge,
            validate=True,
        ),
    )
    # the document of CompletionResponse, written once (see presenters.completion_document)
    return presenters.plain_json_response(presenters.completion_document(outcome))
