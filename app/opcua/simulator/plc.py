"""The PLC side of the contract for one station: request a release, publish a result, wait for the Ack.

This is what a station's PLC programmer implements; the simulator and the tests drive it. Its
retentive memory (the unacknowledged result) survives a restart of the server, as on a real PLC.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from asyncua import ua

from app.domain.results import MeasurementKind
from app.opcua.codec import next_counter
from app.opcua.simulator.address_space import KIND_TYPES, NULL_DATETIME
from app.opcua.simulator.server import StationServer
from app.opcua.station_types import StationTypeSpec

U32, I32 = ua.VariantType.UInt32, ua.VariantType.Int32
_TRACE_STATUS = {
    "uncertain": ua.StatusCode(ua.UInt32(ua.StatusCodes.UncertainSensorNotAccurate)),
    "bad": ua.StatusCode(ua.UInt32(ua.StatusCodes.BadSensorFailure)),
}
STATE_NOT_EXECUTING, STATE_EXECUTING = 2, 3


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """What the PLC got back for a request (``answered`` False: time-out, "MES not answering")."""

    answered: bool
    release: bool = False
    reason: str = ""
    recipe: str = ""


@dataclass(frozen=True, slots=True)
class ResultSet:
    """A complete result of one cycle as the PLC writes it; ``None`` values are written as not measured."""

    result_id: str
    serial: str
    values: Mapping[str, float | str | bool | datetime | None]
    traces: Mapping[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    bad_values: frozenset[str] = frozenset()
    trace_status: Mapping[str, Literal["uncertain", "bad"]] = field(default_factory=dict)
    """Channels whose samples the PLC writes with a status other than Good (a sensor it doubts)."""


class SimulatedPlc:
    """One station's PLC program talking to the MES through its own server variables."""

    def __init__(
        self,
        *,
        server: StationServer,
        station_id: str,
        spec: StationTypeSpec,
        answer_timeout_s: float = 10.0,
        scan_time_s: float = 0.005,
    ) -> None:
        self.server = server
        self.station_id = station_id
        self.spec = spec
        self.answer_timeout_s = answer_timeout_s
        self.scan_time_s = scan_time_s
        self.retained: ResultSet | None = None  # retentive: survives restarts until acknowledged
        self._result_sequence = 0

    def _read(self, path: str) -> Any:
        return self.server.read(self.station_id, path)

    async def _write(self, path: str, value: Any, variant_type: ua.VariantType) -> None:
        if self.server.running:  # while the PLC is off the network its outputs go nowhere
            await self.server.write(self.station_id, path, value, variant_type)

    @property
    def boot_id(self) -> str:
        return self.server.boot_ids[self.station_id]

    def new_result_id(self) -> str:
        """A result id never reused: ``<BootId>-<n>``."""
        self._result_sequence += 1
        return f"{self.boot_id}-{self._result_sequence}"

    async def set_state(self, state: int) -> None:
        await self._write("State", state, I32)

    async def set_live(self, channel: str, value: float) -> None:
        await self._write(f"Live.{channel}", float(value), ua.VariantType.Double)

    async def request_release(self, serial: str) -> RequestOutcome:
        """Clear the answer, write the serial, increment Request.Counter, and wait for the MES's answer."""
        await self._wait_until(lambda: self.server.running, None)
        await self._write("Response.Release", False, ua.VariantType.Boolean)
        await self._write("Response.Reason", "", ua.VariantType.String)
        await self._write("Response.Recipe", "", ua.VariantType.String)
        await self._write("Request.Serial", serial, ua.VariantType.String)
        counter = next_counter(int(self._read("Request.Counter")))
        await self._write("Request.Counter", counter, U32)
        if not await self._wait_until(lambda: self._read("Response.Counter") == counter, self.answer_timeout_s):
            return RequestOutcome(answered=False)
        return RequestOutcome(
            answered=True,
            release=bool(self._read("Response.Release")),
            reason=str(self._read("Response.Reason")),
            recipe=str(self._read("Response.Recipe")),
        )

    async def publish_result(self, result: ResultSet) -> int:
        """Write the result set, then increment Result.Counter in its own step; returns that counter."""
        self.retained = result
        await self._wait_until(lambda: self.server.running, None)
        await self._write_result_set(result)
        counter = next_counter(int(self._read("Result.Counter")))
        await self._write("Result.Counter", counter, U32)
        return counter

    async def wait_for_ack(self, timeout_s: float | None = None) -> int | None:
        """Wait until Result.Ack == Result.Counter; return the verdict code, or None on time-out."""

        def acknowledged() -> bool:
            counter = self._read("Result.Counter")
            return bool(counter) and self._read("Result.Ack") == counter

        if not await self._wait_until(acknowledged, timeout_s):
            return None
        self.retained = None
        return int(self._read("Result.Verdict"))

    async def after_restart(self) -> None:
        """A (re)started PLC offers its unacknowledged result again: same Result.Id, counter 0 → 1."""
        if self.retained is not None:
            await self._write_result_set(self.retained)
            await self._write("Result.Counter", 1, U32)
            await self.set_state(STATE_EXECUTING)

    async def _write_result_set(self, result: ResultSet) -> None:
        await self._write("Result.Verdict", 0, I32)
        await self._write("Result.Id", result.result_id, ua.VariantType.String)
        await self._write("Result.Serial", result.serial, ua.VariantType.String)
        for spec in self.spec.values:
            value = _plc_value(result.values.get(spec.name), spec.kind)
            status = (
                ua.StatusCode(ua.UInt32(ua.StatusCodes.BadSensorFailure)) if spec.name in result.bad_values else None
            )
            if self.server.running:
                await self.server.write(
                    self.station_id, f"Result.Values.{spec.name}", value, KIND_TYPES[spec.kind], status=status
                )
        for channel in self.spec.trace_channels:
            t_s, samples = result.traces.get(channel, ([], []))
            await self._write(f"Result.Traces.{channel}_t", [float(t) for t in t_s], ua.VariantType.Double)
            if self.server.running:
                await self.server.write(
                    self.station_id,
                    f"Result.Traces.{channel}",
                    [float(v) for v in samples],
                    ua.VariantType.Double,
                    status=_TRACE_STATUS.get(result.trace_status.get(channel, "good")),
                )

    async def _wait_until(self, condition: Any, timeout_s: float | None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                if condition():
                    return True
            except (AssertionError, KeyError):
                pass  # server down (PLC offline): keep scanning
            if deadline is not None and time.monotonic() > deadline:
                return False
            await asyncio.sleep(self.scan_time_s)


def _plc_value(value: float | str | bool | datetime | None, kind: MeasurementKind) -> Any:
    if value is None:
        return {"number": math.nan, "string": "", "bool": False, "datetime": NULL_DATETIME}[kind]
    if kind == "number":
        return float(value)  # type: ignore[arg-type]
    return value
