"""The cycle model reads its product physics from the master data (``product_physics``): checked here
against the validated master-data document field by field (units, rating points, EVI data)."""

from __future__ import annotations

import pytest

from app.cyclemodel.products import DEMO_PRODUCTS
from app.services.master_data import DEMO_DOCUMENT, read_document

MASTER = {m.code: m for m in read_document(DEMO_DOCUMENT).product_models}
RATING_FIELDS = {
    "A7/W35": ("heating_a7w35_kw", "cop_a7w35"),
    "A-7/W35": ("heating_am7w35_kw", "cop_am7w35"),
    "A35/W7": ("cooling_a35w7_kw", "eer_a35w7"),
}


@pytest.mark.parametrize("code", sorted(DEMO_PRODUCTS))
def test_cycle_model_product_physics_agrees_with_the_demo_master_data(code: str) -> None:
    physics, master = DEMO_PRODUCTS[code], MASTER[code]
    assert physics.refrigerant == master.refrigerant and physics.evi == master.evi
    assert physics.gwp == master.gwp
    assert physics.internal_volume_l == master.internal_volume_l
    assert physics.max_allowable_pressure_bar_gauge == master.max_allowable_pressure_bar_g
    assert physics.nominal_charge_g == master.nominal_charge_g
    assert physics.charge_tolerance_g == master.charge_tolerance_g
    ratings = master.rating.model_dump()
    assert {p.name for p in physics.rating_points} == set(RATING_FIELDS)
    for point in physics.rating_points:
        capacity_field, efficiency_field = RATING_FIELDS[point.name]
        assert point.capacity_w == pytest.approx(1000.0 * ratings[capacity_field])
        assert point.cop == pytest.approx(ratings[efficiency_field])
    cycle = master.cycle_physics
    assert cycle is not None
    speeds = cycle.rating_compressor_speed_rps.model_dump()
    assert [p.comp_speed_rps for p in physics.rating_points] == [speeds["a7w35"], speeds["am7w35"], speeds["a35w7"]]
    assert [p.evi_on for p in physics.rating_points] == [
        p.name in cycle.evi_on_in_ratings for p in physics.rating_points
    ]
    assert physics.compressor_displacement_hint_cm3 == cycle.compressor_displacement_cm3
    if physics.evi:
        assert (physics.economiser_approach_k, physics.injection_superheat_k) == (
            cycle.economiser_approach_k,
            cycle.injection_superheat_k,
        )


def test_every_demo_master_data_model_has_cycle_model_physics() -> None:
    assert set(MASTER) == set(DEMO_PRODUCTS)
