"""What a station reports and what judging makes of it: plain values, no framework types.

A measurement has one of four kinds (see plc-interface.md): numbers are Doubles, strings are
identifiers or codes, booleans are pass/fail flags from the station, datetimes are UTC instants.
"Not measured" is ``None`` (the PLC's NaN or null DateTime is mapped to ``None`` at the boundary).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

MeasurementKind = Literal["number", "string", "bool", "datetime"]
MeasurementValue = float | str | bool | datetime | None
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def finite_or_none(value: float | None) -> float | None:
    """A check's number as it is stored and answered: a float (also where a rule computed an int),
    None for "none", NaN or infinity."""
    return float(value) if value is not None and math.isfinite(value) else None


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    RETEST = "RETEST"

    @property
    def plc_code(self) -> int:
        """The Int32 the MES writes to ``Result.Verdict`` (0 is 'none yet')."""
        return {Verdict.PASS: 1, Verdict.FAIL: 2, Verdict.RETEST: 3}[self]

    @staticmethod
    def worst(verdicts: list[Verdict]) -> Verdict:
        """FAIL beats RETEST beats PASS; an empty list is a PASS."""
        if Verdict.FAIL in verdicts:
            return Verdict.FAIL
        if Verdict.RETEST in verdicts:
            return Verdict.RETEST
        return Verdict.PASS


class ComponentKind(enum.StrEnum):
    COMPRESSOR = "compressor"
    INVERTER = "inverter"
    EVI_VALVE = "evi_valve"
    CYLINDER_LOT = "cylinder_lot"
    FURNACE_RUN = "furnace_run"
    FILLER_LOT = "filler_lot"
    COIL_BATCH = "coil_batch"

    @property
    def one_per_unit(self) -> bool:
        """A serialised part (it goes into one unit), not a lot or a run that many units share."""
        return self in (ComponentKind.COMPRESSOR, ComponentKind.INVERTER, ComponentKind.EVI_VALVE)


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    value: MeasurementValue
    unit: str | None = None


def trace_status_key(channel: str) -> str:
    """Where a trace's OPC UA status sits among the value statuses of a result (``Traces.<channel>``,
    as the node's path under ``Result``; a value's name never holds a dot, so they cannot collide)."""
    return f"Traces.{channel}"


@dataclass(frozen=True, slots=True)
class Trace:
    channel: str
    t_s: tuple[float, ...]
    values: tuple[float, ...]
    _arrays: tuple[FloatArray, FloatArray] | None = field(default=None, init=False, repr=False, compare=False)

    def arrays(self) -> tuple[FloatArray, FloatArray]:
        """(t_s, values) as float64 arrays, read-only, converted once per trace: the result's
        validation, its judging and its storage each need them, and a run-in result carries
        15,000 samples. Raises TypeError or ValueError for a sample that is not a number."""
        if self._arrays is None:
            t_s = np.fromiter(self.t_s, dtype=np.float64, count=len(self.t_s))
            values = np.fromiter(self.values, dtype=np.float64, count=len(self.values))
            t_s.flags.writeable = values.flags.writeable = False
            object.__setattr__(self, "_arrays", (t_s, values))
            return t_s, values
        return self._arrays


@dataclass(frozen=True, slots=True)
class Component:
    kind: ComponentKind
    identifier: str
    model: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One judged check: enough to explain and re-derive the verdict later."""

    name: str
    verdict: Verdict
    message: str
    rule: str
    measured: float | None = None
    expected: float | None = None
    limit_low: float | None = None
    limit_high: float | None = None
    uncertainty: float | None = None
    failure_mode: str | None = None


@dataclass(frozen=True, slots=True)
class StationResult:
    """A completed cycle as delivered by a PLC or an HTTP client."""

    measurements: tuple[Measurement, ...] = ()
    traces: tuple[Trace, ...] = ()
    components: tuple[Component, ...] = ()


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)
    failure_mode: str | None = None
    spec_revision_id: int | None = None
    model_version: str | None = None
    rules_version: str | None = None
