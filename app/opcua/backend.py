"""The MES side of the OPC UA adapter: what the adapter asks of the MES, in plain Python types.

The core engineer implements :class:`StationBackend` over the database services; the adapter
calls it and never touches the database itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from app.domain.results import Verdict, trace_status_key

Quality = Literal["good", "uncertain", "bad"]


@dataclass(frozen=True)
class ReleaseAnswer:
    """The MES's answer to a PLC request: may the unit be processed here, and with which recipe."""

    release: bool
    reason: str
    recipe: str


@dataclass(frozen=True)
class PlcValue:
    """One measurement as read from the PLC; NaN and the null DateTime arrive here as ``None``."""

    value: float | str | bool | datetime | None
    quality: Quality


@dataclass(frozen=True)
class PlcResult:
    """A complete result set read from ``Result.*`` (traces: channel -> (t_s, values)).

    ``trace_status`` names the channels whose samples or time stamps were read with a status that was
    not Good (the worse of the two); a Bad trace is in ``traces`` without samples."""

    result_id: str
    serial: str
    values: Mapping[str, PlcValue]
    traces: Mapping[str, tuple[tuple[float, ...], tuple[float, ...]]]
    trace_status: Mapping[str, Quality] = field(default_factory=dict)

    def statuses(self) -> dict[str, Quality]:
        """Every value and trace read with a status that was not Good, keyed as the judge expects."""
        found: dict[str, Quality] = {name: v.quality for name, v in self.values.items() if v.quality != "good"}
        found.update((trace_status_key(ch), q) for ch, q in self.trace_status.items() if q != "good")
        return found


@dataclass(frozen=True)
class StoredVerdict:
    """The verdict the MES committed for a result; ``duplicate`` when it had been stored before."""

    verdict: Verdict
    duplicate: bool


class StationBackend(Protocol):
    """What the OPC UA adapter needs from the MES."""

    async def handle_request(self, *, station_id: str, serial: str) -> ReleaseAnswer:
        """Run the route interlock for a unit scanned at a station."""
        ...

    async def handle_result(self, *, station_id: str, result: PlcResult) -> StoredVerdict:
        """Store and judge a result in one transaction; return only after the commit, raise on failure."""
        ...

    async def raise_alarm(self, *, station_id: str, message: str) -> None:
        """Raise an operator-visible alarm on a station."""
        ...
