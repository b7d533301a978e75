"""Coupled cycle solves per second: fast path (tables) vs HEOS, measured in the same run.

Run: ``.venv/bin/python tests/benchmarks/bench_cyclemodel.py`` (goal: ≥ 20,000 solves/s on one core
for the fast path, with EVI off and on). A "solve" is one operating point's coupled evaporator/condenser
balance; the fast path solves a batch of points per call (how plateau uncertainty and Monte Carlo use
it), and the single-point latency is printed as well.
"""

from __future__ import annotations

import os
import sys
import time

# One core, as the goal is stated: numpy must not spread a batch over threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np

from app.cyclemodel.cycle import OperatingPoints, solve_cycle
from app.cyclemodel.envelope import random_points
from app.cyclemodel.paramsets import load_shipped
from app.cyclemodel.products import DEMO_PRODUCTS
from app.cyclemodel.properties import heos_properties, table_properties

PRODUCT = "HPM-12-R32-EVI"


def _rate(solve: object, points: OperatingPoints, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        solve(points)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return np.size(points.air_temp_c) / best


def main() -> None:
    product = DEMO_PRODUCTS[PRODUCT]
    params = load_shipped(product_model_code=PRODUCT).parameters
    fast, heos = table_properties(product.refrigerant), heos_properties(product.refrigerant)
    rates: dict[tuple[str, bool], float] = {}
    for evi_on in (False, True):
        print(f"{PRODUCT} ({product.refrigerant}), heating envelope, EVI {'on' if evi_on else 'off'}")
        for label, props, count, repeats in (("fast (tables)", fast, 20_000, 3), ("HEOS", heos, 200, 1)):
            points = random_points(product=product, mode="heating", count=count, seed=7)

            def solve(p: OperatingPoints, props=props, evi_on=evi_on) -> None:  # type: ignore[no-untyped-def]
                solve_cycle(props=props, params=params, mode="heating", evi_on=evi_on, points=p)

            rates[label, evi_on] = rate = _rate(solve, points, repeats)
            print(f"  {label:14s} batch of {count:6d}: {rate:10.0f} solves/s")
        print(f"  fast/HEOS throughput ratio: {rates['fast (tables)', evi_on] / rates['HEOS', evi_on]:.0f}x")
    fast_rate = min(rates["fast (tables)", False], rates["fast (tables)", True])
    one = random_points(product=product, mode="heating", count=1, seed=3)
    start = time.perf_counter()
    for _ in range(200):
        solve_cycle(props=fast, params=params, mode="heating", evi_on=False, points=one)
    single_ms = (time.perf_counter() - start) / 200 * 1e3
    print(f"  fast single-point latency: {single_ms:.2f} ms/solve")
    print(f"goal >= 20,000 solves/s on one core, EVI off and on: {'met' if fast_rate >= 20_000 else 'NOT met'}")
    # The machine is shared: a figure means little without the load it was measured under.
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
