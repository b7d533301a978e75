"""What a check reads: validated measurements, traces and components of one result, plus guard banding.

Accessors raise :class:`NotJudgeable` for anything a check cannot honestly judge (not measured, wrong
kind or unit, empty or non-monotonic trace); the engine turns that into a FAIL with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from app.domain.expectations import CycleExpectations
from app.domain.results import Component, ComponentKind, Measurement, StationResult, Verdict, trace_status_key
from stations import StationType

from .spec import Limit, Spec

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class NotJudgeable(Exception):
    """The check cannot be decided from this result; ``rule`` names why (not_measured, bad_trace …)."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


def fmt(value: float | None) -> str:
    """A number as an operator reads it: 3.4, 0.05, 1800, 5.3e-05."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e7):
        return f"{value:.2e}"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


@dataclass(frozen=True, slots=True)
class GuardBand:
    verdict: Verdict
    rule: str
    low: float | None
    high: float | None
    edge: float | None  # the bound that decided (FAIL / RETEST)

    def relation(self, unit: str = "") -> str:
        """Words for the message, e.g. "exceeds 3 g/yr", "is too close to 3 g/yr to decide"."""
        if self.verdict is Verdict.PASS:
            return f"is within {describe_bounds(self.low, self.high)}{unit}"
        if self.verdict is Verdict.RETEST:
            return f"is too close to {fmt(self.edge)}{unit} to decide"
        return f"{'is below' if self.edge == self.low else 'exceeds'} {fmt(self.edge)}{unit}"


def guard_band(*, value: float, low: float | None, high: float | None, uncertainty: float) -> GuardBand:
    """ISO 14253-1: PASS inside the limits shrunk by U, FAIL outside them widened by U, else RETEST."""
    u = abs(uncertainty)
    if low is not None and value < low - u:
        return GuardBand(Verdict.FAIL, "guard_band:below_low", low, high, low)
    if high is not None and value > high + u:
        return GuardBand(Verdict.FAIL, "guard_band:above_high", low, high, high)
    if low is not None and value < low + u:
        return GuardBand(Verdict.RETEST, "guard_band:inside_uncertainty", low, high, low)
    if high is not None and value > high - u:
        return GuardBand(Verdict.RETEST, "guard_band:inside_uncertainty", low, high, high)
    return GuardBand(Verdict.PASS, "guard_band:inside", low, high, None)


def describe_bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{fmt(low)}…{fmt(high)}"
    if low is not None:
        return f"≥ {fmt(low)}"
    if high is not None:
        return f"≤ {fmt(high)}"
    return "no limit"


ValueStatus = Literal["good", "uncertain", "bad"]

_KIND_TEST: Mapping[str, Callable[[object], bool]] = {
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "datetime": lambda v: isinstance(v, datetime),
}


@dataclass(slots=True)
class JudgeContext:
    """One judging run: the result indexed by name, with per-run caches (trace arrays, expectations)."""

    station_type: StationType
    spec: Spec
    result: StationResult
    expectations: CycleExpectations | None
    now: datetime
    value_status: Mapping[str, ValueStatus] = field(default_factory=dict)
    uncertain_used: set[str] = field(init=False, default_factory=set)
    measurements: Mapping[str, Measurement] = field(init=False)
    _schema_units: dict[str, str | None] = field(init=False)
    _traces: dict[str, tuple[FloatArray, FloatArray]] = field(init=False, default_factory=dict)
    cache: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.measurements = {m.name: m for m in self.result.measurements}
        self._schema_units = {m.name: m.unit for m in self.station_type.measurements}

    def limit(self, name: str) -> Limit:
        try:
            return self.spec.limits[name]
        except KeyError:
            raise NotJudgeable(f"the specification has no limit {name!r}", rule="spec_incomplete") from None

    def value(self, name: str, kind: str) -> Any:
        """The measured value of ``name``, checked for presence, kind and unit."""
        m = self.measurements.get(name)
        if m is None:
            raise NotJudgeable(f"{name} was not reported", rule="not_measured")
        status = self.value_status.get(name, "good")
        if status == "bad":
            raise NotJudgeable(f"{name} measurement not valid (Bad status)", rule="bad_status")
        if status == "uncertain":
            self.uncertain_used.add(name)
        value = m.value
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise NotJudgeable(f"{name} was not measured", rule="not_measured")
        expected_unit = self._schema_units.get(name)
        if m.unit is not None and expected_unit is not None and m.unit != expected_unit:
            raise NotJudgeable(f"{name} is in {m.unit!r}, the contract says {expected_unit!r}", rule="wrong_unit")
        if not _KIND_TEST[kind](value):
            raise NotJudgeable(f"{name} should be a {kind}, got {type(value).__name__}", rule="wrong_kind")
        return value

    def number(self, name: str) -> float:
        value = float(self.value(name, "number"))
        if not math.isfinite(value):
            raise NotJudgeable(f"{name} is not a finite number", rule="not_measured")
        return value

    def optional_number(self, name: str) -> float | None:
        try:
            return self.number(name)
        except NotJudgeable:
            return None

    def text(self, name: str, *, allow_empty: bool = False) -> str:
        value = str(self.value(name, "string")).strip()
        if not value and not allow_empty:
            raise NotJudgeable(f"{name} is empty", rule="not_measured")
        return value

    def optional_text(self, name: str) -> str:
        """A string that may legitimately be empty or absent (e.g. EVI parts on a non-EVI model)."""
        m = self.measurements.get(name)
        if m is None or m.value is None:
            return ""
        return self.text(name, allow_empty=True)

    def flag(self, name: str) -> bool:
        return bool(self.value(name, "bool"))

    def instant(self, name: str) -> datetime:
        value: datetime = self.value(name, "datetime")
        if value == datetime.min:
            raise NotJudgeable(f"{name} was not measured (null DateTime)", rule="not_measured")
        return value

    def trace(self, channel: str) -> tuple[FloatArray, FloatArray]:
        """Validated (t_s, values) arrays: non-empty, same length, finite, strictly increasing time.

        A trace read with Bad status cannot pass; an Uncertain one gives at best a RETEST, as a value."""
        status = self.value_status.get(trace_status_key(channel), "good")
        if status == "bad":
            raise NotJudgeable(f"trace {channel} not valid (Bad status)", rule="bad_status")
        if status == "uncertain":
            self.uncertain_used.add(f"trace {channel}")
        cached = self._traces.get(channel)
        if cached is not None:
            return cached
        trace = next((tr for tr in self.result.traces if tr.channel == channel), None)
        if trace is None or not trace.values:
            raise NotJudgeable(f"trace {channel} is empty or missing", rule="bad_trace")
        try:
            t, v = trace.arrays()
        except (TypeError, ValueError):
            raise NotJudgeable(f"trace {channel} holds non-numeric samples", rule="bad_trace") from None
        if t.shape != v.shape:
            raise NotJudgeable(f"trace {channel} has {v.size} samples but {t.size} time stamps", rule="bad_trace")
        if not (np.isfinite(t).all() and np.isfinite(v).all()):
            raise NotJudgeable(f"trace {channel} holds NaN or infinite samples", rule="bad_trace")
        if t.size > 1 and not (np.diff(t) > 0).all():
            raise NotJudgeable(f"trace {channel} time stamps do not strictly increase", rule="bad_trace")
        self._traces[channel] = (t, v)
        return t, v

    def component(self, kind: ComponentKind) -> Component | None:
        """The component of that kind: as delivered with the result, else derived from the scans."""
        return next(
            (c for c in components_of(station_type=self.station_type, result=self.result) if c.kind == kind),
            None,
        )


def components_of(*, station_type: StationType, result: StationResult) -> tuple[Component, ...]:
    """The unit's genealogy from one result: explicit components first, then those named by the scans."""
    explicit = {c.kind: c for c in result.components}
    by_name = {m.name: m.value for m in result.measurements}
    derived: list[Component] = []
    for spec in station_type.components:
        if spec.kind in explicit:
            continue
        identifier = by_name.get(spec.identifier)
        if not isinstance(identifier, str) or not identifier.strip():
            continue
        model = by_name.get(spec.model) if spec.model else None
        derived.append(
            Component(
                kind=spec.kind,
                identifier=identifier.strip(),
                model=model.strip() if isinstance(model, str) and model.strip() else None,
            )
        )
    return (*explicit.values(), *derived)
