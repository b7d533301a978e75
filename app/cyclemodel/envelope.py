"""The operating envelope the run-in judges inside, as data, and seeded random points in it.

Used by the fast-path agreement test and the benchmark: points are drawn uniformly, never on a grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.cyclemodel.cycle import Mode, OperatingPoints
from app.cyclemodel.fitting import rating_water_flow_l_min
from app.cyclemodel.products import ProductPhysics


@dataclass(frozen=True, slots=True)
class EnvelopeRange:
    """Air and water inlet temperature ranges of one mode; speed, flow and superheat ranges."""

    air_temp_c: tuple[float, float]
    water_in_c: tuple[float, float]
    comp_speed_rps: tuple[float, float] = (30.0, 100.0)
    flow_of_rated: tuple[float, float] = (0.7, 1.3)  # water flow as a multiple of the A7/W35 rating flow
    superheat_k: tuple[float, float] = (1.0, 5.0)


ENVELOPE: dict[Mode, EnvelopeRange] = {
    "heating": EnvelopeRange(air_temp_c=(-15.0, 20.0), water_in_c=(25.0, 55.0)),
    "cooling": EnvelopeRange(air_temp_c=(20.0, 45.0), water_in_c=(7.0, 18.0)),
}


def random_points(*, product: ProductPhysics, mode: Mode, count: int, seed: int) -> OperatingPoints:
    """``count`` seeded uniform random operating points of ``product`` in the ``mode`` envelope."""
    rng = np.random.default_rng(seed)
    rng_range = ENVELOPE[mode]
    rated_flow = rating_water_flow_l_min(point=product.rating_points[0])
    return OperatingPoints(
        air_temp_c=rng.uniform(*rng_range.air_temp_c, count),
        water_in_c=rng.uniform(*rng_range.water_in_c, count),
        water_flow_l_min=rated_flow * rng.uniform(*rng_range.flow_of_rated, count),
        comp_speed_rps=rng.uniform(*rng_range.comp_speed_rps, count),
        superheat_k=rng.uniform(*rng_range.superheat_k, count),
    )
