"""A PLC that does not identify as the master data says never gets a release."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from asyncua import ua

from app.opcua.simulator.plc import ResultSet
from app.opcua.simulator.server import HostedStation
from tests.opcua.conftest import eventually, run
from tests.opcua.harness import TEST_TYPE, rig
from tests.opcua.memory_backend import MemoryBackend


@pytest.mark.parametrize(
    ("station_type_code", "interface_version"),
    [("charging", 1), (TEST_TYPE.code, 2)],
    ids=["type", "version"],
)
def test_station_with_wrong_identification_gets_no_release_and_raises_an_alarm(
    station_type_code: str, interface_version: int
):
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        hosted = [
            HostedStation("ST-1", TEST_TYPE, station_type_code=station_type_code, interface_version=interface_version)
        ]
        async with rig(["ST-1"], backend=backend, hosted=hosted) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            assert r.supervisor.status("ST-1").identification_ok is False
            outcome = await r.plcs["ST-1"].request_release("SN-1")
            assert outcome.answered and not outcome.release
            assert "identifies as" in outcome.reason
            assert backend.requests == []  # the route interlock was never even asked
            assert any("identifies as" in message for _, message in backend.alarms)
            plc = r.plcs["ST-1"]
            await plc.publish_result(ResultSet(result_id="X-1", serial="SN-1", values={"Force_kN": 1.0}, traces={}))
            await asyncio.sleep(1.0)
            assert r.server.read("ST-1", "Result.Ack") == 0 and backend.stored == {}

    run(scenario)


def test_station_type_unknown_to_the_registry_gets_no_release():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, master_type="no_such_type") as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            outcome = await r.plcs["ST-1"].request_release("SN-1")
            assert outcome.answered and not outcome.release
            assert "not a registered type" in outcome.reason

    run(scenario)


def test_new_boot_id_on_a_live_connection_rechecks_identification_and_serves_pending_work():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            sessions = r.supervisor.runners[0].sessions_started
            # a gateway restarts one station: new BootId, counters back to 0, connection untouched
            for path in ("Request.Counter", "Response.Counter", "Result.Counter", "Result.Ack"):
                await r.server.write("ST-1", path, 0, ua.VariantType.UInt32)
            await r.server.write("ST-1", "Identification.StationType", "charging", ua.VariantType.String)
            await r.server.write("ST-1", "Identification.BootId", "rebooted-1", ua.VariantType.String)
            await eventually(
                lambda: r.supervisor.status("ST-1").identification_ok is False, what="identification recheck"
            )
            assert r.supervisor.status("ST-1").boot_id == "rebooted-1"
            assert r.supervisor.runners[0].sessions_started == sessions

    run(scenario)


def test_live_values_reach_watchers_without_touching_the_backend():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials=set())
        async with rig(["ST-1"], backend=backend) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            async with r.supervisor.live_bus.watch("ST-1") as queue:
                await r.plcs["ST-1"].set_live("Speed_mm_s", 12.5)
                while True:
                    value = await asyncio.wait_for(queue.get(), 5)
                    if value.channel == "Speed_mm_s" and value.value == 12.5:
                        break
            assert backend.requests == [] and backend.stored == {}

    run(scenario)


def test_a_live_node_the_plc_lacks_is_an_alarm_and_the_handshakes_go_on():
    """Live values are display only: one missing (or refused) Live node used to end the session, on a
    gateway for every station on it, with no alarm, only "disconnected"."""

    async def scenario():
        backend = MemoryBackend(route=("ST-1", "ST-2"), serials={"SN-1"})
        without_speed = dataclasses.replace(TEST_TYPE, extra_live_channels=())
        hosted = [
            HostedStation(station_id="ST-1", spec=without_speed),
            HostedStation(station_id="ST-2", spec=TEST_TYPE),
        ]
        async with rig(["ST-1", "ST-2"], backend=backend, hosted=hosted) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            outcome = await r.plcs["ST-1"].request_release("SN-1")
            assert outcome.answered and outcome.release
            await asyncio.sleep(1.0)
            assert r.supervisor.runners[0].sessions_started == 1
            assert backend.alarms == [
                ("ST-1", "the PLC refused the MES's subscription to Live.Speed_mm_s (BadNodeIdUnknown): not shown live")
            ]

    run(scenario)


def test_a_handshake_node_the_plc_refuses_is_an_alarm_naming_it():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            await r.server.server.delete_nodes([r.server.server.get_node(r.server.nodes["ST-1"].node("State"))])
            await eventually(lambda: bool(backend.alarms), what="alarm")
            assert r.supervisor.status("ST-1").link != "connected"
            (station, message), *_ = backend.alarms
            assert (
                station == "ST-1"
                and "refused the MES's subscription to ns=2;s=ST-1.State (BadNodeIdUnknown)" in message
            )

    run(scenario)
