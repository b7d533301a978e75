"""Handshake round trips against a PLC on another OPC UA stack: node-opcua (tests/opcua/interop/strict_plc.js).

The PLC times each handshake itself, from setting its counter to seeing the MES's answer counter written:
request (Request.Counter → Response.Counter) and result (Result.Counter → Result.Ack). The baseline, in the
same run against a fresh PLC of the same kind, is a bare asyncua client that learns of each counter by the
same kind of subscription (50 ms publishing interval, sampling interval 0) and answers with one Read and two
Writes, as the contract's minimum. The MES side is the OPC UA adapter with an in-memory backend that
releases everything and judges PASS, so the figure is the adapter's own cost on a foreign stack.
The PLC also checks every request of both clients against plc-interface.md; a violation fails the run.

Run: ``.venv/bin/python tests/benchmarks/bench_interop.py [--cycles 150] [--rounds 2]``.
Goal (as bench_opcua's round trip): p50 ≤ 1.5 × bare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from asyncua import Client, ua

from app.opcua import codec
from app.opcua.master_data import AdapterTiming, SecuritySettings, StationEndpoint
from app.opcua.nodes import NAMESPACE_URI, StationNodes
from app.opcua.station_types import StationTypeSpec, registry_lookup
from app.opcua.supervisor import OpcuaSupervisor, quiet_asyncua_logging
from tests.opcua.conftest import free_port
from tests.opcua.interop import NodePlc, PlcStation
from tests.opcua.memory_backend import RECIPE, MemoryBackend

OUT = Path(__file__).resolve().parents[2] / "test-output" / "bench"
STATION = "CE-01"
VALUES = {"CoilBatch": "CB-1", "PeakForce_kN": 41.0, "LengthLoss_mm": 1.2, "FinPitch_mm": 1.8}
TRACES = {"HairpinPeakForce_kN": ([1.0, 2.0], [40.0, 41.0]), "Force_kN": ([0.0, 0.5, 1.0], [0.0, 20.0, 41.0])}


class BareAnswerer:
    """The contract's minimum: on a counter notification, one Read, then the answer and its counter."""

    def __init__(self, client: Client, nodes: StationNodes, spec: StationTypeSpec) -> None:
        self.client = client
        self.nodes = nodes
        self.spec = spec
        self.tasks: set[asyncio.Task[None]] = set()
        # one answer at a time per handshake: two notifications answered at once both read the request as
        # pending and both write its counter (the strict PLC names the second write a violation)
        self.request_lock = asyncio.Lock()
        self.result_lock = asyncio.Lock()

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        if node.nodeid == self.nodes.request_counter:
            task = asyncio.create_task(self.answer_request())
        else:
            task = asyncio.create_task(self.answer_result())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def answer_request(self) -> None:
        async with self.request_lock:
            await self._answer_request()

    async def answer_result(self) -> None:
        async with self.result_lock:
            await self._answer_result()

    async def _answer_request(self) -> None:
        n = self.nodes
        counter_dv, answered_dv, _serial, _boot = await self.client.uaclient.read_attributes(
            [n.request_counter, n.response_counter, n.request_serial, n.boot_id], ua.AttributeIds.Value
        )
        counter = codec.read_uint(counter_dv)
        if not codec.is_pending(counter=counter, answered=codec.read_uint(answered_dv)):
            return
        await self.client.uaclient.write_attributes(
            [n.response_release, n.response_reason, n.response_recipe],
            [codec.boolean(True), codec.string(""), codec.string(RECIPE)],
        )
        await self.client.uaclient.write_attributes([n.response_counter], [codec.uint32(counter)])

    async def _answer_result(self) -> None:
        n = self.nodes
        header = [n.result_counter, n.result_ack, n.boot_id, n.result_id, n.result_serial]
        values = [n.value(v.name) for v in self.spec.values]
        traces = [node for ch in self.spec.trace_channels for node in (n.trace_time(ch), n.trace(ch))]
        read = await self.client.uaclient.read_attributes(header + values + traces, ua.AttributeIds.Value)
        counter = codec.read_uint(read[0])
        if not codec.is_pending(counter=counter, answered=codec.read_uint(read[1])):
            return
        await self.client.uaclient.write_attributes([n.result_verdict], [codec.int32(1)])
        await self.client.uaclient.write_attributes([n.result_ack], [codec.uint32(counter)])


async def _cycles(plc: NodePlc, cycles: int) -> dict[str, list[float]]:
    """``cycles`` units through the station, one after the other; the PLC's own timings."""
    timings: dict[str, list[float]] = {"request": [], "result": []}
    for i in range(cycles):
        serial = f"SN-{i:05d}"
        answer = await plc.request(STATION, serial)
        acked = await plc.result(STATION, serial, values=VALUES, traces=TRACES)
        if not (answer.get("answered") and answer.get("release") and acked.get("event") == "acked"):
            raise RuntimeError(f"cycle {i} not served: {answer} {acked}")
        timings["request"].append(answer["elapsed_ms"])
        timings["result"].append(acked["elapsed_ms"])
    return timings


async def run_case(kind: str, spec: StationTypeSpec, cycles: int, workdir: Path) -> dict[str, Any]:
    plc = NodePlc(port=free_port(), stations=[PlcStation(STATION, spec)], workdir=workdir)
    await plc.start()
    try:
        if kind == "mes":
            # every serial is new and goes to this one station: released, then judged PASS
            backend = MemoryBackend(route=(STATION,), serials={f"SN-{i:05d}" for i in range(cycles)})
            supervisor = OpcuaSupervisor(
                stations=[StationEndpoint(STATION, spec.code, plc.url)],
                backend=backend,
                security=SecuritySettings(allow_none=True),
                station_types=lambda code: spec,
                timing=AdapterTiming(),
            )
            await supervisor.start()
            try:
                while supervisor.status(STATION).link != "connected":
                    await asyncio.sleep(0.05)
                timings = await _cycles(plc, cycles)
            finally:
                await supervisor.stop()
        else:
            client = Client(plc.url)
            await client.connect()
            try:
                ns = await client.get_namespace_index(NAMESPACE_URI)
                nodes = StationNodes(station_id=STATION, station_type=spec, namespace_index=ns)
                answerer = BareAnswerer(client, nodes, spec)
                params = ua.CreateSubscriptionParameters(
                    RequestedPublishingInterval=50.0,
                    RequestedMaxKeepAliveCount=20,
                    RequestedLifetimeCount=200,
                    PublishingEnabled=True,
                )
                subscription = await client.create_subscription(params, answerer)
                await subscription.subscribe_data_change(
                    [client.get_node(nodes.request_counter), client.get_node(nodes.result_counter)],
                    sampling_interval=0,
                )
                timings = await _cycles(plc, cycles)
            finally:
                await client.disconnect()
        log = await plc.log(STATION)
    finally:
        await plc.stop()
    if log["violations"]:
        raise RuntimeError(f"{kind}: the PLC names contract violations: {log['violations'][:3]}")
    return {"kind": kind, **timings}


def _figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
    }


async def main_async(args: argparse.Namespace) -> int:
    quiet_asyncua_logging()
    lookup = registry_lookup()
    assert lookup is not None
    spec = lookup("coil_expansion")
    pooled: dict[str, dict[str, list[float]]] = {
        "bare": {"request": [], "result": []},
        "mes": {"request": [], "result": []},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.rounds):
            for kind in ("bare", "mes"):  # alternated: load from elsewhere falls on both
                print(f"round {round_no + 1}: {kind}, {args.cycles} cycles", flush=True)
                case = await run_case(kind, spec, args.cycles, Path(tmp) / f"{kind}-{round_no}")
                for what in ("request", "result"):
                    pooled[kind][what].extend(case[what])
    report: dict[str, Any] = {"cycles_per_case": args.cycles, "rounds": args.rounds}
    ok = True
    for what in ("request", "result"):
        bare, mes = _figures(pooled["bare"][what]), _figures(pooled["mes"][what])
        ratio = round(mes["p50_ms"] / bare["p50_ms"], 2)
        report[what] = {"bare": bare, "mes": mes, "p50_ratio": ratio, "goal_p50_ratio": 1.5}
        ok = ok and ratio <= 1.5
        print(
            f"{what:8s} bare p50 {bare['p50_ms']} ms p99 {bare['p99_ms']} ms | "
            f"MES p50 {mes['p50_ms']} ms p99 {mes['p99_ms']} ms | p50 ratio {ratio} (goal ≤ 1.5)"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_interop.json").write_text(json.dumps(report, indent=2))
    print("goal met" if ok else "goal NOT met")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
