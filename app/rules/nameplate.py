"""Nameplate data: the F-gas rules require the charge and its CO2 equivalent on the label."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.cyclemodel.charge import co2e_tonnes
from app.domain.results import Judgement, StationResult, Verdict

from .product import ProductData, RatingPoint

ChargeStatus = Literal["factory_charged", "charged_on_site", "not_charged_yet"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Nameplate:
    model_code: str
    refrigerant: str
    gwp: float
    charge_status: ChargeStatus
    charge_text: str
    charged_mass_kg: float | None
    co2_equivalent_t: float | None
    hermetically_sealed: bool
    ratings: tuple[RatingPoint, ...]


def passed_charge_mass_g(*, result: StationResult, judgement: Judgement) -> float | None:
    """The charged mass of a charging result whose judgement passed, else None."""
    if judgement.verdict is not Verdict.PASS:
        return None
    value = next((m.value for m in result.measurements if m.name == "ChargedMass_g"), None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def nameplate_data(*, product: ProductData, charged_mass_g: float | None) -> Nameplate:
    """Derive the nameplate: charged mass in kg and CO2e in tonnes (mass × GWP), or "charged on site"."""
    if product.nominal_charge_g is None:
        status: ChargeStatus = "charged_on_site"
        mass_kg = co2e_t = None
        text = f"{product.refrigerant}: charged on site"
    elif charged_mass_g is None:
        status, mass_kg, co2e_t = "not_charged_yet", None, None
        text = f"{product.refrigerant}: not charged yet"
    else:
        status = "factory_charged"
        mass_kg = round(charged_mass_g / 1000.0, 4)
        co2e_t = round(co2e_tonnes(charge_mass_g=charged_mass_g, gwp=product.gwp), 6)
        text = f"{product.refrigerant} {mass_kg:.3f} kg, GWP {product.gwp:g}, {co2e_t:.4f} t CO2e"
    return Nameplate(
        model_code=product.model_code,
        refrigerant=product.refrigerant,
        gwp=product.gwp,
        charge_status=status,
        charge_text=text,
        charged_mass_kg=mass_kg,
        co2_equivalent_t=co2e_t,
        hermetically_sealed=product.construction == "monobloc",
        ratings=product.ratings,
    )
