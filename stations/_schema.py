"""The vocabulary a station module uses to describe itself: frozen, declarative data only.

A station module builds one :class:`StationType` from these pieces. Nothing here judges or talks to
a PLC: ``app.rules`` evaluates the checks, ``app.opcua`` derives node ids through the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from app.domain.results import ComponentKind, MeasurementKind

from ._checks import CheckSpec

LimitOrigin = Literal["seed", "public", "plant", "product"]
ReworkAction = Literal["hold", "repair", "repeat"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementSpec:
    """One ``Result.Values.<name>`` of the contract; ``unit`` is None for strings, bools and datetimes."""

    name: str
    kind: MeasurementKind = "number"
    unit: str | None = None
    description: str = ""
    required: bool = True  # False: may legitimately be empty/not measured (e.g. EVI parts on a non-EVI model)


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceSpec:
    """One ``Result.Traces.<channel>`` (plus its ``<channel>_t`` time base); also published live."""

    channel: str
    unit: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentSpec:
    """Which measurements name a component the unit is built from (its genealogy)."""

    kind: ComponentKind
    identifier: str
    model: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductView:
    """The product facts a default limit may be derived from (filled in by ``app.rules.spec``)."""

    refrigerant: str
    nominal_charge_g: float | None
    charge_tolerance_g: float | None
    market_cap_g: float | None
    max_allowable_pressure_bar_g: float
    circuit_volume_l: float


Bounds = tuple[float | None, float | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitDefault:
    """A default limit with its instrument's expanded uncertainty U (k = 2).

    ``low``/``high`` are inclusive; either may be None (one-sided). ``by_refrigerant`` overrides the
    bounds per refrigerant; ``from_product`` derives them from product data (None: no limit applies,
    e.g. a market without a charge-cap rule). A specification revision may override any of it, unless
    ``set_elsewhere`` says where the limit is kept instead.
    """

    name: str
    unit: str
    uncertainty: float
    origin: LimitOrigin
    low: float | None = None
    high: float | None = None
    by_refrigerant: Mapping[str, Bounds] = field(default_factory=dict)
    from_product: Callable[[ProductView], Bounds | None] | None = None
    note: str = ""
    # U of a residual against the cycle model is propagated from the instruments (the station's
    # settings), not set on the limit: a revision may not set it here.
    uncertainty_from_model: bool = False
    # Non-empty: the limit is data kept elsewhere (with its source), which a specification revision may
    # not override; the text says where it is changed (the refusal quotes it).
    set_elsewhere: str = ""
    # The quantity judged against the limit cannot be below 0 (a leak rate, a concentration, a resistance,
    # an absolute pressure, a duration): a revision whose high − U is not above 0 would PASS no unit.
    non_negative: bool = False
    # Non-empty: the name of a limit of the same station whose high this limit's high may not exceed (a
    # charge's upper limit under the market cap: a revision above it would make units FAIL the cap).
    not_above: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingDefault:
    """A number the judging uses that is not a limit (e.g. an instrument's expanded uncertainty U, k = 2,
    propagated through the cycle model). Part of every specification revision, which may override it."""

    name: str
    unit: str
    value: float
    origin: LimitOrigin
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReworkDefault:
    """Where a FAIL sends the unit (line.md's rework table); ``failure_mode`` "*" matches any.

    ``counts_as_rework_loop`` False (a "repeat" only): the FAIL says the test was not valid, not that
    the unit is bad, so testing it again is no rework loop (line.md: a loop counter caps rework). Such
    tests in a row are capped by the route's loop cap all the same: past it the unit is held (the tester
    is to be looked at). The first failing check's mode routes the unit: list checks in that order."""

    failure_mode: str
    action: ReworkAction
    reentry_station_type: str | None
    note: str = ""
    counts_as_rework_loop: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class StationType:
    """Everything the MES knows about a kind of station, as data."""

    code: str
    title: str
    has_plc: bool
    # What operators call it in a sentence ("leak test", "run-in"): instructions and refusals name
    # station types by it ("repeat vacuum dehydration"); ``title`` is the heading. Default: the code
    # with spaces.
    plant_name: str = ""
    measurements: tuple[MeasurementSpec, ...]
    traces: tuple[TraceSpec, ...] = ()
    extra_live_channels: tuple[str, ...] = ()
    components: tuple[ComponentSpec, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    limits: tuple[LimitDefault, ...] = ()
    settings: tuple[SettingDefault, ...] = ()
    retest_cap: int = 0
    failure_modes: tuple[str, ...] = ()
    rework: tuple[ReworkDefault, ...] = ()

    def __post_init__(self) -> None:
        if not self.plant_name:
            object.__setattr__(self, "plant_name", self.code.replace("_", " "))

    def measurement(self, name: str) -> MeasurementSpec | None:
        """The schema entry of a measurement, or None when the station does not report it."""
        return next((m for m in self.measurements if m.name == name), None)

    def limit(self, name: str) -> LimitDefault | None:
        """The default limit of that name, or None."""
        return next((lim for lim in self.limits if lim.name == name), None)

    @property
    def live_channels(self) -> tuple[str, ...]:
        """Every ``Live.<channel>``: one per trace channel plus the extra ones."""
        return tuple(t.channel for t in self.traces) + self.extra_live_channels
