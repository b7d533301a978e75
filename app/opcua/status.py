"""Per-station connection and handshake status, as shown by the API."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

LinkState = Literal["connecting", "connected", "disconnected", "refused"]


@dataclass(frozen=True, slots=True)
class HandshakeEvent:
    """The last request or result the MES served at a station."""

    counter: int
    serial: str
    outcome: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StationStatus:
    """A snapshot of one station's link and handshakes."""

    station_id: str
    station_type: str
    endpoint_url: str
    link: LinkState = "disconnected"
    since: datetime | None = None
    identification_ok: bool | None = None
    problem: str = ""
    boot_id: str = ""
    state: int | None = None
    request_counter: int = 0
    response_counter: int = 0
    result_counter: int = 0
    result_ack: int = 0
    last_request: HandshakeEvent | None = None
    last_result: HandshakeEvent | None = None

    @property
    def request_pending(self) -> bool:
        return self.request_counter != 0 and self.request_counter != self.response_counter

    @property
    def result_pending(self) -> bool:
        return self.result_counter != 0 and self.result_counter != self.result_ack


def now_utc() -> datetime:
    return datetime.now(UTC)


class StatusBoard:
    """Holds the latest :class:`StationStatus` per station; updated by the adapter, read by the API."""

    def __init__(self) -> None:
        self._statuses: dict[str, StationStatus] = {}

    def register(self, *, station_id: str, station_type: str, endpoint_url: str) -> None:
        self._statuses[station_id] = StationStatus(
            station_id=station_id, station_type=station_type, endpoint_url=endpoint_url, since=now_utc()
        )

    def get(self, station_id: str) -> StationStatus:
        return self._statuses[station_id]

    def all(self) -> tuple[StationStatus, ...]:
        return tuple(self._statuses.values())

    def set_link(self, *, station_id: str, link: LinkState, problem: str = "") -> None:
        """Record a link change; ``since`` moves only when the link state itself changes."""
        current = self._statuses[station_id]
        since = current.since if current.link == link else now_utc()
        self._statuses[station_id] = replace(current, link=link, since=since, problem=problem)

    def update(self, *, station_id: str, **changes: object) -> None:
        self._statuses[station_id] = replace(self._statuses[station_id], **changes)  # type: ignore[arg-type]
