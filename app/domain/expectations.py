"""The seam between judging (app/rules) and physics (app/cyclemodel).

The rules engine asks for expectations through this protocol only; app/cyclemodel implements it
with CoolProp. Tests of the rules may use a small hand-written implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

PlateauCode = Literal["M10", "P07", "P45"]


@dataclass(frozen=True, slots=True)
class Residual:
    """One quantity compared with the model: U is the expanded (k = 2) uncertainty of measured - expected."""

    measured: float
    expected: float
    uncertainty: float
    unit: str

    @property
    def residual(self) -> float:
        return self.measured - self.expected


@dataclass(frozen=True, slots=True)
class PlateauExpectation:
    """The cycle model evaluated at a plateau's measured conditions.

    ``valid`` is False outside the model's envelope (pressure ratio <= 1, impossible
    temperatures, missing inputs); ``reason`` then says why in plain words and
    ``quantities`` is empty.  Quantity keys: ``evaporating_temp_c``, ``condensing_temp_c``,
    ``discharge_temp_c``, ``superheat_k``, ``capacity_w`` (heating capacity, or cooling
    capacity in cooling mode), ``cop`` (EER in cooling mode), ``compressor_power_w``.
    """

    plateau: PlateauCode
    mode: Literal["heating", "cooling"]
    valid: bool
    reason: str | None
    quantities: Mapping[str, Residual]


@dataclass(frozen=True, slots=True)
class EviStepExpectation:
    """Predicted effect of opening the EVI valve at the -10 °C plateau."""

    valid: bool
    reason: str | None
    capacity_gain_fraction: float  # (on - off) / off, e.g. 0.16
    discharge_temp_change_k: float  # on - off; negative when injection cools the discharge
    intermediate_pressure_bar: float | None = None
    # Expanded (k = 2) U of (measured gain − model gain), propagated from the instruments plus the model's
    # own uncertainty; None when the measured capacities were not given (the limit's U applies then).
    capacity_gain_uncertainty: float | None = None


class CycleExpectations(Protocol):
    """Physics expectations for one product model (implemented by app.cyclemodel)."""

    def model_version(self, product_model_code: str) -> str:
        """'<code version>/<fitted parameter set id>' recorded with every verdict that used the model."""
        ...

    def plateau(
        self,
        *,
        product_model_code: str,
        plateau: PlateauCode,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> PlateauExpectation:
        """Evaluate the cycle at the plateau's measured conditions.

        ``values`` holds the run_in result values by their contract names (``M10_SuctionP_bar`` …);
        ``uncertainties`` the instruments' and the model's expanded U by setting name
        (``instrument_air_temp_k``, ``model_capacity_fraction`` …: the specification revision's settings).
        """
        ...

    def evi_step(
        self,
        *,
        product_model_code: str,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> EviStepExpectation:
        """Predicted capacity gain and discharge temperature change of the EVI step at M10."""
        ...

    def leak_rate_g_per_year(
        self, *, tracer_gas: str, signal_mbar_l_s: float, test_pressure_bar_abs: float, refrigerant: str
    ) -> float:
        """Convert a tracer-gas leak signal at the test pressure to the unit's refrigerant in g/yr."""
        ...
