"""U of measured - expected: perturbation propagation agrees with Monte Carlo; the model's own U is added."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from app.cyclemodel.paramsets import load_shipped
from app.cyclemodel.products import DEMO_PRODUCTS
from app.cyclemodel.properties import Array, table_properties
from app.cyclemodel.provider import PLATEAU_MODES, CoolPropExpectations, evaluate_evi_step_rows, evaluate_plateau_rows
from app.cyclemodel.uncertainty import (
    InstrumentUncertainties,
    ModelUncertainties,
    monte_carlo,
    perturbation_rows,
    propagate,
)
from tests.cyclemodel.synthetic import model_unit_values


@pytest.mark.parametrize(("code", "plateau"), [("HPM-12-R32-EVI", "M10"), ("HPM-06-R290-EVI", "P07"),
                                               ("HPS-10-R32", "P45")])  # fmt: skip
def test_perturbation_uncertainty_agrees_with_monte_carlo_within_10_percent(code: str, plateau: str) -> None:
    product = DEMO_PRODUCTS[code]
    parameter_set = load_shipped(product_model_code=code)
    values = {k.removeprefix(f"{plateau}_"): float(v) for k, v in
              model_unit_values(product_model_code=code, plateau=plateau).items() if v is not None}  # fmt: skip
    mode = PLATEAU_MODES[plateau]
    evi_on = mode == "heating" and product.evi_on_at(air_temp_c=values["AirTemp_C"])
    instruments = InstrumentUncertainties()

    def evaluate(rows: Mapping[str, Array]) -> Mapping[str, tuple[Array, Array]]:
        evaluated, valid, _ = evaluate_plateau_rows(rows=rows, product=product, parameter_set=parameter_set,
                                                    mode=mode, evi_on=evi_on,
                                                    props=table_properties(product.refrigerant))  # fmt: skip
        assert valid.all()
        return evaluated

    rows, u = perturbation_rows(values=values, instruments=instruments)
    by_perturbation = propagate(evaluated=evaluate(rows), u=u)
    by_monte_carlo = monte_carlo(evaluate=evaluate, values=values, instruments=instruments, samples=6000, seed=1)
    for quantity, expanded in by_perturbation.items():
        assert expanded > 0.0, quantity
        assert expanded == pytest.approx(by_monte_carlo[quantity], rel=0.10), quantity


def test_instrument_uncertainties_are_data_with_defaults() -> None:
    tighter = InstrumentUncertainties(water_flow_fraction=0.002)
    assert tighter.standard(name="WaterFlow_l_min", value=20.0) == pytest.approx(0.02)
    assert InstrumentUncertainties().standard(name="WaterFlow_l_min", value=20.0) == pytest.approx(0.1)


def test_model_uncertainty_scales_with_relative_quantities() -> None:
    model = ModelUncertainties()
    assert model.expanded(quantity="capacity_w", expected=10_000.0) == pytest.approx(300.0)
    assert model.expanded(quantity="condensing_temp_c", expected=40.0) == pytest.approx(0.8)
    assert np.isfinite(model.expanded(quantity="cop", expected=4.0))


@pytest.mark.parametrize("code", ["HPM-06-R290-EVI", "HPM-12-R32-EVI"])
def test_evi_step_uncertainty_agrees_with_monte_carlo_within_10_percent(code: str) -> None:
    product = DEMO_PRODUCTS[code]
    parameter_set = load_shipped(product_model_code=code)
    m10 = {k.removeprefix("M10_"): float(v) for k, v in
           model_unit_values(product_model_code=code, plateau="M10").items() if v is not None}  # fmt: skip
    nominal = {name: m10[name] for name in ("AirTemp_C", "WaterIn_C", "WaterOut_C", "WaterFlow_l_min", "CompSpeed_rps")}
    capacities = (6000.0, 6000.0 * 1.12)
    instruments = InstrumentUncertainties()

    def evaluate(rows: Mapping[str, Array]) -> Mapping[str, tuple[Array, Array]]:
        evaluated, valid, _, _ = evaluate_evi_step_rows(rows=rows, nominal=nominal, capacities=capacities,
                                                        parameter_set=parameter_set,
                                                        props=table_properties(product.refrigerant))  # fmt: skip
        assert valid.all()
        return evaluated

    rows, u = perturbation_rows(values=nominal, instruments=instruments)
    by_perturbation = propagate(evaluated=evaluate(rows), u=u)["capacity_gain_fraction"]
    by_monte_carlo = monte_carlo(evaluate=evaluate, values=nominal, instruments=instruments, samples=6000, seed=2)
    assert by_perturbation > 0.0
    assert by_perturbation == pytest.approx(by_monte_carlo["capacity_gain_fraction"], rel=0.10)


def test_evi_step_check_uses_the_propagated_uncertainty() -> None:
    values = model_unit_values(product_model_code="HPM-12-R32-EVI", plateau="M10")
    provider = CoolPropExpectations()
    without = provider.evi_step(product_model_code="HPM-12-R32-EVI", values=values)
    assert without.valid and without.capacity_gain_uncertainty is None  # no measured step: nothing to propagate
    measured = {
        "M10_EviOff_Capacity_W": 7000.0,
        "M10_EviOn_Capacity_W": 7000.0 * (1.0 + without.capacity_gain_fraction),
    }
    step = provider.evi_step(product_model_code="HPM-12-R32-EVI", values={**values, **measured})
    model_only = ModelUncertainties().evi_gain_points
    assert step.capacity_gain_uncertainty is not None and step.capacity_gain_uncertainty > model_only
    # A tighter flow meter and thermometers shrink only the instrument part.
    tight = CoolPropExpectations(instruments=InstrumentUncertainties(water_temp_k=0.01, water_flow_fraction=0.001,
                                                                     air_temp_k=0.01, comp_speed_rps=0.01))  # fmt: skip
    tighter = tight.evi_step(product_model_code="HPM-12-R32-EVI", values={**values, **measured})
    assert tighter.capacity_gain_uncertainty is not None
    assert model_only < tighter.capacity_gain_uncertainty < step.capacity_gain_uncertainty


def test_the_evi_capacity_check_is_guard_banded_with_the_propagated_uncertainty() -> None:
    from app.rules import build_spec, judge
    from tests.rules.factories import HPM_06, NOW, good_result

    provider = CoolPropExpectations()
    result = good_result("run_in")
    judgement = judge(station_type="run_in", spec=build_spec(station_type="run_in", product=HPM_06), result=result,
                      expectations=provider, retest_count=0, now=NOW)  # fmt: skip
    check = next(c for c in judgement.checks if c.name == "evi_capacity_gain")
    values = {m.name: m.value for m in result.measurements if isinstance(m.value, float)}
    step = provider.evi_step(product_model_code="HPM-06-R290-EVI", values=values)
    assert step.capacity_gain_uncertainty is not None
    assert check.uncertainty == pytest.approx(step.capacity_gain_uncertainty / step.capacity_gain_fraction)


def test_propagation_uses_central_differences_exact_for_a_quadratic() -> None:
    """For r(x) = x² at x = 1 with u = 0.5 the central difference (r(x+u) − r(x−u))/2 = 2·x·u = 1.0 exactly
    (a one-sided r(x+u) − r(x) would give 1.25): U = k·1.0 = 2.0."""
    instruments = InstrumentUncertainties(air_temp_k=1.0)  # U = 1.0 K, so u = 0.5 K
    rows, u = perturbation_rows(values={"AirTemp_C": 1.0}, instruments=instruments)
    assert u == {"AirTemp_C": 0.5}
    assert list(rows["AirTemp_C"]) == [1.0, 1.5, 0.5]
    x = rows["AirTemp_C"]
    expanded = propagate(evaluated={"q": (x**2, np.zeros_like(x))}, u=u)
    assert expanded["q"] == pytest.approx(2.0, rel=1e-12)


def test_propagation_adds_every_inputs_contribution_in_quadrature() -> None:
    """A residual linear in all eleven inputs, r = Σ aᵢ·xᵢ: U = k·√Σ(aᵢ·uᵢ)², every input counted (the last too)."""
    instruments = InstrumentUncertainties()
    values = {"AirTemp_C": 7.0, "WaterIn_C": 30.0, "WaterOut_C": 35.0, "WaterFlow_l_min": 17.0, "CompSpeed_rps": 60.0,
              "SuctionP_bar": 6.0, "DischargeP_bar": 20.0, "SuctionT_C": 5.0, "DischargeT_C": 70.0,
              "CompPower_W": 1500.0, "UnitPower_W": 1700.0}  # fmt: skip
    rows, u = perturbation_rows(values=values, instruments=instruments)
    assert set(u) == set(values)
    coefficients = {name: float(i + 1) for i, name in enumerate(values)}
    for only in [None, *values]:  # all inputs together, then each alone (the others' coefficient zero)
        a = coefficients if only is None else {name: (c if name == only else 0.0) for name, c in coefficients.items()}
        residual = sum(a[name] * rows[name] for name in values)
        expected = 2.0 * np.sqrt(sum((a[name] * u[name]) ** 2 for name in values))
        got = propagate(evaluated={"r": (residual, np.zeros_like(residual))}, u=u)["r"]
        assert got == pytest.approx(expected, rel=1e-9), only or "all inputs"


def test_monte_carlo_draws_the_requested_samples_reproducibly_from_its_seed() -> None:
    sizes: list[int] = []

    def evaluate(rows: Mapping[str, Array]) -> Mapping[str, tuple[Array, Array]]:
        sizes.append(len(rows["WaterFlow_l_min"]))
        return {"flow": (rows["WaterFlow_l_min"], np.zeros_like(rows["WaterFlow_l_min"]))}

    values = {"WaterFlow_l_min": 20.0}
    instruments = InstrumentUncertainties()  # 1 % of 20 l/min: U = 0.2 l/min
    first = monte_carlo(evaluate=evaluate, values=values, instruments=instruments, samples=4000, seed=7)
    again = monte_carlo(evaluate=evaluate, values=values, instruments=instruments, samples=4000, seed=7)
    other = monte_carlo(evaluate=evaluate, values=values, instruments=instruments, samples=4000, seed=8)
    assert sizes == [4000, 4000, 4000]
    assert first == again  # a verdict's U can be re-derived: same seed, same numbers
    assert first != other
    assert first["flow"] == pytest.approx(0.2, rel=0.05)


@pytest.mark.parametrize(("code", "plateau"), [("HPM-06-R290-EVI", "P07"), ("HPS-10-R32", "P45")])
def test_plateau_u_is_the_instruments_and_the_models_own_u_in_quadrature(code: str, plateau: str) -> None:
    """With every instrument exact the residual's U is the model's own; with the model exact, the instruments';
    with both, their root sum of squares."""
    values = model_unit_values(product_model_code=code, plateau=plateau)
    exact_instruments = {f"instrument_{name}": 0.0 for name in InstrumentUncertainties.__dataclass_fields__}
    exact_model = {f"model_{name}": 0.0 for name in ModelUncertainties.__dataclass_fields__}
    provider = CoolPropExpectations()

    def judged(settings: dict[str, float] | None):  # type: ignore[no-untyped-def]
        result = provider.plateau(product_model_code=code, plateau=plateau, values=values, uncertainties=settings)  # type: ignore[arg-type]
        assert result.valid, result.reason
        return result.quantities

    model_only, instruments_only, both = judged(exact_instruments), judged(exact_model), judged(None)
    model = ModelUncertainties()
    capacity = model_only["capacity_w"]
    assert capacity.uncertainty == pytest.approx(model.capacity_fraction * abs(capacity.expected), rel=1e-9)
    assert model_only["discharge_temp_c"].uncertainty == pytest.approx(model.discharge_temp_k, rel=1e-9)
    assert model_only["condensing_temp_c"].uncertainty == pytest.approx(model.saturation_temp_k, rel=1e-9)
    for name, residual in both.items():
        assert instruments_only[name].uncertainty > 0.0, name
        assert residual.uncertainty == pytest.approx(
            np.hypot(instruments_only[name].uncertainty, model_only[name].uncertainty), rel=1e-9
        ), name
