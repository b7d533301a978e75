"""Benchmark of the UI: server time per page on the core benchmark database (PostgreSQL seeded with
200,000 finished units, traces for 10,000 of them, cylinder lots of 5,000 units).

Goal: every page <= 300 ms server time. Each page is requested over loopback from a separate
``mes serve`` process; the figure is the client-measured response time, an upper bound of the
server time (loopback adds well under a millisecond). The pages are requested as a browser does:
signed in on the sign-in page as the demo supervisor (a role every page allows), with the session cookie.
Usage: python tests/benchmarks/bench_ui.py [--units 200000] [--trace-units 10000] [--repeat 30]
       [--quick] | [--keep] (keep the seeded database and print its URL) | [--url URL] (reuse one)
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

from tests.benchmarks.common import mes_server, percentile, report, scratch_database
from tests.benchmarks.seed import LOT_SIZE, seed

GOAL_MS = 300.0
SIGN_IN = {"username": "supervisor1", "password": "demo-supervisor"}  # the demo supervisor: tablet and workbench
SEED_DAY = "2026-01-06T06:00:00Z"  # the seeder's first day of production ends here


def pages(rng: random.Random, units: int, trace_units: int) -> dict[str, str]:
    """One URL per page (serials and lots drawn at random, traced units where plots matter)."""
    traced = f"HP25-{rng.randint(1, max(1, trace_units)):07d}"
    any_unit = f"HP25-{rng.randint(1, units):07d}"
    lot = f"CYL-{rng.randrange(max(1, units // LOT_SIZE)):05d}"
    return {
        "tablet page": "/ui/tablet",
        "tablet panel (unit at RUN-01)": f"/ui/tablet/RUN-01/panel?serial={any_unit}",
        "search by serial (redirect)": f"/ui/?q={any_unit}",
        "search by work order": "/ui/?q=WO-BENCH",
        "search by cylinder lot": f"/ui/?q={lot}",
        "birth record (traced unit)": f"/ui/units/{traced}",
        "birth record CSV": f"/ui/units/{traced}/birth-record.csv",
        f"genealogy of a {LOT_SIZE}-unit lot": f"/ui/genealogy?identifier={lot}&kind=cylinder_lot",
        "SPC charged mass, 500 units": "/ui/spc?characteristic=charging:charged_mass&model=HPM-06-R290-EVI&n=500",
        "dashboard, last 24 h": "/ui/dashboard",
        "dashboard, a seeded day": f"/ui/dashboard?hours=24&until={SEED_DAY}",
        "nameplate": f"/ui/units/{any_unit}/nameplate",
        "nameplate ZPL": f"/ui/units/{any_unit}/nameplate.zpl",
        "spec revisions": "/ui/specs",
        "spec revision": "/ui/specs/1",
        "spec compare": "/ui/specs/compare?a=1&b=2",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--trace-units", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--url", help="a database seeded before with the same --units/--trace-units")
    parser.add_argument(
        "--quick", action="store_true", help="20,000 units, 2,000 traced, 10 rounds (make bench --quick)"
    )
    args = parser.parse_args()
    if args.quick:
        args.units, args.trace_units, args.repeat = 20_000, 2_000, 10
    if args.url:
        measure(args.url, args, {"reused database": args.url})
        return
    with scratch_database("mes_bench_ui", keep=args.keep) as url:
        counts = seed(url, units=args.units, trace_units=args.trace_units)
        if args.keep:
            print(f"seeded database kept: {url}")
        measure(url, args, counts)


def measure(url: str, args: argparse.Namespace, counts: dict[str, object]) -> None:
    """Request every page ``args.repeat`` times (after three warm-up rounds) and report p50/p95."""
    rng = random.Random(5)
    with mes_server(url) as base, httpx.Client(base_url=base, timeout=60, headers={"Accept": "text/html"}) as client:
        signed_in = client.post("/ui/login", json=SIGN_IN)
        assert signed_in.status_code == 200 and client.cookies.get("mes_session"), f"sign-in: {signed_in.text[:300]}"
        timings: dict[str, list[float]] = {}
        for i in range(args.repeat + 3):
            for name, path in pages(rng, args.units, args.trace_units).items():
                t = time.perf_counter()
                r = client.get(path, follow_redirects=False)
                elapsed = time.perf_counter() - t
                redirected_to_page = r.status_code == 303 and not r.headers["location"].startswith("/ui/login")
                assert r.status_code == 200 or redirected_to_page, f"{name}: {r.status_code} {r.text[:300]}"
                if i >= 3:  # the first rounds warm caches and code paths
                    timings.setdefault(name, []).append(elapsed)
        figures: dict[str, object] = {"seeded": counts, "goal ms": GOAL_MS}
        worst = 0.0
        for name, samples in timings.items():
            p50, p95 = 1000 * percentile(samples, 50), 1000 * percentile(samples, 95)
            worst = max(worst, p95)
            figures[f"{name} p50/p95 ms"] = f"{p50:.1f} / {p95:.1f}"
        figures["worst page p95 ms"] = round(worst, 1)
        figures["all pages within goal"] = worst <= GOAL_MS
        report("ui_pages", figures)


if __name__ == "__main__":
    main()
