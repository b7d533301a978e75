"""The values of one characteristic, in production order, for the SPC page.

A characteristic is a numeric check of a station type: its judged value (the leak rate in g/yr of
the unit's refrigerant, the charged mass…) or, for a check against the cycle model, the residual
as the check judges it (measured − expected, or measured / expected − 1 where the band is
relative); its limits are then already residual limits.

Results judged under different specification revisions are never pooled: a sample holds the values
of one revision, with that revision's limits (read from the revision, not from whichever check row is
newest), and says how many units it left out under others. A characteristic judged on every reading
of a unit (each hairpin, each fastener) keeps each unit's readings together: the unit is the rational
subgroup of its chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

import stations
from app.persistence import models as m
from app.persistence import trace_codec
from app.services import specs
from stations import _checks as kinds

NON_NUMERIC = {"PresenceCheck", "OneOfCheck", "SequenceCheck", "FlagCheck", "BomCheck", "CheckAgeCheck"}
RESIDUAL = {"ResidualCheck"}
JUDGED = ("passed", "failed", "retest")
#: The limit a check's recorded value is judged against, by check kind; every other numeric kind names it ``limit``.
CHARTED_LIMIT: dict[type[kinds.CheckSpec], str] = {
    kinds.RiseTestCheck: "rise_limit",
    kinds.TimeBelowCheck: "duration_limit",
    kinds.SteadyWindowCheck: "slope_limit",
    kinds.RecoveryCheck: "time_limit",
}


@dataclass(frozen=True, slots=True)
class Characteristic:
    station_type: str
    check: str
    label: str
    residual: bool
    relative: bool = False  # a residual as a fraction of the model's value (capacity, COP, power)
    reading_channel: str | None = None  # charted reading by reading: every sample of this trace
    reading_item: str = ""  # what one reading is of ("hairpin", "fastener")
    limit: str | None = None  # the specification's limit the value is judged against
    unit: str = ""  # the charted value's unit (the limit's): "g", "K"; "1" for a fraction

    @property
    def key(self) -> str:
        return f"{self.station_type}:{self.check}"

    @property
    def unit_words(self) -> str:
        """The unit as the page writes it after a number: " g", " K"; a fraction says so."""
        if self.unit == "1":
            return " (fraction of the model's value)" if self.relative else " (fraction)"
        return f" {self.unit}" if self.unit else ""

    @property
    def axis_title(self) -> str:
        """The charted value's axis title: its unit ("g", "K"), or what a fraction is of."""
        if self.unit == "1":
            return "fraction of the model's value" if self.relative else "fraction"
        return self.unit


@dataclass(frozen=True, slots=True)
class RevisionResults:
    """How many units' latest judged results for a characteristic one specification revision judged."""

    revision_id: int | None  # None: results stored without a revision
    units: int


@dataclass(frozen=True, slots=True)
class Subgroup:
    """One unit's readings of a reading-by-reading characteristic, in recorded order."""

    serial: str
    readings: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Sample:
    """One value per unit (or, for a reading-by-reading characteristic, each of its readings), every
    one judged under ``revision_id`` and its limits ``low`` … ``high``; ``units`` counts the units."""

    values: list[float]
    serials: list[str]  # per value: the unit's serial, and for a reading its item and number
    low: float | None
    high: float | None
    revision_id: int | None = None
    revisions: tuple[RevisionResults, ...] = ()  # every revision with results, in the order they took effect
    units: int = 0
    subgroups: tuple[Subgroup, ...] = ()  # reading by reading: each unit's readings, units in production order

    def _chosen_at(self) -> int:
        return next(i for i, r in enumerate(self.revisions) if r.revision_id == self.revision_id)

    @property
    def left_out_earlier(self) -> tuple[RevisionResults, ...]:
        """Results judged under revisions that took effect before the sample's own."""
        return self.revisions[: self._chosen_at()] if self.revisions else ()

    @property
    def left_out_later(self) -> tuple[RevisionResults, ...]:
        """Results judged under revisions that took effect after the sample's own."""
        return self.revisions[self._chosen_at() + 1 :] if self.revisions else ()


def characteristics() -> list[Characteristic]:
    """Every numeric check of every registered station type."""
    found = []
    for st in stations.all_station_types():
        for check in st.checks:
            kind = type(check).__name__
            if kind in NON_NUMERIC:
                continue
            residual = kind in RESIDUAL
            relative = bool(getattr(check, "relative", False))
            suffix = (" (measured / model − 1)" if relative else " (measured − model)") if residual else ""
            channel = check.channel if isinstance(check, kinds.TraceEachCheck) else None
            item = check.item if isinstance(check, kinds.TraceEachCheck) else ""
            suffix += f" (each {item})" if channel else ""
            label = f"{st.title}: {getattr(check, 'label', check.name)}{suffix}"
            limit = getattr(check, CHARTED_LIMIT.get(type(check), "limit"), None)
            declared = st.limit(limit) if isinstance(limit, str) else None
            unit = declared.unit if declared is not None else ""
            found.append(Characteristic(st.code, check.name, label, residual, relative, channel, item, limit, unit))
    return found


def sample(
    *, session: Session, characteristic: Characteristic, product_model: str, limit: int, revision_id: int | None = None
) -> Sample:
    """The last ``limit`` units' values of the characteristic for a product model, oldest first.

    Each unit counts once, with its latest judged value (a retest or a rework loop replaces the
    earlier one), and only units whose latest value was judged under one specification revision are
    taken: ``revision_id`` when it has results, else the newest revision that has. Capability and
    spec lines mean something only against the limits the values were judged by.
    """
    a, u, c = m.OperationAttempt, m.Unit, m.CheckResultRow
    model_id = session.execute(select(m.ProductModel.id).where(m.ProductModel.code == product_model)).scalar_one()
    has_value: list[ColumnElement[bool]] = [c.measured.is_not(None)]
    if characteristic.residual:
        has_value.append(c.expected.is_not(None))
        if characteristic.relative:
            has_value.append(c.expected != 0)
    this_check = (c.attempt_id == a.id) & (c.name == characteristic.check)
    latest = (
        select(func.max(a.id).label("attempt_id"))
        .join(u, u.id == a.unit_id)
        .join(c, this_check)
        .where(a.station_type == characteristic.station_type, u.product_model_id == model_id, a.status.in_(JUDGED))
        .where(*has_value)
        .group_by(a.unit_id)
        .subquery()
    )
    per_revision = select(a.spec_revision_id, func.count()).join(latest, latest.c.attempt_id == a.id)
    counted = {rev: units for rev, units in session.execute(per_revision.group_by(a.spec_revision_id))}
    if not counted:
        return Sample([], [], None, None)
    by_effect = session.execute(
        select(m.SpecRevision.id)
        .where(m.SpecRevision.id.in_([r for r in counted if r is not None]))
        .order_by(m.SpecRevision.effective_from, m.SpecRevision.id)
    ).scalars()
    order: list[int | None] = [None] if None in counted else []
    order += [r for r in by_effect if r in counted]
    order += sorted(r for r in counted if r is not None and r not in order)  # a revision row that is gone
    chosen = revision_id if revision_id is not None and revision_id in counted else order[-1]
    rows = session.execute(
        select(a.id, u.serial, c.measured, c.expected, c.limit_low, c.limit_high)
        .join(latest, latest.c.attempt_id == a.id)
        .join(u, u.id == a.unit_id)
        .join(c, this_check)
        .where(a.spec_revision_id.is_(None) if chosen is None else a.spec_revision_id == chosen)
        .order_by(a.id.desc())
        .limit(limit)
    ).all()
    values, serials = [], []
    readings = _readings(session=session, characteristic=characteristic, attempt_ids=[r.id for r in rows])
    units = 0
    subgroups: list[Subgroup] = []
    for attempt_id, serial, measured, expected, _, _ in reversed(rows):
        if characteristic.reading_channel is not None:
            each = readings.get(attempt_id, [])
            values += each
            serials += [f"{serial} {characteristic.reading_item} {k}" for k in range(1, len(each) + 1)]
            if each:
                units += 1
                subgroups.append(Subgroup(serial, tuple(each)))
            continue
        value = residual_of(characteristic, measured=measured, expected=expected)
        if value is not None:
            values.append(value)
            serials.append(serial)
            units += 1
    revisions = tuple(RevisionResults(r, counted[r]) for r in order)
    recorded = [(r.limit_low, r.limit_high) for r in rows]
    low, high = _limits(session=session, characteristic=characteristic, revision_id=chosen, recorded=recorded)
    return Sample(
        values,
        serials,
        low,
        high,
        revision_id=chosen,
        revisions=revisions,
        units=units,
        subgroups=tuple(subgroups),
    )


def _limits(
    *,
    session: Session,
    characteristic: Characteristic,
    revision_id: int | None,
    recorded: Sequence[tuple[float | None, float | None]],
) -> tuple[float | None, float | None]:
    """The limits of the characteristic in the specification revision the sample was judged under.

    Without the revision (results stored without one, or its row gone) the limits the sample's rows
    ``recorded``, when they all record the same; none when they disagree."""
    if revision_id is not None and characteristic.limit is not None:
        exists = session.scalar(select(m.SpecRevision.document.is_not(None)).where(m.SpecRevision.id == revision_id))
        if exists:
            limit = specs.approved_spec(session, revision_id).limits.get(characteristic.limit)
            return (limit.low, limit.high) if limit is not None else (None, None)
    bounded = {(low, high) for low, high in recorded if low is not None or high is not None}
    return bounded.pop() if len(bounded) == 1 else (None, None)


def _readings(*, session: Session, characteristic: Characteristic, attempt_ids: list[int]) -> dict[int, list[float]]:
    """Each attempt's finite samples of the characteristic's trace, in recorded order (none when the
    characteristic is not charted reading by reading)."""
    if characteristic.reading_channel is None or not attempt_ids:
        return {}
    t = m.TraceRow
    found: dict[int, list[float]] = {}
    for start in range(0, len(attempt_ids), 500):
        rows = session.execute(
            select(t.attempt_id, t.value_blob, t.encoding).where(
                t.attempt_id.in_(attempt_ids[start : start + 500]), t.channel == characteristic.reading_channel
            )
        )
        for attempt_id, blob, encoding in rows:
            found[attempt_id] = [v for v in trace_codec.decode(blob, encoding) if math.isfinite(v)]
    return found


def residual_of(characteristic: Characteristic, *, measured: float | None, expected: float | None) -> float | None:
    """The charted value of one check row (None when it cannot be computed)."""
    if measured is None:
        return None
    if not characteristic.residual:
        return measured
    if expected is None or (characteristic.relative and expected == 0):
        return None
    return measured / expected - 1.0 if characteristic.relative else measured - expected
