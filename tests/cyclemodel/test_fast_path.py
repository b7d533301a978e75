"""The fast path (splines over HEOS grids) agrees with HEOS itself across the run-in envelope."""

from __future__ import annotations

import numpy as np
import pytest

from app.cyclemodel.cycle import solve_cycle
from app.cyclemodel.envelope import ENVELOPE, random_points
from app.cyclemodel.paramsets import load_shipped
from app.cyclemodel.products import DEMO_PRODUCTS
from app.cyclemodel.properties import heos_properties, table_properties

CASES = [
    (code, mode, evi_on)
    for code, product in DEMO_PRODUCTS.items()
    for mode in ("heating", "cooling")
    for evi_on in ((False, True) if product.evi and mode == "heating" else (False,))
]


@pytest.mark.parametrize(("code", "mode", "evi_on"), CASES)
def test_fast_path_agrees_with_heos_within_0_1_percent_cop_and_0_2_k_discharge(
    code: str, mode: str, evi_on: bool
) -> None:
    product = DEMO_PRODUCTS[code]
    params = load_shipped(product_model_code=code).parameters
    points = random_points(product=product, mode=mode, count=60, seed=20261127)  # type: ignore[arg-type]
    assert points.superheat_k.min() >= ENVELOPE[mode].superheat_k[0]  # type: ignore[index]
    fast = solve_cycle(props=table_properties(product.refrigerant), params=params, mode=mode,  # type: ignore[arg-type]
                       evi_on=evi_on, points=points)  # fmt: skip
    heos = solve_cycle(props=heos_properties(product.refrigerant), params=params, mode=mode,  # type: ignore[arg-type]
                       evi_on=evi_on, points=points)  # fmt: skip
    assert np.array_equal(fast.valid, heos.valid)
    ok = fast.valid
    # R32 without injection leaves the valid region (discharge > 160 °C) in the cold-air, hot-water corner.
    assert ok.mean() > 0.75
    assert np.max(np.abs(fast.cop[ok] / heos.cop[ok] - 1.0)) < 0.001
    assert np.max(np.abs(fast.discharge_temp_c[ok] - heos.discharge_temp_c[ok])) < 0.2
    assert np.max(np.abs(fast.capacity_w[ok] / heos.capacity_w[ok] - 1.0)) < 0.001


def test_fast_properties_match_heos_near_saturation_at_small_superheat() -> None:
    """The tabular pitfall: 1-5 K superheat must not land on the liquid side."""
    rng = np.random.default_rng(5)
    for refrigerant in ("R290", "R32"):
        t_sat = rng.uniform(240.0, 330.0, 50)
        superheat = rng.uniform(1.0, 5.0, 50)
        fast = table_properties(refrigerant).vapour(t_sat, superheat)
        ref = heos_properties(refrigerant).vapour(t_sat, superheat)
        for a, b in zip(fast, ref, strict=True):
            assert np.max(np.abs(a / b - 1.0)) < 1e-5


@pytest.mark.parametrize("refrigerant", ["R290", "R32"])
def test_large_batches_give_the_same_spline_values_as_small_ones(refrigerant: str) -> None:
    """Large batches use per-cell polynomials, small ones scipy's splines: the same interpolant, on and
    off the grid's nodes and beyond its edges (bicubic tables held at the edge, cubic curves extrapolated)."""
    props = table_properties(refrigerant)
    rng = np.random.default_rng(11)
    n = 600
    t_sat = np.concatenate([rng.uniform(props.t_sat_min_k - 2.0, props.t_sat_max_k + 2.0, n - 10),
                            np.full(10, props.t_sat_min_k + 30.0)])  # fmt: skip
    h_v, s_v, _ = props.vapour(t_sat, np.zeros(n))
    superheat = np.concatenate([rng.uniform(-1.0, 45.0, n - 10), np.arange(10.0)])
    queries = {
        "p_sat": lambda i: props.p_sat(t_sat[i]),
        "t_sat": lambda i: props.t_sat(props.p_sat(t_sat[i]) * 1.001),
        "vapour": lambda i: np.stack(props.vapour(t_sat[i], superheat[i])),
        "vapour_h": lambda i: props.vapour_h(t_sat[i], superheat[i]),
        "vapour_h_from_s": lambda i: props.vapour_h_from_s(t_sat[i], s_v[i] + 20.0 * superheat[i]),
        "vapour_t_s_from_h": lambda i: np.stack(props.vapour_t_s_from_h(t_sat[i], h_v[i] + 4e3 * superheat[i])),
        "vapour_t_from_h": lambda i: props.vapour_t_from_h(t_sat[i], h_v[i] + 4e3 * superheat[i]),
        "vapour_s_from_h": lambda i: props.vapour_s_from_h(t_sat[i], h_v[i] + 4e3 * superheat[i]),
        "liquid_h": lambda i: props.liquid_h(t_sat[i], superheat[i]),
    }
    everything = np.arange(n)
    for name, query in queries.items():
        large = query(everything)
        small = np.concatenate([query(chunk) for chunk in np.array_split(everything, n // 3)], axis=-1)
        assert np.max(np.abs(large / small - 1.0)) < 1e-12, name
