"""Run-in results drawn from the cycle model (app.cyclemodel): plateaus, EVI step, defrost, traces.

Each unit gets its own slightly different cycle parameters (manufacturing spread) and is measured
with instrument noise; the MES judges it against the nominal model at the measured conditions.
"""

from __future__ import annotations

import dataclasses
import importlib
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.opcua.simulator.faults import Fault, UnitTruth
from app.opcua.simulator.physics import CycleOutput, Value
from app.opcua.simulator.products import ProductFacts

DEFROST_SEQUENCE = (
    "compressor_stop,fan_stop,valve_reverse,compressor_start,compressor_stop,valve_restore,fan_start,compressor_start"
)
SAMPLE_S = 5.0


@dataclass(frozen=True, slots=True)
class Plateau:
    code: str
    mode: str
    air_c: float
    water_in_c: float
    speed_rps: float
    start_s: float
    window: tuple[float, float]


PLATEAUS = (
    Plateau("M10", "heating", -10.0, 30.0, 66.0, 0.0, (1200.0, 1700.0)),
    Plateau("P07", "heating", 7.0, 30.0, 60.0, 2400.0, (3500.0, 4100.0)),
    Plateau("P45", "cooling", 45.0, 12.0, 70.0, 4500.0, (5600.0, 6200.0)),
)
END_S = 6300.0
EVI_STEP_S = 900.0
DEFROST_START_S = 1750.0


def _cyclemodel(module: str) -> Any:
    """A cycle-model module, loaded at run time: the simulator depends on its behaviour, not its typing."""
    return importlib.import_module(f"app.cyclemodel.{module}")


def _solve(props: Any, params: Any, *, mode: str, evi_on: bool, plateau: Plateau, flow: float) -> dict[str, float]:
    cycle = _cyclemodel("cycle")
    OperatingPoints, solve_cycle = cycle.OperatingPoints, cycle.solve_cycle

    points = OperatingPoints(
        air_temp_c=np.array([plateau.air_c]),
        water_in_c=np.array([plateau.water_in_c]),
        water_flow_l_min=np.array([flow]),
        comp_speed_rps=np.array([plateau.speed_rps]),
        superheat_k=np.array([params.superheat_setpoint_k]),
    )
    sol = solve_cycle(props=props, params=params, mode=mode, evi_on=evi_on, points=points)
    names = (
        "evaporating_temp_c",
        "condensing_temp_c",
        "suction_p_bar",
        "discharge_p_bar",
        "intermediate_p_bar",
        "suction_temp_c",
        "discharge_temp_c",
        "compressor_power_w",
        "unit_power_w",
        "capacity_w",
        "water_out_c",
    )
    out = {name: float(getattr(sol, name)[0]) for name in names}
    out["valid"] = float(bool(sol.valid[0]))
    return out


def run_in(unit: UnitTruth, product: ProductFacts, rng: random.Random) -> CycleOutput:
    """The run-in result of one unit."""
    physics = _cyclemodel("products").DEMO_PRODUCTS[product.model_code]
    nominal = _cyclemodel("paramsets").load_shipped(product_model_code=product.model_code).parameters
    params = dataclasses.replace(
        nominal,
        isentropic_eff_peak=nominal.isentropic_eff_peak * rng.gauss(1.0, 0.004),
        ua_water_hx_w_k=nominal.ua_water_hx_w_k * rng.gauss(1.0, 0.01),
        ua_air_coil_evaporating_w_k=nominal.ua_air_coil_evaporating_w_k * rng.gauss(1.0, 0.01),
    )
    props = _cyclemodel("properties").table_properties(physics.refrigerant)
    flow = product.nominal_capacity_w / (4186.0 * 5.0) * 60.0
    values: dict[str, Value] = {}
    states: dict[str, dict[str, float]] = {}
    for plateau in PLATEAUS:
        evi_on = plateau.mode == "heating" and physics.evi_on_at(air_temp_c=plateau.air_c)
        if Fault.EVI_STUCK_CLOSED in unit.faults:
            evi_on = False
        s = _solve(props, params, mode=plateau.mode, evi_on=evi_on, plateau=plateau, flow=flow)
        states[plateau.code] = s
        drift = 2.5 if Fault.AIR_SENSOR_DRIFT in unit.faults else 0.0
        p = plateau.code
        values |= {
            f"{p}_WindowStart_s": plateau.window[0],
            f"{p}_WindowEnd_s": plateau.window[1],
            f"{p}_AirTemp_C": plateau.air_c + rng.gauss(0, 0.05),
            f"{p}_WaterIn_C": plateau.water_in_c + rng.gauss(0, 0.02),
            f"{p}_WaterOut_C": s["water_out_c"] + rng.gauss(0, 0.02),
            f"{p}_WaterFlow_l_min": flow * rng.gauss(1.0, 0.002),
            f"{p}_CompSpeed_rps": plateau.speed_rps,
            f"{p}_SuctionP_bar": s["suction_p_bar"] * rng.gauss(1.0, 0.002),
            f"{p}_DischargeP_bar": s["discharge_p_bar"] * rng.gauss(1.0, 0.002),
            f"{p}_SuctionT_C": s["suction_temp_c"] + rng.gauss(0, 0.1),
            f"{p}_DischargeT_C": s["discharge_temp_c"] + rng.gauss(0, 0.3),
            f"{p}_LiquidT_C": s["condensing_temp_c"] - params.subcooling_k + rng.gauss(0, 0.1),
            f"{p}_CompPower_W": s["compressor_power_w"] * rng.gauss(1.0, 0.004),
            f"{p}_UnitPower_W": s["unit_power_w"] * rng.gauss(1.0, 0.004),
            f"{p}_UnitAirSensor_C": plateau.air_c + drift + rng.gauss(0, 0.2),
        }
    values |= _evi_step(unit, product, props, params, flow, rng)
    timeout = Fault.DEFROST_TIMEOUT in unit.faults
    defrost_s = 600.0 if timeout else rng.uniform(200.0, 300.0)
    values |= {
        "Defrost_StartAt_s": DEFROST_START_S,
        "Defrost_Duration_s": defrost_s,
        "Defrost_EndedOn": "timeout" if timeout else "temperature",
        "Defrost_Sequence": DEFROST_SEQUENCE,
    }
    traces = _traces(states, values, defrost_s, timeout, rng)
    live = {ch: [float(v) for v in samples[:: max(1, len(samples) // 10)]] for ch, (_, samples) in traces.items()}
    return CycleOutput(values, traces, END_S, live)


def _evi_step(
    unit: UnitTruth, product: ProductFacts, props: Any, params: Any, flow: float, rng: random.Random
) -> dict[str, Value]:
    names = (
        "EviStepAt_s",
        "EviOff_Capacity_W",
        "EviOn_Capacity_W",
        "EviOff_DischargeT_C",
        "EviOn_DischargeT_C",
        "EviOn_InjectionT_C",
    )
    if not product.evi:
        return {f"M10_{n}": None for n in names}
    m10 = PLATEAUS[0]
    off = _solve(props, params, mode="heating", evi_on=False, plateau=m10, flow=flow)
    on = (
        off
        if Fault.EVI_STUCK_CLOSED in unit.faults
        else _solve(props, params, mode="heating", evi_on=True, plateau=m10, flow=flow)
    )
    injection_c = float(props.t_sat(np.array([on["intermediate_p_bar"] * 1e5]))[0]) - 273.15
    return {
        "M10_EviStepAt_s": EVI_STEP_S,
        "M10_EviOff_Capacity_W": off["capacity_w"] * rng.gauss(1.0, 0.004),
        "M10_EviOn_Capacity_W": on["capacity_w"] * rng.gauss(1.0, 0.004),
        "M10_EviOff_DischargeT_C": off["discharge_temp_c"] + rng.gauss(0, 0.08),
        "M10_EviOn_DischargeT_C": on["discharge_temp_c"] + rng.gauss(0, 0.08),
        "M10_EviOn_InjectionT_C": (injection_c + params.injection_superheat_k) if on is not off else None,
    }


def _traces(
    states: dict[str, dict[str, float]], values: dict[str, Value], defrost_s: float, timeout: bool, rng: random.Random
) -> dict[str, tuple[list[float], list[float]]]:
    """Piecewise first-order responses towards each plateau's steady values, with a defrost at M10."""
    t = np.arange(0.0, END_S, SAMPLE_S)
    channels = {
        "AirT_C": lambda p, s: p.air_c,
        "DischargeT_C": lambda p, s: s["discharge_temp_c"],
        "SuctionP_bar": lambda p, s: s["suction_p_bar"],
        "DischargeP_bar": lambda p, s: s["discharge_p_bar"],
        "CoilT_C": lambda p, s: s["evaporating_temp_c"] if p.mode == "heating" else s["condensing_temp_c"],
        "WaterOut_C": lambda p, s: s["water_out_c"],
    }
    out = {}
    for channel, target_of in channels.items():
        series = np.empty_like(t)
        current = 20.0 if channel in ("AirT_C", "CoilT_C", "WaterOut_C", "DischargeT_C") else 8.0
        for i, ti in enumerate(t):
            plateau = next(p for p in reversed(PLATEAUS) if ti >= p.start_s)
            target = target_of(plateau, states[plateau.code])
            if plateau.code == "M10" and DEFROST_START_S <= ti < DEFROST_START_S + defrost_s:
                target = {"CoilT_C": 4.0 if timeout else 8.0, "WaterOut_C": target - 4.0}.get(channel, target)
            current += (target - current) * (1.0 - np.exp(-SAMPLE_S / 90.0))
            series[i] = current
        series += np.array([rng.gauss(0, 0.02) for _ in t])
        out[channel] = ([float(x) for x in t], [float(x) for x in series])
    return out
