"""OPC UA adapter benchmarks, each against a bare asyncua client on the same servers in the same run.

1. live ingestion: client CPU per live data change at a fixed offered rate across G gateways × 7
   stations (their contract live channels), MES adapter ÷ bare client, and loss on both;
2. verdict round trip: Result.Counter written → Ack write arriving at the server (timed server-side),
   p50/p99 with every station cycling results, MES adapter vs a bare client that learns of the counter
   by the same subscription and answers with one read and two writes. ``--backend memory`` (default):
   the adapter's own cost, an in-memory backend that releases everything and judges PASS.
   ``--backend postgres``: the real MES behind the adapter (``DatabaseStationBackend``, the engine
   judge with the cycle model) on a scratch PostgreSQL database (bench_opcua_db.py); every station
   first asks for a release of a fresh unit through the request handshake (answered by the bare client
   too, with one read and two writes, so the servers do the same work in both runs), then publishes
   a physically plausible result of that unit; each station's first round trip is a warm-up, not counted;
3. resident memory of the MES process with all stations connected.

Servers and clients run in separate processes so that client CPU is measured alone.
Run: ``.venv/bin/python tests/benchmarks/bench_opcua.py [--gateways 10] [--rate 10000] [--seconds 20]
[--modes live,roundtrip] [--backend memory|postgres] [--pause-s 0.2,0.6] [--rounds 1]``; ``--pause-s`` is a
station's idle time between cycles (it sets the offered result rate), ``--rounds`` alternates bare and MES
cases and pools their round trips (load from others on a shared machine falls on both).
Goals (issue 5): CPU ratio ≤ 1.5 with zero loss; round trip p50 ≤ 1.5 × bare, p99 ≤ 100 ms; RSS ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import random
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent

import stations
from app.domain.results import Verdict
from app.opcua import codec
from app.opcua.backend import PlcResult, ReleaseAnswer, StoredVerdict
from app.opcua.master_data import AdapterTiming, SecuritySettings, StationEndpoint
from app.opcua.nodes import NAMESPACE_URI, StationNodes
from app.opcua.simulator.faults import UnitTruth
from app.opcua.simulator.line import MONOBLOC_ROUTE, VERDICT_NAMES, station_id_for
from app.opcua.simulator.physics import CycleOutput, generate
from app.opcua.simulator.plc import ResultSet, SimulatedPlc
from app.opcua.simulator.server import HostedStation, StationServer
from app.opcua.station_types import default_lookup
from app.opcua.supervisor import OpcuaSupervisor, quiet_asyncua_logging
from tests.benchmarks import bench_opcua_db as db
from tests.benchmarks.common import scratch_database

OUT = Path(__file__).resolve().parents[2] / "test-output" / "bench"
BACKENDS = ("memory", "postgres")
PHYSICS_POOL = 12  # distinct plausible results per station, reused across its cycles with fresh serials
ACK_TIMEOUT_S = 5.0
DEFAULT_PAUSE_S = (0.2, 0.6)  # a station's idle time between two cycles, drawn uniformly


def pause_range(text: str) -> tuple[float, float]:
    """``MIN,MAX`` seconds."""
    low, high = (float(x) for x in text.split(","))
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError("--pause-s wants MIN,MAX with 0 <= MIN <= MAX")
    return low, high


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_stations(gateway: int) -> list[tuple[str, str]]:
    """(station id, station type) of one gateway's seven stations."""
    return [(station_id_for(st, f"G{gateway}"), st) for st in MONOBLOC_ROUTE]


def master_data(ports: list[int]) -> list[StationEndpoint]:
    return [
        StationEndpoint(sid, st, f"opc.tcp://127.0.0.1:{port}/gw{g}")
        for g, port in enumerate(ports)
        for sid, st in gateway_stations(g)
    ]


# --- server side -------------------------------------------------------------------------------------


async def _serve(
    mode: str,
    backend: str,
    pause_s: tuple[float, float],
    serial_block: tuple[int, int],
    gateways: list[int],
    ports: list[int],
    rate_per_s: float,
    seconds: float,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    quiet_asyncua_logging()
    lookup = default_lookup()
    servers = []
    for g, port in zip(gateways, ports, strict=True):
        hosted = [HostedStation(sid, lookup(st)) for sid, st in gateway_stations(g)]
        server = StationServer(endpoint_url=f"opc.tcp://127.0.0.1:{port}/gw{g}", stations=hosted)
        await server.start()
        servers.append(server)
    pools = _physics_pools(gateways) if mode == "roundtrip" and backend == "postgres" else None
    ready.set()
    while not go.is_set():
        await asyncio.sleep(0.05)
    if mode == "live":
        written = await _offer_live(servers, rate_per_s, seconds)
        out.put({"written": written})
    else:
        out.put(await _cycle_results(list(zip(gateways, servers, strict=True)), seconds, pause_s, serial_block, pools))
    await asyncio.sleep(1.0)
    for server in servers:
        await server.stop()


async def _offer_live(servers: list[StationServer], rate_per_s: float, seconds: float) -> int:
    channels = [
        (server, station.station_id, channel)
        for server in servers
        for station in server.stations
        for channel in station.spec.live_channels
    ]
    tick_s = 0.01
    per_tick = rate_per_s * tick_s
    written, owed, start = 0, 0.0, time.perf_counter()
    i = 0
    while (now := time.perf_counter()) - start < seconds:
        owed += per_tick
        while owed >= 1.0:
            server, sid, channel = channels[i % len(channels)]
            await server.write(sid, f"Live.{channel}", float(i), ua.VariantType.Double)
            i += 1
            written += 1
            owed -= 1.0
        await asyncio.sleep(max(0.0, tick_s - (time.perf_counter() - now)))
    return written


def _physics_pools(gateways: list[int]) -> dict[str, list[CycleOutput]]:
    """Plausible cycle outputs per station, drawn before the run so that drawing them costs no latency."""
    rng = random.Random(1)
    pools = {}
    for g in gateways:
        for sid, st in gateway_stations(g):
            units = [
                UnitTruth(
                    db.serial_for(gateway=g, station_type=st, cycle=i),
                    db.PHYSICS_MODEL,
                    frozenset(),
                    rng.random() < 0.3,
                )
                for i in range(PHYSICS_POOL)
            ]
            pools[sid] = [generate(station_type=st, unit=u, rng=random.Random(rng.random())) for u in units]
    return pools


def _own_parts(station_type: str, values: dict[str, Any], serial: str) -> dict[str, Any]:
    """A pooled output's compressor, inverter and EVI valve serials made the unit's own: a part reused
    from the pool would be fitted in two units, and the MES rightly FAILs the second."""
    serialised = [c.identifier for c in stations.get_station_type(station_type).components if c.kind.one_per_unit]
    return values | {name: f"{values[name]}-{serial}" for name in serialised if values.get(name)}


async def _cycle_results(
    servers: list[tuple[int, StationServer]],
    seconds: float,
    pause_s: tuple[float, float],
    serial_block: tuple[int, int],
    pools: dict[str, list[CycleOutput]] | None,
) -> dict[str, Any]:
    """Every station cycles results; with ``pools`` each cycle releases a fresh unit and publishes its physics.

    ``serial_block`` (first, count): the cycles of the station's serials (bench_opcua_db) this case may use.
    """
    first_serial, serial_count = serial_block
    latencies: list[tuple[str, float]] = []  # (station type, seconds)
    pending: dict[tuple[int, str], float] = {}
    verdicts: dict[str, int] = {}
    refused: list[str] = []

    async def station_loop(gateway: int, server: StationServer, station: HostedStation) -> None:
        plc = SimulatedPlc(server=server, station_id=station.station_id, spec=station.spec, scan_time_s=0.01)
        nodes = server.nodes[station.station_id]
        key = (id(server), station.station_id)
        assert server.server is not None

        async def on_ack(_handle: int, dv: ua.DataValue) -> None:
            t0 = pending.pop(key, None)
            if t0 is not None:
                latencies.append((station.spec.code, time.perf_counter() - t0))

        server.server.iserver.aspace.add_datachange_callback(nodes.result_ack, ua.AttributeIds.Value, on_ack)
        deadline = time.perf_counter() + seconds
        await asyncio.sleep(random.uniform(0, 1.0))
        cycle = 0
        while time.perf_counter() < deadline and cycle < serial_count:
            result = ResultSet(result_id=plc.new_result_id(), serial="HP26-0000001", values={}, traces={})
            if pools is not None:
                serial = db.serial_for(gateway=gateway, station_type=station.spec.code, cycle=first_serial + cycle)
                answer = await plc.request_release(serial)
                if not answer.release:
                    refused.append(f"{station.station_id} {serial}: {answer.reason or 'no answer'}")
                    cycle += 1
                    await asyncio.sleep(random.uniform(*pause_s))
                    continue
                output = pools[station.station_id][cycle % PHYSICS_POOL]
                result = ResultSet(
                    result_id=result.result_id,
                    serial=serial,
                    values=_own_parts(station.spec.code, output.values, serial),
                    traces=output.traces,
                )
            await plc._write_result_set(result)
            counter = codec.next_counter(int(server.read(station.station_id, "Result.Counter")))
            if pools is None or cycle > 0:  # with the real MES, a station's first round trip is a warm-up
                pending[key] = time.perf_counter()
            await server.write(station.station_id, "Result.Counter", counter, ua.VariantType.UInt32)
            verdict = await plc.wait_for_ack(ACK_TIMEOUT_S)
            if verdict is None:
                pending.pop(key, None)  # not acknowledged in time: no latency, and none for a late Ack either
            name = "unacknowledged" if verdict is None else VERDICT_NAMES.get(verdict, str(verdict))
            verdicts[name] = verdicts.get(name, 0) + 1
            cycle += 1
            await asyncio.sleep(random.uniform(*pause_s))

    await asyncio.gather(*(station_loop(g, s, st) for g, s in servers for st in s.stations))
    return {"latencies_s": latencies, "verdicts": verdicts, "refused": refused}


def server_process(*args: Any) -> None:
    asyncio.run(_serve(*args))


# --- client side -------------------------------------------------------------------------------------


class NullBackend:
    """Releases everything and judges PASS without a database: the adapter's own cost."""

    async def handle_request(self, *, station_id: str, serial: str) -> ReleaseAnswer:
        return ReleaseAnswer(release=True, reason="", recipe="HPM-06-R290-EVI/17")

    async def handle_result(self, *, station_id: str, result: PlcResult) -> StoredVerdict:
        return StoredVerdict(verdict=Verdict.PASS, duplicate=False)

    async def raise_alarm(self, *, station_id: str, message: str) -> None:
        pass


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _mes_client(ports: list[int], go: Any, seconds: float, out: Any, database_url: str | None) -> None:
    backend: NullBackend | db.DatabaseStationBackend = NullBackend()
    if database_url is not None:
        backend = db.database_backend(database_url)
        db.warm_up()
    supervisor = OpcuaSupervisor(
        stations=master_data(ports),
        backend=backend,
        security=SecuritySettings(allow_none=True),
        timing=AdapterTiming(live_queue_size=100_000),
    )
    await supervisor.start()
    while not all(s.link == "connected" for s in supervisor.statuses()):
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    before, cpu0 = supervisor.live_bus.published, time.process_time()
    go.set()
    await asyncio.sleep(seconds + 1.5)
    received, cpu = supervisor.live_bus.published - before, time.process_time() - cpu0
    out.put({"received": received, "cpu_s": cpu, "rss_mb": _rss_mb()})
    await supervisor.stop()


async def _bare_client(ports: list[int], go: Any, seconds: float, out: Any, mode: str, answer_requests: bool) -> None:
    """A plain asyncua client: subscribe, and (round trip) answer with one read and two writes.

    With ``answer_requests`` it releases every request the same way (one read, two writes), so that the
    servers run the same request-then-result cycle as with the real MES.
    """
    lookup = default_lookup()
    clients, subs, tasks = [], [], []
    received = 0

    async def consume(
        client: Client, sub: Any, routes: dict[ua.NodeId, StationNodes], requests: dict[ua.NodeId, StationNodes]
    ) -> None:
        nonlocal received
        async for event in sub:
            if not isinstance(event, DataChangeEvent):
                continue
            received += 1
            if not event.value:
                continue
            if (asked := requests.get(event.node.nodeid)) is not None:
                await _bare_release(client, asked)
                continue
            nodes = routes.get(event.node.nodeid)
            if nodes is None:
                continue
            counter_dv, ack_dv, *_ = await client.uaclient.read_attributes(
                [nodes.result_counter, nodes.result_ack, nodes.result_id, nodes.result_serial, nodes.boot_id],
                ua.AttributeIds.Value,
            )
            counter = codec.read_uint(counter_dv)
            if counter and counter != codec.read_uint(ack_dv):
                await client.uaclient.write_attributes([nodes.result_verdict], [codec.int32(1)])
                await client.uaclient.write_attributes([nodes.result_ack], [codec.uint32(counter)])

    for g, port in enumerate(ports):
        client = Client(f"opc.tcp://127.0.0.1:{port}/gw{g}")
        await client.connect()
        ns = await client.get_namespace_index(NAMESPACE_URI)
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=50.0,
            RequestedMaxKeepAliveCount=20,
            RequestedLifetimeCount=200,
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
        )
        sub = await client.create_subscription(params, handler=None, queue_maxsize=100_000)
        routes: dict[ua.NodeId, StationNodes] = {}
        requests: dict[ua.NodeId, StationNodes] = {}
        watched = []
        for sid, st in gateway_stations(g):
            nodes = StationNodes(station_id=sid, station_type=lookup(st), namespace_index=ns)
            if mode == "live":
                watched += [nodes.live(ch) for ch in lookup(st).live_channels]
            else:
                routes[nodes.result_counter] = nodes
                watched.append(nodes.result_counter)
                if answer_requests:
                    requests[nodes.request_counter] = nodes
                    watched.append(nodes.request_counter)
        await sub.subscribe_data_change(
            [client.get_node(n) for n in watched],
            queuesize=16 if mode == "live" else 1,
            sampling_interval=ua.Double(0.0),
        )
        clients.append(client)
        subs.append(sub)
        tasks.append(asyncio.create_task(consume(client, sub, routes, requests)))
    await asyncio.sleep(1.0)
    before, cpu0 = received, time.process_time()
    go.set()
    await asyncio.sleep(seconds + 1.5)
    out.put({"received": received - before, "cpu_s": time.process_time() - cpu0, "rss_mb": _rss_mb()})
    for task in tasks:
        task.cancel()
    for client in clients:
        await client.disconnect()


async def _bare_release(client: Client, nodes: StationNodes) -> None:
    counter_dv, answered_dv, *_ = await client.uaclient.read_attributes(
        [nodes.request_counter, nodes.response_counter, nodes.request_serial, nodes.boot_id], ua.AttributeIds.Value
    )
    counter = codec.read_uint(counter_dv)
    if counter and counter != codec.read_uint(answered_dv):
        await client.uaclient.write_attributes(
            [nodes.response_release, nodes.response_reason, nodes.response_recipe],
            [codec.boolean(True), codec.string(""), codec.string(f"{db.PHYSICS_MODEL}/1")],
        )
        await client.uaclient.write_attributes([nodes.response_counter], [codec.uint32(counter)])


def client_process(
    kind: str, mode: str, ports: list[int], go: Any, seconds: float, out: Any, database_url: str | None
) -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    if kind == "mes":
        asyncio.run(_mes_client(ports, go, seconds, out, database_url))
    else:
        asyncio.run(_bare_client(ports, go, seconds, out, mode, answer_requests=database_url is not None))


# --- orchestration -----------------------------------------------------------------------------------


def run_case(
    *,
    kind: str,
    mode: str,
    gateways: int,
    server_processes: int,
    rate: float,
    seconds: float,
    backend: str = "memory",
    database_url: str | None = None,
    pause_s: tuple[float, float] = DEFAULT_PAUSE_S,
    serial_block: tuple[int, int] = (0, db.SERIALS_PER_STATION),
) -> dict:
    """One client (``bare`` or ``mes``) against fresh servers; ``database_url`` with the postgres backend."""
    ctx = mp.get_context("spawn")
    ports = [free_port() for _ in range(gateways)]
    go, server_out, client_out = ctx.Event(), ctx.Queue(), ctx.Queue()
    servers = []
    server_processes = min(server_processes, gateways)  # every server process needs a gateway to serve
    for p in range(server_processes):
        mine = list(range(p, gateways, server_processes))
        ready = ctx.Event()
        proc = ctx.Process(
            target=server_process,
            args=(
                mode,
                backend,
                pause_s,
                serial_block,
                mine,
                [ports[g] for g in mine],
                rate / server_processes,
                seconds,
                ready,
                go,
                server_out,
            ),
        )
        proc.start()
        ready.wait(120)
        servers.append(proc)
    client = ctx.Process(target=client_process, args=(kind, mode, ports, go, seconds, client_out, database_url))
    client.start()
    client_result = client_out.get(timeout=seconds + 180)
    server_results = [server_out.get(timeout=60) for _ in servers]
    client.join(30)
    for proc in servers:
        proc.join(30)
    result: dict[str, Any] = {"client": kind, "mode": mode, "backend": backend, **client_result}
    if mode == "live":
        result["written"] = sum(r["written"] for r in server_results)
        result["lost"] = result["written"] - result["received"]
        result["cpu_us_per_change"] = 1e6 * result["cpu_s"] / max(result["received"], 1)
    else:
        result["latencies"] = [(st, x) for r in server_results for st, x in r["latencies_s"]]
        result.update(_latency_figures(result["latencies"]))
        result["pause_s"] = list(pause_s)
        result["verdicts"] = {}
        for r in server_results:
            for name, count in r["verdicts"].items():
                result["verdicts"][name] = result["verdicts"].get(name, 0) + count
        cycles = sum(result["verdicts"].values())
        result["results_per_s"] = cycles / seconds
        result["client_cpu_ms_per_result"] = 1e3 * result["cpu_s"] / max(cycles, 1)
        result["refused"] = [x for r in server_results for x in r["refused"]]
    return result


def _percentiles_ms(seconds: list[float]) -> dict[str, Any]:
    lat = sorted(seconds)
    return {
        "round_trips": len(lat),
        "p50_ms": 1e3 * statistics.median(lat) if lat else float("nan"),
        "p99_ms": 1e3 * lat[int(0.99 * (len(lat) - 1))] if lat else float("nan"),
    }


def _latency_figures(latencies: list[tuple[str, float]]) -> dict[str, Any]:
    """p50/p99 over all round trips, and per station type."""
    by_type: dict[str, list[float]] = {}
    for station_type, seconds in latencies:
        by_type.setdefault(station_type, []).append(seconds)
    return {
        **_percentiles_ms([x for _, x in latencies]),
        "by_station_type": {st: _percentiles_ms(xs) for st, xs in sorted(by_type.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateways", type=int, default=10)
    parser.add_argument("--server-processes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10_000.0, help="offered live changes per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--modes", default="live,roundtrip")
    parser.add_argument("--backend", choices=BACKENDS, default="memory", help="what the MES runs behind the adapter")
    parser.add_argument("--keep-database", action="store_true", help="postgres: keep the scratch database")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="bare and MES cases alternate this many times (a shared machine's load falls on both)",
    )
    parser.add_argument(
        "--pause-s",
        type=pause_range,
        default=DEFAULT_PAUSE_S,
        help="round trip: MIN,MAX seconds a station idles between cycles (sets the offered result rate)",
    )
    args = parser.parse_args()
    if args.backend == "postgres":
        with scratch_database("bench_opcua", keep=args.keep_database) as url:
            stations = [(g, sid, st) for g in range(args.gateways) for sid, st in gateway_stations(g)]
            db.seed(database_url=url, stations=stations)
            results = _run_cases(args, database_url=url)
            stored = db.stored_summary(url)
            if args.keep_database:
                print(f"scratch database kept: {url}")
    else:
        results, stored = _run_cases(args, database_url=None), None
    _summarise(args, results, stored)


def _run_cases(args: argparse.Namespace, *, database_url: str | None) -> list[dict]:
    results = []
    per_round = db.SERIALS_PER_STATION // args.rounds  # every MES round releases units of its own
    for mode in args.modes.split(","):
        for i, kind in enumerate(("bare", "mes") * args.rounds):
            r = run_case(
                kind=kind,
                mode=mode,
                gateways=args.gateways,
                server_processes=args.server_processes,
                rate=args.rate,
                seconds=args.seconds,
                backend=args.backend,
                database_url=database_url,
                pause_s=args.pause_s,
                serial_block=((i // 2) * per_round, per_round),
            )
            shown = {k: v for k, v in r.items() if k not in ("refused", "latencies", "by_station_type")}
            print(json.dumps(shown | {"refused": len(r.get("refused", []))}))
            results.append(r)
    return results


def _summarise(args: argparse.Namespace, results: list[dict], stored: dict[str, object] | None) -> None:
    live = {r["client"]: r for r in results if r["mode"] == "live"}
    trip = {
        kind: _pooled([r for r in results if r["mode"] == "roundtrip" and r["client"] == kind])
        for kind in ("bare", "mes")
    }
    trip = {kind: pooled for kind, pooled in trip.items() if pooled}
    summary: dict[str, Any] = {"stations": 7 * args.gateways, "backend": args.backend}
    if live:
        summary["live_cpu_ratio_mes_over_bare"] = live["mes"]["cpu_us_per_change"] / live["bare"]["cpu_us_per_change"]
        summary["live_lost"] = {k: v["lost"] for k, v in live.items()}
    if trip:
        summary["roundtrip_pause_s"] = list(args.pause_s)
        summary["roundtrip_rounds"] = args.rounds
        summary["roundtrip_p50_ms"] = {k: v["p50_ms"] for k, v in trip.items()}
        summary["roundtrip_p50_ms_per_round"] = {k: v["p50_ms_per_round"] for k, v in trip.items()}
        summary["roundtrip_p50_ratio"] = trip["mes"]["p50_ms"] / trip["bare"]["p50_ms"]
        summary["roundtrip_p99_ms"] = {k: v["p99_ms"] for k, v in trip.items()}
        summary["roundtrip_p99_ms_mes"] = trip["mes"]["p99_ms"]
        summary["roundtrip_goals_met"] = {
            "p50_ratio_le_1.5": summary["roundtrip_p50_ratio"] <= 1.5,
            "p99_le_100_ms": trip["mes"]["p99_ms"] <= 100.0,
        }
        summary["roundtrip_verdicts"] = {k: v["verdicts"] for k, v in trip.items()}
        summary["roundtrip_results_per_s"] = {k: v["results_per_s"] for k, v in trip.items()}
        summary["roundtrip_client_cpu_ms_per_result"] = {k: v["client_cpu_ms_per_result"] for k, v in trip.items()}
        summary["roundtrip_refused"] = {k: v["refused"][:5] for k, v in trip.items() if v["refused"]}
        summary["roundtrip_mes_by_station_type"] = trip["mes"]["by_station_type"]
    if stored is not None:
        summary["stored_by_mes"] = stored
    summary["mes_rss_mb"] = max(r["rss_mb"] for r in results if r["client"] == "mes")
    print(json.dumps(summary, indent=1))
    OUT.mkdir(parents=True, exist_ok=True)
    name = "opcua" if args.backend == "memory" else f"opcua_{args.backend}"
    if args.pause_s != DEFAULT_PAUSE_S:
        name += "_pause{:g}-{:g}".format(*args.pause_s)
    cases = [{k: v for k, v in r.items() if k != "latencies"} for r in results]
    (OUT / f"{name}.json").write_text(json.dumps({"cases": cases, "summary": summary}, indent=1))


def _pooled(cases: list[dict]) -> dict[str, Any]:
    """One client's round-trip cases pooled: percentiles over every round trip of every round."""
    if not cases:
        return {}
    verdicts: dict[str, int] = {}
    for case in cases:
        for name, count in case["verdicts"].items():
            verdicts[name] = verdicts.get(name, 0) + count
    cpu_s = sum(c["cpu_s"] for c in cases)
    return {
        **_latency_figures([x for c in cases for x in c["latencies"]]),
        "p50_ms_per_round": [c["p50_ms"] for c in cases],
        "verdicts": verdicts,
        "results_per_s": statistics.mean(c["results_per_s"] for c in cases),
        "client_cpu_ms_per_result": 1e3 * cpu_s / max(sum(verdicts.values()), 1),
        "refused": [x for c in cases for x in c["refused"]],
    }


if __name__ == "__main__":
    main()
