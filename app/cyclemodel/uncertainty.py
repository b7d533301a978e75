"""Measurement uncertainty of run-in residuals: instruments' uncertainties propagated through the model.

A residual is measured - expected. Both sides depend on the instruments: the measured capacity on the
water flow and temperatures, the expected one (the model at the measured conditions) on the air
temperature, water inlet, flow and compressor speed. Propagating each instrument's standard
uncertainty through *the difference* (one perturbation per instrument, central differences, GUM
first order) keeps the correlations right: an error in the flow moves both sides.
The model's own uncertainty is added in quadrature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from app.cyclemodel.properties import Array

COVERAGE_FACTOR = 2.0

# The run-in plateau inputs that carry an instrument uncertainty (contract names without the prefix).
INPUTS = (
    "AirTemp_C", "WaterIn_C", "WaterOut_C", "WaterFlow_l_min", "CompSpeed_rps", "SuctionP_bar",
    "DischargeP_bar", "SuctionT_C", "DischargeT_C", "CompPower_W", "UnitPower_W",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class InstrumentUncertainties:
    """Expanded (k = 2) uncertainties of the run-in chamber's instruments (plant defaults).

    Pressure and power: an absolute part plus a fraction of the reading, added linearly as data
    sheets state them.
    """

    air_temp_k: float = 0.3  # chamber Pt100 in the air stream
    water_temp_k: float = 0.1  # matched Pt100 pair in the water lines
    water_flow_fraction: float = 0.01  # magnetic flow meter
    comp_speed_rps: float = 0.2  # the inverter's reported speed
    pressure_bar: float = 0.03
    pressure_fraction: float = 0.003  # transmitter, 0.25 % class
    suction_temp_k: float = 0.5  # clamp-on Pt1000 on the suction line
    discharge_temp_k: float = 1.5  # thermocouple on the discharge line
    power_w: float = 2.0
    power_fraction: float = 0.005  # power analyser

    def standard(self, *, name: str, value: float) -> float:
        """Standard uncertainty u = U/k of one plateau input at its value."""
        expanded = {
            "AirTemp_C": self.air_temp_k,
            "WaterIn_C": self.water_temp_k,
            "WaterOut_C": self.water_temp_k,
            "WaterFlow_l_min": self.water_flow_fraction * abs(value),
            "CompSpeed_rps": self.comp_speed_rps,
            "SuctionP_bar": self.pressure_bar + self.pressure_fraction * abs(value),
            "DischargeP_bar": self.pressure_bar + self.pressure_fraction * abs(value),
            "SuctionT_C": self.suction_temp_k,
            "DischargeT_C": self.discharge_temp_k,
            "CompPower_W": self.power_w + self.power_fraction * abs(value),
            "UnitPower_W": self.power_w + self.power_fraction * abs(value),
        }[name]
        return expanded / COVERAGE_FACTOR


@dataclass(frozen=True, slots=True)
class ModelUncertainties:
    """Expanded (k = 2) uncertainty of the cycle model itself, per quantity (starting values).

    Set from the spread of rating fits and produced units; relative ones are fractions of the expectation.
    """

    saturation_temp_k: float = 0.8
    discharge_temp_k: float = 3.0
    superheat_k: float = 1.0
    capacity_fraction: float = 0.03
    cop_fraction: float = 0.03
    compressor_power_fraction: float = 0.03
    # Of the EVI capacity gain fraction, in fraction points (0.03 = ±3 points of gain): a starting value of
    # the order of the distance between the modelled gain and line.md's published +14–19 %.
    evi_gain_points: float = 0.03

    def expanded(self, *, quantity: str, expected: float) -> float:
        """U of the model for one quantity at its expected value."""
        if quantity in ("evaporating_temp_c", "condensing_temp_c"):
            return self.saturation_temp_k
        if quantity == "discharge_temp_c":
            return self.discharge_temp_k
        if quantity == "superheat_k":
            return self.superheat_k
        fraction = {
            "capacity_w": self.capacity_fraction,
            "cop": self.cop_fraction,
            "compressor_power_w": self.compressor_power_fraction,
        }[quantity]
        return fraction * abs(expected)


def uncertainties_from_settings(settings: Mapping[str, float]) -> tuple[InstrumentUncertainties, ModelUncertainties]:
    """Both from a specification revision's settings (``instrument_<field>``, ``model_<field>``); a
    field the settings do not name keeps its default."""
    instruments = {f: settings[f"instrument_{f}"] for f in InstrumentUncertainties.__dataclass_fields__
                   if f"instrument_{f}" in settings}  # fmt: skip
    model = {f: settings[f"model_{f}"] for f in ModelUncertainties.__dataclass_fields__ if f"model_{f}" in settings}
    return InstrumentUncertainties(**instruments), ModelUncertainties(**model)


# measured and expected arrays per quantity, for a batch of input rows
BatchEvaluator = Callable[[Mapping[str, Array]], Mapping[str, tuple[Array, Array]]]


def perturbation_rows(
    *, values: Mapping[str, float], instruments: InstrumentUncertainties
) -> tuple[dict[str, Array], dict[str, float]]:
    """Input rows: the nominal point, then each input at +u and -u (2·n + 1 rows)."""
    names = [name for name in INPUTS if name in values]
    u = {name: instruments.standard(name=name, value=values[name]) for name in names}
    rows = {name: np.full(2 * len(names) + 1, values[name], dtype=float) for name in names}
    for i, name in enumerate(names):
        rows[name][1 + 2 * i] += u[name]
        rows[name][2 + 2 * i] -= u[name]
    return rows, u


def propagate(*, evaluated: Mapping[str, tuple[Array, Array]], u: Mapping[str, float]) -> dict[str, float]:
    """Expanded instrument uncertainty of measured - expected per quantity, from the perturbed rows."""
    out = {}
    for quantity, (measured, expected) in evaluated.items():
        residual = measured - expected
        variance = 0.0
        for i in range(len(u)):
            # Central difference over ±u gives the sensitivity times u directly.
            variance += (0.5 * (residual[1 + 2 * i] - residual[2 + 2 * i])) ** 2
        out[quantity] = COVERAGE_FACTOR * float(np.sqrt(variance))
    return out


def monte_carlo(
    *,
    evaluate: BatchEvaluator,
    values: Mapping[str, float],
    instruments: InstrumentUncertainties,
    samples: int,
    seed: int,
) -> dict[str, float]:
    """Expanded uncertainty of measured - expected by Monte Carlo (normal instrument errors)."""
    rng = np.random.default_rng(seed)
    names = [name for name in INPUTS if name in values]
    rows = {
        name: values[name] + rng.normal(0.0, instruments.standard(name=name, value=values[name]), samples)
        for name in names
    }
    evaluated = evaluate(rows)
    return {q: COVERAGE_FACTOR * float(np.std(m - e, ddof=1)) for q, (m, e) in evaluated.items()}
