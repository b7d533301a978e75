"""Charge physics: the expected charge of a product and the CO2 equivalent that goes on its nameplate."""

from __future__ import annotations

from dataclasses import dataclass

from app.cyclemodel.products import ProductPhysics

GRAMS_PER_TONNE = 1_000_000.0


def co2e_tonnes(*, charge_mass_g: float, gwp: float) -> float:
    """CO2 equivalent of a refrigerant charge in tonnes: mass × GWP (F-gas labelling)."""
    if charge_mass_g < 0 or gwp < 0:
        raise ValueError("charge mass and GWP cannot be negative")
    return charge_mass_g * gwp / GRAMS_PER_TONNE


@dataclass(frozen=True, slots=True)
class ChargeExpectation:
    """The charge a product model should receive on the line (None for units charged at site)."""

    nominal_g: float
    tolerance_g: float
    co2e_tonnes: float


def expected_charge(*, product: ProductPhysics) -> ChargeExpectation | None:
    """Nominal charge, tolerance and its CO2 equivalent; None when the line does not charge the model."""
    if product.nominal_charge_g is None or product.charge_tolerance_g is None:
        return None
    return ChargeExpectation(
        nominal_g=product.nominal_charge_g,
        tolerance_g=product.charge_tolerance_g,
        co2e_tonnes=co2e_tonnes(charge_mass_g=product.nominal_charge_g, gwp=product.gwp),
    )
