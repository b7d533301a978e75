"""Per-station connection and handshake status, as shown by the API."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from app.opcua.master_data import AdapterTiming

LinkState = Literal["connecting", "connected", "disconnected", "refused"]

_TIMING = AdapterTiming()


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
    # a link that keeps dropping is "connected" most of the time: these say how often it was lost lately
    sessions_lost_recent: int = 0  # sessions lost after having been connected, within the window
    sessions_lost_window_s: float = _TIMING.link_loss_window_s
    unstable_after_losses: int = _TIMING.link_unstable_after_losses
    last_loss_at: datetime | None = None
    last_loss_reason: str = ""

    @property
    def request_pending(self) -> bool:
        return self.request_counter != 0 and self.request_counter != self.response_counter

    @property
    def result_pending(self) -> bool:
        return self.result_counter != 0 and self.result_counter != self.result_ack

    @property
    def link_unstable(self) -> bool:
        """The link was lost often enough within the window to say so, whatever its state now."""
        return self.sessions_lost_recent >= self.unstable_after_losses

    @property
    def link_summary(self) -> str:
        """The link in plant words: its state, why it is down, and how often it dropped lately when that is
        often, e.g. "connected — link lost 5 times in the last 10 min (last: no data from the PLC for 4 s)"."""
        parts = [self.link, self.problem]
        if self.link_unstable:
            times = "once" if self.sessions_lost_recent == 1 else f"{self.sessions_lost_recent} times"
            last = f" (last: {self.last_loss_reason})" if self.last_loss_reason else ""
            parts.append(f"link lost {times} in the last {_duration(self.sessions_lost_window_s)}{last}")
        return " — ".join(part for part in parts if part)


def _duration(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 2 * 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def now_utc() -> datetime:
    return datetime.now(UTC)


class StatusBoard:
    """Holds the latest :class:`StationStatus` per station; updated by the adapter, read by the API."""

    def __init__(self) -> None:
        self._statuses: dict[str, StationStatus] = {}
        # when each station's recent sessions were lost (time.monotonic); a tuple, replaced whole, so the
        # API's threads read it while the adapter records a loss
        self._losses: dict[str, tuple[float, ...]] = {}

    def register(self, *, station_id: str, station_type: str, endpoint_url: str) -> None:
        self._statuses[station_id] = StationStatus(
            station_id=station_id, station_type=station_type, endpoint_url=endpoint_url, since=now_utc()
        )

    def get(self, station_id: str) -> StationStatus:
        return self._snapshot(self._statuses[station_id])

    def all(self) -> tuple[StationStatus, ...]:
        return tuple(self._snapshot(status) for status in self._statuses.values())

    def set_link(self, *, station_id: str, link: LinkState, problem: str = "") -> None:
        """Record a link change; ``since`` moves only when the link state itself changes."""
        current = self._statuses[station_id]
        since = current.since if current.link == link else now_utc()
        self._statuses[station_id] = replace(current, link=link, since=since, problem=problem)

    def record_loss(self, *, station_id: str, reason: str) -> None:
        """Count a session that had been connected and was lost, and why (in plant words)."""
        current = self._statuses[station_id]
        now = time.monotonic()
        cutoff = now - current.sessions_lost_window_s
        self._losses[station_id] = (*(t for t in self._losses.get(station_id, ()) if t > cutoff), now)
        self._statuses[station_id] = replace(current, last_loss_at=now_utc(), last_loss_reason=reason)

    def update(self, *, station_id: str, **changes: object) -> None:
        self._statuses[station_id] = replace(self._statuses[station_id], **changes)  # type: ignore[arg-type]

    def _snapshot(self, status: StationStatus) -> StationStatus:
        """The status with its losses counted now: older ones drop out of the window as time passes."""
        losses = self._losses.get(status.station_id)
        if not losses:
            return status
        cutoff = time.monotonic() - status.sessions_lost_window_s
        return replace(status, sessions_lost_recent=sum(t > cutoff for t in losses))
