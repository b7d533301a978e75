"""Fitted parameter sets: reproduce the rating data, stay inside physical bounds, carry their version."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from app.cyclemodel import CODE_VERSION
from app.cyclemodel.cli import register_cli
from app.cyclemodel.fitting import BOUNDS, fit_product, parameters_within_bounds, predict_ratings
from app.cyclemodel.paramsets import DEMO_SEED, from_json, load_shipped, parameter_set_id, to_json
from app.cyclemodel.products import DEMO_PRODUCTS
from app.cyclemodel.properties import heos_properties
from app.cyclemodel.provider import CoolPropExpectations


@pytest.mark.parametrize("code", sorted(DEMO_PRODUCTS))
def test_demo_seed_parameter_set_reproduces_rating_points_within_2_percent_inside_bounds(code: str) -> None:
    product = DEMO_PRODUCTS[code]
    parameter_set = load_shipped(product_model_code=code)
    assert parameters_within_bounds(parameter_set.parameters) == []
    # Checked on HEOS, not on the fast path the fit used.
    predicted = predict_ratings(
        product=product, parameters=parameter_set.parameters, props=heos_properties(product.refrigerant)
    )
    for point, (capacity_w, cop) in zip(product.rating_points, predicted, strict=True):
        assert capacity_w == pytest.approx(point.capacity_w, rel=0.02), point.name
        assert cop == pytest.approx(point.cop, rel=0.02), point.name


def test_fit_product_finds_parameters_inside_bounds_that_reproduce_the_ratings() -> None:
    outcome = fit_product(product=DEMO_PRODUCTS["HPS-10-R32"])
    assert outcome.max_rating_error < 0.02
    assert parameters_within_bounds(outcome.parameter_set.parameters) == []
    # The demo seed is what the fitting code produces from the demo master data (same numbers, same id).
    assert outcome.parameter_set.parameter_set_id == load_shipped(product_model_code="HPS-10-R32").parameter_set_id


def test_every_bound_is_a_real_interval() -> None:
    assert all(low < high for low, high in BOUNDS.values())


def test_parameter_set_id_changes_exactly_when_the_numbers_change() -> None:
    parameters = load_shipped(product_model_code="HPS-10-R32").parameters
    same = parameter_set_id(product_model_code="HPS-10-R32", parameters=parameters)
    changed = parameter_set_id(
        product_model_code="HPS-10-R32",
        parameters=dataclasses.replace(parameters, ua_water_hx_w_k=parameters.ua_water_hx_w_k + 1.0),
    )
    assert same == load_shipped(product_model_code="HPS-10-R32").parameter_set_id
    assert changed != same


def test_a_hand_edited_parameter_file_is_refused() -> None:
    raw = next(
        s for s in json.loads(DEMO_SEED.read_text())["parameter_sets"] if s["product_model_code"] == "HPS-10-R32"
    )
    raw["parameters"]["displacement_cm3"] *= 1.1
    with pytest.raises(ValueError, match="edited by hand"):
        from_json(json.dumps(raw))
    assert from_json(to_json(load_shipped(product_model_code="HPS-10-R32"))).parameter_set_id.startswith("HPS-10")


def test_model_version_names_code_version_and_parameter_set() -> None:
    provider = CoolPropExpectations()
    version = provider.model_version("HPM-06-R290-EVI")
    assert version == f"{CODE_VERSION}/{load_shipped(product_model_code='HPM-06-R290-EVI').parameter_set_id}"
    assert provider.model_version("XYZ-99").endswith("/no-parameter-set")


def test_cli_demo_seed_fit_registers_under_cyclemodel_and_dry_run_writes_nothing(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser(prog="mes")
    register_cli(parser.add_subparsers(dest="command"))
    seed = tmp_path / "seed.json"
    args = parser.parse_args(["cyclemodel", "fit", "HPS-10-R32", "--demo-seed", "--dry-run", "--seed-file", str(seed)])
    assert args.func(args) == 0
    assert list(tmp_path.iterdir()) == []
    assert "HPS-10-R32@" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "value"),
    [("motor_inverter_eff", 0.99), ("displacement_cm3", 120.0), ("aux_power_cooling_w", 600.0),
     ("displacement_cm3", 1.0), ("isentropic_eff_peak", 0.3)],
)  # fmt: skip
def test_the_bounds_check_names_a_parameter_above_or_below_its_physical_bounds(name: str, value: float) -> None:
    parameters = load_shipped(product_model_code="HPM-12-R32-EVI").parameters
    assert parameters_within_bounds(dataclasses.replace(parameters, **{name: value})) == [name]
    low, high = BOUNDS[name]
    assert parameters_within_bounds(dataclasses.replace(parameters, **{name: low})) == []
    assert parameters_within_bounds(dataclasses.replace(parameters, **{name: high})) == []
