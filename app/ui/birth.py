"""The birth record as the workbench shows it: plots to draw, limits to mark, rows to export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

import stations
from app.cyclemodel.provider import UNITS as MODEL_QUANTITY_UNITS
from app.persistence import models as m
from app.services.traceability import AttemptRecord, BirthRecord
from app.ui.spc_data import CHARTED_LIMIT
from app.ui.templating import number as number_text
from stations import _checks as kinds

VACUUM = "vacuum_dehydration"
TARGET_LIMIT = "target_pressure_pa"


@dataclass(frozen=True, slots=True)
class PlotSpec:
    """One plot of an attempt: which trace channels, and the lines that give them meaning."""

    title: str
    sources: list[str]
    names: list[str]
    y_title: str
    log_y: bool = False
    hline: float | None = None
    hline_label: str = ""
    vline: float | None = None
    vline_label: str = ""
    fit_after_vline: bool = False  # draw the straight-line fit of the samples after the vertical line


def _trace_href(attempt_id: int, channel: str) -> str:
    return f"/api/v1/attempts/{attempt_id}/traces/{channel}"


def target_pressure_pa(session: Session, record: AttemptRecord) -> float | None:
    """The vacuum target the attempt was judged against (its spec revision), else the station default."""
    revision_id = record.attempt.spec_revision_id
    if revision_id is not None:
        document = session.execute(
            select(m.SpecRevision.document).where(m.SpecRevision.id == revision_id)
        ).scalar_one_or_none()
        if document:
            limit = json.loads(document).get("limits", {}).get(TARGET_LIMIT, {})
            if limit.get("high") is not None:
                return float(limit["high"])
    default = next((x for x in stations.get_station_type(VACUUM).limits if x.name == TARGET_LIMIT), None)
    return default.high if default else None


def plots_of(session: Session, record: AttemptRecord) -> list[PlotSpec]:
    """The plots of one attempt: the vacuum curve with its target line, other traces overlaid."""
    if not record.traces:
        return []
    attempt = record.attempt
    if attempt.station_type == VACUUM:
        isolation = next((x.value for x in record.measurements if x.name == "IsolationAt_s"), None)
        target = target_pressure_pa(session, record)
        return [
            PlotSpec(
                title="Vacuum: pressure (absolute)",
                sources=[_trace_href(attempt.id, t.channel) for t in record.traces],
                names=[t.channel for t in record.traces],
                y_title="Pa (log)",
                log_y=True,
                hline=target,
                hline_label=f"target {target:g} Pa" if target is not None else "",
                vline=isolation,
                vline_label="pump isolated" if isolation is not None else "",
                fit_after_vline=isolation is not None,
            )
        ]
    by_unit: dict[str, list[str]] = {}
    declared = {t.channel: t.unit for t in stations.get_station_type(attempt.station_type).traces}
    for trace in record.traces:
        by_unit.setdefault(declared.get(trace.channel) or "", []).append(trace.channel)
    title = stations.get_station_type(attempt.station_type).title
    return [
        PlotSpec(
            title=f"{title}: {unit or 'traces'}",
            sources=[_trace_href(attempt.id, ch) for ch in channels],
            names=channels,
            y_title=unit,
        )
        for unit, channels in sorted(by_unit.items())
    ]


CSV_HEADER = [
    "serial",
    "attempt_id",
    "station_id",
    "station_type",
    "started_at",
    "attempt_verdict",
    "spec_revision_id",
    "model_version",
    "row",
    "name",
    "value",
    "unit",
    "expected",
    "limit_low",
    "limit_high",
    "uncertainty",
    "check_verdict",
    "rule",
    "message",
    # appended after the columns above, so that their positions stay as readers of earlier exports know them
    "rules_version",
    "effective_verdict",
    "use_as_is",
    "override_by",
    "override_at",
    "override_reason",
    "hold_id",
    "hold_placed_at",
    "hold_placed_by",
    "hold_released_at",
    "hold_released_by",
    "hold_disposition",
    "hold_release_reason",
    # a component row's part taken out again at the repair bench: when, and by which attempt
    "removed_at",
    "removed_by_attempt_id",
    # a check row's limits: on the measured value itself ("absolute"), on measured − expected
    # ("residual of expected") or on (measured − expected) / expected ("fraction of expected"), and their unit
    "limit_basis",
    "limit_unit",
    # a hold row's lot hold: the hold-by-component request that placed it (blank for a hold of one unit)
    "hold_lot_hold_id",
]
_DETAIL_COLUMNS = 10  # name … message: what a measurement, check, manual check, component or hold row says
_HOLD_COLUMNS = 7  # hold_id … hold_release_reason
_REMOVAL_COLUMNS = 2  # removed_at, removed_by_attempt_id: blank on every row but a removed part's
_LIMIT_COLUMNS = 2  # limit_basis, limit_unit: blank on every row but a check's
_LOT_HOLD_COLUMNS = 1  # hold_lot_hold_id: blank on every row but a lot hold's

# A spreadsheet evaluates a cell that starts with one of these as a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


ABSOLUTE = "absolute"
RESIDUAL = "residual of expected"
FRACTION = "fraction of expected"


@dataclass(frozen=True, slots=True)
class LimitBasis:
    """What a check's recorded numbers are: the unit of its measured and expected values, what its
    low/high limits and U apply to (``basis``) and their unit. A run-in residual records measured and
    expected as absolute values (W, °C) but judges measured − expected (K) or its fraction of expected.
    ``expected_unit`` is the expected value's unit where it differs from the measured one (a recovery
    time in s against the water's temperature before the event in °C)."""

    value_unit: str
    basis: str
    limit_unit: str
    expected_unit: str | None = None

    def value(self, number: float | None) -> str:
        """A measured or expected value with its unit, as the birth record page shows it."""
        return self._shown(number, self.value_unit)

    def expected(self, number: float | None) -> str:
        """The expected value with its own unit."""
        return self._shown(number, self.value_unit if self.expected_unit is None else self.expected_unit)

    def limit(self, number: float | None, *, signed: bool = True) -> str:
        """A low/high limit (``signed``) or U as what it limits: "-8 % of expected" for a fraction of the
        expected value, "+1.5 K from expected" for a residual, "30 kN" on the measured value itself, "5 %"
        for a dimensionless fraction."""
        if number is None:
            return "—"
        if self.basis == FRACTION:
            shown = number * 100.0
            return f"{_signed(shown) if signed else number_text(shown)} % of expected"
        if self.basis == RESIDUAL:
            return _with_unit(_signed(number) if signed else number_text(number), self.limit_unit) + " from expected"
        return self._shown(number, self.limit_unit)

    def _shown(self, number: float | None, unit: str) -> str:
        """A number with its unit. A limit on the value itself whose unit is "1" is a fraction (a reference
        leak's deviation, the share of the predicted EVI gain): shown as a percentage. A model quantity
        without a unit (a COP) is shown as it is."""
        if number is None:
            return "—"
        if unit == "1" and self.basis == ABSOLUTE:
            return f"{number_text(number * 100.0)} %"
        return _with_unit(number_text(number), unit)


def _with_unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit and unit != "1" else text


def _signed(number: float) -> str:
    return number_text(number) if number <= 0 else "+" + number_text(number)


NO_LIMIT = LimitBasis("", "", "")
# Checks a station type's check records beside its own row, under its name plus a suffix: the check
# kind that records it, and the limit the row records.
_SECONDARY_ROWS: dict[str, tuple[type[kinds.CheckSpec], str]] = {
    "_spread": (kinds.SteadyWindowCheck, "spread_limit"),
    "_station_cross_check": (kinds.TimeBelowCheck, "disagreement_limit"),
}


@cache
def limit_basis(station_type: str, check_name: str) -> LimitBasis:
    """The units and basis of a recorded check, from its station type's declaration (blank when the
    station type or the check is not declared, or the check has no limit). A check with several limits
    records the one its value is judged against (``CHARTED_LIMIT``): the time below the target
    pressure is in s, not in the target's Pa."""
    try:
        declared = stations.get_station_type(station_type)
    except LookupError:
        return NO_LIMIT
    check = next((c for c in declared.checks if c.name == check_name), None)
    if check is None:
        return _secondary_basis(declared, check_name)
    limit_name = getattr(check, CHARTED_LIMIT.get(type(check), "limit"), None)
    limit = declared.limit(limit_name) if isinstance(limit_name, str) else None
    if isinstance(check, kinds.ResidualCheck):
        quantity_unit = MODEL_QUANTITY_UNITS.get(check.quantity, "")
        if check.relative:
            return LimitBasis(quantity_unit, FRACTION, "1")
        return LimitBasis(quantity_unit, RESIDUAL, limit.unit if limit else "")
    if limit is None:
        return NO_LIMIT
    if isinstance(check, kinds.RecoveryCheck):  # expected: the trace's value before the event
        trace = next((t for t in declared.traces if t.channel == check.channel), None)
        return LimitBasis(limit.unit, ABSOLUTE, limit.unit, trace.unit if trace else "")
    return LimitBasis(limit.unit, ABSOLUTE, limit.unit)


def _secondary_basis(declared: stations.StationType, check_name: str) -> LimitBasis:
    """The basis of a row a check records beside its own (a steady window's spread, the station's own
    figure cross-checked against the trace's)."""
    for suffix, (kind, limit_attribute) in _SECONDARY_ROWS.items():
        owner_name = check_name.removesuffix(suffix)
        if owner_name == check_name:
            continue
        owner = next((c for c in declared.checks if c.name == owner_name and isinstance(c, kind)), None)
        limit = declared.limit(getattr(owner, limit_attribute)) if owner is not None else None
        if limit is None:
            continue
        if isinstance(owner, kinds.TimeBelowCheck):  # the station's figure and the trace's, both in s
            figure = declared.measurement(owner.station_figure_measurement)
            return LimitBasis(figure.unit or "" if figure else "", ABSOLUTE, limit.unit)
        return LimitBasis(limit.unit, ABSOLUTE, limit.unit)
    return NO_LIMIT


def _neutralised(cell: object) -> object:
    """A text cell that a spreadsheet would evaluate, prefixed with a single quote (OWASP); numbers as they are."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def _detail(*cells: object) -> list[object]:
    return [*cells] + [""] * (_DETAIL_COLUMNS - len(cells))


def _blank(value: object) -> object:
    return "" if value is None else value


def _at(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _attempt_columns(rec: AttemptRecord) -> tuple[list[object], list[object]]:
    """The columns every row of an attempt repeats: who, where and the engine's verdict first, then the
    rules version that judged it and the verdict that counts with the override in force (the latest;
    the engine's verdict stays recorded)."""
    a = rec.attempt
    head: list[object] = [
        a.id,
        a.station_id,
        a.station_type,
        a.started_at.isoformat(),
        a.verdict or a.status,
        _blank(a.spec_revision_id),
        _blank(a.model_version),
    ]
    override = rec.overrides[-1] if rec.overrides else None
    decision: list[object] = [
        _blank(a.rules_version),
        override.verdict if override else a.verdict or a.status,
        "true" if a.use_as_is else "false",
        override.by if override else "",
        _at(override.at) if override else "",
        override.reason if override else "",
    ]
    return head, decision


def birth_record_csv(record: BirthRecord) -> str:
    """The birth record as CSV: one row per measurement, check, manual check and consumed component of
    each attempt, each with the attempt's verdict that counts and its override (who, when, why), then
    one row per hold on the unit (placed, released, disposition, the lot hold that placed it). A component
    taken out again at the repair bench says when and by which attempt in ``removed_at`` and
    ``removed_by_attempt_id`` (blank on every other row).
    Text cells a spreadsheet would take for a formula (starting with =, +, -, @, tab or a line break)
    are prefixed with a single quote; numbers are written as numbers."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    serial = record.unit.serial
    no_hold: list[object] = [""] * _HOLD_COLUMNS
    no_removal: list[object] = [""] * _REMOVAL_COLUMNS
    no_limit: list[object] = [""] * _LIMIT_COLUMNS
    no_lot_hold: list[object] = [""] * _LOT_HOLD_COLUMNS
    by_attempt: dict[int, tuple[list[object], list[object]]] = {}

    def write(*cells: object) -> None:
        writer.writerow([_neutralised(cell) for cell in cells])

    for rec in record.attempts:
        head, decision = by_attempt[rec.attempt.id] = _attempt_columns(rec)
        for x in rec.measurements:
            value = x.value if x.kind in ("number", "bool") and x.value is not None else x.text
            detail = _detail(x.name, _blank(value), x.unit or "")
            write(serial, *head, "measurement", *detail, *decision, *no_hold, *no_removal, *no_limit, *no_lot_hold)
        for c in rec.checks:
            basis = limit_basis(rec.attempt.station_type, c.name)
            detail = [
                c.name,
                _blank(c.measured),
                basis.value_unit,
                _blank(c.expected),
                _blank(c.limit_low),
                _blank(c.limit_high),
                _blank(c.uncertainty),
                c.verdict,
                c.rule,
                c.message,
            ]
            limits = [basis.basis, basis.limit_unit]
            write(serial, *head, "check", *detail, *decision, *no_hold, *no_removal, *limits, *no_lot_hold)
        for mc in rec.manual_checks:
            detail = [mc.name, "", "", "", "", "", "", mc.verdict, f"manual by {mc.by}", mc.message]
            write(serial, *head, "manual_check", *detail, *decision, *no_hold, *no_removal, *no_limit, *no_lot_hold)
        for comp in rec.components:
            detail = _detail(comp.kind, comp.identifier, comp.model or "")
            removal = [_at(comp.removed_at), _blank(comp.removed_by_attempt_id)]
            write(serial, *head, "component", *detail, *decision, *no_hold, *removal, *no_limit, *no_lot_hold)
    for h in record.holds:
        # a hold a FAIL put is about that attempt; a unit or lot hold about no attempt
        head, decision = by_attempt.get(h.attempt_id, ([""] * 7, [""] * 6))
        detail = _detail(h.scope, _blank(h.scope_ref), *[""] * 7, h.reason)
        placed = [h.id, _at(h.created_at), _blank(h.created_by)]
        released = [_at(h.released_at), _blank(h.released_by), _blank(h.disposition), _blank(h.release_reason)]
        lot_hold = [_blank(h.lot_hold_id)]
        write(serial, *head, "hold", *detail, *decision, *placed, *released, *no_removal, *no_limit, *lot_hold)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class BandChart:
    """Residuals of one attempt against the cycle model, each with the band it was judged against."""

    title: str
    y_title: str
    labels: list[str]
    residuals: list[float]
    lows: list[float | None]
    highs: list[float | None]
    verdicts: list[str]

    def as_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "y_title": self.y_title,
            "labels": self.labels,
            "residuals": self.residuals,
            "lows": self.lows,
            "highs": self.highs,
            "verdicts": self.verdicts,
        }


def residual_bands(record: AttemptRecord) -> list[BandChart]:
    """Run-in plateaus against the model: absolute residuals (K) and relative ones (% of the model)."""
    declared = {
        c.name: bool(getattr(c, "relative", False))
        for c in stations.get_station_type(record.attempt.station_type).checks
        if type(c).__name__ == "ResidualCheck"
    }
    if not declared:
        return []
    groups: dict[bool, list[tuple[str, float, float | None, float | None, str]]] = {False: [], True: []}
    for check in sorted(record.checks, key=lambda c: c.name):
        relative = declared.get(check.name)
        if relative is None or check.measured is None or check.expected is None:
            continue
        if relative and check.expected == 0:
            continue
        scale = 100.0 if relative else 1.0
        residual = (check.measured / check.expected - 1.0 if relative else check.measured - check.expected) * scale
        low = check.limit_low * scale if check.limit_low is not None else None
        high = check.limit_high * scale if check.limit_high is not None else None
        groups[relative].append((check.name.replace("_", " "), residual, low, high, check.verdict))
    charts = []
    for relative, rows in groups.items():
        if rows:
            charts.append(
                BandChart(
                    title="Run-in vs cycle model: " + ("capacity, COP, power" if relative else "temperatures"),
                    y_title="% of the model" if relative else "K",
                    labels=[r[0] for r in rows],
                    residuals=[r[1] for r in rows],
                    lows=[r[2] for r in rows],
                    highs=[r[3] for r in rows],
                    verdicts=[r[4] for r in rows],
                )
            )
    return charts
