"""U of measured - expected: perturbation propagation agrees with Monte Carlo; the model's own U is added."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from app.cyclemodel.paramsets import load_shipped
from app.cyclemodel.products import DEMO_PRODUCTS
from app.cyclemodel.properties import Array, table_properties
from app.cyclemodel.provider import PLATEAU_MODES, evaluate_plateau_rows
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
