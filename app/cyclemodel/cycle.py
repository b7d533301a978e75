"""The vapour-compression cycle of an air-to-water heat pump, solved for many operating points at once.

Heating: the outdoor air coil evaporates, the plate exchanger condenses into the water.
Cooling (the +45 °C plateau): the 4-way valve reverses; the air coil condenses, the plate exchanger
evaporates and chills the water. Suction and discharge stay the compressor's ports in both modes.

Unknowns per point are the evaporating and condensing saturation temperatures; they satisfy the two
heat-exchanger balances (refrigerant side = air or water side), solved by a vectorised Newton iteration.

EVI: an economiser at the intermediate pressure p_i = √(p_e·p_c), the geometric mean of the two
pressures. That is a stated principle, not a fitted number: equal stage pressure ratios minimise the
ideal two-stage work, and an EVI scroll's injection port is laid out for it. Part of the liquid is
throttled to p_i and evaporates to cool the rest to within the economiser's approach of the injection
saturation temperature; that vapour, superheated by the EVI valve's setpoint, is injected into the
compression, so the compression runs as two stages with mixing in between. The approach and the
injection superheat are product data (economiser selection, EVI valve setting) fixed before any EVI
result is looked at; nothing about the EVI gain is fitted: it follows from the states. The gain hinges
on p_i (±10 % in p_i moves it by about ∓3 points); a port-based p_i would need the compressor's
injection-port volume ratio, which the product data does not give (README: what was checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from app.cyclemodel import water
from app.cyclemodel.properties import Array, RefrigerantProperties

IndexArray = NDArray[np.intp]

Mode = Literal["heating", "cooling"]
ZERO_C_IN_K = 273.15
PA_PER_BAR = 1e5
CM3_PER_M3 = 1e6


@dataclass(frozen=True, slots=True)
class CycleParameters:
    """One product model's fitted cycle parameters (bounds in ``app.cyclemodel.fitting``)."""

    displacement_cm3: float
    volumetric_eff_at_pr1: float  # η_v = a - b·(PR - 1): re-expansion and suction heating
    volumetric_eff_slope: float
    isentropic_eff_peak: float  # η_is = peak - c·ln²(PR / PR_best): under/over-compression
    isentropic_eff_best_pr: float
    isentropic_eff_curvature: float
    motor_inverter_eff: float
    ua_water_hx_w_k: float
    ua_air_coil_evaporating_w_k: float
    ua_air_coil_condensing_w_k: float
    subcooling_k: float
    superheat_setpoint_k: float
    aux_power_heating_w: float  # fan, pump share, controls
    aux_power_cooling_w: float
    # EVI product data (never fitted): economiser approach (liquid out − injection saturation) and the
    # EVI valve's superheat setpoint at the economiser's vapour outlet.
    economiser_approach_k: float = 5.0
    injection_superheat_k: float = 5.0
    # EN 14511 ratings below +2 °C air integrate frosting and defrost cycles; a run-in plateau's steady
    # window does not. This fraction of capacity (and of COP) is lost to them in the rating only.
    rating_defrost_loss_fraction: float = 0.0


@dataclass(frozen=True, slots=True)
class OperatingPoints:
    """Measured conditions of N operating points (arrays of equal length)."""

    air_temp_c: Array
    water_in_c: Array
    water_flow_l_min: Array
    comp_speed_rps: Array
    superheat_k: Array


@dataclass(frozen=True, slots=True)
class CycleSolution:
    """The solved cycle at N points; ``valid`` is False where the point lies outside the envelope."""

    valid: Array
    reason: list[str | None]
    evaporating_temp_c: Array
    condensing_temp_c: Array
    suction_p_bar: Array
    discharge_p_bar: Array
    intermediate_p_bar: Array
    suction_temp_c: Array
    discharge_temp_c: Array
    mass_flow_kg_s: Array
    injection_mass_flow_kg_s: Array
    condenser_heat_w: Array
    evaporator_heat_w: Array
    compressor_power_w: Array
    unit_power_w: Array
    capacity_w: Array
    cop: Array
    water_out_c: Array


@dataclass(frozen=True, slots=True)
class _States:
    q_cond: Array
    q_evap: Array
    q_sink: Array
    q_source: Array
    p_e: Array
    p_c: Array
    p_i: Array
    t_1: Array
    t_2: Array
    m_main: Array
    m_inj: Array
    w_shaft: Array
    h_2: Array


def _efficiencies(params: CycleParameters, pr: Array) -> tuple[Array, Array]:
    eta_v = params.volumetric_eff_at_pr1 - params.volumetric_eff_slope * (pr - 1.0)
    eta_is = (
        params.isentropic_eff_peak - params.isentropic_eff_curvature * np.log(pr / params.isentropic_eff_best_pr) ** 2
    )
    return np.clip(eta_v, 0.2, 1.0), np.clip(eta_is, 0.2, 0.9)


def _states(
    props: RefrigerantProperties,
    params: CycleParameters,
    mode: Mode,
    evi_on: bool,
    pts: OperatingPoints,
    c_water: Array,
    t_e: Array,
    t_c: Array,
    *,
    discharge: bool = True,
) -> _States:
    """Refrigerant- and secondary-side heat flows for given saturation temperatures (K)."""
    p_e, p_c = props.p_sat(t_e), props.p_sat(t_c)
    pr = p_c / p_e
    eta_v, eta_is = _efficiencies(params, pr)
    h_1, s_1, rho_1 = props.vapour(t_e, pts.superheat_k)
    m_main = rho_1 * params.displacement_cm3 / CM3_PER_M3 * pts.comp_speed_rps * eta_v
    h_3 = props.liquid_h(t_c, np.full_like(t_c, params.subcooling_k))
    if evi_on:
        p_i = np.sqrt(p_e * p_c)
        t_i = props.t_sat(p_i)
        # The economiser cools the main liquid to within its approach of the injection saturation.
        sub_main = np.maximum(t_c - t_i - params.economiser_approach_k, params.subcooling_k)
        h_5 = props.liquid_h(t_c, sub_main)
        h_inj = props.vapour_h(t_i, np.full_like(t_i, params.injection_superheat_k))
        m_inj = m_main * (h_3 - h_5) / (h_inj - h_3)
        # One isentropic efficiency on the ideal two-stage work (isentropic to p_i, adiabatic mixing,
        # isentropic to p_c); the losses heat the gas, so the discharge follows from the energy balance.
        h_1s = props.vapour_h_from_s(t_i, s_1)
        m_tot = m_main + m_inj
        h_mix_s = (m_main * h_1s + m_inj * h_inj) / m_tot
        s_mix_s = props.vapour_s_from_h(t_i, h_mix_s)
        w_ideal = m_main * (h_1s - h_1) + m_tot * (props.vapour_h_from_s(t_c, s_mix_s) - h_mix_s)
        w_shaft = w_ideal / eta_is
        h_2 = (m_main * h_1 + m_inj * h_inj + w_shaft) / m_tot
    else:
        p_i = np.full_like(p_e, np.nan)
        h_5 = h_3
        m_inj = np.zeros_like(m_main)
        m_tot = m_main
        h_2 = h_1 + (props.vapour_h_from_s(t_c, s_1) - h_1) / eta_is
        w_shaft = m_main * (h_2 - h_1)
    q_cond = m_tot * (h_2 - h_3)
    q_evap = m_main * (h_1 - h_5)
    t_air = pts.air_temp_c + ZERO_C_IN_K
    t_wi = pts.water_in_c + ZERO_C_IN_K
    eff_water = 1.0 - np.exp(-params.ua_water_hx_w_k / c_water)
    if mode == "heating":
        q_sink = c_water * eff_water * (t_c - t_wi)
        q_source = params.ua_air_coil_evaporating_w_k * (t_air - t_e)
    else:
        q_sink = params.ua_air_coil_condensing_w_k * (t_c - t_air)
        q_source = c_water * eff_water * (t_wi - t_e)
    # The discharge temperature is not part of the balances: skip it while iterating.
    t_2 = props.vapour_t_from_h(t_c, h_2) if discharge else h_2
    return _States(
        q_cond,
        q_evap,
        q_sink,
        q_source,
        p_e,
        p_c,
        p_i,
        t_e + pts.superheat_k,
        t_2,
        m_main,
        m_inj,
        w_shaft,
        h_2,
    )


def _initial_guess(mode: Mode, pts: OperatingPoints) -> tuple[Array, Array]:
    t_air = pts.air_temp_c + ZERO_C_IN_K
    t_wi = pts.water_in_c + ZERO_C_IN_K
    if mode == "heating":
        return t_air - 7.0, t_wi + 8.0
    return t_wi - 8.0, t_air + 10.0


def _subset(pts: OperatingPoints, idx: IndexArray) -> OperatingPoints:
    return OperatingPoints(
        pts.air_temp_c[idx], pts.water_in_c[idx], pts.water_flow_l_min[idx], pts.comp_speed_rps[idx],
        pts.superheat_k[idx],
    )  # fmt: skip


def _as_points(points: OperatingPoints) -> OperatingPoints:
    n = np.size(points.air_temp_c)
    arrays = (points.air_temp_c, points.water_in_c, points.water_flow_l_min, points.comp_speed_rps,
              points.superheat_k)  # fmt: skip
    return OperatingPoints(*(np.broadcast_to(np.asarray(a, float), (n,)).copy() for a in arrays))


def solve_cycle(
    *,
    props: RefrigerantProperties,
    params: CycleParameters,
    mode: Mode,
    evi_on: bool,
    points: OperatingPoints,
    max_iterations: int = 30,
) -> CycleSolution:
    """Solve N operating points; both heat-exchanger balances hold to 1e-6 K in T_evap and T_cond.

    Newton's method with a finite-difference Jacobian, refreshed by Broyden's update between
    evaluations (one property evaluation per step instead of three); only points not yet converged
    are evaluated again.
    """
    pts = _as_points(points)
    n = np.size(pts.air_temp_c)
    c_water = water.capacity_rate_w_k(flow_l_min=pts.water_flow_l_min, temp_c=pts.water_in_c)
    t_lo, t_hi = props.t_sat_min_k + 0.5, props.t_sat_max_k - 0.5
    t_e, t_c = _initial_guess(mode, pts)
    t_e, t_c = np.clip(t_e, t_lo, t_hi), np.clip(t_c, t_lo, t_hi)

    def residuals(idx: IndexArray, te: Array, tc: Array) -> tuple[Array, Array]:
        st = _states(props, params, mode, evi_on, _subset(pts, idx), c_water[idx], te, tc, discharge=False)
        return st.q_cond - st.q_sink, st.q_evap - st.q_source

    def jacobian(idx: IndexArray, te: Array, tc: Array) -> tuple[Array, ...]:
        delta = 1e-3
        m = idx.size
        idx3 = np.concatenate([idx, idx, idx])
        f1, f2 = residuals(idx3, np.concatenate([te, te + delta, te]), np.concatenate([tc, tc, tc + delta]))
        r1, r2 = f1[:m], f2[:m]
        return (r1, r2, (f1[m : 2 * m] - r1) / delta, (f1[2 * m :] - r1) / delta,
                (f2[m : 2 * m] - r2) / delta, (f2[2 * m :] - r2) / delta)  # fmt: skip

    converged = np.zeros(n, dtype=bool)
    active = np.arange(n)
    r1, r2, j11, j12, j21, j22 = jacobian(active, t_e, t_c)
    for iteration in range(max_iterations):
        det = j11 * j22 - j12 * j21
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        d_e = np.clip(np.nan_to_num(-(r1 * j22 - r2 * j12) / det), -8.0, 8.0)
        d_c = np.clip(np.nan_to_num(-(j11 * r2 - j21 * r1) / det), -8.0, 8.0)
        new_e = np.clip(t_e[active] + d_e, t_lo, t_hi)
        new_c = np.clip(t_c[active] + d_c, t_lo, t_hi)
        s_e, s_c = new_e - t_e[active], new_c - t_c[active]
        t_e[active], t_c[active] = new_e, new_c
        done = (np.abs(d_e) < 1e-6) & (np.abs(d_c) < 1e-6)
        converged[active[done]] = True
        keep = ~done
        active = active[keep]
        if active.size == 0:
            break
        r1, r2, j11, j12, j21, j22 = (a[keep] for a in (r1, r2, j11, j12, j21, j22))
        s_e, s_c = s_e[keep], s_c[keep]
        if iteration % 8 == 7:
            # A fresh Jacobian now and then keeps Broyden's approximation honest on hard points.
            r1, r2, j11, j12, j21, j22 = jacobian(active, t_e[active], t_c[active])
            continue
        n1, n2 = residuals(active, t_e[active], t_c[active])
        # Broyden's update: J += (Δr - J·s)·sᵀ / (sᵀ·s)
        ss = np.maximum(s_e * s_e + s_c * s_c, 1e-300)
        u1 = (n1 - r1) - (j11 * s_e + j12 * s_c)
        u2 = (n2 - r2) - (j21 * s_e + j22 * s_c)
        j11, j12 = j11 + u1 * s_e / ss, j12 + u1 * s_c / ss
        j21, j22 = j21 + u2 * s_e / ss, j22 + u2 * s_c / ss
        r1, r2 = n1, n2
    return _solution(props, params, mode, evi_on, pts, c_water, t_e, t_c, converged, t_lo, t_hi)


def _solution(
    props: RefrigerantProperties,
    params: CycleParameters,
    mode: Mode,
    evi_on: bool,
    pts: OperatingPoints,
    c_water: Array,
    t_e: Array,
    t_c: Array,
    converged: Array,
    t_lo: float,
    t_hi: float,
) -> CycleSolution:
    st = _states(props, params, mode, evi_on, pts, c_water, t_e, t_c)
    w_el = st.w_shaft / params.motor_inverter_eff
    aux = params.aux_power_heating_w if mode == "heating" else params.aux_power_cooling_w
    unit_power = w_el + aux
    capacity = st.q_cond if mode == "heating" else st.q_evap
    water_out = _water_outlet_c(mode, pts, capacity)
    valid, reasons = _envelope_reasons(t_e, t_c, st.p_c / st.p_e, converged, st.t_2, t_lo, t_hi, st.w_shaft)
    return CycleSolution(
        valid=valid,
        reason=reasons,
        evaporating_temp_c=t_e - ZERO_C_IN_K,
        condensing_temp_c=t_c - ZERO_C_IN_K,
        suction_p_bar=st.p_e / PA_PER_BAR,
        discharge_p_bar=st.p_c / PA_PER_BAR,
        intermediate_p_bar=st.p_i / PA_PER_BAR,
        suction_temp_c=st.t_1 - ZERO_C_IN_K,
        discharge_temp_c=st.t_2 - ZERO_C_IN_K,
        mass_flow_kg_s=st.m_main + st.m_inj,
        injection_mass_flow_kg_s=st.m_inj,
        condenser_heat_w=st.q_cond,
        evaporator_heat_w=st.q_evap,
        compressor_power_w=w_el,
        unit_power_w=unit_power,
        capacity_w=capacity,
        cop=capacity / unit_power,
        water_out_c=water_out,
    )


def _water_outlet_c(mode: Mode, pts: OperatingPoints, heat_w: Array) -> Array:
    """Water outlet temperature, with ρ·cp at the mean water temperature as the measured side uses it."""
    sign = 1.0 if mode == "heating" else -1.0
    water_out = pts.water_in_c
    for _ in range(3):  # ρ·cp varies by < 0.1 % over a few kelvin: three passes settle it to 1e-9
        c_mean = water.capacity_rate_w_k(flow_l_min=pts.water_flow_l_min, temp_c=0.5 * (pts.water_in_c + water_out))
        water_out = pts.water_in_c + sign * heat_w / c_mean
    return water_out


MAX_DISCHARGE_TEMP_C = 160.0


def _envelope_reasons(
    t_e: Array, t_c: Array, pr: Array, converged: Array, t_2: Array, t_lo: float, t_hi: float, w_shaft: Array
) -> tuple[Array, list[str | None]]:
    """Which solved points lie inside the model's envelope, and why the others do not, in plain words.

    The first reason that applies is the one given; a NaN pressure ratio or discharge temperature is outside.
    """
    outside = [
        (t_c >= t_hi - 1e-6,
         f"the condensing temperature would exceed {t_hi - ZERO_C_IN_K:.0f} °C, beyond the cycle model's range"),
        ((t_e <= t_lo + 1e-6) | (t_c <= t_lo + 1e-6),
         f"the evaporating temperature would fall below {t_lo - ZERO_C_IN_K:.0f} °C, beyond the model's range"),
        (np.logical_not(converged), "the cycle model found no steady state at these conditions"),
        (~(pr > 1.0) | (w_shaft <= 0.0),
         "the modelled pressure ratio is not above 1: the unit cannot pump heat at these conditions"),
        (~(t_2 - ZERO_C_IN_K <= MAX_DISCHARGE_TEMP_C),
         f"the modelled discharge temperature exceeds {MAX_DISCHARGE_TEMP_C:.0f} °C"),
    ]  # fmt: skip
    reasons: list[str | None] = [None] * np.size(t_e)
    decided = np.zeros(np.shape(t_e), dtype=bool)
    for mask, reason in outside:
        for i in np.flatnonzero(mask & ~decided):
            reasons[i] = reason
        decided |= mask
    return ~decided, reasons
