"""``CoolPropExpectations``: the cycle model behind ``app.domain.expectations.CycleExpectations``.

For a run-in plateau the provider derives the *measured* quantities from the plateau's values
(saturation temperatures from the port pressures, superheat, water-side capacity, COP, powers) and the
*expected* ones from the cycle model run at the measured air temperature, water inlet, water flow and
compressor speed, with the product's superheat setpoint. U of each residual comes from propagating
the instruments' uncertainties through measured - expected, plus the model's own uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np

from app.cyclemodel import CODE_VERSION, leak
from app.cyclemodel.cycle import Mode, OperatingPoints, solve_cycle
from app.cyclemodel.paramsets import ParameterSet, ParameterSetNotFoundError, load_shipped
from app.cyclemodel.products import ProductPhysics, demo_products
from app.cyclemodel.properties import Array, RefrigerantProperties, heos_properties, table_properties
from app.cyclemodel.uncertainty import (
    INPUTS,
    InstrumentUncertainties,
    ModelUncertainties,
    perturbation_rows,
    propagate,
    uncertainties_from_settings,
)
from app.cyclemodel.water import capacity_rate_w_k, heat_flow_w
from app.domain.expectations import EviStepExpectation, PlateauCode, PlateauExpectation, Residual

PLATEAU_MODES: dict[str, Mode] = {"M10": "heating", "P07": "heating", "P45": "cooling"}
UNITS = {
    "evaporating_temp_c": "°C",
    "condensing_temp_c": "°C",
    "discharge_temp_c": "°C",
    "superheat_k": "K",
    "capacity_w": "W",
    "cop": "1",
    "compressor_power_w": "W",
}
# Physically possible ranges of the plateau inputs; outside them a reading is not a heat pump's.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "AirTemp_C": (-40.0, 60.0),
    "WaterIn_C": (0.5, 90.0),
    "WaterOut_C": (0.5, 90.0),
    "WaterFlow_l_min": (1e-3, 500.0),
    "CompSpeed_rps": (1e-3, 200.0),
    "SuctionP_bar": (0.05, 60.0),
    "DischargeP_bar": (0.05, 60.0),
    "SuctionT_C": (-60.0, 120.0),
    "DischargeT_C": (-40.0, 180.0),
    "CompPower_W": (1e-3, 50_000.0),
    "UnitPower_W": (1e-3, 60_000.0),
}
ZERO_C_IN_K = 273.15
PA_PER_BAR = 1e5


class CoolPropExpectations:
    """Physics expectations for the product models it has physics data and a fitted parameter set for."""

    def __init__(
        self,
        *,
        products: Mapping[str, ProductPhysics] | None = None,
        parameter_sets: Mapping[str, ParameterSet] | None = None,
        instruments: InstrumentUncertainties | None = None,
        model_uncertainty: ModelUncertainties | None = None,
        reference_properties: bool = False,
    ) -> None:
        """Without ``products`` / ``parameter_sets`` the demo master data and demo seed are used (simulator,
        tests); given, they are the only ones (judging passes the database's).

        ``reference_properties=True`` uses HEOS point by point instead of the fast tables.
        """
        self._products = dict(products) if products is not None else dict(demo_products())
        self._demo_seed = parameter_sets is None
        self._parameter_sets = dict(parameter_sets) if parameter_sets is not None else {}
        self._instruments = instruments or InstrumentUncertainties()
        self._model_uncertainty = model_uncertainty or ModelUncertainties()
        self._reference = reference_properties

    # -- the protocol -------------------------------------------------------------------------------

    def model_version(self, product_model_code: str) -> str:
        """'<code version>/<model>@<content hash>#v<database version>' ('#v…' only for a stored version)."""
        parameter_set = self._parameter_set(product_model_code)
        return f"{CODE_VERSION}/{parameter_set.version_label if parameter_set else 'no-parameter-set'}"

    def plateau(
        self,
        *,
        product_model_code: str,
        plateau: PlateauCode,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> PlateauExpectation:
        """Residuals of the seven run-in quantities at one plateau (see PlateauExpectation); U from
        ``uncertainties`` (a revision's settings) where given, else from this provider's own."""
        mode = PLATEAU_MODES[plateau]

        def invalid(reason: str) -> PlateauExpectation:
            return PlateauExpectation(plateau=plateau, mode=mode, valid=False, reason=reason, quantities={})

        product, parameter_set, problem = self._lookup(product_model_code)
        if problem:
            return invalid(problem)
        assert product is not None and parameter_set is not None
        inputs, problem = _plateau_inputs(plateau=plateau, values=values)
        if problem:
            return invalid(problem)
        evi_on = _evi_on_in_window(product=product, plateau=plateau, values=values, air_temp_c=inputs["AirTemp_C"])
        props = self._props(product.refrigerant)
        problem = _measured_state_problem(inputs=inputs, props=props)
        if problem:
            return invalid(problem)
        instruments, model_uncertainty = self._uncertainties(uncertainties)
        rows, u = perturbation_rows(values=inputs, instruments=instruments)
        evaluated, valid, reasons = evaluate_plateau_rows(
            rows=rows, product=product, parameter_set=parameter_set, mode=mode, evi_on=evi_on, props=props
        )
        if not valid[0]:
            return invalid(reasons[0] or "outside the cycle model's envelope")
        if not valid.all():
            return invalid("the conditions are at the edge of the cycle model's envelope: no uncertainty can be given")
        u_instruments = propagate(evaluated=evaluated, u=u)
        quantities = {}
        for quantity, (measured, expected) in evaluated.items():
            u_model = model_uncertainty.expanded(quantity=quantity, expected=float(expected[0]))
            quantities[quantity] = Residual(
                measured=float(measured[0]),
                expected=float(expected[0]),
                uncertainty=math.hypot(u_instruments[quantity], u_model),
                unit=UNITS[quantity],
            )
        return PlateauExpectation(plateau=plateau, mode=mode, valid=True, reason=None, quantities=quantities)

    def evi_step(
        self,
        *,
        product_model_code: str,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> EviStepExpectation:
        """Model capacity gain and discharge temperature change of opening the EVI valve at M10.

        With the measured capacities before and after the step (``M10_EviOff_Capacity_W``,
        ``M10_EviOn_Capacity_W``) it also gives U of (measured gain − model gain), propagated like the
        plateau residuals (see ``evaluate_evi_step_rows``) plus the model's own uncertainty of the gain.
        """
        product, parameter_set, problem = self._lookup(product_model_code)
        if problem:
            return EviStepExpectation(False, problem, math.nan, math.nan)
        assert product is not None and parameter_set is not None
        if not product.evi:
            return EviStepExpectation(False, f"{product_model_code} has no vapour injection (EVI)", math.nan, math.nan)
        inputs, problem = _plateau_inputs(plateau="M10", values=values, names=EVI_STEP_MODEL_INPUTS)
        if problem:
            return EviStepExpectation(False, problem, math.nan, math.nan)
        # Only differences of the water outlet reading enter the measured gain: any nominal value serves.
        water_out = values.get("M10_WaterOut_C")
        inputs["WaterOut_C"] = inputs["WaterIn_C"] + 5.0 if _missing(water_out) else float(water_out)  # type: ignore[arg-type]
        capacities = _evi_capacities(values)
        instruments, model_uncertainty = self._uncertainties(uncertainties)
        rows, u = perturbation_rows(values=inputs, instruments=instruments)
        evaluated, valid, reasons, extras = evaluate_evi_step_rows(
            rows=rows, nominal=inputs, capacities=capacities, parameter_set=parameter_set,
            props=self._props(product.refrigerant),
        )  # fmt: skip
        if not valid[0]:
            return EviStepExpectation(False, reasons[0], math.nan, math.nan)
        measured, expected = evaluated[EVI_GAIN]
        uncertainty = None
        if capacities is not None and valid.all() and np.isfinite(measured).all():
            u_instruments = propagate(evaluated=evaluated, u=u)[EVI_GAIN]
            uncertainty = math.hypot(u_instruments, model_uncertainty.evi_gain_points)
        return EviStepExpectation(
            valid=True,
            reason=None,
            capacity_gain_fraction=float(expected[0]),
            discharge_temp_change_k=float(extras["discharge_temp_change_k"][0]),
            intermediate_pressure_bar=float(extras["intermediate_pressure_bar"][0]),
            capacity_gain_uncertainty=uncertainty,
        )

    def leak_rate_g_per_year(
        self, *, tracer_gas: str, signal_mbar_l_s: float, test_pressure_bar_abs: float, refrigerant: str
    ) -> float:
        """See ``app.cyclemodel.leak.leak_rate_g_per_year``."""
        return leak.leak_rate_g_per_year(
            tracer_gas=tracer_gas,
            signal_mbar_l_s=signal_mbar_l_s,
            test_pressure_bar_abs=test_pressure_bar_abs,
            refrigerant=refrigerant,
        )

    # -- helpers ------------------------------------------------------------------------------------

    def _parameter_set(self, code: str) -> ParameterSet | None:
        if code not in self._parameter_sets:
            if not self._demo_seed:
                return None
            try:
                self._parameter_sets[code] = load_shipped(product_model_code=code)
            except ParameterSetNotFoundError:
                return None
        return self._parameter_sets[code]

    def _lookup(self, code: str) -> tuple[ProductPhysics | None, ParameterSet | None, str | None]:
        product = self._products.get(code)
        if product is None:
            return None, None, f"the cycle model has no physics data for product model {code}"
        parameter_set = self._parameter_set(code)
        if parameter_set is None:
            return None, None, f"the cycle model has no fitted parameters for product model {code}"
        return product, parameter_set, None

    def _uncertainties(
        self, settings: Mapping[str, float] | None
    ) -> tuple[InstrumentUncertainties, ModelUncertainties]:
        if settings is None:
            return self._instruments, self._model_uncertainty
        return uncertainties_from_settings(settings)

    def _props(self, refrigerant: str) -> RefrigerantProperties:
        return heos_properties(refrigerant) if self._reference else table_properties(refrigerant)

    def instruments(self) -> InstrumentUncertainties:
        """The instrument uncertainties this provider propagates."""
        return self._instruments


def _plateau_inputs(
    *, plateau: str, values: Mapping[str, float | None], names: tuple[str, ...] = INPUTS
) -> tuple[dict[str, float], str | None]:
    """The plateau's inputs by unprefixed name, or a plain-words reason why they cannot be used."""
    missing = [f"{plateau}_{n}" for n in names if _missing(values.get(f"{plateau}_{n}"))]
    if missing:
        return {}, f"not measured: {', '.join(missing)}"
    inputs = {n: float(values[f"{plateau}_{n}"]) for n in names}  # type: ignore[arg-type]
    for name, value in inputs.items():
        low, high = PLAUSIBLE[name]
        if not low <= value <= high:
            return (
                {},
                f"{plateau}_{name} = {value:g} is physically impossible (expected {low:g}…{high:g})",
            )
    return inputs, None


def _evi_on_in_window(
    *, product: ProductPhysics, plateau: str, values: Mapping[str, float | None], air_temp_c: float
) -> bool:
    """Whether injection ran during the plateau's steady window.

    At M10 the EVI step opens the valve at ``M10_EviStepAt_s``: a window that starts at or after it
    ran with injection, one that ends before it without. Otherwise the product's own rule applies.
    """
    if PLATEAU_MODES[plateau] != "heating" or not product.evi:
        return False
    step_at = values.get(f"{plateau}_EviStepAt_s")
    start = values.get(f"{plateau}_WindowStart_s")
    end = values.get(f"{plateau}_WindowEnd_s")
    if not _missing(step_at) and not _missing(start) and not _missing(end):
        if float(start) >= float(step_at):  # type: ignore[arg-type]
            return True
        if float(end) <= float(step_at):  # type: ignore[arg-type]
            return False
    return product.evi_on_at(air_temp_c=air_temp_c)


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _measured_state_problem(*, inputs: Mapping[str, float], props: RefrigerantProperties) -> str | None:
    p_s, p_d = inputs["SuctionP_bar"], inputs["DischargeP_bar"]
    if not p_d > p_s:
        return (
            f"the discharge pressure ({p_d:g} bar) is not above the suction pressure ({p_s:g} bar): "
            "pressure ratio ≤ 1, the compressor is not pumping"
        )
    for name, p in (("suction", p_s), ("discharge", p_d)):
        t_sat = float(props.t_sat(np.array([p * PA_PER_BAR]))[0])
        if not props.t_sat_min_k + 0.5 < t_sat < props.t_sat_max_k - 0.5:
            return f"the {name} pressure ({p:g} bar) is outside the range the cycle model covers"
    return None


def _operating_points(rows: Mapping[str, Array], parameter_set: ParameterSet) -> OperatingPoints:
    air = np.asarray(rows["AirTemp_C"], dtype=float)
    return OperatingPoints(
        air_temp_c=air,
        water_in_c=np.asarray(rows["WaterIn_C"], dtype=float),
        water_flow_l_min=np.asarray(rows["WaterFlow_l_min"], dtype=float),
        comp_speed_rps=np.asarray(rows["CompSpeed_rps"], dtype=float),
        superheat_k=np.full_like(air, parameter_set.parameters.superheat_setpoint_k),
    )


def evaluate_plateau_rows(
    *,
    rows: Mapping[str, Array],
    product: ProductPhysics,
    parameter_set: ParameterSet,
    mode: Literal["heating", "cooling"],
    evi_on: bool,
    props: RefrigerantProperties,
) -> tuple[dict[str, tuple[Array, Array]], Array, list[str | None]]:
    """Measured and expected arrays of every quantity for a batch of plateau input rows.

    Used for the nominal point, its perturbations and Monte Carlo samples alike.
    """
    sol = solve_cycle(
        props=props,
        params=parameter_set.parameters,
        mode=mode,
        evi_on=evi_on,
        points=_operating_points(rows, parameter_set),
    )
    t_suction_sat_c = props.t_sat(np.asarray(rows["SuctionP_bar"]) * PA_PER_BAR) - ZERO_C_IN_K
    t_discharge_sat_c = props.t_sat(np.asarray(rows["DischargeP_bar"]) * PA_PER_BAR) - ZERO_C_IN_K
    water_heat = heat_flow_w(
        flow_l_min=rows["WaterFlow_l_min"], water_in_c=rows["WaterIn_C"], water_out_c=rows["WaterOut_C"]
    )
    capacity = water_heat if mode == "heating" else -water_heat
    superheat_expected = np.full_like(capacity, parameter_set.parameters.superheat_setpoint_k)
    evaluated = {
        "evaporating_temp_c": (t_suction_sat_c, sol.evaporating_temp_c),
        "condensing_temp_c": (t_discharge_sat_c, sol.condensing_temp_c),
        "discharge_temp_c": (np.asarray(rows["DischargeT_C"], dtype=float), sol.discharge_temp_c),
        "superheat_k": (np.asarray(rows["SuctionT_C"]) - t_suction_sat_c, superheat_expected),
        "capacity_w": (capacity, sol.capacity_w),
        "cop": (capacity / np.asarray(rows["UnitPower_W"]), sol.cop),
        "compressor_power_w": (np.asarray(rows["CompPower_W"], dtype=float), sol.compressor_power_w),
    }
    return evaluated, sol.valid, sol.reason


EVI_GAIN = "capacity_gain_fraction"
EVI_STEP_MODEL_INPUTS = ("AirTemp_C", "WaterIn_C", "WaterFlow_l_min", "CompSpeed_rps")


def _evi_capacities(values: Mapping[str, float | None]) -> tuple[float, float] | None:
    off, on = values.get("M10_EviOff_Capacity_W"), values.get("M10_EviOn_Capacity_W")
    if _missing(off) or _missing(on) or not float(off) > 0.0:  # type: ignore[arg-type]
        return None
    return float(off), float(on)  # type: ignore[arg-type]


def evaluate_evi_step_rows(
    *,
    rows: Mapping[str, Array],
    nominal: Mapping[str, float],
    capacities: tuple[float, float] | None,
    parameter_set: ParameterSet,
    props: RefrigerantProperties,
) -> tuple[dict[str, tuple[Array, Array]], Array, list[str | None], dict[str, Array]]:
    """Measured and model EVI capacity gain for a batch of M10 input rows (nominal, perturbations, samples).

    Model side: the cycle with injection off and on at the row's air temperature, water inlet, flow and
    speed. Measured side: the reported capacities before and after the step were taken minutes apart
    with the same flow meter and the same pair of water thermometers, so a row's instrument errors move
    both alike: a flow error scales both, a thermometer offset adds ṁ·cp·(δ_out − δ_in) to both.
    """
    points = _operating_points(rows, parameter_set)
    params = parameter_set.parameters
    off = solve_cycle(props=props, params=params, mode="heating", evi_on=False, points=points)
    on = solve_cycle(props=props, params=params, mode="heating", evi_on=True, points=points)
    expected = on.capacity_w / off.capacity_w - 1.0
    if capacities is None:
        measured = np.full_like(expected, np.nan)
    else:
        flow = np.asarray(rows["WaterFlow_l_min"], dtype=float)
        offset_k = (np.asarray(rows["WaterOut_C"]) - nominal["WaterOut_C"]) - (
            np.asarray(rows["WaterIn_C"]) - nominal["WaterIn_C"]
        )
        c_water = capacity_rate_w_k(flow_l_min=flow, temp_c=0.5 * (nominal["WaterIn_C"] + nominal["WaterOut_C"]))
        q_off, q_on = (q * flow / nominal["WaterFlow_l_min"] + c_water * offset_k for q in capacities)
        measured = q_on / q_off - 1.0
    valid = np.logical_and(off.valid, on.valid)
    reasons = [r_off or r_on for r_off, r_on in zip(off.reason, on.reason, strict=True)]
    extras = {
        "discharge_temp_change_k": on.discharge_temp_c - off.discharge_temp_c,
        "intermediate_pressure_bar": on.intermediate_p_bar,
    }
    return {EVI_GAIN: (measured, expected)}, valid, reasons, extras
