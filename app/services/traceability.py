"""Traceability: a unit's birth record, reverse genealogy, unit lists, trace samples, and how a part
fitted in place of another changes a unit's genealogy.

Every query here is bounded by an index: the birth record reads each table once by attempt id
(primary-key range scans), the genealogy reads ix_component_identifier_lower (an identifier is
matched whatever its case), lists page by unit id.

A unit holds one compressor, one inverter board and one EVI valve (``ComponentKind.one_per_unit``).
A result that records one of them (a part named by a repair, a scan or a station's report, whatever
the verdict: a recorded part counts as fitted, a wrong model too) takes the place of the unit's part
of that kind with another serial (in any case: the genealogy's one part): that part is never deleted
from the record, its ``component_use`` row is marked removed (when, by which attempt), and the birth
record and the genealogy show it so. The one exception: a part the result FAILs as already fitted in
another unit takes no part's place (the unit keeps its own; see :func:`remove_displaced`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, select, text, tuple_, update
from sqlalchemy.orm import Session

from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.results import Component, ComponentKind, StationResult
from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.persistence import repositories as repo
from app.persistence import trace_codec
from app.persistence.db import is_postgres
from app.persistence.repositories import UnitState
from app.services import scans


@dataclass(slots=True)
class AttemptRecord:
    """One attempt and what it recorded; rows are column reads (attribute access like ORM objects)."""

    attempt: Any
    measurements: list[Any] = field(default_factory=list)
    traces: list[Any] = field(default_factory=list)
    components: list[Any] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)
    overrides: list[Any] = field(default_factory=list)
    manual_checks: list[Any] = field(default_factory=list)

    @property
    def override(self) -> Any | None:
        """The verdict override in force (the latest; overrides are read oldest first), or None."""
        return self.overrides[-1] if self.overrides else None

    @property
    def effective_verdict(self) -> str | None:
        """The verdict that counts: the override's in force, else the engine's (None without a result)."""
        override = self.override
        return override.verdict if override is not None else self.attempt.verdict


@dataclass(frozen=True, slots=True)
class BirthRecord:
    unit: Any
    product_model_code: str
    work_order_number: str
    attempts: list[AttemptRecord]
    holds: list[Any]
    signatures: dict[int, Any] = field(default_factory=dict)  # e-signatures of hold releases and overrides, by id


def _columns(model: type[m.Base], *, without: tuple[str, ...] = ()) -> list[Any]:
    return [c for c in model.__table__.columns if c.name not in without]  # type: ignore[attr-defined]


# A birth record reads every table once for all of the unit's attempts; column reads on the tables
# skip the ORM's per-row entity work and its compile layer (each several times the cost of the row
# itself on this stack). Traces, overrides, manual checks and holds are the exception rather than
# the rule, so the attempts' read says (by index probes) which of those tables have rows to read.
_A = repo.table(m.OperationAttempt).c


def _has_rows(model: type[m.Base]) -> Any:
    return exists().where(repo.table(model).c.attempt_id == _A.id)


_ATTEMPTS = (
    select(
        *repo.ATTEMPT_COLUMNS,
        _has_rows(m.TraceRow).label("has_traces"),
        _has_rows(m.VerdictOverride).label("has_overrides"),
        _has_rows(m.ManualCheck).label("has_manual_checks"),
        exists().where(repo.table(m.Hold).c.unit_id == bindparam("unit_id")).label("unit_has_holds"),
    )
    .where(_A.unit_id == bindparam("unit_id"))
    .order_by(_A.id)
)
_ONLY_IF = {"traces": "has_traces", "overrides": "has_overrides", "manual_checks": "has_manual_checks"}
_HOLDS = (
    select(*_columns(m.Hold))
    .where(repo.table(m.Hold).c.unit_id == bindparam("unit_id"))
    .order_by(repo.table(m.Hold).c.id)
)
# the same order at every reading: checks in their verdict's order, parts as scanned, values by name
_PER_ATTEMPT = {
    "measurements": select(*_columns(m.Measurement)).order_by(repo.table(m.Measurement).c.name),
    "traces": select(*_columns(m.TraceRow, without=("t_blob", "value_blob"))).order_by(
        repo.table(m.TraceRow).c.channel
    ),
    "components": select(*_columns(m.ComponentUse)).order_by(repo.table(m.ComponentUse).c.id),
    "checks": select(*_columns(m.CheckResultRow)).order_by(*repo.CHECK_ORDER),
    "overrides": select(*_columns(m.VerdictOverride)).order_by(repo.table(m.VerdictOverride).c.id),
    "manual_checks": select(*_columns(m.ManualCheck)).order_by(repo.table(m.ManualCheck).c.id),
}
_TABLE_OF = {
    "measurements": m.Measurement,
    "traces": m.TraceRow,
    "components": m.ComponentUse,
    "checks": m.CheckResultRow,
    "overrides": m.VerdictOverride,
    "manual_checks": m.ManualCheck,
}


def birth_record(*, session: Session, serial_format: SerialFormat, serial: str) -> BirthRecord:
    serial_format.validate(serial)
    unit, _route = repo.unit_state(session, serial)
    connection = repo.core(session)
    attempts = connection.execute(_ATTEMPTS, {"unit_id": unit.id}).all()
    records = {a.id: AttemptRecord(attempt=a) for a in attempts}
    for name, query in _PER_ATTEMPT.items():
        flag = _ONLY_IF.get(name)
        ids = [a.id for a in attempts if flag is None or getattr(a, flag)]
        if ids:
            for row in connection.execute(query.where(repo.table(_TABLE_OF[name]).c.attempt_id.in_(ids))).all():
                getattr(records[row.attempt_id], name).append(row)
    holds: list[Any] = []
    if not attempts or attempts[0].unit_has_holds:
        holds = list(connection.execute(_HOLDS, {"unit_id": unit.id}).all())
    signed = {h.release_signature_id for h in holds} | {o.signature_id for r in records.values() for o in r.overrides}
    signed.discard(None)
    signatures = {}
    if signed:
        signatures = {
            s.id: s for s in session.execute(select(m.ESignature).where(m.ESignature.id.in_(signed))).scalars()
        }
    return BirthRecord(
        unit=unit,
        product_model_code=unit.product_model_code,
        work_order_number=unit.work_order_number,
        attempts=list(records.values()),
        holds=list(holds),
        signatures=signatures,
    )


@dataclass(frozen=True, slots=True)
class TraceSamples:
    attempt_id: int
    channel: str
    t_s: list[float]
    values: list[float]


def trace_samples(*, session: Session, attempt_id: int, channel: str) -> TraceSamples:
    row = session.get(m.TraceRow, (attempt_id, channel))
    if row is None:
        raise NotFound(f"attempt {attempt_id} has no trace {channel!r}")
    return TraceSamples(
        attempt_id=attempt_id,
        channel=channel,
        t_s=trace_codec.decode(row.t_blob, row.encoding),
        values=trace_codec.decode(row.value_blob, row.encoding),
    )


class GenealogyEntry(NamedTuple):
    """One unit's use of the identifier. Immutable like a frozen dataclass, and built several times
    faster (a lot holds thousands of units; a frozen dataclass sets each field through a call)."""

    serial: str
    status: str
    product_model_code: str
    work_order_number: str
    kind: str
    identifier: str
    component_model: str | None
    station_id: str
    attempt_id: int
    consumed_at: datetime
    removed_at: datetime | None = None  # taken out of the unit again (at the repair bench), or None
    removed_by_attempt_id: int | None = None


_CU = repo.table(m.ComponentUse).c
_UNIT_T = repo.table(m.Unit)
_GENEALOGY = (
    select(
        _UNIT_T.c.serial,
        _UNIT_T.c.status,
        repo.table(m.ProductModel).c.code,
        repo.table(m.WorkOrder).c.number,
        _CU.kind,
        _CU.identifier,
        _CU.model,
        _CU.station_id,
        _CU.attempt_id,
        _CU.consumed_at,
        _CU.removed_at,
        _CU.removed_by_attempt_id,
    )
    .select_from(
        repo.table(m.ComponentUse)
        .join(_UNIT_T, _UNIT_T.c.id == _CU.unit_id)
        .join(repo.table(m.ProductModel), repo.table(m.ProductModel).c.id == _UNIT_T.c.product_model_id)
        .join(repo.table(m.WorkOrder), repo.table(m.WorkOrder).c.id == _UNIT_T.c.work_order_id)
    )
    .where(func.lower(_CU.identifier) == func.lower(bindparam("identifier")))
    .order_by(_UNIT_T.c.serial, _CU.attempt_id)
)
_GENEALOGY_OF_KIND = _GENEALOGY.where(_CU.kind == bindparam("kind"))
# A lot is a small share of all units: fetching its units by primary key costs in proportion to the
# lot (~11 ms for 5,000 of 200,000 units here), hashing the unit table costs in proportion to every
# unit ever built (20-35 ms, growing). PostgreSQL's default cost of a random page (4, a spinning
# disk's) makes it choose the hash, and parallel workers that compete with the server for two cores.
# For this read's transaction only: pages cost what a cached or solid-state page costs, no workers.
_LOT_SIZED_PLAN = text(
    "SELECT set_config('random_page_cost', '1.1', true), set_config('max_parallel_workers_per_gather', '0', true)"
)


def same_identifier(identifier: str) -> ColumnElement[bool]:
    """A component use recorded under ``identifier`` in any case ("fr-0001" finds FR-0001): the
    expression ix_component_identifier_lower indexes (migration 0018), compared on the database, so
    that both sides are lower-cased alike. Stored identifiers are trimmed; trim what is typed."""
    return func.lower(repo.table(m.ComponentUse).c.identifier) == func.lower(identifier)


def genealogy(*, session: Session, identifier: str, kind: str | None) -> list[GenealogyEntry]:
    """Every consumption of ``identifier`` (component serial, lot, furnace run, cylinder lot; its case
    and surrounding whitespace ignored), a part since removed from a unit included, with when and by
    which attempt it was removed. One entry per consumption: a unit brazed twice in one furnace run
    has two."""
    identifier = identifier.strip()
    if is_postgres(session):
        repo.core(session).execute(_LOT_SIZED_PLAN)
    if kind is None:
        result = repo.core(session).execute(_GENEALOGY, {"identifier": identifier})
    else:
        result = repo.core(session).execute(_GENEALOGY_OF_KIND, {"identifier": identifier, "kind": kind})
    # all() fetches the rows in one call; iterating the result would fetch them one by one
    return [GenealogyEntry._make(row) for row in result.all()]


REPAIR = "repair"
# What a repair records of a serialised part it fitted (the repair station type's measurements)
REPLACED_PART_KIND = "ReplacedPartKind"
REPLACED_PART_SERIAL = "ReplacedPartSerial"
REPLACED_PART_MODEL = "ReplacedPartModel"
_SERIALISED_KINDS = [k.value for k in ComponentKind if k.one_per_unit]
_SERIALISED = ", ".join(_SERIALISED_KINDS[:-1]) + " or " + _SERIALISED_KINDS[-1]  # compressor, inverter or evi_valve


def replace_part(*, session: Session, unit: UnitState, result: StationResult) -> Component | None:
    """The compressor, inverter board or EVI valve a repair ``result`` fitted in ``unit``, checked like
    a scan at the sub-base, or None when the result names no part kind (the part is then recorded as
    text only). Stored as one of the result's components, it takes the place of the unit's part of
    its kind (:func:`remove_displaced`).

    Call while the repair's result is being stored (operations.complete_operation, after it locked
    the station and then the unit): the part's identity is locked here as a scan's is, so the check
    that it is not fitted in another unit and the record that fits it are one step. Refused, and so
    nothing of the repair stored, like a scan: a kind that is not a serialised part or a part not
    named in full (InvalidInput); not the model the unit's bill of materials names, fitted in another
    unit, or already the unit's own (Conflict).
    """
    values = {x.name: x.value for x in result.measurements}
    kind_text = _text(values.get(REPLACED_PART_KIND))
    if not kind_text:
        return None
    kind = next((k for k in ComponentKind if k.value == kind_text), None)
    if kind is None or not kind.one_per_unit:
        raise InvalidInput(
            f"{REPLACED_PART_KIND} {kind_text!r} is not a serialised part: name {_SERIALISED}, "
            "or leave it empty to record the replaced part as text only"
        )
    word = scans.kind_word(kind)
    identifier, model = _text(values.get(REPLACED_PART_SERIAL)), _text(values.get(REPLACED_PART_MODEL))
    if not identifier:
        raise InvalidInput(f"the new {word}'s serial is empty: scan the part's serial label")
    if not model:
        raise InvalidInput(f"the new {word}'s model is empty: scan the part's model label too")
    if len(identifier) > scans.IDENTIFIER_MAX or len(model) > scans.IDENTIFIER_MAX:
        raise InvalidInput(f"the {word} serial and model are at most {scans.IDENTIFIER_MAX} characters each")
    fitted = Component(kind=kind, identifier=identifier, model=model)
    product = session.get(m.ProductModel, unit.product_model_id)
    assert product is not None  # a foreign key
    verdict = scans.bom_verdict(product, kind=kind, model=model)
    if not verdict.ok:
        raise Conflict(verdict.message, expected=verdict.expected)
    scans.lock_part_identities(session, [fitted])  # after the station and unit: the scans' lock order
    elsewhere = scans.fitted_in(session, part=fitted, unit_id=unit.id)
    if elsewhere is not None:
        raise Conflict(f"{word} {identifier} is already fitted in {elsewhere}; scan the part in your hand")
    own = select(_CU.id).where(
        _CU.attempt_id.in_(_attempts_of(unit.id)),
        _CU.kind == kind.value,
        same_identifier(identifier),  # the genealogy's one part, whatever the case it was recorded in
        _CU.removed_at.is_(None),
    )
    if repo.core(session).execute(own.limit(1)).first() is not None:
        raise Conflict(f"{word} {identifier} is the one fitted in {unit.serial}: scan the new part's serial")
    return fitted


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _attempts_of(unit_id: int) -> Select[tuple[int]]:
    """The unit's attempts' ids: a unit's component uses are read through ix_attempt_unit and
    ix_component_attempt (component_use has no index on unit_id)."""
    return select(_A.id).where(_A.unit_id == unit_id)


_ON_THE_ATTEMPT = repo.table(m.ComponentUse).alias("on_the_attempt")
_MINE = _ON_THE_ATTEMPT.c
# Built once, one shape for every call: the rows of the unit's other attempts not removed yet, of a
# one-per-unit kind the attempt recorded a part of (one not fitted in another unit), under a serial the
# attempt did not record for that kind in any case.
_REMOVE_DISPLACED = (
    update(repo.table(m.ComponentUse))
    .where(
        _CU.attempt_id.in_(select(_A.id).where(_A.unit_id == bindparam("of_unit"), _A.id != bindparam("by_attempt"))),
        _CU.removed_at.is_(None),
        _CU.kind.in_(_SERIALISED_KINDS),
        exists().where(
            _MINE.attempt_id == bindparam("by_attempt"),
            _MINE.kind == _CU.kind,
            tuple_(_MINE.kind, _MINE.identifier).not_in(bindparam("fitted_elsewhere", expanding=True)),
        ),
        ~exists().where(
            _MINE.attempt_id == bindparam("by_attempt"),
            _MINE.kind == _CU.kind,
            func.lower(_MINE.identifier) == func.lower(_CU.identifier),
        ),
    )
    .values(removed_at=bindparam("at"), removed_by_attempt_id=bindparam("by_attempt"))
)


def remove_displaced(
    *,
    session: Session,
    unit_id: int,
    attempt_id: int,
    removed_at: datetime,
    fitted_elsewhere: Collection[Component] = (),
) -> None:
    """Mark removed by ``attempt_id`` each part of the unit that the parts recorded on that attempt
    (scanned, reported, or fitted at the repair bench) take the place of: a part of the same one-per-unit
    kind, under another serial (in any case), recorded on another of the unit's attempts and not removed
    yet. Call once the attempt's parts are written, in the same transaction, the unit locked.

    A part the attempt recorded that is ``fitted_elsewhere`` (the result FAILed it as already fitted in
    another unit: most likely a label misread, or a record a quality engineer must correct) takes no
    part's place: the unit keeps its own part, which stays fitted in it and so in no other unit."""
    repo.core(session).execute(
        _REMOVE_DISPLACED,
        {
            "of_unit": unit_id,
            "by_attempt": attempt_id,
            "at": removed_at,
            "fitted_elsewhere": [(part.kind.value, part.identifier) for part in fitted_elsewhere],
        },
    )


def parts_removed_by(*, session: Session, unit_id: int, attempt_id: int) -> list[Component]:
    """The parts of the unit that ``attempt_id`` marked removed, in the order they were recorded."""
    rows = repo.core(session).execute(
        select(_CU.kind, _CU.identifier, _CU.model)
        .where(_CU.attempt_id.in_(_attempts_of(unit_id)), _CU.removed_by_attempt_id == attempt_id)
        .order_by(_CU.id)
    )
    return [Component(kind=ComponentKind(kind), identifier=ident, model=model) for kind, ident, model in rows]


@dataclass(frozen=True, slots=True)
class UnitFilter:
    work_order: str | None = None
    status: str | None = None
    product_model: str | None = None
    station_id: str | None = None
    verdict: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnitRow:
    unit: m.Unit
    product_model_code: str
    work_order_number: str


def list_units(
    *, session: Session, flt: UnitFilter, after_id: int | None, limit: int
) -> tuple[list[UnitRow], int | None]:
    """Units matching the filter, by id; returns the page and the cursor of the next page (or None).

    Station, verdict and the time range apply to one and the same attempt: "units that had a FAIL
    at VAC-01 between these times".
    """
    if flt.since and flt.until and flt.since >= flt.until:
        raise InvalidInput("the time range is empty: 'since' must be before 'until'")
    query = (
        select(m.Unit, m.ProductModel.code, m.WorkOrder.number)
        .join(m.ProductModel, m.ProductModel.id == m.Unit.product_model_id)
        .join(m.WorkOrder, m.WorkOrder.id == m.Unit.work_order_id)
    )
    if flt.work_order is not None:
        query = query.where(m.WorkOrder.number == flt.work_order)
    if flt.status is not None:
        query = query.where(m.Unit.status == flt.status)
    if flt.product_model is not None:
        query = query.where(m.ProductModel.code == flt.product_model)
    attempt_conditions = []
    if flt.station_id is not None:
        attempt_conditions.append(m.OperationAttempt.station_id == flt.station_id)
    if flt.verdict is not None:
        attempt_conditions.append(m.OperationAttempt.verdict == flt.verdict)
    if flt.since is not None:
        attempt_conditions.append(m.OperationAttempt.started_at >= flt.since)
    if flt.until is not None:
        attempt_conditions.append(m.OperationAttempt.started_at < flt.until)
    if attempt_conditions:
        query = query.where(exists().where(and_(m.OperationAttempt.unit_id == m.Unit.id, *attempt_conditions)))
    if after_id is not None:
        query = query.where(m.Unit.id > after_id)
    rows = session.execute(query.order_by(m.Unit.id).limit(limit + 1)).all()
    page = [UnitRow(unit=u, product_model_code=code, work_order_number=number) for u, code, number in rows[:limit]]
    next_cursor = page[-1].unit.id if len(rows) > limit else None
    return page, next_cursor


def unit_summary(*, session: Session, serial_format: SerialFormat, serial: str) -> repo.UnitState:
    """One unit with its product model and work order (one query)."""
    serial_format.validate(serial)
    unit, _route = repo.unit_state(session, serial)
    return unit
