"""The line as the OPC UA adapter sees it: each station's link, counters, handshakes and alarms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.api import schemas
from app.api.deps import SessionDep
from app.domain.actors import Role
from app.domain.errors import NotFound
from app.persistence import models as m
from app.persistence import repositories as repo
from app.security.access import allow

router = APIRouter(tags=["line"])
_ERRORS = schemas.problem_responses(404, 422)


class HandshakeOut(BaseModel):
    at: datetime
    counter: int
    serial: str
    outcome: str


class StationStatusOut(BaseModel):
    """One station's OPC UA link and its handshakes (counter pairs as last read from the PLC)."""

    station_id: str
    station_type: str
    endpoint_url: str
    link: str = Field(description="connected, connecting, disconnected or refused")
    since: datetime | None = Field(description="When the link entered its current state")
    identification_ok: bool | None
    problem: str = Field(description="Why the station is not served, in words (empty when fine)")
    link_summary: str = Field(
        description="The link as the line dashboard shows it, in words: its state, the problem, and when it keeps "
        "dropping how often, e.g. 'connected — link lost 5 times in the last 10 min (last: no data from the PLC "
        "for 4 s)'"
    )
    sessions_lost_recent: int = Field(
        description="Sessions lost after having been connected within the last sessions_lost_window_s seconds "
        "(a PLC that falls silent is shown connected most of the time while it is lost again and again)"
    )
    sessions_lost_window_s: float = Field(description="The sliding window sessions_lost_recent counts over")
    unstable_after_losses: int = Field(description="From this many losses in the window the link counts as unstable")
    link_unstable: bool = Field(description="sessions_lost_recent reached unstable_after_losses, whatever link says")
    last_loss_at: datetime | None = Field(description="When a connected session was last lost (even before the window)")
    last_loss_reason: str = Field(description="Why it was lost, in words (empty if never)")
    boot_id: str
    state: int | None = Field(description="0 NotAvailable, 1 OutOfService, 2 idle, 3 executing")
    request_counter: int
    response_counter: int
    result_counter: int
    result_ack: int
    request_pending: bool
    result_pending: bool
    last_request: HandshakeOut | None
    last_result: HandshakeOut | None


class AlarmOut(BaseModel):
    id: int
    station_id: str
    message: str
    raised_at: datetime


def _status_out(status: object) -> StationStatusOut:
    fields = {name: getattr(status, name) for name in StationStatusOut.model_fields if hasattr(status, name)}
    for key in ("last_request", "last_result"):
        event = fields.get(key)
        fields[key] = HandshakeOut.model_validate(event, from_attributes=True) if event is not None else None
    return StationStatusOut.model_validate(fields)


@router.get(
    "/line/stations",
    operation_id="listStationLinks",
    summary="Every station's OPC UA link and handshakes",
    response_model=list[StationStatusOut],
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_station_links(request: Request) -> list[StationStatusOut]:
    """Empty when the OPC UA adapter is not running (``MES_OPCUA__ENABLED=false``)."""
    supervisor = request.app.state.supervisor
    return [] if supervisor is None else [_status_out(s) for s in supervisor.statuses()]


NOT_CONNECTED = "station {} is not connected over OPC UA (no endpoint, or the adapter is off)"


@router.get(
    "/stations/{station_id}/link",
    operation_id="getStationLink",
    summary="One station's OPC UA link",
    response_model=StationStatusOut,
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def get_station_link(station_id: str, request: Request, session: SessionDep) -> StationStatusOut:
    repo.get_station(session, station_id)
    supervisor = request.app.state.supervisor
    try:
        if supervisor is None:
            raise KeyError(station_id)
        return _status_out(supervisor.status(station_id))
    except KeyError as exc:
        raise NotFound(NOT_CONNECTED.format(station_id)) from exc


@router.get(
    "/stations/{station_id}/alarms",
    operation_id="listStationAlarms",
    summary="A station's alarms, newest first",
    response_model=list[AlarmOut],
    responses=_ERRORS,
    dependencies=[allow(Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_station_alarms(
    station_id: str, session: SessionDep, limit: int = Query(default=100, ge=1, le=1000)
) -> list[AlarmOut]:
    repo.get_station(session, station_id)
    alarm = m.StationAlarm
    rows = session.scalars(select(alarm).where(alarm.station_id == station_id).order_by(alarm.id.desc()).limit(limit))
    return [AlarmOut(id=a.id, station_id=a.station_id, message=a.message, raised_at=a.raised_at) for a in rows]


class OrphanResultOut(BaseModel):
    """A PLC's result whose serial names no unit: kept whole, judged FAIL, alarmed."""

    id: int
    station_id: str
    result_id: str = Field(
        description="The PLC's Result.Id, or, when it came without one, the key made from its content (no-id-sha256-…)"
    )
    serial: str = Field(description="Result.Serial as the PLC sent it")
    reason: str = Field(description="Why it names no unit")
    received_at: datetime
    verdict: str = Field(description="Always FAIL")
    values: dict[str, Any] = Field(description="name -> {value, quality}")
    traces: dict[str, Any] = Field(description="channel -> {t_s, values, quality}")


@router.get(
    "/line/orphan-results",
    operation_id="listOrphanResults",
    summary="PLC results whose serial names no unit, newest first",
    response_model=list[OrphanResultOut],
    responses=schemas.problem_responses(422),
    dependencies=[allow(Role.SUPERVISOR, Role.QUALITY_ENGINEER, Role.ADMIN)],
)
def list_orphan_results(
    session: SessionDep,
    station_id: str | None = Query(default=None, description="Only this station's"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[OrphanResultOut]:
    orphan = m.OrphanResult
    query = select(orphan).order_by(orphan.id.desc()).limit(limit)
    if station_id is not None:
        query = query.where(orphan.station_id == station_id)
    return [
        OrphanResultOut(
            id=o.id,
            station_id=o.station_id,
            result_id=o.result_key,
            serial=o.serial,
            reason=o.reason,
            received_at=o.received_at,
            verdict="FAIL",
            values=o.result_values,
            traces=o.traces,
        )
        for o in session.scalars(query)
    ]
