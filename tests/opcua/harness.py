"""A station endpoint, its simulated PLCs and the MES supervisor wired together for one test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from asyncua.common.callback import CallbackService, CallbackType, ServerItemCallback

from app.opcua.master_data import AdapterTiming, SecuritySettings, StationEndpoint
from app.opcua.simulator.plc import SimulatedPlc
from app.opcua.simulator.server import HostedStation, ServerSecurity, StationServer
from app.opcua.station_types import StationTypeSpec, ValueSpec, lookup_from_specs
from app.opcua.status import now_utc
from app.opcua.supervisor import OpcuaSupervisor
from tests.opcua.conftest import FAST, endpoint_url, eventually
from tests.opcua.memory_backend import MemoryBackend

TEST_TYPE = StationTypeSpec(
    code="test_press",
    values=(
        ValueSpec("Force_kN"),
        ValueSpec("Batch", "string"),
        ValueSpec("Passed", "bool"),
        ValueSpec("CheckedAt", "datetime"),
    ),
    trace_channels=("Force_kN",),
    extra_live_channels=("Speed_mm_s",),
)


@dataclass
class Rig:
    server: StationServer
    supervisor: OpcuaSupervisor
    backend: MemoryBackend
    plcs: dict[str, SimulatedPlc]


async def connected_plc(r: Rig, station_id: str) -> SimulatedPlc:
    """The station's simulated PLC, once the MES's link to it is up."""
    await eventually(lambda: r.supervisor.status(station_id).link == "connected", what=f"{station_id} connected")
    return r.plcs[station_id]


@dataclass(frozen=True)
class ServiceCall:
    """One Read or Write request as the station's server received it (``values``: the station's nodes in it,
    by path, with the value written or read), or a ``mark`` the test put between them."""

    service: Literal["Read", "Write", "mark"]
    values: dict[str, Any] = field(default_factory=dict)
    label: str = ""


class ServiceLog:
    """What the PLC sees of its clients (the MES): every Read and Write request its server receives for
    one station, one entry per request, in the order received (asyncua's server-side PostRead and
    PreWrite callbacks). The PLC's own writes are not requests and do not appear; ``mark`` adds the
    test's own steps in between. Attach it after the server has started (a restart loses it)."""

    def __init__(self, server: StationServer, station_id: str) -> None:
        assert server.server is not None, "the server must be running"
        self._prefix = f"{station_id}."
        self.calls: list[ServiceCall] = []
        server.server.subscribe_server_callback(CallbackType.PreWrite, self._on_write)
        server.server.subscribe_server_callback(CallbackType.PostRead, self._on_read)

    def mark(self, label: str) -> None:
        self.calls.append(ServiceCall("mark", label=label))

    def since(self, label: str) -> list[ServiceCall]:
        """The requests received after ``mark(label)``."""
        index = next(i for i, call in enumerate(self.calls) if call.service == "mark" and call.label == label)
        return [call for call in self.calls[index + 1 :] if call.service != "mark"]

    def writes(self, calls: Sequence[ServiceCall] | None = None) -> list[dict[str, Any]]:
        """The Write requests (of ``calls``, by default all), each as {path: value written}."""
        return [call.values for call in (self.calls if calls is None else calls) if call.service == "Write"]

    def _path(self, node_id: Any) -> str | None:
        identifier = node_id.Identifier
        if isinstance(identifier, str) and identifier.startswith(self._prefix):
            return identifier[len(self._prefix) :]
        return None

    def _record(self, service: Literal["Read", "Write"], pairs: Sequence[tuple[Any, Any]]) -> None:
        values = {}
        for node_id, data_value in pairs:
            path = self._path(node_id)
            if path is not None:
                values[path] = None if data_value is None or data_value.Value is None else data_value.Value.Value
        if values:
            self.calls.append(ServiceCall(service, values))

    def _on_write(self, event: ServerItemCallback, dispatcher: CallbackService) -> None:
        if event.is_external:
            nodes = event.request_params.NodesToWrite
            self._record("Write", [(w.NodeId, w.Value) for w in nodes])

    def _on_read(self, event: ServerItemCallback, dispatcher: CallbackService) -> None:
        if event.is_external:
            nodes = event.request_params.NodesToRead
            self._record("Read", [(r.NodeId, dv) for r, dv in zip(nodes, event.response_params, strict=True)])


@asynccontextmanager
async def rig(
    station_ids: Sequence[str],
    *,
    backend: MemoryBackend | None = None,
    spec: StationTypeSpec = TEST_TYPE,
    hosted: Sequence[HostedStation] | None = None,
    master_type: str | None = None,
    security: SecuritySettings | None = None,
    server_security: ServerSecurity | None = None,
    timing: AdapterTiming = FAST,
    start_supervisor: bool = True,
    min_publishing_interval_ms: float = 0.0,
    clock: Callable[[], datetime] = now_utc,
) -> AsyncIterator[Rig]:
    """Start one endpoint hosting ``station_ids`` and a supervisor connected to it."""
    url = endpoint_url()
    stations = hosted or [HostedStation(station_id=s, spec=spec) for s in station_ids]
    server = StationServer(
        endpoint_url=url,
        stations=stations,
        security=server_security,
        min_publishing_interval_ms=min_publishing_interval_ms,
    )
    await server.start()
    backend = backend or MemoryBackend(route=tuple(station_ids))
    supervisor = OpcuaSupervisor(
        stations=[StationEndpoint(s, master_type or spec.code, url) for s in station_ids],
        backend=backend,
        security=security or SecuritySettings(allow_none=True),
        station_types=lookup_from_specs([spec]),
        timing=timing,
        clock=clock,
    )
    plcs = {s: SimulatedPlc(server=server, station_id=s, spec=spec, answer_timeout_s=5.0) for s in station_ids}
    if start_supervisor:
        await supervisor.start()
    try:
        yield Rig(server=server, supervisor=supervisor, backend=backend, plcs=plcs)
    finally:
        await supervisor.stop()
        await server.stop()
