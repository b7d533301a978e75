"""Check kinds as frozen data: what to compare with what. ``app.rules`` holds their evaluation.

Every check names the measurements, trace channels and limits it reads (``refs``), so the contract
test can prove that a station only judges what it reports and what its limits define.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.domain.results import ComponentKind

PlateauCode = Literal["M10", "P07", "P45"]
PLATEAUS: tuple[PlateauCode, ...] = ("M10", "P07", "P45")


@dataclass(frozen=True, slots=True)
class CheckRefs:
    measurements: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSpec:
    """Base of all check kinds. ``evi_only`` checks pass as not applicable on models without EVI."""

    name: str
    label: str
    failure_mode: str | None = None
    evi_only: bool = False

    def refs(self) -> CheckRefs:
        return CheckRefs()


@dataclass(frozen=True, slots=True, kw_only=True)
class RangeCheck(CheckSpec):
    """``measurement + offset`` inside the limit, guard-banded by U (ISO 14253-1)."""

    measurement: str
    limit: str
    offset: float = 0.0
    limit_required: bool = True
    no_limit_message: str = "no limit applies"  # may name {model}, {market}, {refrigerant}, {construction}

    def refs(self) -> CheckRefs:
        return CheckRefs(measurements=(self.measurement,), limits=(self.limit,))


@dataclass(frozen=True, slots=True, kw_only=True)
class DifferenceCheck(CheckSpec):
    """``measurement - minus`` inside the limit, guard-banded (e.g. unit sensor vs chamber air)."""

    measurement: str
    minus: str
    limit: str

    def refs(self) -> CheckRefs:
        return CheckRefs(measurements=(self.measurement, self.minus), limits=(self.limit,))


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceEachCheck(CheckSpec):
    """Every sample of a trace (e.g. one per hairpin or fastener) inside the limit; the worst decides."""

    channel: str
    limit: str
    item: str = "sample"

    def refs(self) -> CheckRefs:
        return CheckRefs(channels=(self.channel,), limits=(self.limit,))


@dataclass(frozen=True, slots=True, kw_only=True)
class TracePeakCheck(CheckSpec):
    """The highest sample of a trace (optionally inside a window given by two measurements) in the limit."""

    channel: str
    limit: str
    window_start: str | None = None
    window_duration: str | None = None

    def refs(self) -> CheckRefs:
        window = tuple(m for m in (self.window_start, self.window_duration) if m)
        return CheckRefs(measurements=window, channels=(self.channel,), limits=(self.limit,))


@dataclass(frozen=True, slots=True, kw_only=True)
class PresenceCheck(CheckSpec):
    """A value was reported (a non-empty identifier, a measured number) or a trace is non-empty."""

    measurement: str | None = None
    channel: str | None = None

    def refs(self) -> CheckRefs:
        return CheckRefs(
            measurements=(self.measurement,) if self.measurement else (),
            channels=(self.channel,) if self.channel else (),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OneOfCheck(CheckSpec):
    """A string value is one of the allowed codes, or (``or_product_refrigerant``) the unit's refrigerant."""

    measurement: str
    allowed: tuple[str, ...]
    or_product_refrigerant: bool = False

    def refs(self) -> CheckRefs:
        return CheckRefs(measurements=(self.measurement,))


@dataclass(frozen=True, slots=True, kw_only=True)
class FlagCheck(CheckSpec):
    """A boolean the station decided itself (e.g. hi-pot passed) has the expected value."""

    measurement: str
    expected: bool = True

    def refs(self) -> CheckRefs:
        return CheckRefs(measurements=(self.measurement,))


@dataclass(frozen=True, slots=True, kw_only=True)
class BomCheck(CheckSpec):
    """The scanned component's model is the one in the product's bill of materials (or absent if none)."""

    component: ComponentKind
    model_measurement: str
    serial_measurement: str

    def refs(self) -> CheckRefs:
        return CheckRefs(measurements=(self.serial_measurement, self.model_measurement))


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceCheck(CheckSpec):
    """A comma-separated sequence of steps equals the expected order exactly."""

    measurement: str
    expected: tuple[str, ...]

    def refs(self) -> CheckRefs:
        return CheckRefs(measurements=(self.measurement,))


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeBelowCheck(CheckSpec):
    """Uninterrupted time at or below a threshold that ends at a moment (e.g. pump isolation).

    Measured from the trace; the station's own figure is cross-checked and a disagreement beyond
    ``disagreement_limit`` raises an alarm (it does not change the unit's verdict). Two samples
    further apart than ``max_sample_interval_s`` interrupt the time: nothing shows what the value
    did between them.
    """

    channel: str
    end_measurement: str
    station_figure_measurement: str
    threshold_limit: str
    duration_limit: str
    disagreement_limit: str
    max_sample_interval_s: float

    def refs(self) -> CheckRefs:
        return CheckRefs(
            measurements=(self.end_measurement, self.station_figure_measurement),
            channels=(self.channel,),
            limits=(self.threshold_limit, self.duration_limit, self.disagreement_limit),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RiseTestCheck(CheckSpec):
    """Pressure rise after isolation: tight / moisture (levels off) / leak (linear), Q = ΔP·V/Δt."""

    channel: str
    isolation_measurement: str
    duration_measurement: str
    rise_limit: str
    duration_limit: str
    vapour_pressure_limit: str
    # settings (plant data) of the expected rise of a tight, dry circuit, recorded as the expectation
    outgassing_1h_setting: str
    surface_per_volume_setting: str
    oil_degassing_setting: str

    def refs(self) -> CheckRefs:
        return CheckRefs(
            measurements=(self.isolation_measurement, self.duration_measurement),
            channels=(self.channel,),
            limits=(self.rise_limit, self.duration_limit, self.vapour_pressure_limit),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LeakRateCheck(CheckSpec):
    """Tracer signal at test pressure converted to the unit's refrigerant in g/yr (via the cycle model)."""

    tracer_measurement: str
    signal_measurement: str
    pressure_measurement: str
    limit: str

    def refs(self) -> CheckRefs:
        return CheckRefs(
            measurements=(self.tracer_measurement, self.signal_measurement, self.pressure_measurement),
            limits=(self.limit,),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckAgeCheck(CheckSpec):
    """An instrument check (a DateTime) is younger than its validity window in hours."""

    checked_at_measurement: str
    limit: str

    def refs(self) -> CheckRefs:
        return CheckRefs(measurements=(self.checked_at_measurement,), limits=(self.limit,))


@dataclass(frozen=True, slots=True, kw_only=True)
class RatioCheck(CheckSpec):
    """``reading / nominal - 1`` inside the limit (e.g. a reference leak read within ±20 %)."""

    reading_measurement: str
    nominal_measurement: str
    limit: str

    def refs(self) -> CheckRefs:
        return CheckRefs(measurements=(self.reading_measurement, self.nominal_measurement), limits=(self.limit,))


@dataclass(frozen=True, slots=True, kw_only=True)
class SteadyWindowCheck(CheckSpec):
    """Every listed trace inside a plateau's window has a slope and a standard deviation under the limits."""

    plateau: PlateauCode
    channels: tuple[str, ...]
    slope_limit: str
    spread_limit: str

    def refs(self) -> CheckRefs:
        return CheckRefs(
            measurements=(f"{self.plateau}_WindowStart_s", f"{self.plateau}_WindowEnd_s"),
            channels=self.channels,
            limits=(self.slope_limit, self.spread_limit),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ResidualCheck(CheckSpec):
    """Measured − expected (cycle model at the measured conditions) inside ± band, guard-banded by the
    residual's own U. ``relative``: the band is a fraction of the expected value."""

    plateau: PlateauCode
    quantity: str
    limit: str
    relative: bool = False

    def refs(self) -> CheckRefs:
        return CheckRefs(limits=(self.limit,))


@dataclass(frozen=True, slots=True, kw_only=True)
class EviStepCheck(CheckSpec):
    """The EVI step at M10: capacity gain against the model's, or the discharge temperature change."""

    aspect: Literal["capacity", "discharge"]
    limit: str
    off_measurement: str
    on_measurement: str

    def refs(self) -> CheckRefs:
        return CheckRefs(measurements=(self.off_measurement, self.on_measurement), limits=(self.limit,))


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryCheck(CheckSpec):
    """After an event (start + duration), the trace is back within a band of its value before the event,
    within a time limit (e.g. the water outlet after defrost). Back means staying in the band for
    ``hold_s``: one sample passing through it is not a recovery. The value before the event is the
    mean over its last ``baseline_s``."""

    channel: str
    start_measurement: str
    duration_measurement: str
    band_limit: str
    time_limit: str
    baseline_s: float = 60.0
    hold_s: float = 60.0

    def refs(self) -> CheckRefs:
        return CheckRefs(
            measurements=(self.start_measurement, self.duration_measurement),
            channels=(self.channel,),
            limits=(self.band_limit, self.time_limit),
        )
