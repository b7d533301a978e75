"""Benchmark 2 of the core: birth-record and reverse-genealogy latency (p50/p99) over HTTP on
PostgreSQL seeded with 200,000 units, >= 10,000,000 measurements and traces for 10,000 units.

Goals: birth record p99 <= 20 ms; reverse genealogy of a 5,000-unit lot p99 <= 100 ms.
Usage: python tests/benchmarks/bench_core_traceability.py [--units 200000] [--trace-units 10000]
Seed once and measure many times: ``--keep`` leaves the seeded database and prints its URL;
``--database-url URL`` (with the same ``--units`` and ``--trace-units``) measures against it again.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

from tests.auth_support import auth_headers
from tests.benchmarks.common import mes_server, percentile, report, scratch_database
from tests.benchmarks.seed import LOT_SIZE, seed


def _timed(client: httpx.Client, path: str, params: dict[str, str] | None = None) -> tuple[float, httpx.Response]:
    t = time.perf_counter()
    r = client.get(path, params=params)
    return time.perf_counter() - t, r


@contextlib.contextmanager
def _database(args: argparse.Namespace) -> Iterator[tuple[str, dict[str, int] | str]]:
    if args.database_url:
        yield args.database_url, f"reused {args.units} units, {args.trace_units} with traces"
        return
    with scratch_database("mes_bench_trace", keep=args.keep) as url:
        counts = seed(url, units=args.units, trace_units=args.trace_units)
        if args.keep:
            print(f"  seeded database kept: --database-url {url}")
        yield url, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--trace-units", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--genealogy-requests", type=int, help="default: a tenth of --requests, at least 50")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database (drop it yourself)")
    parser.add_argument("--database-url", help="measure against a database seeded by an earlier --keep run")
    args = parser.parse_args()
    rng = random.Random(11)
    with (
        _database(args) as (url, counts),
        mes_server(url) as base,
        httpx.Client(base_url=base, timeout=60, headers=auth_headers()) as c,
    ):
        for _ in range(50):  # warm the server's code paths and caches
            c.get(f"/api/v1/units/HP25-{rng.randint(1, args.units):07d}/birth-record")
        birth, birth_traced = [], []
        for i in range(args.requests):
            traced = i % 2 == 0 and args.trace_units > 0
            n = rng.randint(1, args.trace_units) if traced else rng.randint(1, args.units)
            dt, r = _timed(c, f"/api/v1/units/HP25-{n:07d}/birth-record")
            assert r.status_code == 200 and len(r.json()["attempts"]) == 7, r.text[:300]
            (birth_traced if traced and n <= args.trace_units else birth).append(dt)
        lots = args.units // LOT_SIZE
        genealogy = []
        for _ in range(args.genealogy_requests or max(50, args.requests // 10)):
            lot = f"CYL-{rng.randrange(lots):05d}"
            dt, r = _timed(c, "/api/v1/genealogy", {"identifier": lot, "kind": "cylinder_lot"})
            assert r.status_code == 200 and r.json()["count"] == LOT_SIZE
            genealogy.append(dt)
        all_birth = birth + birth_traced
        report(
            "core_traceability",
            {
                "seeded": counts,
                "birth record p50 ms": round(1000 * percentile(all_birth, 50), 2),
                "birth record p99 ms (goal <= 20)": round(1000 * percentile(all_birth, 99), 2),
                "birth record with traces p99 ms": round(1000 * percentile(birth_traced, 99), 2)
                if birth_traced
                else None,
                f"genealogy of a {LOT_SIZE}-unit lot p50 ms": round(1000 * percentile(genealogy, 50), 2),
                f"genealogy of a {LOT_SIZE}-unit lot p99 ms (goal <= 100)": round(1000 * percentile(genealogy, 99), 2),
            },
        )


if __name__ == "__main__":
    main()
