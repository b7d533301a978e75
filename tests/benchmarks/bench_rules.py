"""Judging throughput: verdicts per second for a full monobloc unit on one core.

A unit is all seven line stations of HPM-06-R290-EVI judged once each: coil expansion, brazing,
sub-base assembly, vacuum dehydration (2,700-sample pressure trace), charging, leak test (tracer
conversion through app.cyclemodel.leak) and run-in (three plateaus, EVI step, defrost; six traces of
4,800 samples) with its cycle-model expectations. The expectations are evaluated once beforehand and
replayed, so the figure is the rules engine's own cost; the cycle model has its own benchmark.

Run: ``.venv/bin/python tests/benchmarks/bench_rules.py [--seconds 5]``. Goal: ≥ 200 units/s.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.domain.expectations import EviStepExpectation, PlateauCode, PlateauExpectation
from app.domain.results import StationResult, Verdict
from app.rules import Spec, build_spec, judge
from tests.rules.factories import (
    HPM_06,
    NOW,
    FakeCycleExpectations,
    good_result,
    vacuum_pressure,
    with_trace,
    with_values,
)

LINE = ("coil_expansion", "brazing", "sub_base_assembly", "vacuum_dehydration", "charging", "leak_test", "run_in")
GOAL_UNITS_PER_S = 200.0


class ReplayedExpectations:
    """Answers from a cycle model evaluated once: the benchmark measures judging, not physics."""

    def __init__(self, model: FakeCycleExpectations, values: Mapping[str, float | None]) -> None:
        code = HPM_06.model_code
        self._version = model.model_version(code)
        self._plateaus = {
            p: model.plateau(product_model_code=code, plateau=p, values=values) for p in ("M10", "P07", "P45")
        }
        self._evi = model.evi_step(product_model_code=code, values=values)
        self._leak = model

    def model_version(self, product_model_code: str) -> str:
        return self._version

    def plateau(
        self,
        *,
        product_model_code: str,
        plateau: PlateauCode,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> PlateauExpectation:
        return self._plateaus[plateau]

    def evi_step(
        self,
        *,
        product_model_code: str,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> EviStepExpectation:
        return self._evi

    def leak_rate_g_per_year(
        self, *, tracer_gas: str, signal_mbar_l_s: float, test_pressure_bar_abs: float, refrigerant: str
    ) -> float:
        return self._leak.leak_rate_g_per_year(
            tracer_gas=tracer_gas,
            signal_mbar_l_s=signal_mbar_l_s,
            test_pressure_bar_abs=test_pressure_bar_abs,
            refrigerant=refrigerant,
        )


def monobloc_unit() -> tuple[dict[str, StationResult], dict[str, Spec]]:
    results = {code: good_result(code, HPM_06) for code in LINE}
    vacuum = with_values(results["vacuum_dehydration"], IsolationAt_s=2099.0)
    results["vacuum_dehydration"] = with_trace(vacuum, vacuum_pressure(isolation_s=2099.0))
    assert len(results["vacuum_dehydration"].traces[0].values) == 2700
    specs = {code: build_spec(station_type=code, product=HPM_06, revision_id=1) for code in LINE}
    return results, specs


def judge_unit(results: dict[str, StationResult], specs: dict[str, Spec], expectations: object) -> bool:
    verdicts = [
        judge(
            station_type=code,
            spec=specs[code],
            result=results[code],
            expectations=expectations,  # type: ignore[arg-type]
            retest_count=0,
            now=NOW,
        ).verdict
        for code in LINE
    ]
    return all(v is Verdict.PASS for v in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to measure")
    parser.add_argument(
        "--live-model",
        action="store_true",
        help="ask app.cyclemodel's CoolPropExpectations live instead of replaying (adds the physics cost)",
    )
    args = parser.parse_args()
    results, specs = monobloc_unit()
    run_in_values = {m.name: m.value for m in results["run_in"].measurements if isinstance(m.value, float)}
    expectations: object = ReplayedExpectations(FakeCycleExpectations(), run_in_values)  # type: ignore[arg-type]
    assert judge_unit(results, specs, expectations), "the benchmark unit must pass every station"
    if args.live_model:
        from app.cyclemodel.provider import CoolPropExpectations

        # The demo unit's run-in values are not fitted to this model, so its verdict is not a PASS here.
        expectations = CoolPropExpectations()
        judge_unit(results, specs, expectations)
    for _ in range(20):  # warm-up (CoolProp viscosity caches, numpy)
        judge_unit(results, specs, expectations)
    per_station: dict[str, float] = {}
    for code in LINE:
        start = time.perf_counter()
        for _ in range(50):
            judge(
                station_type=code,
                spec=specs[code],
                result=results[code],
                expectations=expectations,
                retest_count=0,
                now=NOW,
            )
        per_station[code] = (time.perf_counter() - start) / 50 * 1000.0
    units = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        judge_unit(results, specs, expectations)
        units += 1
    elapsed = time.perf_counter() - start
    rate = units / elapsed
    print("per station (ms):", ", ".join(f"{code} {ms:.2f}" for code, ms in per_station.items()))
    source = "live cycle model" if args.live_model else "replayed expectations"
    print(
        f"judged {units} full monobloc units ({source}) in {elapsed:.2f} s on one core: {rate:.0f} units/s "
        f"({1000.0 / rate:.2f} ms per unit; goal ≥ {GOAL_UNITS_PER_S:.0f} units/s: "
        f"{'met' if rate >= GOAL_UNITS_PER_S else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
