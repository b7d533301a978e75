"""In-process publish/subscribe of live process values (display only, never stored)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LiveValue:
    """One live value of a station channel as the PLC published it."""

    station_id: str
    channel: str
    value: float | None
    at: datetime | None


class LiveBus:
    """Fan-out of live values to watchers; a slow watcher loses its oldest values, never blocks."""

    def __init__(self, *, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._watchers: dict[str | None, set[asyncio.Queue[LiveValue]]] = {}
        self._latest: dict[tuple[str, str], LiveValue] = {}
        self.published = 0
        self.dropped = 0

    def publish(self, value: LiveValue) -> None:
        """Hand a live value to everyone watching its station (and to watchers of all stations)."""
        self.published += 1
        self._latest[(value.station_id, value.channel)] = value
        for key in (value.station_id, None):
            for queue in self._watchers.get(key, ()):
                if queue.full():
                    queue.get_nowait()
                    self.dropped += 1
                queue.put_nowait(value)

    def latest(self, station_id: str) -> dict[str, LiveValue]:
        """The last value of each channel of a station."""
        return {channel: v for (sid, channel), v in self._latest.items() if sid == station_id}

    @asynccontextmanager
    async def watch(self, station_id: str | None = None) -> AsyncIterator[asyncio.Queue[LiveValue]]:
        """A queue receiving the live values of one station (or of all when ``station_id`` is None)."""
        queue: asyncio.Queue[LiveValue] = asyncio.Queue(maxsize=self._queue_size)
        self._watchers.setdefault(station_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._watchers[station_id].discard(queue)
