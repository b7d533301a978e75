"""vacuum_dehydration: evacuation of the refrigerant circuit and the pressure-rise test."""

from app.cyclemodel.vacuum import DEFAULT_OUTGASSING

from ._checks import RiseTestCheck, TimeBelowCheck
from ._schema import LimitDefault, MeasurementSpec, ReworkDefault, SettingDefault, StationType, TraceSpec

STATION_TYPE = StationType(
    code="vacuum_dehydration",
    title="Vacuum dehydration",
    plant_name="vacuum dehydration",
    has_plc=True,
    measurements=(
        MeasurementSpec(name="IsolationAt_s", unit="s", description="seconds since cycle start at pump isolation"),
        MeasurementSpec(name="PressureAtIsolation_Pa", unit="Pa"),
        MeasurementSpec(name="TimeBelowTarget_s", unit="s", description="the PLC's time at or below target"),
        MeasurementSpec(name="RiseTestDuration_s", unit="s"),
    ),
    traces=(TraceSpec(channel="Pressure_Pa", unit="Pa", description="absolute, evacuation and rise test"),),
    checks=(
        TimeBelowCheck(
            name="time_below_target",
            label="time at or below target pressure before isolation",
            channel="Pressure_Pa",
            end_measurement="IsolationAt_s",
            station_figure_measurement="TimeBelowTarget_s",
            threshold_limit="target_pressure_pa",
            duration_limit="time_below_target_s",
            disagreement_limit="plc_time_disagreement_fraction",
            # the contract's trace has at least one sample per second: a longer gap than one lost
            # sample (with the PLC's timing jitter) is time the trace cannot vouch for
            max_sample_interval_s=2.5,
        ),
        RiseTestCheck(
            name="rise_test",
            label="pressure rise after isolation",
            channel="Pressure_Pa",
            isolation_measurement="IsolationAt_s",
            duration_measurement="RiseTestDuration_s",
            rise_limit="tight_rise_pa",
            duration_limit="rise_test_duration_s",
            vapour_pressure_limit="moisture_level_off_max_pa",
            outgassing_1h_setting="tight_circuit_outgassing_1h_mbar_l_s_cm2",
            surface_per_volume_setting="tight_circuit_surface_per_volume_cm2_per_l",
            oil_degassing_setting="tight_circuit_oil_degassing_mbar_l_s",
        ),
    ),
    limits=(
        LimitDefault(
            name="target_pressure_pa", unit="Pa", high=50.0, uncertainty=3.0, origin="seed", non_negative=True
        ),
        LimitDefault(
            name="time_below_target_s", unit="s", low=1800.0, uncertainty=0.0, origin="seed", non_negative=True
        ),
        LimitDefault(
            name="plc_time_disagreement_fraction",
            unit="1",
            high=0.05,
            uncertainty=0.0,
            origin="seed",
            note="beyond it the station gets an alarm; the unit's verdict is unchanged",
            non_negative=True,
        ),
        LimitDefault(
            name="tight_rise_pa",
            unit="Pa",
            high=30.0,
            uncertainty=2.0,
            origin="plant",
            note="an isolated evacuated circuit's pressure rises (leak, moisture) or holds; it does not fall",
            non_negative=True,
        ),
        LimitDefault(
            name="rise_test_duration_s", unit="s", low=600.0, uncertainty=0.0, origin="plant", non_negative=True
        ),
        LimitDefault(
            name="moisture_level_off_max_pa",
            unit="Pa",
            high=3500.0,
            uncertainty=0.0,
            origin="plant",
            note="water's vapour pressure is about 2,340 Pa at 20 °C (3,170 Pa at 25 °C): a rise that "
            "levels off above this is air, i.e. a leak",
            non_negative=True,
        ),
    ),
    settings=(
        # What a tight, dry circuit still rises by after isolation: the rise test records it as its
        # expectation (app/cyclemodel/vacuum.py); the verdict is decided by tight_rise_pa.
        SettingDefault(
            name="tight_circuit_outgassing_1h_mbar_l_s_cm2",
            unit="mbar·l/(s·cm²)",
            value=DEFAULT_OUTGASSING.specific_outgassing_1h_mbar_l_s_cm2,
            origin="plant",
            note="specific surface outgassing after one hour of pumping, falling as 1/t",
        ),
        SettingDefault(
            name="tight_circuit_surface_per_volume_cm2_per_l",
            unit="cm²/l",
            value=DEFAULT_OUTGASSING.surface_per_volume_cm2_per_l,
            origin="plant",
            note="internal surface per litre of circuit volume",
        ),
        SettingDefault(
            name="tight_circuit_oil_degassing_mbar_l_s",
            unit="mbar·l/s",
            value=DEFAULT_OUTGASSING.oil_degassing_mbar_l_s,
            origin="plant",
            note="the compressor oil's steady degassing",
        ),
    ),
    retest_cap=1,
    failure_modes=("leak", "moisture"),
    rework=(
        ReworkDefault(failure_mode="moisture", action="repeat", reentry_station_type="vacuum_dehydration"),
        ReworkDefault(
            failure_mode="leak",
            action="repair",
            reentry_station_type="vacuum_dehydration",
            note="re-braze the joint",
        ),
        ReworkDefault(failure_mode="*", action="repeat", reentry_station_type="vacuum_dehydration"),
    ),
)
