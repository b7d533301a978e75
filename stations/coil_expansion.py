"""coil_expansion: copper tube expansion and fin stamping of the outdoor coil."""

from app.domain.results import ComponentKind

from ._checks import PresenceCheck, RangeCheck, TraceEachCheck
from ._schema import ComponentSpec, LimitDefault, MeasurementSpec, ReworkDefault, StationType, TraceSpec

STATION_TYPE = StationType(
    code="coil_expansion",
    title="Coil expansion and fin stamping",
    plant_name="coil expansion",
    has_plc=True,
    measurements=(
        MeasurementSpec(name="CoilBatch", kind="string", description="coil batch id"),
        MeasurementSpec(name="PeakForce_kN", unit="kN", description="highest hairpin peak force"),
        MeasurementSpec(name="LengthLoss_mm", unit="mm", description="tube length loss after expansion"),
        MeasurementSpec(name="FinPitch_mm", unit="mm"),
    ),
    traces=(
        TraceSpec(channel="HairpinPeakForce_kN", unit="kN", description="one sample per hairpin"),
        TraceSpec(channel="Force_kN", unit="kN", description="expansion force curve"),
    ),
    components=(ComponentSpec(kind=ComponentKind.COIL_BATCH, identifier="CoilBatch"),),
    checks=(
        PresenceCheck(name="coil_batch_recorded", label="coil batch", measurement="CoilBatch"),
        TraceEachCheck(
            name="hairpin_peak_force",
            label="hairpin peak force",
            channel="HairpinPeakForce_kN",
            limit="hairpin_peak_force_kn",
            item="hairpin",
            failure_mode="expansion_force",
        ),
        RangeCheck(
            name="peak_force",
            label="highest hairpin peak force",
            measurement="PeakForce_kN",
            limit="hairpin_peak_force_kn",
            failure_mode="expansion_force",
        ),
        PresenceCheck(name="force_curve_recorded", label="force curve", channel="Force_kN"),
        RangeCheck(
            name="length_loss",
            label="tube length loss",
            measurement="LengthLoss_mm",
            limit="length_loss_mm",
            failure_mode="length_loss",
        ),
        RangeCheck(
            name="fin_pitch",
            label="fin pitch",
            measurement="FinPitch_mm",
            limit="fin_pitch_mm",
            failure_mode="fin_pitch",
        ),
    ),
    limits=(
        LimitDefault(
            name="hairpin_peak_force_kn",
            unit="kN",
            low=30.0,
            high=45.0,
            uncertainty=0.5,
            origin="plant",
            non_negative=True,
        ),
        LimitDefault(
            name="length_loss_mm",
            unit="mm",
            high=3.0,
            uncertainty=0.1,
            origin="plant",
            note="expansion shortens the tube",
            non_negative=True,
        ),
        LimitDefault(
            name="fin_pitch_mm", unit="mm", low=1.75, high=1.85, uncertainty=0.01, origin="plant", non_negative=True
        ),
    ),
    retest_cap=0,
    failure_modes=("expansion_force", "length_loss", "fin_pitch"),
    rework=(
        ReworkDefault(
            failure_mode="*",
            action="hold",
            reentry_station_type="coil_expansion",
            note="quality engineer decides: scrap the coil",
        ),
    ),
)
