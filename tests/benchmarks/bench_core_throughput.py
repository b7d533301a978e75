"""Benchmark 1 of the core: station start + complete requests per second through HTTP on
PostgreSQL, against the trivial health route on the same server in the same run.

Each start and each complete counts as one request. The completions are realistic coil-expansion
results (four values, a 24-sample hairpin trace and a 2,400-sample force curve, about 70 kB of JSON)
judged by the rules engine, as a PLC integration over HTTP would send. Goal: ratio >= 0.3.
Usage: python tests/benchmarks/bench_core_throughput.py [--seconds 20] [--workers 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

from tests.api.driver import station_payload
from tests.auth_support import auth_headers
from tests.benchmarks.common import (
    SERVER_PIDS,
    mes_server,
    percentile,
    postgres_cpu_seconds,
    process_cpu_seconds,
    report,
    scratch_database,
)

# generated and JSON-encoded once, outside the timed loop: the load generator shares the two cores
# with the server, so it must not spend them on physics or on encoding 70 kB per request
TEMPLATE_SERIAL = "HP27-0000001"
TEMPLATE = json.dumps(
    station_payload("coil_expansion", TEMPLATE_SERIAL) | {"result_id": f"R-{TEMPLATE_SERIAL}"}
).encode()
JSON_HEADERS = {"content-type": "application/json"}


def completion_body(serial: str) -> bytes:
    """The template with this unit's serial and result id (serials all have the template's length)."""
    assert len(serial) == len(TEMPLATE_SERIAL)
    return TEMPLATE.replace(TEMPLATE_SERIAL.encode(), serial.encode())


async def _stations_and_units(base: str, workers: int, units: int) -> list[list[str]]:
    # master data and work orders are an administrator's; starts and completions an operator's
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=auth_headers("admin")) as c:
        for w in range(workers):
            sid = f"CEX-B{w:02d}"
            r = await c.put(
                f"/api/v1/stations/{sid}", json={"station_id": sid, "station_type": "coil_expansion", "line": "BENCH"}
            )
            r.raise_for_status()
        r = await c.post(
            "/api/v1/work-orders",
            json={
                "number": "WO-THROUGHPUT",
                "product_model": "HPM-06-R290-EVI",
                "first_serial": "HP27-0000001",
                "quantity": units,
            },
        )
        r.raise_for_status()
    serials = [f"HP27-{i:07d}" for i in range(1, units + 1)]
    return [serials[w::workers] for w in range(workers)]


async def _drive_route(base: str, seconds: float, workers: int, queues: list[Iterator[str]]) -> tuple[int, list[float]]:
    latencies: list[float] = []
    done = 0
    deadline = time.monotonic() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        sid = f"CEX-B{w:02d}"
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=auth_headers("operator")) as c:
            for serial in queues[w]:
                if time.monotonic() > deadline:
                    return
                t = time.perf_counter()
                r = await c.post(f"/api/v1/stations/{sid}/start", json={"serial": serial})
                assert r.status_code == 201, r.text
                latencies.append(time.perf_counter() - t)
                t = time.perf_counter()
                r = await c.post(
                    f"/api/v1/stations/{sid}/complete", content=completion_body(serial), headers=JSON_HEADERS
                )
                assert r.status_code == 200, r.text
                latencies.append(time.perf_counter() - t)
                done += 2

    started = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    return done, [time.monotonic() - started, *latencies]


async def _drive_health(base: str, seconds: float, workers: int) -> tuple[int, float]:
    done = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=auth_headers("operator")) as c:
            while time.monotonic() < deadline:
                r = await c.get("/api/v1/health")
                assert r.status_code == 200
                done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return done, time.monotonic() - started


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=6, help="alternating baseline/subject rounds")
    args = parser.parse_args()
    with scratch_database("mes_bench_tp") as url, mes_server(url) as base:
        queues = [iter(q) for q in asyncio.run(_stations_and_units(base, args.workers, 60_000))]
        # alternate short rounds of the baseline and the subject, so that load which comes and goes
        # on a shared machine falls on both alike
        health_n = route_n = 0
        health_s = route_s = 0.0
        latencies: list[float] = []
        # CPU seconds spent during the subject's rounds: [server, load generator, PostgreSQL] and the
        # server's during the baseline's, read around each round
        route_cpu = [0.0, 0.0, 0.0]
        health_server_cpu = 0.0
        pid = SERVER_PIDS[base]
        for _ in range(args.rounds):
            before = process_cpu_seconds(pid)
            n, s = asyncio.run(_drive_health(base, args.seconds / args.rounds / 2, args.workers))
            health_server_cpu += process_cpu_seconds(pid) - before
            health_n, health_s = health_n + n, health_s + s
            before_all = (process_cpu_seconds(pid), _own_cpu_seconds(), postgres_cpu_seconds())
            n, timing = asyncio.run(_drive_route(base, args.seconds / args.rounds / 2, args.workers, queues))
            after_all = (process_cpu_seconds(pid), _own_cpu_seconds(), postgres_cpu_seconds())
            route_cpu = [total + b - a for total, a, b in zip(route_cpu, before_all, after_all, strict=True)]
            route_n, route_s = route_n + n, route_s + timing[0]
            latencies += timing[1:]
        health_rate, route_rate = health_n / health_s, route_n / route_s
        report(
            "core_throughput",
            {
                "workers (concurrent clients)": args.workers,
                "alternating rounds": args.rounds,
                "health route, requests/s": round(health_rate, 1),
                "start+complete, requests/s": round(route_rate, 1),
                "ratio (goal >= 0.3)": round(route_rate / health_rate, 3),
                "start/complete latency p50 ms": round(1000 * percentile(latencies, 50), 1),
                "start/complete latency p99 ms": round(1000 * percentile(latencies, 99), 1),
                "CPU ms per start/complete request: server": round(1000 * route_cpu[0] / route_n, 2),
                "CPU ms per start/complete request: load generator": round(1000 * route_cpu[1] / route_n, 2),
                "CPU ms per start/complete request: PostgreSQL (all its processes)": round(
                    1000 * route_cpu[2] / route_n, 2
                ),
                "CPU ms per health request: server": round(1000 * health_server_cpu / health_n, 3),
            },
        )


if __name__ == "__main__":
    main()
