"""A station endpoint, its simulated PLCs and the MES supervisor wired together for one test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app.opcua.master_data import AdapterTiming, SecuritySettings, StationEndpoint
from app.opcua.simulator.plc import SimulatedPlc
from app.opcua.simulator.server import HostedStation, ServerSecurity, StationServer
from app.opcua.station_types import StationTypeSpec, ValueSpec, lookup_from_specs
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
    )
    plcs = {s: SimulatedPlc(server=server, station_id=s, spec=spec, answer_timeout_s=5.0) for s in station_ids}
    if start_supervisor:
        await supervisor.start()
    try:
        yield Rig(server=server, supervisor=supervisor, backend=backend, plcs=plcs)
    finally:
        await supervisor.stop()
        await server.stop()
