"""brazing: refrigerant manifold brazed in a nitrogen-purged tunnel furnace."""

from app.domain.results import ComponentKind

from ._checks import PresenceCheck, RangeCheck, TracePeakCheck
from ._schema import ComponentSpec, LimitDefault, MeasurementSpec, ReworkDefault, StationType, TraceSpec

STATION_TYPE = StationType(
    code="brazing",
    title="Furnace brazing",
    plant_name="brazing",
    has_plc=True,
    measurements=(
        MeasurementSpec(name="FurnaceRun", kind="string"),
        MeasurementSpec(name="FillerLot", kind="string"),
        MeasurementSpec(name="PeakZoneTemp_C", unit="°C", description="furnace peak zone setpoint reading"),
        MeasurementSpec(name="DewPoint_C", unit="°C", description="N2 dew point"),
        MeasurementSpec(name="O2_ppm", unit="ppm"),
        MeasurementSpec(name="BeltSpeed_mm_min", unit="mm/min"),
    ),
    traces=(TraceSpec(channel="PartTemp_C", unit="°C", description="the unit's profile through the furnace"),),
    components=(
        ComponentSpec(kind=ComponentKind.FURNACE_RUN, identifier="FurnaceRun"),
        ComponentSpec(kind=ComponentKind.FILLER_LOT, identifier="FillerLot"),
    ),
    checks=(
        PresenceCheck(name="furnace_run_recorded", label="furnace run", measurement="FurnaceRun"),
        PresenceCheck(name="filler_lot_recorded", label="filler lot", measurement="FillerLot"),
        TracePeakCheck(
            name="part_peak_temperature",
            label="part peak temperature",
            channel="PartTemp_C",
            limit="part_peak_temp_c",
            failure_mode="temperature",
        ),
        RangeCheck(
            name="dew_point",
            label="N2 dew point",
            measurement="DewPoint_C",
            limit="dew_point_c",
            failure_mode="atmosphere",
        ),
        RangeCheck(name="oxygen", label="O2", measurement="O2_ppm", limit="o2_ppm", failure_mode="atmosphere"),
        RangeCheck(
            name="belt_speed",
            label="belt speed",
            measurement="BeltSpeed_mm_min",
            limit="belt_speed_mm_min",
            failure_mode="belt_speed",
        ),
    ),
    limits=(
        LimitDefault(
            name="part_peak_temp_c",
            unit="°C",
            low=710.0,
            high=830.0,
            uncertainty=3.0,
            origin="public",
            note="Metals 14(2):171, 2024",
        ),
        LimitDefault(name="dew_point_c", unit="°C", high=-50.0, uncertainty=2.0, origin="public"),
        LimitDefault(name="o2_ppm", unit="ppm", high=50.0, uncertainty=2.0, origin="plant", non_negative=True),
        LimitDefault(
            name="belt_speed_mm_min",
            unit="mm/min",
            low=285.0,
            high=315.0,
            uncertainty=2.0,
            origin="plant",
            note="300 mm/min ± 5 %",
            non_negative=True,
        ),
    ),
    retest_cap=0,
    failure_modes=("temperature", "atmosphere", "belt_speed"),
    rework=(ReworkDefault(failure_mode="*", action="repair", reentry_station_type="brazing", note="re-braze"),),
)
