"""Demo products, a small hand-written cycle model and good results for every station type.

Shared by the rules tests, the station contract tests and the benchmark. The fake cycle model is
crude but honest: it derives the "measured" side of every residual from the result's values, so a
bad measurement gives a bad residual.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import numpy as np

from app.cyclemodel import leak
from app.domain.expectations import EviStepExpectation, PlateauCode, PlateauExpectation, Residual
from app.domain.results import Measurement, MeasurementValue, StationResult, Trace
from app.rules import ProductData, RatingPoint
from stations import get_station_type
from stations.run_in import PLATEAU_VALUES

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

HPM_06 = ProductData(
    model_code="HPM-06-R290-EVI",
    refrigerant="R290",
    gwp=3,
    construction="monobloc",
    market="EU",
    evi=True,
    circuit_volume_l=2.5,
    max_allowable_pressure_bar_g=25.0,
    nominal_charge_g=140.0,
    charge_tolerance_g=2.0,
    market_cap_g=150.0,
    market_cap_source="EU sealed R290 monobloc cap (seed)",
    bom=MappingProxyType({"compressor": "RSC-19-EVI", "inverter": "INV-06", "evi_valve": "EVV-2"}),
    ratings=(
        RatingPoint(point="A7/W35", mode="heating", capacity_kw=6.0, efficiency=4.8),
        RatingPoint(point="A-7/W35", mode="heating", capacity_kw=4.4, efficiency=3.1),
        RatingPoint(point="A35/W7", mode="cooling", capacity_kw=5.5, efficiency=3.0),
    ),
)
HPM_12 = ProductData(
    model_code="HPM-12-R32-EVI",
    refrigerant="R32",
    gwp=675,
    construction="monobloc",
    market="export",
    evi=True,
    circuit_volume_l=4.0,
    max_allowable_pressure_bar_g=42.0,
    nominal_charge_g=1200.0,
    charge_tolerance_g=10.0,
    market_cap_g=None,
    bom=MappingProxyType({"compressor": "RSC-38-EVI", "inverter": "INV-12", "evi_valve": "EVV-3"}),
)
HPS_10 = ProductData(
    model_code="HPS-10-R32",
    refrigerant="R32",
    gwp=675,
    construction="split",
    market="EU",
    evi=False,
    circuit_volume_l=3.2,
    max_allowable_pressure_bar_g=42.0,
    nominal_charge_g=None,
    charge_tolerance_g=None,
    bom=MappingProxyType({"compressor": "RSC-30", "inverter": "INV-10", "evi_valve": None}),
)
PRODUCTS = {p.model_code: p for p in (HPM_06, HPM_12, HPS_10)}


# --- the hand-written cycle model ------------------------------------------------------------


def saturation_temp_c(pressure_bar: float) -> float:
    """A made-up saturation curve, invertible, good enough to exercise the residual checks."""
    return 25.0 * math.log(pressure_bar) - 30.0


def saturation_pressure_bar(temp_c: float) -> float:
    return math.exp((temp_c + 30.0) / 25.0)


#: The "true" cycle at each plateau: the fake model expects these, the good result measures them.
TRUE_CYCLE: Mapping[str, Mapping[str, float]] = {
    "M10": {
        "evaporating_temp_c": -16.0,
        "condensing_temp_c": 38.0,
        "discharge_temp_c": 88.0,
        "superheat_k": 5.0,
        "capacity_w": 4400.0,
        "cop": 3.1,
        "compressor_power_w": 1250.0,
    },
    "P07": {
        "evaporating_temp_c": 2.0,
        "condensing_temp_c": 38.0,
        "discharge_temp_c": 70.0,
        "superheat_k": 5.0,
        "capacity_w": 6000.0,
        "cop": 4.8,
        "compressor_power_w": 1100.0,
    },
    "P45": {
        "evaporating_temp_c": 4.0,
        "condensing_temp_c": 52.0,
        "discharge_temp_c": 80.0,
        "superheat_k": 6.0,
        "capacity_w": 5500.0,
        "cop": 3.0,
        "compressor_power_w": 1600.0,
    },
}
AMBIENT_C = {"M10": -10.0, "P07": 7.0, "P45": 45.0}
RESIDUAL_U = {
    "evaporating_temp_c": 0.4,
    "condensing_temp_c": 0.4,
    "discharge_temp_c": 1.5,
    "superheat_k": 0.5,
}
RESIDUAL_U_FRACTION = {"capacity_w": 0.03, "cop": 0.03, "compressor_power_w": 0.02}
WATER_FLOW_L_MIN = 12.0
WATER_IN_C = 30.0
#: line.md, run_in: "the steps run in the order …", written out here and not taken from stations.run_in,
#: so that a wrong order in the station's table fails the good result.
DEFROST_SEQUENCE = (
    "compressor_stop,fan_stop,valve_reverse,compressor_start,"  # reverse: the outdoor coil becomes the condenser
    "compressor_stop,valve_restore,fan_start,compressor_start"
)


class FakeCycleExpectations:
    """Implements app.domain.expectations.CycleExpectations for tests."""

    def __init__(
        self,
        *,
        expected: Mapping[str, Mapping[str, float]] = TRUE_CYCLE,
        evi_gain: float = 0.16,
        invalid_plateaus: Mapping[str, str] | None = None,
    ) -> None:
        self.expected = expected
        self.evi_gain = evi_gain
        self.invalid_plateaus = dict(invalid_plateaus or {})

    def model_version(self, product_model_code: str) -> str:
        return f"fake-0.1/{product_model_code}"

    def plateau(
        self,
        *,
        product_model_code: str,
        plateau: PlateauCode,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> PlateauExpectation:
        mode = "cooling" if plateau == "P45" else "heating"
        if plateau in self.invalid_plateaus:
            return PlateauExpectation(
                plateau=plateau, mode=mode, valid=False, reason=self.invalid_plateaus[plateau], quantities={}
            )
        names = (
            "SuctionP_bar",
            "DischargeP_bar",
            "SuctionT_C",
            "DischargeT_C",
            "WaterIn_C",
            "WaterOut_C",
            "WaterFlow_l_min",
            "CompPower_W",
            "UnitPower_W",
        )
        v = {n: values.get(f"{plateau}_{n}") for n in names}
        missing = [n for n, x in v.items() if x is None]
        if missing:
            return PlateauExpectation(
                plateau=plateau,
                mode=mode,
                valid=False,
                reason=f"not measured: {', '.join(missing)}",
                quantities={},
            )
        x: dict[str, float] = {n: float(val) for n, val in v.items() if val is not None}
        if x["DischargeP_bar"] <= x["SuctionP_bar"]:
            return PlateauExpectation(
                plateau=plateau,
                mode=mode,
                valid=False,
                reason="pressure ratio ≤ 1: the compressor is not pumping",
                quantities={},
            )
        evaporating = saturation_temp_c(x["SuctionP_bar"])
        capacity = x["WaterFlow_l_min"] / 60.0 * 4186.0 * abs(x["WaterOut_C"] - x["WaterIn_C"])
        measured = {
            "evaporating_temp_c": evaporating,
            "condensing_temp_c": saturation_temp_c(x["DischargeP_bar"]),
            "discharge_temp_c": x["DischargeT_C"],
            "superheat_k": x["SuctionT_C"] - evaporating,
            "capacity_w": capacity,
            "cop": capacity / x["UnitPower_W"],
            "compressor_power_w": x["CompPower_W"],
        }
        expected = self.expected[plateau]
        units = {"capacity_w": "W", "cop": "1", "compressor_power_w": "W", "superheat_k": "K"}
        quantities = {
            q: Residual(
                measured=measured[q],
                expected=expected[q],
                uncertainty=RESIDUAL_U.get(q) or RESIDUAL_U_FRACTION[q] * expected[q],
                unit=units.get(q, "°C"),
            )
            for q in expected
        }
        return PlateauExpectation(plateau=plateau, mode=mode, valid=True, reason=None, quantities=quantities)

    def evi_step(
        self,
        *,
        product_model_code: str,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> EviStepExpectation:
        return EviStepExpectation(
            valid=True, reason=None, capacity_gain_fraction=self.evi_gain, discharge_temp_change_k=-6.0
        )

    def leak_rate_g_per_year(
        self, *, tracer_gas: str, signal_mbar_l_s: float, test_pressure_bar_abs: float, refrigerant: str
    ) -> float:
        return leak.leak_rate_g_per_year(
            tracer_gas=tracer_gas,
            signal_mbar_l_s=signal_mbar_l_s,
            test_pressure_bar_abs=test_pressure_bar_abs,
            refrigerant=refrigerant,
        )


# --- results --------------------------------------------------------------------------------


def values(**named: MeasurementValue) -> tuple[Measurement, ...]:
    return tuple(Measurement(name=k, value=v) for k, v in named.items())


def trace(channel: str, samples: np.ndarray | list[float], t_s: np.ndarray | list[float] | None = None) -> Trace:
    samples = [float(s) for s in samples]
    times = [float(t) for t in t_s] if t_s is not None else [float(i) for i in range(len(samples))]
    return Trace(channel=channel, t_s=tuple(times), values=tuple(samples))


def with_values(result: StationResult, **changes: MeasurementValue) -> StationResult:
    """The result with some measurements replaced (or added); a name mapped to ``...`` is removed."""
    kept = tuple(m for m in result.measurements if m.name not in changes)
    added = tuple(Measurement(name=k, value=v) for k, v in changes.items() if v is not ...)
    return replace(result, measurements=kept + added)


def with_trace(result: StationResult, new: Trace | None, *, channel: str | None = None) -> StationResult:
    """The result with one trace replaced (``new``) or removed (``new`` None, ``channel`` given)."""
    name = new.channel if new is not None else channel
    kept = tuple(t for t in result.traces if t.channel != name)
    return replace(result, traces=kept + ((new,) if new is not None else ()))


def vacuum_pressure(
    *,
    hold_pa: float = 20.0,
    isolation_s: float = 2100.0,
    rise: Callable[[np.ndarray], np.ndarray] | None = None,
    rise_s: float = 600.0,
    noise_pa: float = 0.3,
    seed: int = 1,
) -> Trace:
    """Pump-down from atmosphere to ``hold_pa``, isolation, then ``rise(t since isolation)``; 1 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, isolation_s + rise_s + 1.0)
    p = 101325.0 * np.exp(-t / 25.0) + hold_pa + rng.normal(0.0, noise_pa, t.size)
    after = t > isolation_s
    rise_fn = rise or (lambda x: 0.02 * x)
    p[after] = hold_pa + rise_fn(t[after] - isolation_s) + rng.normal(0.0, noise_pa, int(after.sum()))
    return trace("Pressure_Pa", np.maximum(p, 0.1), t)


def run_in_traces(
    *,
    defrost_start_s: float = 1500.0,
    defrost_s: float = 300.0,
    recovery_s: float = 200.0,
    coil_peak_c: float = 12.0,
    seed: int = 2,
) -> tuple[Trace, ...]:
    """One run-in cycle at 1 Hz: M10 window 600–1200 s, defrost, P07 3000–3600 s, P45 4100–4700 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 4800.0)
    segments = [(0.0, "M10"), (2700.0, "P07"), (3700.0, "P45")]

    def plateau_signal(pick: Callable[[str], float]) -> np.ndarray:
        out = np.empty_like(t)
        for (start, plateau), nxt in zip(segments, [*segments[1:], (1e9, "")], strict=True):
            inside = (t >= start) & (t < nxt[0])
            out[inside] = pick(plateau)
        # Smooth the steps between plateaus (transitions lie outside the steady windows).
        kernel = np.ones(120) / 120.0
        return np.convolve(np.pad(out, (60, 59), mode="edge"), kernel, mode="valid")

    air = plateau_signal(lambda p: AMBIENT_C[p])
    discharge = plateau_signal(lambda p: TRUE_CYCLE[p]["discharge_temp_c"])
    coil = plateau_signal(lambda p: TRUE_CYCLE[p]["evaporating_temp_c"] + 2.0)
    water = plateau_signal(lambda p: WATER_IN_C + TRUE_CYCLE[p]["capacity_w"] / (WATER_FLOW_L_MIN / 60 * 4186))
    suction_p = plateau_signal(lambda p: saturation_pressure_bar(TRUE_CYCLE[p]["evaporating_temp_c"]))
    discharge_p = plateau_signal(lambda p: saturation_pressure_bar(TRUE_CYCLE[p]["condensing_temp_c"]))
    end = defrost_start_s + defrost_s
    in_defrost = (t >= defrost_start_s) & (t <= end)
    phase = (t[in_defrost] - defrost_start_s) / defrost_s
    coil[in_defrost] = coil[in_defrost] + (coil_peak_c - coil[in_defrost]) * np.sin(np.pi * phase) ** 0.5
    before = water[int(defrost_start_s) - 1]
    water[in_defrost] = before - 5.0 * np.sin(np.pi * phase / 2)
    recovering = (t > end) & (t < 2640.0)  # until the ramp to P07 starts
    water[recovering] = before - 5.0 * np.exp(-(t[recovering] - end) / (recovery_s / 3.0))
    noisy = {
        "AirT_C": air,
        "DischargeT_C": discharge,
        "CoilT_C": coil,
        "WaterOut_C": water,
        "SuctionP_bar": suction_p,
        "DischargeP_bar": discharge_p,
    }
    return tuple(trace(ch, sig + rng.normal(0.0, 0.03, t.size), t) for ch, sig in noisy.items())


def _run_in_values(product: ProductData) -> tuple[Measurement, ...]:
    named: dict[str, MeasurementValue] = {}
    windows = {"M10": (600.0, 1200.0), "P07": (3000.0, 3600.0), "P45": (4100.0, 4700.0)}
    for plateau, cycle in TRUE_CYCLE.items():
        water_dt = cycle["capacity_w"] / (WATER_FLOW_L_MIN / 60.0 * 4186.0)
        cooling = plateau == "P45"
        base = {
            "WindowStart_s": windows[plateau][0],
            "WindowEnd_s": windows[plateau][1],
            "AirTemp_C": AMBIENT_C[plateau],
            "WaterIn_C": WATER_IN_C,
            "WaterOut_C": WATER_IN_C - water_dt if cooling else WATER_IN_C + water_dt,
            "WaterFlow_l_min": WATER_FLOW_L_MIN,
            "CompSpeed_rps": 60.0,
            "SuctionP_bar": saturation_pressure_bar(cycle["evaporating_temp_c"]),
            "DischargeP_bar": saturation_pressure_bar(cycle["condensing_temp_c"]),
            "SuctionT_C": cycle["evaporating_temp_c"] + cycle["superheat_k"],
            "DischargeT_C": cycle["discharge_temp_c"],
            "LiquidT_C": cycle["condensing_temp_c"] - 3.0,
            "CompPower_W": cycle["compressor_power_w"],
            "UnitPower_W": cycle["capacity_w"] / cycle["cop"],
            "UnitAirSensor_C": AMBIENT_C[plateau] + 0.2,
        }
        assert set(base) == {suffix for suffix, _ in PLATEAU_VALUES}
        named.update({f"{plateau}_{k}": v for k, v in base.items()})
    evi: dict[str, MeasurementValue] = {
        "M10_EviStepAt_s": 1300.0,
        "M10_EviOff_Capacity_W": 4000.0,
        "M10_EviOn_Capacity_W": 4600.0,
        "M10_EviOff_DischargeT_C": 95.0,
        "M10_EviOn_DischargeT_C": 88.0,
        "M10_EviOn_InjectionT_C": 12.0,
    }
    if not product.evi:
        evi = dict.fromkeys(evi)
    named.update(evi)
    named.update(
        Defrost_StartAt_s=1500.0,
        Defrost_Duration_s=300.0,
        Defrost_EndedOn="temperature",
        Defrost_Sequence=DEFROST_SEQUENCE,
    )
    return values(**named)


def good_result(station_code: str, product: ProductData = HPM_06) -> StationResult:
    """A result every default spec passes with a clear margin."""
    builders: dict[str, Callable[[], StationResult]] = {
        "coil_expansion": lambda: StationResult(
            measurements=values(CoilBatch="CB-2611-07", PeakForce_kN=41.0, LengthLoss_mm=2.1, FinPitch_mm=1.80),
            traces=(
                trace("HairpinPeakForce_kN", [36.0, 38.5, 41.0, 37.2, 35.9, 39.0]),
                trace("Force_kN", np.linspace(0.0, 41.0, 200)),
            ),
        ),
        "brazing": lambda: StationResult(
            measurements=values(
                FurnaceRun="FR-2611-03",
                FillerLot="AG15-77",
                PeakZoneTemp_C=800.0,
                DewPoint_C=-58.0,
                O2_ppm=20.0,
                BeltSpeed_mm_min=301.0,
            ),
            traces=(trace("PartTemp_C", 25.0 + 745.0 * np.sin(np.linspace(0.0, np.pi, 300))),),
        ),
        "sub_base_assembly": lambda: StationResult(
            measurements=values(
                CompressorSerial="C123456",
                CompressorModel=product.bom["compressor"],
                InverterSerial="I998877",
                InverterModel=product.bom["inverter"],
                InverterFirmware="2.4.1",
                EviValveSerial="E5555" if product.bom.get("evi_valve") else "",
                EviValveModel=product.bom.get("evi_valve") or "",
                EarthContinuity_ohm=0.04,
                EarthTestCurrent_A=10.5,
                HipotPassed=True,
            ),
            traces=(trace("FastenerTorque_Nm", [6.0, 5.9, 6.1, 6.05, 5.95, 6.0]),),
        ),
        "vacuum_dehydration": lambda: StationResult(
            measurements=values(
                IsolationAt_s=2100.0,
                PressureAtIsolation_Pa=20.0,
                TimeBelowTarget_s=1890.0,
                RiseTestDuration_s=600.0,
            ),
            traces=(vacuum_pressure(),),
        ),
        "charging": lambda: StationResult(
            measurements=values(
                ChargedMass_g=product.nominal_charge_g,
                CylinderLot="CYL-R290-0042",
                LiquidTemp_C=21.0,
                LiquidPressure_bar=8.5,
                ChargeTime_s=42.0,
            ),
        ),
        "leak_test": lambda: StationResult(
            measurements=values(
                TracerGas=product.refrigerant,
                LeakSignal_mbar_l_s=1.0e-5,
                TestPressure_bar=product.max_allowable_pressure_bar_g / 4 + 1.013 + 0.5,
                InstrumentId="SNF-02",
                RefLeakCheckAt=NOW - timedelta(hours=2),
                RefLeakNominal_mbar_l_s=5.0e-5,
                RefLeakReading_mbar_l_s=5.2e-5,
            ),
        ),
        "run_in": lambda: StationResult(measurements=_run_in_values(product), traces=run_in_traces()),
        "repair": lambda: StationResult(
            measurements=values(
                RepairAction="rebraze",
                RepairDescription="re-brazed suction joint J4",
                ReplacedPartSerial=None,
                ReplacedPartModel=None,
                RecoveredMass_g=None,
            ),
        ),
    }
    get_station_type(station_code)  # unknown codes fail loudly here
    return builders[station_code]()
