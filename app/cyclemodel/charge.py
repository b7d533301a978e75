"""Charge physics: the CO2 equivalent that goes on the nameplate next to the charged mass."""

from __future__ import annotations

GRAMS_PER_TONNE = 1_000_000.0


def co2e_tonnes(*, charge_mass_g: float, gwp: float) -> float:
    """CO2 equivalent of a refrigerant charge in tonnes: mass × GWP (F-gas labelling)."""
    if charge_mass_g < 0 or gwp < 0:
        raise ValueError("charge mass and GWP cannot be negative")
    return charge_mass_g * gwp / GRAMS_PER_TONNE
