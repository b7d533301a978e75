"""leak_test: tracer-gas leak test with the instrument's reference-leak check."""

from ._checks import CheckAgeCheck, LeakRateCheck, OneOfCheck, PresenceCheck, RangeCheck, RatioCheck
from ._schema import Bounds, LimitDefault, MeasurementSpec, ProductView, ReworkDefault, StationType

ATMOSPHERE_BAR = 1.013


def _quarter_ps(product: ProductView) -> Bounds:
    return (product.max_allowable_pressure_bar_g / 4.0, None)


STATION_TYPE = StationType(
    code="leak_test",
    title="Tracer-gas leak test",
    plant_name="leak test",
    has_plc=True,
    measurements=(
        MeasurementSpec(
            name="TracerGas", kind="string", description="the unit's refrigerant (R290 or R32), He or H2N2"
        ),
        MeasurementSpec(name="LeakSignal_mbar_l_s", unit="mbar·l/s", description="for the tracer at test pressure"),
        MeasurementSpec(name="TestPressure_bar", unit="bar", description="absolute"),
        MeasurementSpec(name="InstrumentId", kind="string"),
        MeasurementSpec(name="RefLeakCheckAt", kind="datetime", description="UTC"),
        MeasurementSpec(name="RefLeakNominal_mbar_l_s", unit="mbar·l/s"),
        MeasurementSpec(name="RefLeakReading_mbar_l_s", unit="mbar·l/s"),
    ),
    extra_live_channels=("LeakSignal_mbar_l_s",),
    checks=(
        OneOfCheck(
            name="tracer_gas",
            label="tracer gas",
            measurement="TracerGas",
            # a refrigerant sniffer measures its own refrigerant: another one says nothing of this unit's
            allowed=("He", "H2N2"),
            or_product_refrigerant=True,
            failure_mode="instrument",
        ),
        PresenceCheck(name="instrument_recorded", label="instrument id", measurement="InstrumentId"),
        CheckAgeCheck(
            name="reference_leak_age",
            label="reference-leak check",
            checked_at_measurement="RefLeakCheckAt",
            limit="reference_check_age_h",
            failure_mode="instrument",
        ),
        RatioCheck(
            name="reference_leak_reading",
            label="reference-leak reading",
            reading_measurement="RefLeakReading_mbar_l_s",
            nominal_measurement="RefLeakNominal_mbar_l_s",
            limit="reference_leak_deviation",
            failure_mode="instrument",
        ),
        LeakRateCheck(
            name="leak_rate",
            label="leak rate",
            tracer_measurement="TracerGas",
            signal_measurement="LeakSignal_mbar_l_s",
            pressure_measurement="TestPressure_bar",
            limit="leak_rate_g_per_year",
            failure_mode="leak",
        ),
        # Last: the first failing check's mode routes the unit. A test below PS/4 that still finds a leak
        # found a leak (the flow only grows with the pressure): it goes to repair, not round again as a
        # test not valid; an instrument not valid (above) says nothing of the unit either way.
        RangeCheck(
            name="test_pressure",
            label="test pressure (gauge)",
            measurement="TestPressure_bar",
            offset=-ATMOSPHERE_BAR,
            limit="test_pressure_bar_g",
            failure_mode="test_invalid",
        ),
    ),
    limits=(
        LimitDefault(
            name="leak_rate_g_per_year",
            unit="g/yr",
            high=3.0,
            uncertainty=0.2,
            origin="seed",
            note="F-gas hermetically sealed level",
            non_negative=True,
        ),
        LimitDefault(
            name="test_pressure_bar_g",
            unit="bar",
            uncertainty=0.05,
            origin="product",
            from_product=_quarter_ps,
            note="at least PS/4 (gauge) for the hermetic level to apply",
        ),
        LimitDefault(
            name="reference_check_age_h", unit="h", high=8.0, uncertainty=0.0, origin="plant", non_negative=True
        ),
        LimitDefault(name="reference_leak_deviation", unit="1", low=-0.2, high=0.2, uncertainty=0.0, origin="plant"),
    ),
    retest_cap=2,
    failure_modes=("leak", "test_invalid", "instrument"),
    rework=(
        ReworkDefault(
            failure_mode="leak",
            action="repair",
            reentry_station_type="vacuum_dehydration",
            note="re-braze the joint; monoblocs: recover the refrigerant first",
        ),
        # the test, not the unit, failed: testing again reworks nothing on the unit
        ReworkDefault(
            failure_mode="test_invalid",
            action="repeat",
            reentry_station_type="leak_test",
            note="at a test pressure of at least PS/4",
            counts_as_rework_loop=False,
        ),
        ReworkDefault(
            failure_mode="instrument",
            action="repeat",
            reentry_station_type="leak_test",
            note="after the reference-leak check, with the unit's refrigerant, He or H2N2 as tracer",
            counts_as_rework_loop=False,
        ),
        ReworkDefault(
            failure_mode="*",
            action="repair",
            reentry_station_type="vacuum_dehydration",
            note="re-braze the joint; monoblocs: recover the refrigerant first",
        ),
    ),
)
