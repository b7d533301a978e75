"""The OPC UA supervisor the app lifespan starts: one runner per endpoint, status and live values."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from asyncua.common.utils import NotEnoughData

from app.opcua.backend import StationBackend
from app.opcua.connection import EndpointRunner, cancel_and_reap
from app.opcua.handshake import AlarmLatch
from app.opcua.live import LiveBus
from app.opcua.master_data import AdapterTiming, SecuritySettings, StationEndpoint, group_by_endpoint
from app.opcua.nodes import STATION_ID_PATTERN
from app.opcua.station_types import StationTypeLookup, default_lookup
from app.opcua.status import StationStatus, StatusBoard, now_utc

ASYNCUA_LOGGERS = ("asyncua",)
# where asyncua's client logs a publish loop that met a closed connection, or a reply cut short by a
# PLC closing the socket (node-opcua refusing the MES certificate does, on every retry); a filter on
# a logger sees only the records logged on it, not those of its children
ASYNCUA_SESSION_LOGGERS = (
    "asyncua.client.ua_session",
    "asyncua.client.ua_session.UaSession",
    "asyncua.client.ua_client.UASocketProtocol",
)


class LinkClosedTracebacks(logging.Filter):
    """Keeps the line but drops the traceback when asyncua logs a connection that closed under it.

    A PLC or gateway restart makes asyncua's publish loop log ``ConnectionError`` with a full stack at
    ERROR, and a PLC that closes the socket mid-reply (a refused certificate) ``NotEnoughData``; the MES
    reports the lost link or the refusal itself and reconnects, so the stack says nothing new. Any
    other exception keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ConnectionError | NotEnoughData):
            record.msg = f"{record.getMessage()} ({record.exc_info[1]!s})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_LINK_CLOSED = LinkClosedTracebacks()


def quiet_asyncua_logging() -> None:
    """asyncua logs whole publish results at INFO (and doubles CPU): keep it at WARNING; no stack
    traces for links that closed (the MES logs the loss itself)."""
    for name in ASYNCUA_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ASYNCUA_SESSION_LOGGERS:
        logger = logging.getLogger(name)
        if _LINK_CLOSED not in logger.filters:
            logger.addFilter(_LINK_CLOSED)


class OpcuaSupervisor:
    """Connects the MES to every station endpoint of the master data and serves their handshakes.

    Usage in the app lifespan::

        supervisor = OpcuaSupervisor(stations=..., backend=..., security=...)
        await supervisor.start()
        ...
        await supervisor.stop()
    """

    def __init__(
        self,
        *,
        stations: Iterable[StationEndpoint],
        backend: StationBackend,
        security: SecuritySettings,
        station_types: StationTypeLookup | None = None,
        timing: AdapterTiming | None = None,
        live_bus: LiveBus | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """``clock`` gives the date certificates are judged against (a test moves it on by hours)."""
        self.stations = tuple(stations)
        for station in self.stations:
            if not STATION_ID_PATTERN.fullmatch(station.station_id):
                raise ValueError(f"station id {station.station_id!r} does not match {STATION_ID_PATTERN.pattern}")
        if len({s.station_id for s in self.stations}) != len(self.stations):
            raise ValueError("station ids must be unique")
        self.timing = timing or AdapterTiming()
        self.live_bus = live_bus or LiveBus()
        self.board = StatusBoard()
        self._alarms = AlarmLatch(backend)
        lookup = station_types or default_lookup()
        for station in self.stations:
            self.board.register(
                station_id=station.station_id,
                station_type=station.station_type,
                endpoint_url=station.endpoint_url,
            )
        self.runners = [
            EndpointRunner(
                endpoint_url=url,
                stations=group,
                lookup=lookup,
                backend=backend,
                security=security,
                timing=self.timing,
                board=self.board,
                live_bus=self.live_bus,
                alarms=self._alarms,
                clock=clock,
            )
            for url, group in group_by_endpoint(self.stations).items()
        ]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start one supervised client per endpoint; returns at once."""
        quiet_asyncua_logging()
        self._tasks = [asyncio.create_task(r.run(), name=f"opcua:{r.endpoint_url}") for r in self.runners]

    async def stop(self) -> None:
        """Disconnect from every endpoint."""
        await cancel_and_reap(self._tasks)
        self._tasks = []

    def statuses(self) -> tuple[StationStatus, ...]:
        """Every station's link and handshake status (for the API)."""
        return self.board.all()

    def status(self, station_id: str) -> StationStatus:
        """One station's status; raises KeyError for an unknown station id."""
        return self.board.get(station_id)
