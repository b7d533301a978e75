"""Product physics data the cycle model needs, and the three demo products of line.md.

This is the model's view of a product model (refrigerant, EVI, rating points, internal volume);
the MES's master data is the source, and ``DEMO_PRODUCTS`` mirrors the demo master data.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.cyclemodel.cycle import Mode

# EN 14511 rating: 5 K water temperature difference at the rating point.
RATING_WATER_DELTA_K = 5.0


@dataclass(frozen=True, slots=True)
class RatingPoint:
    """One EN 14511 rating point from the product's test report.

    ``comp_speed_rps`` is the compressor speed the manufacturer declares for the rating test (inverter
    units are rated at a fixed frequency); ``evi_on`` says whether vapour injection ran.
    """

    name: str
    mode: Mode
    air_temp_c: float
    water_out_c: float
    capacity_w: float
    cop: float  # EER in cooling mode
    comp_speed_rps: float
    evi_on: bool = False
    water_delta_k: float = RATING_WATER_DELTA_K

    @property
    def water_in_c(self) -> float:
        """Water inlet temperature: outlet minus (heating) or plus (cooling) the rating ΔT."""
        sign = -1.0 if self.mode == "heating" else 1.0
        return self.water_out_c + sign * self.water_delta_k


@dataclass(frozen=True, slots=True)
class ProductPhysics:
    """What the physics needs to know about one product model."""

    model_code: str
    refrigerant: str  # "R290" or "R32"
    gwp: float
    evi: bool
    internal_volume_l: float
    max_allowable_pressure_bar_gauge: float
    nominal_charge_g: float | None
    charge_tolerance_g: float | None
    rating_points: tuple[RatingPoint, ...]
    compressor_displacement_hint_cm3: float  # from the compressor's datasheet; a starting value for the fit
    # EVI units open the injection valve below this air temperature (plant/product setting).
    evi_on_below_air_temp_c: float = 0.0

    def evi_on_at(self, *, air_temp_c: float) -> bool:
        """Whether the unit injects vapour at this air temperature in normal operation."""
        return self.evi and air_temp_c < self.evi_on_below_air_temp_c


def _ratings(
    a7: tuple[float, float], am7: tuple[float, float], a35: tuple[float, float], *, evi: bool
) -> tuple[RatingPoint, ...]:
    # Declared rating speeds of the demo units (illustrative, product data).
    return (
        RatingPoint("A7/W35", "heating", 7.0, 35.0, a7[0], a7[1], comp_speed_rps=60.0),
        RatingPoint("A-7/W35", "heating", -7.0, 35.0, am7[0], am7[1], comp_speed_rps=66.0 if evi else 70.0, evi_on=evi),
        RatingPoint("A35/W7", "cooling", 35.0, 7.0, a35[0], a35[1], comp_speed_rps=70.0),
    )


DEMO_PRODUCTS: dict[str, ProductPhysics] = {
    p.model_code: p
    for p in (
        ProductPhysics(
            model_code="HPM-06-R290-EVI", refrigerant="R290", gwp=3.0, evi=True, internal_volume_l=2.5,
            max_allowable_pressure_bar_gauge=25.0, nominal_charge_g=140.0, charge_tolerance_g=2.0,
            rating_points=_ratings((6000.0, 4.8), (4400.0, 3.1), (5500.0, 3.0), evi=True),
            compressor_displacement_hint_cm3=19.0,
        ),
        ProductPhysics(
            model_code="HPM-12-R32-EVI", refrigerant="R32", gwp=675.0, evi=True, internal_volume_l=4.0,
            max_allowable_pressure_bar_gauge=42.0, nominal_charge_g=1200.0, charge_tolerance_g=10.0,
            rating_points=_ratings((12000.0, 4.6), (8900.0, 2.9), (11000.0, 2.9), evi=True),
            compressor_displacement_hint_cm3=38.0,
        ),
        ProductPhysics(
            model_code="HPS-10-R32", refrigerant="R32", gwp=675.0, evi=False, internal_volume_l=3.2,
            max_allowable_pressure_bar_gauge=42.0, nominal_charge_g=None, charge_tolerance_g=None,
            rating_points=_ratings((10000.0, 4.4), (7000.0, 2.7), (9000.0, 3.1), evi=False),
            compressor_displacement_hint_cm3=30.0,
        ),
    )
}  # fmt: skip
