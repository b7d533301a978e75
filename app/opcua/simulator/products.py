"""The product facts the simulated stations need (line.md's demo master data)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProductFacts:
    model_code: str
    refrigerant: str
    evi: bool
    nominal_charge_g: float | None
    charge_tolerance_g: float | None
    market_cap_g: float | None
    internal_volume_l: float
    max_allowable_pressure_bar_g: float
    compressor_model: str
    wrong_compressor_model: str
    inverter_model: str
    evi_valve_model: str
    liquid_pressure_bar_at_21c: float
    leak_limit_mbar_l_s: float  # 3 g/yr of the refrigerant (line.md)
    nominal_capacity_w: float

    @property
    def leak_test_pressure_bar_abs(self) -> float:
        """A test pressure comfortably above PS/4 (gauge) as line.md requires."""
        return round(self.max_allowable_pressure_bar_g / 4.0 + 1.013 + 1.5, 1)

    @property
    def charged_on_line(self) -> bool:
        return self.nominal_charge_g is not None


PRODUCTS = {
    p.model_code: p
    for p in (
        ProductFacts(
            "HPM-06-R290-EVI",
            "R290",
            True,
            140.0,
            2.0,
            150.0,
            2.5,
            25.0,
            "RSC-19-EVI",
            "RSC-30",
            "INV-06",
            "EVV-2",
            8.7,
            5.3e-5,
            6000.0,
        ),
        ProductFacts(
            "HPM-12-R32-EVI",
            "R32",
            True,
            1200.0,
            10.0,
            None,
            4.0,
            42.0,
            "RSC-38-EVI",
            "RSC-19-EVI",
            "INV-12",
            "EVV-3",
            14.8,
            4.5e-5,
            12000.0,
        ),
        ProductFacts(
            "HPS-10-R32",
            "R32",
            False,
            None,
            None,
            None,
            3.2,
            42.0,
            "RSC-30",
            "RSC-38-EVI",
            "INV-10",
            "",
            14.8,
            4.5e-5,
            10000.0,
        ),
    )
}


def product_facts(model_code: str) -> ProductFacts:
    return PRODUCTS[model_code]
