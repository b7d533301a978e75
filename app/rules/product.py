"""Product master data as the rules need it (the core engineer maps stored product models onto it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from stations._schema import ProductView

Construction = Literal["monobloc", "split"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RatingPoint:
    """One EN 14511 rating figure of the model, e.g. A7/W35 heating 6.0 kW, COP 4.8."""

    point: str
    mode: Literal["heating", "cooling"]
    capacity_kw: float
    efficiency: float  # COP in heating, EER in cooling


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductData:
    """The facts of one product model that judging and the nameplate depend on.

    ``nominal_charge_g`` is None for units charged on site; ``market_cap_g`` is None when the market
    has no charge-cap rule for this refrigerant and construction. ``bom`` maps a component kind
    (``compressor``, ``inverter``, ``evi_valve``) to the required model, None meaning "none fitted".
    """

    model_code: str
    refrigerant: str
    gwp: float
    construction: Construction
    market: str
    evi: bool
    circuit_volume_l: float
    max_allowable_pressure_bar_g: float
    nominal_charge_g: float | None
    charge_tolerance_g: float | None
    market_cap_g: float | None = None
    market_cap_source: str | None = None
    bom: Mapping[str, str | None] = field(default_factory=dict)
    ratings: tuple[RatingPoint, ...] = ()

    def view(self) -> ProductView:
        """The subset station modules derive default limits from."""
        return ProductView(
            refrigerant=self.refrigerant,
            nominal_charge_g=self.nominal_charge_g,
            charge_tolerance_g=self.charge_tolerance_g,
            market_cap_g=self.market_cap_g,
            max_allowable_pressure_bar_g=self.max_allowable_pressure_bar_g,
            circuit_volume_l=self.circuit_volume_l,
        )
