"""Water-side heat: the volumetric heat capacity of the circuit water from CoolProp, as a cached spline."""

from __future__ import annotations

from functools import lru_cache

import CoolProp.CoolProp as CP
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.interpolate import CubicSpline

# The water circuit of a test bench runs at 1.5-3 bar; pressure barely changes rho·cp of liquid water.
WATER_PRESSURE_PA = 2.0e5
LITRES_PER_M3 = 1000.0
SECONDS_PER_MINUTE = 60.0


@lru_cache(maxsize=1)
def _rho_cp_spline() -> CubicSpline:
    temps_c = np.linspace(0.5, 95.0, 64)
    rho_cp = [
        CP.PropsSI("D", "T", t + 273.15, "P", WATER_PRESSURE_PA, "Water")
        * CP.PropsSI("C", "T", t + 273.15, "P", WATER_PRESSURE_PA, "Water")
        for t in temps_c
    ]
    return CubicSpline(temps_c, np.array(rho_cp))


def volumetric_heat_capacity_j_m3_k(*, temp_c: ArrayLike) -> NDArray[np.float64]:
    """ρ·cp of liquid water at ``temp_c`` (valid 0.5-95 °C)."""
    return np.asarray(_rho_cp_spline()(temp_c), dtype=float)


def capacity_rate_w_k(*, flow_l_min: ArrayLike, temp_c: ArrayLike) -> NDArray[np.float64]:
    """Heat capacity rate ṁ·cp of a water flow (W/K)."""
    flow_m3_s = np.asarray(flow_l_min, dtype=float) / LITRES_PER_M3 / SECONDS_PER_MINUTE
    return flow_m3_s * volumetric_heat_capacity_j_m3_k(temp_c=temp_c)


def heat_flow_w(*, flow_l_min: ArrayLike, water_in_c: ArrayLike, water_out_c: ArrayLike) -> NDArray[np.float64]:
    """Heat taken up by the water, ṁ·cp·(out - in), with cp at the mean temperature (negative when cooled)."""
    t_in = np.asarray(water_in_c, dtype=float)
    t_out = np.asarray(water_out_c, dtype=float)
    return capacity_rate_w_k(flow_l_min=flow_l_min, temp_c=0.5 * (t_in + t_out)) * (t_out - t_in)
