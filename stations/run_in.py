"""run_in: final run-in in a climate chamber, judged against the cycle model at measured conditions."""

from app.cyclemodel.defrost import DEFAULT_DEFROST as DEFROST

from ._checks import (
    PLATEAUS,
    CheckSpec,
    DifferenceCheck,
    EviStepCheck,
    OneOfCheck,
    PlateauCode,
    RangeCheck,
    RecoveryCheck,
    ResidualCheck,
    SequenceCheck,
    SteadyWindowCheck,
    TracePeakCheck,
)
from ._schema import LimitDefault, MeasurementSpec, ReworkDefault, SettingDefault, StationType, TraceSpec

#: Per-plateau averages over the steady window: (suffix, unit).
PLATEAU_VALUES: tuple[tuple[str, str], ...] = (
    ("WindowStart_s", "s"),
    ("WindowEnd_s", "s"),
    ("AirTemp_C", "°C"),
    ("WaterIn_C", "°C"),
    ("WaterOut_C", "°C"),
    ("WaterFlow_l_min", "l/min"),
    ("CompSpeed_rps", "rps"),
    ("SuctionP_bar", "bar"),
    ("DischargeP_bar", "bar"),
    ("SuctionT_C", "°C"),
    ("DischargeT_C", "°C"),
    ("LiquidT_C", "°C"),
    ("CompPower_W", "W"),
    ("UnitPower_W", "W"),
    ("UnitAirSensor_C", "°C"),
)

EVI_VALUES: tuple[tuple[str, str], ...] = (
    ("M10_EviStepAt_s", "s"),
    ("M10_EviOff_Capacity_W", "W"),
    ("M10_EviOn_Capacity_W", "W"),
    ("M10_EviOff_DischargeT_C", "°C"),
    ("M10_EviOn_DischargeT_C", "°C"),
    ("M10_EviOn_InjectionT_C", "°C"),
)

TEMPERATURE_CHANNELS: tuple[str, ...] = ("AirT_C", "DischargeT_C", "CoilT_C", "WaterOut_C")

#: Cycle-model quantity -> (operator label, limit name, relative band?).
RESIDUALS: tuple[tuple[str, str, str, bool], ...] = (
    ("evaporating_temp_c", "evaporating temperature", "evaporating_temp_residual_k", False),
    ("condensing_temp_c", "condensing temperature", "condensing_temp_residual_k", False),
    ("discharge_temp_c", "discharge temperature", "discharge_temp_residual_k", False),
    ("superheat_k", "superheat", "superheat_residual_k", False),
    ("capacity_w", "capacity", "capacity_residual_fraction", True),
    ("cop", "COP", "cop_residual_fraction", True),
    ("compressor_power_w", "compressor power", "compressor_power_residual_fraction", True),
)

_MODEL_U = (
    "U comes from the residual: the instruments' U (settings instrument_*) propagated through the model, "
    "plus the model's own (settings model_*)"
)


def _residual_limit(
    name: str, unit: str, band: float | None = None, *, by_refrigerant: dict[str, float] | None = None
) -> LimitDefault:
    """A symmetric band on (measured − model), line.md's starting bands (public engineering practice);
    its U is propagated from the instruments, never set on the limit."""
    return LimitDefault(
        name=name,
        unit=unit,
        low=None if band is None else -band,
        high=band,
        uncertainty=0.0,
        origin="public",
        by_refrigerant={r: (-b, b) for r, b in (by_refrigerant or {}).items()},
        note=_MODEL_U,
        uncertainty_from_model=True,
    )


def _plateau_checks(plateau: PlateauCode) -> tuple[CheckSpec, ...]:
    steady = SteadyWindowCheck(
        name=f"{plateau}_steady_window",
        label=f"{plateau} plateau steadiness",
        plateau=plateau,
        channels=TEMPERATURE_CHANNELS,
        slope_limit="plateau_slope_k_per_min",
        spread_limit="plateau_spread_k",
        failure_mode="not_steady",
    )
    residuals = tuple(
        ResidualCheck(
            name=f"{plateau}_{quantity}",
            label=f"{plateau} {label}",
            plateau=plateau,
            quantity=quantity,
            limit=limit,
            relative=relative,
            failure_mode="performance",
        )
        for quantity, label, limit, relative in RESIDUALS
    )
    drift = DifferenceCheck(
        name=f"{plateau}_air_sensor_drift",
        label=f"{plateau} unit air sensor against chamber air",
        measurement=f"{plateau}_UnitAirSensor_C",
        minus=f"{plateau}_AirTemp_C",
        limit="air_sensor_drift_k",
        failure_mode="sensor_drift",
    )
    return (steady, *residuals, drift)


STATION_TYPE = StationType(
    code="run_in",
    title="Run-in in the climate chamber",
    plant_name="run-in",
    has_plc=True,
    measurements=(
        *(
            MeasurementSpec(name=f"{plateau}_{suffix}", unit=unit)
            for plateau in PLATEAUS
            for suffix, unit in PLATEAU_VALUES
        ),
        *(MeasurementSpec(name=name, unit=unit, required=False) for name, unit in EVI_VALUES),
        MeasurementSpec(name="Defrost_StartAt_s", unit="s"),
        MeasurementSpec(name="Defrost_Duration_s", unit="s"),
        MeasurementSpec(name="Defrost_EndedOn", kind="string", description="temperature or timeout"),
        MeasurementSpec(name="Defrost_Sequence", kind="string", description="steps seen, comma-separated"),
    ),
    traces=(
        TraceSpec(channel="AirT_C", unit="°C"),
        TraceSpec(channel="DischargeT_C", unit="°C"),
        TraceSpec(channel="SuctionP_bar", unit="bar"),
        TraceSpec(channel="DischargeP_bar", unit="bar"),
        TraceSpec(channel="CoilT_C", unit="°C"),
        TraceSpec(channel="WaterOut_C", unit="°C"),
    ),
    checks=(
        *(check for plateau in PLATEAUS for check in _plateau_checks(plateau)),
        EviStepCheck(
            name="evi_capacity_gain",
            label="EVI capacity gain",
            aspect="capacity",
            limit="evi_gain_of_predicted_fraction",
            off_measurement="M10_EviOff_Capacity_W",
            on_measurement="M10_EviOn_Capacity_W",
            failure_mode="evi_valve",
            evi_only=True,
        ),
        EviStepCheck(
            name="evi_discharge_change",
            label="EVI discharge temperature change",
            aspect="discharge",
            limit="evi_discharge_rise_k",
            off_measurement="M10_EviOff_DischargeT_C",
            on_measurement="M10_EviOn_DischargeT_C",
            failure_mode="evi_valve",
            evi_only=True,
        ),
        SequenceCheck(
            name="defrost_sequence",
            label="defrost sequence",
            measurement="Defrost_Sequence",
            expected=DEFROST.sequence,
            failure_mode="defrost",
        ),
        OneOfCheck(
            name="defrost_end",
            label="defrost ended on",
            measurement="Defrost_EndedOn",
            allowed=(DEFROST.ends_on,),
            failure_mode="defrost",
        ),
        RangeCheck(
            name="defrost_duration",
            label="defrost duration",
            measurement="Defrost_Duration_s",
            limit="defrost_duration_s",
            failure_mode="defrost",
        ),
        TracePeakCheck(
            name="defrost_coil_temperature",
            label="outdoor coil peak temperature during defrost",
            channel="CoilT_C",
            limit="defrost_coil_peak_c",
            window_start="Defrost_StartAt_s",
            window_duration="Defrost_Duration_s",
            failure_mode="defrost",
        ),
        RecoveryCheck(
            name="defrost_water_recovery",
            label="water outlet recovery after defrost",
            channel="WaterOut_C",
            start_measurement="Defrost_StartAt_s",
            duration_measurement="Defrost_Duration_s",
            band_limit="water_recovery_band_k",
            time_limit="water_recovery_time_s",
            failure_mode="defrost",
        ),
    ),
    limits=(
        LimitDefault(
            name="plateau_slope_k_per_min",
            unit="K/min",
            high=0.5,
            uncertainty=0.0,
            origin="plant",
            note="the steepest trace's slope, either way",
            non_negative=True,
        ),
        LimitDefault(
            name="plateau_spread_k",
            unit="K",
            high=0.3,
            uncertainty=0.0,
            origin="plant",
            note="standard deviation of each temperature trace over the window (a drift counts in it)",
            non_negative=True,
        ),
        _residual_limit("evaporating_temp_residual_k", "K", 1.5),
        _residual_limit("condensing_temp_residual_k", "K", 1.5),
        _residual_limit("discharge_temp_residual_k", "K", by_refrigerant={"R290": 5.0, "R32": 8.0}),
        _residual_limit("superheat_residual_k", "K", 2.0),
        _residual_limit("capacity_residual_fraction", "1", 0.08),
        _residual_limit("cop_residual_fraction", "1", 0.08),
        _residual_limit("compressor_power_residual_fraction", "1", 0.06),
        LimitDefault(name="air_sensor_drift_k", unit="K", low=-1.0, high=1.0, uncertainty=0.2, origin="seed"),
        LimitDefault(
            name="evi_gain_of_predicted_fraction",
            unit="1",
            low=0.5,
            uncertainty=0.05,
            origin="plant",
            note="measured capacity gain at least half the model's predicted gain",
        ),
        LimitDefault(
            name="evi_discharge_rise_k",
            unit="K",
            high=1.0,
            uncertainty=0.5,
            origin="plant",
            note=(
                "discharge temperature must not rise when the valve opens; the model predicts a drop of only "
                "0.3 K (R290) to 2.3 K (R32), so a 0 K limit with U 0.5 K could never pass a good unit: "
                "'not rising' means not by more than the sensor pair's resolution (the capacity gain is "
                "what catches a stuck valve)"
            ),
        ),
        LimitDefault(
            name="defrost_duration_s",
            unit="s",
            high=DEFROST.max_duration_s,
            uncertainty=0.0,
            origin="public",
            non_negative=True,
        ),
        LimitDefault(
            name="defrost_coil_peak_c",
            unit="°C",
            low=DEFROST.coil_rises_above_c,
            uncertainty=0.5,
            origin="public",
            note="while reversed the outdoor coil is the condenser",
        ),
        LimitDefault(
            name="water_recovery_band_k",
            unit="K",
            high=DEFROST.water_out_recovery_band_k,
            uncertainty=0.0,
            origin="plant",
            note="water outlet within this of its value before the defrost, either way",
            non_negative=True,
        ),
        LimitDefault(
            name="water_recovery_time_s",
            unit="s",
            high=DEFROST.water_out_recovery_within_s,
            uncertainty=0.0,
            origin="plant",
            non_negative=True,
        ),
    ),
    settings=(
        # The run-in chamber's instruments, expanded U (k = 2); pressure and power as an absolute part
        # plus a fraction of the reading, added linearly as data sheets state them.
        SettingDefault(
            name="instrument_air_temp_k", unit="K", value=0.3, origin="plant", note="chamber Pt100 in the air stream"
        ),
        SettingDefault(
            name="instrument_water_temp_k",
            unit="K",
            value=0.1,
            origin="plant",
            note="matched Pt100 pair in the water lines",
        ),
        SettingDefault(
            name="instrument_water_flow_fraction", unit="1", value=0.01, origin="plant", note="magnetic flow meter"
        ),
        SettingDefault(
            name="instrument_comp_speed_rps",
            unit="rps",
            value=0.2,
            origin="plant",
            note="the inverter's reported speed",
        ),
        SettingDefault(name="instrument_pressure_bar", unit="bar", value=0.03, origin="plant"),
        SettingDefault(
            name="instrument_pressure_fraction", unit="1", value=0.003, origin="plant", note="transmitter, 0.25 % class"
        ),
        SettingDefault(
            name="instrument_suction_temp_k",
            unit="K",
            value=0.5,
            origin="plant",
            note="clamp-on Pt1000 on the suction line",
        ),
        SettingDefault(
            name="instrument_discharge_temp_k",
            unit="K",
            value=1.5,
            origin="plant",
            note="thermocouple on the discharge line",
        ),
        SettingDefault(name="instrument_power_w", unit="W", value=2.0, origin="plant"),
        SettingDefault(name="instrument_power_fraction", unit="1", value=0.005, origin="plant", note="power analyser"),
        # The cycle model's own expanded U per quantity: starting values, to be set from the spread of
        # rating fits and produced units; relative ones are fractions of the expectation.
        SettingDefault(name="model_saturation_temp_k", unit="K", value=0.8, origin="plant"),
        SettingDefault(name="model_discharge_temp_k", unit="K", value=3.0, origin="plant"),
        SettingDefault(name="model_superheat_k", unit="K", value=1.0, origin="plant"),
        SettingDefault(name="model_capacity_fraction", unit="1", value=0.03, origin="plant"),
        SettingDefault(name="model_cop_fraction", unit="1", value=0.03, origin="plant"),
        SettingDefault(name="model_compressor_power_fraction", unit="1", value=0.03, origin="plant"),
        SettingDefault(
            name="model_evi_gain_points",
            unit="1",
            value=0.03,
            origin="plant",
            note="of the EVI capacity gain fraction (0.03 = ±3 points of gain)",
        ),
    ),
    retest_cap=1,
    failure_modes=("not_steady", "performance", "sensor_drift", "evi_valve", "defrost"),
    rework=(
        ReworkDefault(
            failure_mode="*",
            action="hold",
            reentry_station_type=None,
            note="quality engineer diagnoses and decides where it re-enters",
        ),
    ),
)
