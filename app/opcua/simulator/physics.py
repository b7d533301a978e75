"""Plausible results per station type: process physics, unit-to-unit spread, instrument noise, faults.

Numbers follow line.md (limits, nominals) so that a good unit passes with margin and an injected
fault fails the check that is meant to catch it; ``near_limit`` units sit closer to the limits.
Run-in values come from the cycle model (``run_in.py``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from app.cyclemodel.vacuum import expected_tight_rise_pa
from app.opcua.simulator.faults import Fault, UnitTruth
from app.opcua.simulator.products import ProductFacts, product_facts

Value = float | str | bool | datetime | None
Trace = tuple[list[float], list[float]]


@dataclass(frozen=True, slots=True)
class CycleOutput:
    """What one cycle produced: result values, traces, and how long the cycle took (plant seconds)."""

    values: dict[str, Value]
    traces: dict[str, Trace]
    cycle_s: float
    live: dict[str, list[float]]  # channel -> a few values to show while the cycle runs


def _trace(t: np.ndarray, v: np.ndarray) -> Trace:
    return ([float(x) for x in t], [float(x) for x in v])


CYLINDER_G = 40_000.0  # refrigerant in one charging cylinder


def _lot(unit: UnitTruth, prefix: str, *, units_per_lot: int) -> str:
    """The batch a unit's part or material came from, shared by consecutive units as on a line: a coil batch,
    a furnace run, a filler or cylinder lot holds ``units_per_lot`` units in serial order."""
    number = unit.serial.rpartition("-")[2]
    sequence = int(number) if number.isdigit() else 0
    return f"{prefix}-{sequence // max(1, units_per_lot):04d}"


def coil_expansion(unit: UnitTruth, product: ProductFacts, rng: random.Random) -> CycleOutput:
    hairpins = 24
    spread = 1.3 if unit.near_limit else 0.8
    # the tool's envelope is 30–45 kN: a good coil stays clear of its guard band
    peaks = np.array([min(max(rng.gauss(37.5, spread), 32.0), 43.0) for _ in range(hairpins)])
    peak_t = np.arange(hairpins) * 2.0 + 1.2
    t = np.arange(0.0, hairpins * 2.0, 0.02)
    phase = (t % 2.0) / 2.0
    force = peaks[np.minimum((t // 2.0).astype(int), hairpins - 1)] * np.sin(np.pi * np.clip(phase / 0.6, 0, 1)) ** 2
    force += np.array([rng.gauss(0, 0.1) for _ in t])
    values: dict[str, Value] = {
        "CoilBatch": _lot(unit, "CB", units_per_lot=50),
        "PeakForce_kN": float(peaks.max()),
        "LengthLoss_mm": rng.gauss(1.6, 0.2),
        "FinPitch_mm": rng.gauss(1.80, 0.006),
    }
    return CycleOutput(
        values,
        {"HairpinPeakForce_kN": _trace(peak_t, peaks), "Force_kN": _trace(t, force)},
        48.0,
        {"Force_kN": [float(x) for x in force[::250]]},
    )


def brazing(unit: UnitTruth, product: ProductFacts, rng: random.Random) -> CycleOutput:
    t = np.arange(0.0, 1500.0, 1.0)
    peak_c = min(max(rng.gauss(770.0, 12.0 if unit.near_limit else 7.0), 722.0), 818.0)  # 710–830 °C, U 3
    part = 20.0 + (peak_c - 20.0) * np.exp(-(((t - 800.0) / 260.0) ** 2))
    part += np.array([rng.gauss(0, 0.8) for _ in t])
    dew = rng.gauss(-44.0, 1.0) if Fault.DEW_POINT_EXCURSION in unit.faults else rng.gauss(-60.0, 2.0)
    values: dict[str, Value] = {
        "FurnaceRun": _lot(unit, "FR", units_per_lot=25),
        "FillerLot": _lot(unit, "AG15", units_per_lot=200),
        "PeakZoneTemp_C": peak_c + 25.0,
        "DewPoint_C": dew,
        "O2_ppm": abs(rng.gauss(12.0, 4.0)),
        "BeltSpeed_mm_min": rng.gauss(300.0, 2.0),
    }
    return CycleOutput(values, {"PartTemp_C": _trace(t, part)}, 1500.0, {"PartTemp_C": [float(x) for x in part[::150]]})


def sub_base_assembly(unit: UnitTruth, product: ProductFacts, rng: random.Random) -> CycleOutput:
    compressor = product.compressor_model
    if Fault.WRONG_COMPRESSOR in unit.faults:
        compressor = product.wrong_compressor_model
    torques = np.array([min(max(rng.gauss(6.0, 0.08), 5.7), 6.3) for _ in range(12)])  # 6.0 N·m ± 10 %
    # a part goes into one unit: its serial is unique by construction (random ones collide over a long run)
    part = "".join(ch for ch in unit.serial if ch.isalnum()) + f"{rng.randint(0, 999):03d}"
    values: dict[str, Value] = {
        "CompressorSerial": f"C{part}",
        "CompressorModel": compressor,
        "InverterSerial": f"I{part}",
        "InverterModel": product.inverter_model,
        "InverterFirmware": "3.2.1",
        "EviValveSerial": f"V{part}" if product.evi_valve_model else "",
        "EviValveModel": product.evi_valve_model,
        "EarthContinuity_ohm": abs(rng.gauss(0.035, 0.008)),
        "EarthTestCurrent_A": rng.gauss(10.6, 0.1),
        "HipotPassed": True,
    }
    t = np.arange(12) * 4.0 + 3.0
    return CycleOutput(values, {"FastenerTorque_Nm": _trace(t, torques)}, 60.0, {"FastenerTorque_Nm": list(torques)})


def _tight_circuit_rise_pa(
    unit: UnitTruth, product: ProductFacts, dt_s: np.ndarray, *, pumped_for_s: float
) -> np.ndarray:
    """A tight, dry circuit's rise: the cycle model's outgassing (falling as 1/t, plus the oil) times this
    unit's own factor of 0.8–1.5, drawn from its serial so that the line's random stream is not shifted."""
    factor = random.Random(f"outgassing:{unit.serial}").uniform(0.8, 1.5)
    rise = [
        expected_tight_rise_pa(volume_l=product.internal_volume_l, duration_s=float(d), pumped_for_s=pumped_for_s)
        for d in dt_s
    ]
    return factor * np.asarray(rise)


def vacuum_dehydration(unit: UnitTruth, product: ProductFacts, rng: random.Random) -> CycleOutput:
    """Pump-down to below 50 Pa, hold ≥ 30 min, isolate, 600 s rise test; leak and moisture shape the rise."""
    target_pa, rise_s = 50.0, 600.0
    floor_pa = rng.uniform(18.0, 30.0)
    pump_tau_s = 55.0 * product.internal_volume_l / 2.5
    reach_s = pump_tau_s * math.log(101_325.0 / target_pa)
    hold_s = 1800.0 + (rng.uniform(120.0, 200.0) if unit.near_limit else rng.uniform(300.0, 600.0))
    isolate_s = reach_s + hold_s
    t = np.arange(0.0, isolate_s + rise_s, 1.0)
    pump = floor_pa + (101_325.0 - floor_pa) * np.exp(-t / pump_tau_s)
    dt = np.clip(t - isolate_s, 0.0, None)
    if Fault.GROSS_LEAK in unit.faults:
        rise = 1.4 * dt  # linear: air coming in
    elif Fault.MOISTURE in unit.faults:
        rise = 1500.0 * (1.0 - np.exp(-dt / 120.0))  # levels off towards the vapour pressure of water
    elif Fault.FINE_LEAK in unit.faults:
        rise = 0.03 * dt  # too small to see here: caught by the leak test
    else:
        rise = _tight_circuit_rise_pa(unit, product, dt, pumped_for_s=isolate_s)
    pressure = np.where(t < isolate_s, pump, pump[int(isolate_s)] + rise)
    pressure = pressure * (1.0 + np.array([rng.gauss(0, 0.01) for _ in t]))
    below = (t < isolate_s) & (pressure <= target_pa)
    first_below = float(t[np.argmax(below)]) if below.any() else isolate_s
    values: dict[str, Value] = {
        "IsolationAt_s": isolate_s,
        "PressureAtIsolation_Pa": float(pressure[int(isolate_s)]),
        "TimeBelowTarget_s": isolate_s - first_below,
        "RiseTestDuration_s": rise_s,
    }
    live = [float(x) for x in pressure[:: max(1, len(pressure) // 20)]]
    return CycleOutput(values, {"Pressure_Pa": _trace(t, pressure)}, float(t[-1]), {"Pressure_Pa": live})


def charging(unit: UnitTruth, product: ProductFacts, rng: random.Random) -> CycleOutput:
    nominal = product.nominal_charge_g or 0.0
    tolerance = product.charge_tolerance_g or 1.0
    spread = tolerance * (0.15 if unit.near_limit else 0.08)
    mass = min(max(rng.gauss(nominal, spread), nominal - 0.5 * tolerance), nominal + 0.5 * tolerance)
    if Fault.UNDERCHARGE in unit.faults:
        mass = nominal - tolerance * 2.5
    elif Fault.OVERCHARGE in unit.faults:
        mass = nominal + tolerance * 2.5
    elif Fault.CHARGE_OVER_CAP in unit.faults:
        mass = (product.market_cap_g or nominal) + 2.0
    values: dict[str, Value] = {
        "ChargedMass_g": mass,
        "CylinderLot": _lot(
            unit, f"CYL-{product.refrigerant}", units_per_lot=int(CYLINDER_G // nominal) if nominal > 0 else 1
        ),
        "LiquidTemp_C": rng.gauss(21.0, 0.5),
        "LiquidPressure_bar": product.liquid_pressure_bar_at_21c * rng.gauss(1.0, 0.01),
        "ChargeTime_s": rng.gauss(45.0, 3.0),
    }
    ramp = [mass * f for f in (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)]
    return CycleOutput(values, {}, 50.0, {"ChargedMass_g": ramp})


def leak_test(unit: UnitTruth, product: ProductFacts, rng: random.Random, now: datetime) -> CycleOutput:
    limit = product.leak_limit_mbar_l_s
    signal = limit * (rng.uniform(0.2, 0.6) if unit.near_limit else rng.uniform(0.02, 0.15))
    if Fault.FINE_LEAK in unit.faults or Fault.GROSS_LEAK in unit.faults:
        signal = limit * rng.uniform(2.5, 5.0)
    nominal = 1.0e-5
    values: dict[str, Value] = {
        "TracerGas": product.refrigerant,
        "LeakSignal_mbar_l_s": signal,
        "TestPressure_bar": product.leak_test_pressure_bar_abs,
        "InstrumentId": "LD-01",
        "RefLeakCheckAt": (now - timedelta(hours=2)).replace(microsecond=0),
        "RefLeakNominal_mbar_l_s": nominal,
        "RefLeakReading_mbar_l_s": nominal * rng.gauss(1.0, 0.03),
    }
    return CycleOutput(values, {}, 90.0, {"LeakSignal_mbar_l_s": [signal * f for f in (0.3, 0.8, 1.0, 1.0)]})


Generator = Callable[[UnitTruth, ProductFacts, random.Random, datetime], CycleOutput]


def generate(*, station_type: str, unit: UnitTruth, rng: random.Random, now: datetime | None = None) -> CycleOutput:
    """One cycle's output for a unit at a station type."""
    product = product_facts(unit.model_code)
    now = now or datetime.now(UTC)
    if station_type == "run_in":
        from app.opcua.simulator.run_in import run_in

        return run_in(unit, product, rng)
    simple: dict[str, Callable[[UnitTruth, ProductFacts, random.Random], CycleOutput]] = {
        "coil_expansion": coil_expansion,
        "brazing": brazing,
        "sub_base_assembly": sub_base_assembly,
        "vacuum_dehydration": vacuum_dehydration,
        "charging": charging,
    }
    if station_type == "leak_test":
        return leak_test(unit, product, rng, now)
    return simple[station_type](unit, product, rng)
