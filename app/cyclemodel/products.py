"""The cycle model's view of a product model (refrigerant, EVI, rating points, compressor and economiser data).

The product-model master data is the only source: ``product_physics(...)`` reads one record of it
(the master-data document's product model, or the ``product_model`` row, as a mapping with the same
keys), and ``DEMO_PRODUCTS`` is the demo master data document read that way, for the simulator and the
tests that need no database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

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
    # EVI design data (economiser selection, EVI valve setpoint): inputs of the model, never fitted.
    economiser_approach_k: float = 5.0
    injection_superheat_k: float = 5.0

    def evi_on_at(self, *, air_temp_c: float) -> bool:
        """Whether the unit injects vapour at this air temperature in normal operation."""
        return self.evi and air_temp_c < self.evi_on_below_air_temp_c


# Rating points of the master data: (name, mode, air °C, water out °C, capacity field, COP/EER field, speed key).
_RATING_POINTS = (
    ("A7/W35", "heating", 7.0, 35.0, "heating_a7w35_kw", "cop_a7w35", "a7w35"),
    ("A-7/W35", "heating", -7.0, 35.0, "heating_am7w35_kw", "cop_am7w35", "am7w35"),
    ("A35/W7", "cooling", 35.0, 7.0, "cooling_a35w7_kw", "eer_a35w7", "a35w7"),
)


class NoCyclePhysicsError(LookupError):
    """The product model's master data carries no cycle-model physics (rating speeds, compressor data)."""


def product_physics(record: Mapping[str, Any]) -> ProductPhysics:
    """A product model's physics from its master-data record.

    ``record`` has the master-data keys: ``code``, ``refrigerant``, ``gwp``, ``evi``, ``internal_volume_l``,
    ``max_allowable_pressure_bar_g``, ``nominal_charge_g``, ``charge_tolerance_g``, ``rating`` (the six
    rating numbers) and ``cycle_physics`` (rating speeds, compressor displacement, EVI design data).
    """
    cycle = record.get("cycle_physics")
    if not cycle:
        raise NoCyclePhysicsError(f"the master data of {record['code']} has no cycle_physics section")
    rating, speeds = record["rating"], cycle["rating_compressor_speed_rps"]
    evi = bool(record["evi"])
    points = tuple(
        RatingPoint(
            name=name,
            mode=mode,  # type: ignore[arg-type]
            air_temp_c=air,
            water_out_c=water_out,
            capacity_w=1000.0 * float(rating[capacity]),
            cop=float(rating[efficiency]),
            comp_speed_rps=float(speeds[speed]),
            evi_on=evi and name in cycle.get("evi_on_in_ratings", ()),
        )
        for name, mode, air, water_out, capacity, efficiency, speed in _RATING_POINTS
    )
    optional = {
        key: float(cycle[key])
        for key in ("evi_on_below_air_temp_c", "economiser_approach_k", "injection_superheat_k")
        if cycle.get(key) is not None
    }
    return ProductPhysics(
        model_code=record["code"],
        refrigerant=record["refrigerant"],
        gwp=float(record["gwp"]),
        evi=evi,
        internal_volume_l=float(record["internal_volume_l"]),
        max_allowable_pressure_bar_gauge=float(record["max_allowable_pressure_bar_g"]),
        nominal_charge_g=None if record.get("nominal_charge_g") is None else float(record["nominal_charge_g"]),
        charge_tolerance_g=None if record.get("charge_tolerance_g") is None else float(record["charge_tolerance_g"]),
        rating_points=points,
        compressor_displacement_hint_cm3=float(cycle["compressor_displacement_cm3"]),
        **optional,
    )


# The demo master data document (app/services owns it; read here as plain JSON, no service import).
DEMO_MASTER_DATA = Path(__file__).resolve().parents[1] / "services" / "demo_master_data.json"


@cache
def demo_products() -> dict[str, ProductPhysics]:
    """The demo master data's product models (read once)."""
    document = json.loads(DEMO_MASTER_DATA.read_text(encoding="utf-8"))
    return {record["code"]: product_physics(record) for record in document["product_models"]}


def __getattr__(name: str) -> Any:
    # ``DEMO_PRODUCTS`` is read from the demo master data on first use.
    if name == "DEMO_PRODUCTS":
        return demo_products()
    raise AttributeError(name)
