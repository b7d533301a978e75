"""Nothing is lost or duplicated when the database, the MES or the PLC goes away mid-handshake."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from asyncua import ua
from asyncua.common.callback import CallbackService, CallbackType, ServerItemCallback

from app.domain.results import Verdict
from app.opcua.backend import ReleaseAnswer
from app.opcua.master_data import SecuritySettings, StationEndpoint
from app.opcua.simulator.plc import ResultSet
from app.opcua.station_types import lookup_from_specs
from app.opcua.supervisor import OpcuaSupervisor
from tests.opcua.conftest import FAST, eventually, run
from tests.opcua.harness import TEST_TYPE, ServiceLog, connected_plc, rig
from tests.opcua.memory_backend import MemoryBackend


def _result(plc, serial: str) -> ResultSet:
    return ResultSet(
        result_id=plc.new_result_id(),
        serial=serial,
        values={"Force_kN": 38.0, "Batch": "CB-9", "Passed": True, "CheckedAt": None},
        traces={"Force_kN": ([0.0, 1.0], [1.0, 38.0])},
    )


def test_result_is_not_acknowledged_while_the_database_is_down_and_stored_once_when_it_returns():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            assert (await plc.request_release("SN-1")).release
            backend.database_up = False
            await plc.publish_result(_result(plc, "SN-1"))
            await eventually(lambda: backend.store_attempts >= 3, what="retries while the database is down")
            assert r.server.read("ST-1", "Result.Ack") == 0
            assert r.server.read("ST-1", "Result.Verdict") == 0
            assert any("could not be stored" in message for _, message in backend.alarms)
            backend.database_up = True
            assert await plc.wait_for_ack(5.0) == Verdict.PASS.plc_code
            assert len(backend.stored) == 1

    run(scenario)


def test_mes_restarted_mid_handshake_answers_the_pending_request():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            await r.supervisor.stop()  # the MES dies
            pending = asyncio.create_task(plc.request_release("SN-1"))
            await asyncio.sleep(0.3)
            assert not pending.done()
            restarted = OpcuaSupervisor(
                stations=[StationEndpoint("ST-1", TEST_TYPE.code, r.server.endpoint_url)],
                backend=backend,
                security=SecuritySettings(allow_none=True),
                station_types=lookup_from_specs([TEST_TYPE]),
                timing=FAST,
            )
            await restarted.start()
            try:
                outcome = await pending
                assert outcome.answered and outcome.release
            finally:
                await restarted.stop()

    run(scenario)


def test_plc_restarted_mid_cycle_offers_its_result_again_and_it_is_stored_once():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            assert (await plc.request_release("SN-1")).release
            old_boot = plc.boot_id
            backend.database_up = False  # the MES cannot commit before the PLC goes down
            result = _result(plc, "SN-1")
            await plc.publish_result(result)
            await eventually(lambda: backend.store_attempts >= 1, what="first store attempt")
            await r.server.stop()  # power loss mid-cycle
            await eventually(lambda: r.supervisor.status("ST-1").link != "connected", what="link loss seen")
            backend.database_up = True
            await r.server.start()
            assert plc.boot_id != old_boot
            await plc.after_restart()
            assert await plc.wait_for_ack(10.0) == Verdict.PASS.plc_code
            assert list(backend.stored) == [("ST-1", result.result_id)]
            assert r.server.read("ST-1", "Result.Counter") == 1
            await eventually(lambda: r.supervisor.status("ST-1").boot_id == plc.boot_id, what="new BootId")

    run(scenario)


def test_same_result_read_twice_is_stored_once_and_its_verdict_written_again():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"}, judge=lambda station_id, result: Verdict.RETEST)
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            assert (await plc.request_release("SN-1")).release
            result = _result(plc, "SN-1")
            await plc.publish_result(result)
            assert await plc.wait_for_ack(5.0) == Verdict.RETEST.plc_code
            # the Ack is lost (say, the PLC restarted before it latched it): the same result comes again
            plc.retained = result
            await r.server.stop()
            await r.server.start()
            await plc.after_restart()
            assert r.server.read("ST-1", "Result.Verdict") == 0
            assert await plc.wait_for_ack(10.0) == Verdict.RETEST.plc_code
            assert len(backend.stored) == 1
            assert backend.store_attempts == 2

    run(scenario)


def test_server_loss_is_followed_by_reconnect_and_service():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            await r.server.stop()
            await eventually(lambda: r.supervisor.status("ST-1").link != "connected", what="loss seen")
            await asyncio.sleep(0.5)
            await r.server.start()
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="reconnect")
            outcome = await r.plcs["ST-1"].request_release("SN-1")
            assert outcome.answered and outcome.release

    run(scenario)


async def _counters_at_the_top(r, station_id: str, *nodes: str) -> None:
    for node in nodes:
        await r.server.write(station_id, node, 4_294_967_295, ua.VariantType.UInt32)


def test_request_counter_wraps_from_max_to_one():
    """Counters wrap from 4294967295 to 1 (plc-interface.md): the request after the top is pending too."""

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, start_supervisor=False) as r:
            await _counters_at_the_top(r, "ST-1", "Request.Counter", "Response.Counter")
            await r.supervisor.start()
            outcome = await (await connected_plc(r, "ST-1")).request_release("SN-1")
            assert outcome.answered and outcome.release
            assert r.server.read("ST-1", "Response.Counter") == 1

    run(scenario)


def test_result_counter_wraps_from_max_to_one():
    """Counters wrap from 4294967295 to 1 (plc-interface.md): the result after the top is pending too."""

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, start_supervisor=False) as r:
            await _counters_at_the_top(r, "ST-1", "Result.Counter", "Result.Ack")
            await r.supervisor.start()
            plc = await connected_plc(r, "ST-1")
            assert (await plc.request_release("SN-1")).release
            assert await plc.publish_result(_result(plc, "SN-1")) == 1
            assert await plc.wait_for_ack(5.0) == Verdict.PASS.plc_code, "the result at counter 1 was not acknowledged"
            assert r.server.read("ST-1", "Result.Ack") == 1
            assert len(backend.stored) == 1

    run(scenario)


def test_half_open_link_is_detected_and_the_mes_reconnects():
    async def scenario():
        from tests.opcua.conftest import free_port
        from tests.opcua.proxy import BlackholeProxy

        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, start_supervisor=False) as r:
            target_port = int(r.server.endpoint_url.rsplit(":", 1)[1].split("/")[0])
            proxy = BlackholeProxy(listen_port=free_port(), target_port=target_port)
            await proxy.start()
            supervisor = OpcuaSupervisor(
                stations=[StationEndpoint("ST-1", TEST_TYPE.code, f"opc.tcp://127.0.0.1:{proxy.listen_port}/plc/")],
                backend=backend,
                security=SecuritySettings(allow_none=True),
                station_types=lookup_from_specs([TEST_TYPE]),
                timing=FAST,
            )
            await supervisor.start()
            try:
                await eventually(lambda: supervisor.status("ST-1").link == "connected", what="connect")
                proxy.blackhole()
                pending = asyncio.create_task(r.plcs["ST-1"].request_release("SN-1"))
                await eventually(
                    lambda: supervisor.status("ST-1").link != "connected",
                    timeout_s=10,
                    what="half-open detected",
                )
                outcome = await pending
                assert outcome.answered and outcome.release
                assert supervisor.runners[0].sessions_started == 2
            finally:
                await supervisor.stop()
                await proxy.stop()

    run(scenario)


def test_an_answer_decided_before_a_station_restart_is_not_given_to_the_request_after_it():
    """A gateway restarts one station while the MES is still deciding its request: the restarted PLC
    counts from 0 again, so its next request carries the same counter (1) for another serial. The
    answer decided for the first serial must not reach it."""

    class SlowBackend(MemoryBackend):
        gate: asyncio.Event
        deciding: set[str]

        async def handle_request(self, *, station_id: str, serial: str):
            self.deciding.add(serial)
            if serial == "SN-1":
                await self.gate.wait()  # the database is slow to decide for SN-1
            return await super().handle_request(station_id=station_id, serial=serial)

    async def scenario():
        backend = SlowBackend(route=("ST-1",), serials={"SN-1"})  # SN-2 is unknown: refused
        backend.gate, backend.deciding = asyncio.Event(), set()
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            first = asyncio.create_task(plc.request_release("SN-1"))
            await eventually(lambda: "SN-1" in backend.deciding, what="SN-1 being decided")
            first.cancel()  # the PLC program restarts: its wait is gone, its counters start from 0
            new_boot = "gateway-restart-1"
            r.server.boot_ids["ST-1"] = new_boot
            await r.server.write("ST-1", "Identification.BootId", new_boot, ua.VariantType.String)
            for counter in ("Request.Counter", "Response.Counter", "Result.Counter", "Result.Ack"):
                await r.server.write("ST-1", counter, 0, ua.VariantType.UInt32)
            await eventually(lambda: r.supervisor.status("ST-1").boot_id == new_boot, what="new BootId seen")
            second = asyncio.create_task(plc.request_release("SN-2"))
            await eventually(lambda: r.server.read("ST-1", "Request.Counter") == 1, what="SN-2 requested")
            backend.gate.set()  # SN-1's release is decided now, for a request that no longer stands
            outcome = await second
            assert outcome.answered and not outcome.release, outcome
            assert outcome.reason == "unknown serial SN-2" and outcome.recipe == ""
            assert ("ST-1", "SN-2") in backend.requests

    run(scenario)


def test_a_result_stored_across_a_station_restart_is_acknowledged_only_when_offered_again():
    """The station restarts while the MES stores its result (counters to 0, new BootId, Verdict 0): the
    Verdict and Ack meant for the old boot must not reach the new one, where an Ack of 1 would
    acknowledge the re-offered result at counter 1 before its verdict is written (plc-interface.md:
    Ack only answers a pending result, after its Verdict)."""

    class SlowStore(MemoryBackend):
        gate: asyncio.Event

        async def handle_result(self, *, station_id: str, result):
            if self.store_attempts == 0:
                self.store_attempts += 1
                await self.gate.wait()  # the commit is slow
                self.store_attempts -= 1
            return await super().handle_result(station_id=station_id, result=result)

    async def scenario():
        backend = SlowStore(route=("ST-1",), serials={"SN-1"})
        backend.gate = asyncio.Event()
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            assert (await plc.request_release("SN-1")).release
            result = _result(plc, "SN-1")
            assert await plc.publish_result(result) == 1  # the first result of this boot
            await eventually(lambda: backend.store_attempts >= 1, what="the result being stored")
            new_boot = "gateway-restart-2"
            r.server.boot_ids["ST-1"] = new_boot
            await r.server.write("ST-1", "Identification.BootId", new_boot, ua.VariantType.String)
            await r.server.write("ST-1", "Result.Verdict", 0, ua.VariantType.Int32)
            for counter in ("Request.Counter", "Response.Counter", "Result.Counter", "Result.Ack"):
                await r.server.write("ST-1", counter, 0, ua.VariantType.UInt32)
            await eventually(lambda: r.supervisor.status("ST-1").boot_id == new_boot, what="new BootId seen")
            backend.gate.set()  # the old boot's result is committed now
            await eventually(lambda: ("ST-1", result.result_id) in backend.stored, what="result stored")
            await asyncio.sleep(0.5)  # time for any Verdict and Ack the MES would write
            assert (r.server.read("ST-1", "Result.Ack"), r.server.read("ST-1", "Result.Verdict")) == (0, 0)

            await plc.after_restart()  # the restarted PLC offers its retained result again, at counter 1
            assert await plc.wait_for_ack(10.0) == Verdict.PASS.plc_code
            assert list(backend.stored) == [("ST-1", result.result_id)]  # stored once

    run(scenario)


async def _restart_station(r, station_id: str, new_boot: str) -> None:
    """A gateway restarts one station's PLC program on a connection that stays up: new BootId, Verdict
    0, all four counters 0 (plc-interface.md), seen by the MES."""
    r.server.boot_ids[station_id] = new_boot
    await r.server.write(station_id, "Identification.BootId", new_boot, ua.VariantType.String)
    await r.server.write(station_id, "Result.Verdict", 0, ua.VariantType.Int32)
    for counter in ("Request.Counter", "Response.Counter", "Result.Counter", "Result.Ack"):
        await r.server.write(station_id, counter, 0, ua.VariantType.UInt32)
    await eventually(lambda: r.supervisor.status(station_id).boot_id == new_boot, what="new BootId seen")


def test_a_request_for_the_same_serial_after_a_station_restart_is_decided_afresh_not_given_the_old_answer():
    """The MES decided SN-1's release and is still committing it when a gateway restarts the station.
    The restarted PLC asks for SN-1 again, at counter 1 again: counter and serial read as before the
    restart, only the BootId differs. Meanwhile SN-1 was put on hold. The new request must get an
    answer decided for it (refused: on hold), not the release decided for the request of the old boot."""

    class HoldDuringCommit(MemoryBackend):
        gate: asyncio.Event
        held: set[str]

        async def handle_request(self, *, station_id: str, serial: str) -> ReleaseAnswer:
            if serial in self.held:
                self.requests.append((station_id, serial))
                return ReleaseAnswer(release=False, reason=f"{serial} is on hold", recipe="")
            answer = await super().handle_request(station_id=station_id, serial=serial)
            if len(self.requests) == 1:
                await self.gate.wait()  # decided; the commit is slow
            return answer

    async def scenario():
        backend = HoldDuringCommit(route=("ST-1",), serials={"SN-1"})
        backend.gate, backend.held = asyncio.Event(), set()
        async with rig(["ST-1"], backend=backend) as r:
            plc = await connected_plc(r, "ST-1")
            old_boot = plc.boot_id
            first = asyncio.create_task(plc.request_release("SN-1"))
            await eventually(lambda: backend.requests == [("ST-1", "SN-1")], what="SN-1 being decided")
            first.cancel()  # the PLC program restarts: its wait is gone, its counters start from 0
            await _restart_station(r, "ST-1", "gateway-restart-3")
            backend.held.add("SN-1")  # a quality hold, placed while the station restarted
            second = asyncio.create_task(plc.request_release("SN-1"))
            await eventually(lambda: r.server.read("ST-1", "Request.Counter") == 1, what="SN-1 requested again")
            assert r.server.read("ST-1", "Request.Serial") == "SN-1" and plc.boot_id != old_boot
            backend.gate.set()  # the old boot's release is committed now
            outcome = await second
            assert outcome.answered, outcome
            assert not outcome.release, f"the new boot's request got the old boot's answer: {outcome}"
            assert outcome.reason == "SN-1 is on hold" and outcome.recipe == ""
            assert backend.requests == [("ST-1", "SN-1"), ("ST-1", "SN-1")]

    run(scenario)


def test_the_same_result_re_offered_after_a_station_restart_is_read_again_before_its_verdict_and_ack():
    """The MES is storing result R (counter 1) when a gateway restarts the station; the restarted PLC
    offers R again from its retentive memory: same Result.Id, counter 1 again, so only the BootId
    tells the two offers apart. The Verdict and Ack the new boot gets must answer the result set read
    from the new boot (plc-interface.md: read the whole set, store it, then Verdict, then Ack), not the
    read made before the restart: as the PLC's server sees it, a Read of the result set that returns
    the new BootId comes before the Verdict, and the Ack comes last."""

    class SlowCommit(MemoryBackend):
        gate: asyncio.Event
        calls: int = 0

        async def handle_result(self, *, station_id: str, result):
            self.calls += 1
            if self.calls == 1:
                await self.gate.wait()  # the commit is slow
            return await super().handle_result(station_id=station_id, result=result)

    async def scenario():
        backend = SlowCommit(route=("ST-1",), serials={"SN-1"})
        backend.gate = asyncio.Event()
        async with rig(["ST-1"], backend=backend) as r:
            log = ServiceLog(r.server, "ST-1")
            plc = await connected_plc(r, "ST-1")
            assert (await plc.request_release("SN-1")).release
            result = _result(plc, "SN-1")
            assert await plc.publish_result(result) == 1
            await eventually(lambda: backend.calls == 1, what="the result being stored")
            new_boot = "gateway-restart-4"
            await _restart_station(r, "ST-1", new_boot)
            await plc.after_restart()  # the retained result again: same Result.Id, counter 1
            assert r.server.read("ST-1", "Result.Counter") == 1
            assert r.server.read("ST-1", "Result.Id") == result.result_id
            log.mark("re-offered")
            backend.gate.set()  # the old boot's read is committed now
            assert await plc.wait_for_ack(10.0) == Verdict.PASS.plc_code
            assert list(backend.stored) == [("ST-1", result.result_id)]  # stored once

            calls = log.since("re-offered")
            writes = [i for i, call in enumerate(calls) if call.service == "Write"]
            assert log.writes(calls) == [{"Result.Verdict": Verdict.PASS.plc_code}, {"Result.Ack": 1}]
            reads_of_the_set = [
                call.values
                for call in calls[: writes[0]]
                if call.service == "Read" and "Result.Values.Force_kN" in call.values
            ]
            assert any(
                (v["Identification.BootId"], v["Result.Counter"], v["Result.Id"]) == (new_boot, 1, result.result_id)
                for v in reads_of_the_set
            ), f"Verdict and Ack written without reading the re-offered result set first; reads: {calls[: writes[0]]}"

    run(scenario)


def test_a_plc_granting_a_slower_publishing_interval_keeps_its_link_while_quiet():
    """open62541's default floor is 100 ms. asyncua then asked for a keep-alive count from the session
    timeout (one keep-alive in 7.5 min): a quiet station looked dead after ``stale_after_s``, the MES
    reconnected every few seconds and requests waited out its backoff ("MES not answering")."""

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, min_publishing_interval_ms=100.0) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            runner = r.supervisor.runners[0]
            await asyncio.sleep(2 * FAST.stale_after_s)  # quiet: only keep-alives arrive
            assert runner.sessions_started == 1 and r.supervisor.status("ST-1").link == "connected"
            assert runner.stale_after_s == FAST.stale_after_s  # 100 ms × 10 keeps the 1 s keep-alive
            subscriptions = r.server.server.iserver.subscription_service.subscriptions.values()
            assert [(s.data.RevisedPublishingInterval, s.data.RevisedMaxKeepAliveCount) for s in subscriptions] == [
                (100.0, 10),
                (100.0, 10),
            ]
            outcome = await r.plcs["ST-1"].request_release("SN-1")
            assert outcome.answered and outcome.release

    run(scenario)


def test_a_keep_alive_slower_than_asked_moves_the_stale_threshold_with_it():
    """A PLC whose floor is 2 s (a slow gateway) can keep alive only every 2 s: the link is judged on
    that, not on the 1 s the MES asked for."""

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, min_publishing_interval_ms=2000.0) as r:
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            runner = r.supervisor.runners[0]
            assert runner.stale_after_s == 2 * FAST.stale_after_s
            await asyncio.sleep(FAST.stale_after_s + 2.5)
            assert runner.sessions_started == 1 and r.supervisor.status("ST-1").link == "connected"

    run(scenario)


def test_a_plc_without_modify_subscription_is_served_with_the_keep_alive_it_granted():
    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend, start_supervisor=False) as r:
            from asyncua.common.utils import ServiceError

            def unsupported(params):
                raise ServiceError(ua.StatusCodes.BadServiceUnsupported)

            r.server.server.iserver.subscription_service.modify_subscription = unsupported
            await r.supervisor.start()
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="connect")
            assert r.supervisor.runners[0].stale_after_s == FAST.stale_after_s
            outcome = await r.plcs["ST-1"].request_release("SN-1")
            assert outcome.answered and outcome.release

    run(scenario)


def _write_unnoticed(server, station_id: str, path: str, value, variant_type: ua.VariantType) -> None:
    """Set a PLC variable without any data change reaching a subscriber: a notification lost on the way."""
    node_id = server.nodes[station_id].node(path)
    now = datetime.now(UTC)
    attribute = server.server.iserver.aspace._nodes[node_id].attributes[ua.AttributeIds.Value]
    attribute.value = ua.DataValue(ua.Variant(value, variant_type), SourceTimestamp=now, ServerTimestamp=now)


def test_a_request_whose_notification_is_lost_after_a_reconnect_is_served_by_the_counter_reads():
    """plc-interface.md: on every (re)connect and periodically while connected the MES reads the counters, so
    nothing depends on a single notification; pitfalls.md: after every reconnect re-read the counters."""

    async def scenario():
        backend = MemoryBackend(route=("ST-1",), serials={"SN-1"})
        async with rig(["ST-1"], backend=backend) as r:
            await connected_plc(r, "ST-1")
            runner = r.supervisor.runners[0]
            await r.server.stop()
            await eventually(lambda: r.supervisor.status("ST-1").link != "connected", what="loss seen")
            await r.server.start()
            log = ServiceLog(r.server, "ST-1")
            await eventually(
                lambda: runner.sessions_started == 2 and r.supervisor.status("ST-1").link == "connected",
                what="reconnect",
            )
            await eventually(
                lambda: sum("Request.Counter" in c.values and "Result.Ack" in c.values for c in log.calls) >= 2,
                timeout_s=4 * FAST.reconcile_interval_s + FAST.request_timeout_s,
                what="the four counters read (twice) after the reconnect",
            )
            _write_unnoticed(r.server, "ST-1", "Request.Serial", "SN-1", ua.VariantType.String)
            _write_unnoticed(r.server, "ST-1", "Request.Counter", 1, ua.VariantType.UInt32)
            await eventually(
                lambda: r.server.read("ST-1", "Response.Counter") == 1,
                timeout_s=4 * FAST.reconcile_interval_s + FAST.request_timeout_s,
                what="the request answered without its notification",
            )
            assert r.server.read("ST-1", "Response.Release") is True
            assert runner.sessions_started == 2

    run(scenario)


def test_a_lost_link_shows_disconnected_with_its_reason_while_the_mes_waits_to_reconnect():
    """A station's status must not say "connected" for the whole reconnect backoff after its link is lost."""

    async def scenario():
        timing = dataclasses.replace(FAST, reconnect_min_delay_s=5.0, reconnect_max_delay_s=5.0)
        async with rig(["ST-1"], timing=timing) as r:
            await connected_plc(r, "ST-1")
            await r.server.stop()
            await eventually(
                lambda: r.supervisor.status("ST-1").link == "disconnected",
                timeout_s=0.5 * timing.reconnect_min_delay_s,
                what="the lost link shown before the backoff ends",
            )
            assert r.supervisor.status("ST-1").problem, "a lost link says why"

    run(scenario)


def _time_session_ends(runner) -> list[float]:
    """When each of the runner's sessions or connect attempts ended (time.monotonic)."""
    ends: list[float] = []
    on_session_end = runner._on_session_end

    async def timed(exc: BaseException) -> None:
        ends.append(time.monotonic())
        await on_session_end(exc)

    runner._on_session_end = timed
    return ends


def test_the_reconnect_backoff_is_capped_while_a_plc_stays_away():
    async def scenario():
        async with rig(["ST-1"]) as r:
            await connected_plc(r, "ST-1")
            ends = _time_session_ends(r.supervisor.runners[0])
            await r.server.stop()
            # the 7th attempt comes after a delay of 0.1 s × 2⁵ = 3.2 s uncapped, 0.5 s capped
            await eventually(lambda: len(ends) >= 7, timeout_s=20.0, what="seven failed connects")
            gaps = [later - earlier for earlier, later in itertools.pairwise(ends)]
            assert max(gaps) < 1.2 * FAST.reconnect_max_delay_s + 0.5, gaps
            await r.server.start()
            await eventually(lambda: r.supervisor.status("ST-1").link == "connected", what="reconnect")

    run(scenario)


def test_the_reconnect_backoff_starts_over_after_a_session_that_had_been_up():
    async def scenario():
        timing = dataclasses.replace(
            FAST, reconnect_min_delay_s=0.1, reconnect_max_delay_s=3.2, reconnect_backoff_reset_after_s=2.0
        )
        async with rig(["ST-1"], timing=timing) as r:
            await connected_plc(r, "ST-1")
            runner = r.supervisor.runners[0]
            ends = _time_session_ends(runner)
            await r.server.stop()
            await eventually(lambda: len(ends) >= 6, timeout_s=10.0, what="the backoff grown to 3.2 s")
            await r.server.start()
            await eventually(lambda: runner.sessions_started == 2, timeout_s=15.0, what="reconnect")
            up_for = timedelta(seconds=timing.reconnect_backoff_reset_after_s + 0.5)
            await eventually(
                lambda: datetime.now(UTC) - r.supervisor.status("ST-1").since > up_for,
                timeout_s=up_for.total_seconds() + 2,
                what="the session up for longer than the reset threshold",
            )
            assert r.supervisor.status("ST-1").link == "connected" and runner.sessions_started == 2
            lost = len(ends)
            await r.server.stop()
            await eventually(lambda: len(ends) >= lost + 2, timeout_s=15.0, what="the first attempt after the loss")
            # started over at 0.1 s, not the 3.2 s the backoff had grown to before the long session
            assert ends[lost + 1] - ends[lost] < 1.5, ends[lost:]

    run(scenario)


def _record_monitored_items(server) -> list[tuple[str, float, int]]:
    """Every monitored item the PLC is asked for: (node path, requested sampling interval, queue size)."""
    asked: list[tuple[str, float, int]] = []

    def created(event: ServerItemCallback, dispatcher: CallbackService) -> None:
        for item in event.request_params.ItemsToCreate:
            parameters = item.RequestedParameters
            path = str(item.ItemToMonitor.NodeId.Identifier).split(".", 1)[1]
            asked.append((path, parameters.SamplingInterval, parameters.QueueSize))

    server.server.subscribe_server_callback(CallbackType.ItemSubscriptionCreated, created)
    return asked


def _held_subscriptions(server) -> list[tuple[float, int, int]]:
    """(publishing interval, keep-alive count, lifetime count) of every subscription the PLC holds."""
    subscriptions = server.server.iserver.subscription_service.subscriptions.values()
    return sorted(
        (s.data.RevisedPublishingInterval, s.data.RevisedMaxKeepAliveCount, s.data.RevisedLifetimeCount)
        for s in subscriptions
    )


def test_the_mes_asks_for_the_contracts_publishing_keep_alive_lifetime_sampling_and_queue_sizes():
    """plc-interface.md: 50 ms publishing and sampling interval 0 on the counters; pitfalls.md: set publishing
    interval, keep-alive and lifetime counts explicitly, pass the sampling interval explicitly (asyncua's
    default is 50 ms), and size the queues (a Live item's changes between two publishes are all kept)."""

    async def scenario():
        async with rig(["ST-1"], start_supervisor=False) as r:
            asked = _record_monitored_items(r.server)
            await r.supervisor.start()
            await connected_plc(r, "ST-1")
            timing = r.supervisor.timing
            held = (timing.publishing_interval_ms, timing.keepalive_count, timing.lifetime_count)
            assert _held_subscriptions(r.server) == [held, held]  # handshakes and Live
            assert {path for path, _, _ in asked} == {
                "Request.Counter",
                "Result.Counter",
                "Identification.BootId",
                "State",
                "Live.Force_kN",
                "Live.Speed_mm_s",
            }
            for path, sampling_interval, queue_size in asked:
                assert sampling_interval == 0.0, (path, sampling_interval)
                wanted = timing.live_item_queue_size if path.startswith("Live.") else 1
                assert queue_size == wanted, (path, queue_size)

    run(scenario)


def test_a_plc_without_modify_subscription_holds_the_keep_alive_and_lifetime_asked_at_creation():
    async def scenario():
        async with rig(["ST-1"], start_supervisor=False) as r:
            from asyncua.common.utils import ServiceError

            def unsupported(params):
                raise ServiceError(ua.StatusCodes.BadServiceUnsupported)

            r.server.server.iserver.subscription_service.modify_subscription = unsupported
            await r.supervisor.start()
            await connected_plc(r, "ST-1")
            timing = r.supervisor.timing
            held = (timing.publishing_interval_ms, timing.keepalive_count, timing.lifetime_count)
            assert _held_subscriptions(r.server) == [held, held]

    run(scenario)


@pytest.mark.parametrize("falls_silent", ["from the start", "after publishing"])
def test_a_plc_whose_subscriptions_do_not_publish_is_not_shown_connected_for_good(monkeypatch, falls_silent):
    """pitfalls.md: watch data freshness. A PLC (or gateway) whose publishing engine does not run sends
    neither data nor keep-alives while its Read service still answers: from the start (the MES's check, like
    asyncua's own watchdog, waited for a first publish and showed the station connected for good), or after
    it had published (asyncua then recreates the subscriptions again and again, each time resetting the
    clock it keeps). Nothing published within stale_after_s ends the session and the MES starts a new one."""
    from asyncua.server.internal_subscription import InternalSubscription

    async def never_publish(self: InternalSubscription) -> None:
        self._task = None  # the PLC's publishing engine does not run

    if falls_silent == "from the start":
        monkeypatch.setattr(InternalSubscription, "start", never_publish)

    async def scenario():
        async with rig(["ST-1"]) as r:
            await connected_plc(r, "ST-1")
            if falls_silent == "after publishing":
                monkeypatch.setattr(InternalSubscription, "start", never_publish)
                assert r.server.server is not None
                for subscription in r.server.server.iserver.subscription_service.subscriptions.values():
                    subscription._task.cancel()
            runner = r.supervisor.runners[0]
            await eventually(
                lambda: runner.sessions_started >= 2 or r.supervisor.status("ST-1").link != "connected",
                timeout_s=4 * FAST.stale_after_s,
                what="the silent link declared lost (nothing has been published for 4 × stale_after_s)",
            )

    run(scenario)
