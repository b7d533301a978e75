"""sub_base_assembly: compressor, inverter board and EVI valve on the sub-base."""

from app.domain.results import ComponentKind

from ._checks import BomCheck, FlagCheck, PresenceCheck, RangeCheck, TraceEachCheck
from ._schema import ComponentSpec, LimitDefault, MeasurementSpec, ReworkDefault, StationType, TraceSpec

STATION_TYPE = StationType(
    code="sub_base_assembly",
    title="Sub-base assembly",
    plant_name="sub-base assembly",
    has_plc=True,
    measurements=(
        MeasurementSpec(name="CompressorSerial", kind="string"),
        MeasurementSpec(name="CompressorModel", kind="string"),
        MeasurementSpec(name="InverterSerial", kind="string"),
        MeasurementSpec(name="InverterModel", kind="string"),
        MeasurementSpec(name="InverterFirmware", kind="string"),
        MeasurementSpec(name="EviValveSerial", kind="string", required=False, description="empty without EVI"),
        MeasurementSpec(name="EviValveModel", kind="string", required=False, description="empty without EVI"),
        MeasurementSpec(name="EarthContinuity_ohm", unit="Ω"),
        MeasurementSpec(name="EarthTestCurrent_A", unit="A"),
        MeasurementSpec(name="HipotPassed", kind="bool"),
    ),
    traces=(TraceSpec(channel="FastenerTorque_Nm", unit="N·m", description="one sample per fastener"),),
    components=(
        ComponentSpec(kind=ComponentKind.COMPRESSOR, identifier="CompressorSerial", model="CompressorModel"),
        ComponentSpec(kind=ComponentKind.INVERTER, identifier="InverterSerial", model="InverterModel"),
        ComponentSpec(kind=ComponentKind.EVI_VALVE, identifier="EviValveSerial", model="EviValveModel"),
    ),
    checks=(
        BomCheck(
            name="compressor_bom",
            label="compressor",
            component=ComponentKind.COMPRESSOR,
            serial_measurement="CompressorSerial",
            model_measurement="CompressorModel",
            failure_mode="wrong_part",
        ),
        BomCheck(
            name="inverter_bom",
            label="inverter board",
            component=ComponentKind.INVERTER,
            serial_measurement="InverterSerial",
            model_measurement="InverterModel",
            failure_mode="wrong_part",
        ),
        BomCheck(
            name="evi_valve_bom",
            label="EVI valve",
            component=ComponentKind.EVI_VALVE,
            serial_measurement="EviValveSerial",
            model_measurement="EviValveModel",
            failure_mode="wrong_part",
        ),
        PresenceCheck(name="inverter_firmware_recorded", label="inverter firmware", measurement="InverterFirmware"),
        RangeCheck(
            name="earth_continuity",
            label="earth continuity",
            measurement="EarthContinuity_ohm",
            limit="earth_continuity_ohm",
            failure_mode="earth",
        ),
        RangeCheck(
            name="earth_test_current",
            label="earth test current",
            measurement="EarthTestCurrent_A",
            limit="earth_test_current_a",
            failure_mode="earth",
        ),
        FlagCheck(name="hipot", label="hi-pot test", measurement="HipotPassed", failure_mode="hipot"),
        TraceEachCheck(
            name="fastener_torque",
            label="fastener torque",
            channel="FastenerTorque_Nm",
            limit="fastener_torque_nm",
            item="fastener",
            failure_mode="torque",
        ),
    ),
    limits=(
        LimitDefault(
            name="earth_continuity_ohm",
            unit="Ω",
            high=0.1,
            uncertainty=0.005,
            origin="public",
            note="EN 50106 routine test",
            non_negative=True,
        ),
        LimitDefault(
            name="earth_test_current_a", unit="A", low=10.0, uncertainty=0.2, origin="public", non_negative=True
        ),
        LimitDefault(
            name="fastener_torque_nm",
            unit="N·m",
            low=5.4,
            high=6.6,
            uncertainty=0.1,
            origin="plant",
            note="6.0 N·m ± 10 %",
            non_negative=True,
        ),
    ),
    retest_cap=1,
    failure_modes=("wrong_part", "earth", "hipot", "torque"),
    rework=(
        ReworkDefault(
            failure_mode="*",
            action="repair",
            reentry_station_type="sub_base_assembly",
            note="replace the part",
        ),
    ),
)
