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
