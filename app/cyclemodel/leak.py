"""Leak-test physics: a tracer-gas leak signal converted to the unit's refrigerant in g/yr.

The instrument reports the leak of its tracer gas at the test pressure as a pV flow (mbar·l/s).
The same leak channel at the same pressure difference passes another gas

* in proportion to the inverse of its viscosity, because leaks near the 3 g/yr limit flow
  viscously (laminar, Poiseuille: Q_pV ∝ (p1² - p2²) / η), and
* as a mass flow that follows from the pV flow by the ideal gas law at 20 °C: ṁ = Q_pV · M / (R·T).

Anchors (public, ideal gas at 20 °C): 3 g/yr of R290 = 5.3e-5 mbar·l/s, of R32 = 4.5e-5 mbar·l/s.
Viscosities come from CoolProp at 20 °C and the mean pressure of the leak channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import CoolProp.CoolProp as CP

REFERENCE_TEMP_K = 293.15
ATMOSPHERE_BAR = 1.01325
MOLAR_GAS_CONSTANT_J_MOL_K = 8.314462618
SECONDS_PER_YEAR = 365.25 * 24 * 3600.0
# 1 mbar·l = 0.1 Pa·m³ = 0.1 J
PA_M3_PER_MBAR_L = 0.1


@dataclass(frozen=True, slots=True)
class TracerGas:
    """A gas a leak detector can report, with the CoolProp fluid string that gives its properties."""

    code: str
    coolprop_fluid: str
    description: str


TRACER_GASES: dict[str, TracerGas] = {
    "R290": TracerGas("R290", "Propane", "the refrigerant propane, hydrocarbon sniffer"),
    "R32": TracerGas("R32", "R32", "the refrigerant R32, halogen/hydrocarbon sniffer"),
    "He": TracerGas("He", "Helium", "helium"),
    # Forming gas: the instrument is calibrated for the mixture, so the mixture is the tracer.
    "H2N2": TracerGas("H2N2", "HEOS::Hydrogen[0.05]&Nitrogen[0.95]", "5 % hydrogen in nitrogen"),
}

REFRIGERANTS = ("R290", "R32")


class UnknownGasError(ValueError):
    """A tracer gas or refrigerant the leak conversion does not know."""


def _tracer(code: str) -> TracerGas:
    try:
        return TRACER_GASES[code]
    except KeyError:
        raise UnknownGasError(f"unknown tracer gas {code!r}; known: {', '.join(TRACER_GASES)}") from None


@lru_cache(maxsize=64)
def molar_mass_kg_mol(*, gas: str) -> float:
    """Molar mass of a tracer gas or refrigerant (mixtures: mole-fraction average)."""
    return float(CP.PropsSI("M", _tracer(gas).coolprop_fluid))


@lru_cache(maxsize=256)
def _viscosity_pa_s(fluid: str, pressure_pa: float, temp_k: float, condensable: bool) -> float:
    if condensable:
        # A refrigerant leaking out is vapour: stay below its vapour pressure at the reference temperature.
        pressure_pa = min(pressure_pa, 0.9 * CP.PropsSI("P", "T", temp_k, "Q", 1, fluid))
    return float(CP.PropsSI("V", "T", temp_k, "P", pressure_pa, fluid))


def viscosity_pa_s(*, gas: str, pressure_bar_abs: float, temp_k: float = REFERENCE_TEMP_K) -> float:
    """Dynamic viscosity of the gas (vapour for a refrigerant) at the given pressure and temperature."""
    fluid = _tracer(gas).coolprop_fluid
    return _viscosity_pa_s(fluid, round(pressure_bar_abs * 1e5, 0), temp_k, gas in REFRIGERANTS)


def mass_rate_g_per_year(*, gas: str, pv_flow_mbar_l_s: float, temp_k: float = REFERENCE_TEMP_K) -> float:
    """Mass flow of a pV flow of ``gas`` (ideal gas at ``temp_k``) in g/yr."""
    mol_per_s = pv_flow_mbar_l_s * PA_M3_PER_MBAR_L / (MOLAR_GAS_CONSTANT_J_MOL_K * temp_k)
    return mol_per_s * molar_mass_kg_mol(gas=gas) * 1000.0 * SECONDS_PER_YEAR


def pv_flow_mbar_l_s(*, gas: str, mass_rate_g_per_year: float, temp_k: float = REFERENCE_TEMP_K) -> float:
    """The pV flow (mbar·l/s) that carries ``mass_rate_g_per_year`` of ``gas``; inverse of the above."""
    return mass_rate_g_per_year / mass_rate_g_per_year_per_unit_flow(gas=gas, temp_k=temp_k)


def mass_rate_g_per_year_per_unit_flow(*, gas: str, temp_k: float = REFERENCE_TEMP_K) -> float:
    """g/yr carried by 1 mbar·l/s of ``gas``."""
    return mass_rate_g_per_year(gas=gas, pv_flow_mbar_l_s=1.0, temp_k=temp_k)


def leak_rate_g_per_year(
    *, tracer_gas: str, signal_mbar_l_s: float, test_pressure_bar_abs: float, refrigerant: str
) -> float:
    """Convert a tracer-gas leak signal at the test pressure to the unit's refrigerant in g/yr.

    The refrigerant's pV flow through the same channel is the tracer's scaled by η_tracer / η_refrigerant
    (viscous flow at the same pressure difference); its mass follows from its molar mass.
    A tracer that *is* the refrigerant needs no viscosity scaling.
    """
    if refrigerant not in REFRIGERANTS:
        raise UnknownGasError(f"unknown refrigerant {refrigerant!r}; known: {', '.join(REFRIGERANTS)}")
    if not test_pressure_bar_abs > ATMOSPHERE_BAR:
        raise ValueError("the test pressure must be above atmospheric to drive a leak")
    if signal_mbar_l_s < 0:
        raise ValueError("a leak signal cannot be negative")
    if tracer_gas == refrigerant:
        refrigerant_pv = signal_mbar_l_s
    else:
        mean_pressure_bar = 0.5 * (test_pressure_bar_abs + ATMOSPHERE_BAR)
        eta_tracer = viscosity_pa_s(gas=tracer_gas, pressure_bar_abs=mean_pressure_bar)
        eta_refrigerant = viscosity_pa_s(gas=refrigerant, pressure_bar_abs=mean_pressure_bar)
        refrigerant_pv = signal_mbar_l_s * eta_tracer / eta_refrigerant
    return mass_rate_g_per_year(gas=refrigerant, pv_flow_mbar_l_s=refrigerant_pv)


def minimum_test_pressure_bar_abs(*, max_allowable_pressure_bar_gauge: float) -> float:
    """Lowest absolute test pressure at which the 3 g/yr 'hermetically sealed' level applies (PS/4 gauge)."""
    return max_allowable_pressure_bar_gauge / 4.0 + ATMOSPHERE_BAR
