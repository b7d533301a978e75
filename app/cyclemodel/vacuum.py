"""Vacuum physics for vacuum_dehydration: pump-down, the rise test of a tight dry circuit, leak rate
from a rise, and the water vapour pressure a moist circuit's rise levels off towards.

Units: pressures in Pa absolute, volumes in litres, pV flows in mbar·l/s (1 mbar·l/s = 100 Pa·l/s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

PA_L_PER_MBAR_L = 100.0
ZERO_C_IN_K = 273.15


@dataclass(frozen=True, slots=True)
class TightCircuitOutgassing:
    """What still raises the pressure of a tight, dry circuit after the pump is isolated (plant defaults).

    Surface outgassing of unbaked copper falls roughly as 1/t with pumping time (vacuum practice), so
    it is given at one hour of pumping; the compressor's oil keeps degassing at a roughly steady rate.
    These are illustrative plant values: they seed the vacuum_dehydration settings (``tight_circuit_*``),
    which a specification revision holds as its own data and a plant tunes from the rises of units
    known to be tight.
    """

    specific_outgassing_1h_mbar_l_s_cm2: float = 1.0e-8
    # Internal surface per litre of circuit volume: tube bores of 6-8 mm give A/V ≈ 4/d ≈ 5 cm⁻¹;
    # the compressor shell and plate exchanger have less surface per volume.
    surface_per_volume_cm2_per_l: float = 4000.0
    oil_degassing_mbar_l_s: float = 5.0e-5


DEFAULT_OUTGASSING = TightCircuitOutgassing()


@lru_cache(maxsize=512)
def _water_vapour_pressure_pa(temp_k: float) -> float:
    # Imported here: the station modules take this module's outgassing defaults without loading CoolProp.
    import CoolProp.CoolProp as CP

    return float(CP.PropsSI("P", "T", temp_k, "Q", 0, "Water"))


def water_vapour_pressure_pa(*, temp_c: float) -> float:
    """Saturation pressure of water (over liquid) at ``temp_c``: a moist circuit's rise levels off here.

    About 2,340 Pa at 20 °C. Valid from 0.01 °C (triple point) to 100 °C.
    """
    if not 0.01 <= temp_c <= 100.0:
        raise ValueError("water vapour pressure is given for 0.01-100 °C only")
    return _water_vapour_pressure_pa(round(temp_c + ZERO_C_IN_K, 4))


def leak_rate_from_rise_mbar_l_s(*, rise_pa: float, volume_l: float, duration_s: float) -> float:
    """Leak rate from a linear pressure rise of an isolated circuit: Q = ΔP·V/Δt."""
    if volume_l <= 0 or duration_s <= 0:
        raise ValueError("volume and duration must be positive")
    return rise_pa * volume_l / duration_s / PA_L_PER_MBAR_L


def rise_from_leak_pa(*, leak_mbar_l_s: float, volume_l: float, duration_s: float) -> float:
    """Pressure rise a steady leak of ``leak_mbar_l_s`` causes in ``duration_s``: ΔP = Q·Δt/V."""
    if volume_l <= 0:
        raise ValueError("volume must be positive")
    return leak_mbar_l_s * PA_L_PER_MBAR_L * duration_s / volume_l


def expected_tight_rise_pa(
    *,
    volume_l: float,
    duration_s: float,
    pumped_for_s: float,
    outgassing: TightCircuitOutgassing = DEFAULT_OUTGASSING,
) -> float:
    """Expected rise of a tight, dry circuit of ``volume_l`` over ``duration_s`` after isolation.

    ``pumped_for_s`` is the pumping time before isolation. Surface outgassing q(t) = q_1h·(1 h / t)
    integrates to q_1h·1 h·ln((t0 + Δt)/t0); the oil adds a steady flow.
    """
    if volume_l <= 0 or duration_s < 0 or pumped_for_s <= 0:
        raise ValueError("volume and pumping time must be positive, duration not negative")
    area_cm2 = outgassing.surface_per_volume_cm2_per_l * volume_l
    surface_mbar_l = (
        outgassing.specific_outgassing_1h_mbar_l_s_cm2
        * area_cm2
        * 3600.0
        * math.log((pumped_for_s + duration_s) / pumped_for_s)
    )
    oil_mbar_l = outgassing.oil_degassing_mbar_l_s * duration_s
    return (surface_mbar_l + oil_mbar_l) * PA_L_PER_MBAR_L / volume_l


def pump_down_time_s(*, volume_l: float, pump_speed_l_s: float, start_pa: float, end_pa: float) -> float:
    """Ideal pump-down time of a volume with a constant effective pump speed: t = V/S·ln(p0/p1).

    Outgassing and moisture make real pump-downs slower; this is the lower bound.
    """
    if volume_l <= 0 or pump_speed_l_s <= 0 or not start_pa > end_pa > 0:
        raise ValueError("need positive volume and speed and start pressure > end pressure > 0")
    return volume_l / pump_speed_l_s * math.log(start_pa / end_pa)
