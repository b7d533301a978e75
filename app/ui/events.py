"""Server-sent events for a tablet: the unit's state (from the database) and the station's live values.

The stream polls a small digest of the unit and its last attempt at the station once a second and
says ``state`` when it changes (the page then fetches the panel again); live values from the bus
are passed on as they come. A browser's EventSource reconnects by itself after a dropped link.

The session is checked again at every poll: once it is signed out, revoked or expired, or its user
deactivated or given a role the stream does not serve, the stream says ``signed_out`` and ends (the
page goes to the sign-in). The gate's cache bounds the delay (its ``token_cache_seconds`` in another
worker; a revocation in this process is seen at the next poll).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.domain.actors import Role
from app.domain.errors import DomainError
from app.opcua.live import LiveBus, LiveValue
from app.security.access import allow
from app.ui.unit_panel import current_digest

router = APIRouter()
STREAM_ROLES = (Role.OPERATOR, Role.SUPERVISOR)
POLL_S = 1.0
KEEPALIVE_S = 15.0
# A stream ends after this long and the browser reconnects by itself: a server being stopped then
# never waits on a tablet that stays open all shift.
MAX_STREAM_S = 50.0


def sse(event: str, data: object) -> str:
    """One event in the text/event-stream format."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def live_event(value: LiveValue) -> str:
    number = value.value if value.value is not None and math.isfinite(value.value) else None
    return sse(
        "live",
        {"channel": value.channel, "value": number, "at": value.at.isoformat() if value.at else None},
    )


def _digest(request: Request, station_id: str, serial: str) -> str:
    with request.app.state.session_factory() as session:
        try:
            return current_digest(session=session, station_id=station_id, serial=serial)
        except DomainError as exc:
            return f"error:{exc.detail}"


async def _signed_out(request: Request) -> str | None:
    """Why the stream's session may no longer see the station (None while it may)."""
    resolved = await request.app.state.gate.resolve(request)
    if resolved is None:
        return "your session has ended (signed out, revoked or expired): sign in again"
    actor = resolved[0]
    if actor.role not in STREAM_ROLES:
        return f"{actor.username} is no longer an operator or supervisor"
    return None


async def _stream(request: Request, station_id: str, serial: str) -> AsyncIterator[str]:
    bus: LiveBus = request.app.state.live_bus
    yield "retry: 2000\n\n"
    for latest in bus.latest(station_id).values():
        yield live_event(latest)
    digest = await run_in_threadpool(_digest, request, station_id, serial)
    yield sse("state", {"digest": digest})
    loop = asyncio.get_running_loop()
    next_poll = loop.time() + POLL_S
    quiet_since = loop.time()
    ends = loop.time() + MAX_STREAM_S
    async with bus.watch(station_id) as queue:
        while loop.time() < ends and not await request.is_disconnected():
            timeout = max(0.0, next_poll - loop.time())
            value: LiveValue | None
            try:
                value = await asyncio.wait_for(queue.get(), timeout=timeout)
            except TimeoutError:
                value = None
            if value is not None:
                yield live_event(value)
                continue
            next_poll = loop.time() + POLL_S
            reason = await _signed_out(request)
            if reason is not None:
                yield sse("signed_out", {"reason": reason})
                return
            now_digest = await run_in_threadpool(_digest, request, station_id, serial)
            if now_digest != digest:
                digest = now_digest
                quiet_since = loop.time()
                yield sse("state", {"digest": digest})
            elif loop.time() - quiet_since > KEEPALIVE_S:
                quiet_since = loop.time()
                yield ": keep-alive\n\n"


@router.get("/tablet/{station_id}/events", dependencies=[allow(*STREAM_ROLES)])
async def tablet_events(request: Request, station_id: str, serial: str) -> StreamingResponse:
    """text/event-stream of ``state`` (digest changed) and ``live`` (process value) events."""
    return StreamingResponse(
        _stream(request, station_id, serial.strip()[:64]),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
