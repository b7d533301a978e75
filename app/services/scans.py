"""Parts scanned at the sub-base: checked against the bill of materials, stored on the open attempt.

A scan becomes part of the unit's record at once (table ``component_use``, like the components a
station result reports), so a tablet that loses its connection or its storage loses nothing.
Only a serial that fits is stored: the part of the unit's bill of materials, one of each kind per
attempt, and not already fitted in another unit that is still on the line.

No commits here: the caller's transaction decides (lock order as everywhere: station, then unit,
then here the scanned parts' identities, so that two stations cannot fit one part at the same moment).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

import stations
from app.domain import routing
from app.domain.errors import Conflict, InvalidInput, NoOpenAttempt
from app.domain.results import Component, ComponentKind
from app.domain.serials import SerialFormat
from app.persistence import models as m
from app.persistence import repositories as repo
from app.persistence.db import advisory_lock_key, lock_until_commit
from app.persistence.repositories import AttemptState, UnitState

SUB_BASE = "sub_base_assembly"
IDENTIFIER_MAX = 64  # component_use.identifier and .model are VARCHAR(64)

# Which product model column names the part each kind must be.
BOM_MODEL_FIELD: Mapping[ComponentKind, str] = MappingProxyType(
    {
        ComponentKind.COMPRESSOR: "bom_compressor_model",
        ComponentKind.INVERTER: "bom_inverter_model",
        ComponentKind.EVI_VALVE: "bom_evi_valve_model",
    }
)


@dataclass(frozen=True, slots=True)
class BomVerdict:
    """Whether a part's model belongs on the unit, with the sentence the operator reads."""

    ok: bool
    expected: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What a scan stored, and everything the attempt has recorded now."""

    attempt_id: int
    serial: str
    station_id: str
    by: str
    consumed_at: datetime
    stored: tuple[Component, ...]
    recorded: tuple[Component, ...]


# The parts as the line names them (the sub-base station type's BOM checks say the same).
PART_WORDS: Mapping[ComponentKind, str] = MappingProxyType(
    {
        ComponentKind.COMPRESSOR: "compressor",
        ComponentKind.INVERTER: "inverter board",
        ComponentKind.EVI_VALVE: "EVI valve",
    }
)


def kind_word(kind: ComponentKind) -> str:
    """A component kind in plant words."""
    return PART_WORDS.get(kind) or kind.value.replace("_", " ")


def bom_verdict(product: m.ProductModel, *, kind: ComponentKind, model: str) -> BomVerdict:
    """Does a part of ``model`` belong on a unit of ``product`` as its ``kind``?"""
    field = BOM_MODEL_FIELD.get(kind)
    expected: str | None = getattr(product, field) if field else None
    word = kind_word(kind)
    if expected is None:
        return BomVerdict(False, None, f"{product.code} has no {word} in its bill of materials")
    if model.strip() == expected:
        return BomVerdict(True, expected, f"{word} {model.strip()} matches the bill of materials of {product.code}")
    return BomVerdict(False, expected, f"WRONG PART: {product.code} needs {word} {expected}, not {model.strip()}")


def check_part(*, session: Session, serial: str, kind: ComponentKind, model: str) -> BomVerdict:
    """The bill-of-materials check alone, without storing anything (read-only)."""
    unit = repo.unit_by_serial(session, serial)
    product = session.get(m.ProductModel, unit.product_model_id)
    assert product is not None  # a foreign key
    return bom_verdict(product, kind=kind, model=model)


_CU = m.ComponentUse
# Built once (the completion path may call ``unrecorded`` for every result); bound per call.
_RECORDED = (
    select(_CU.kind, _CU.identifier, _CU.model).where(_CU.attempt_id == bindparam("attempt_id")).order_by(_CU.id)
)


def recorded_components(session: Session, attempt_id: int) -> list[Component]:
    """The components recorded on an attempt, scanned or reported, in the order they were stored."""
    rows = session.execute(_RECORDED, {"attempt_id": attempt_id}).all()
    return [Component(kind=ComponentKind(kind), identifier=ident, model=model) for kind, ident, model in rows]


def identity(part: Component) -> tuple[ComponentKind, str]:
    """What makes two records one part: its kind and its serial in any case, as the genealogy finds it
    (``lower(identifier)``; Python's lower() folds at least the letters SQL's lower() folds)."""
    return part.kind, part.identifier.lower()


def unrecorded(session: Session, *, attempt_id: int, components: Iterable[Component]) -> tuple[Component, ...]:
    """The components not yet recorded on the attempt (same kind and identifier, in any case), each
    once: what a station result may still store after the operator scanned some of its parts."""
    wanted = tuple(components)
    if not wanted:
        return ()
    seen = {identity(c) for c in recorded_components(session, attempt_id)}
    fresh = []
    for c in wanted:
        if identity(c) not in seen:
            seen.add(identity(c))
            fresh.append(c)
    return tuple(fresh)


def record_component_scans(
    *,
    session: Session,
    serial_format: SerialFormat,
    station_id: str,
    serial: str,
    components: list[Component],
    by: str,
) -> ScanOutcome:
    """Store parts scanned for ``serial`` at a sub-base station on its open attempt there.

    All or nothing: any part that does not fit refuses the whole scan with the reason
    (InvalidInput for what was typed, Conflict for what the record says, NoOpenAttempt without
    a started operation here, NotFound for an unknown station or serial).
    """
    serial_format.validate(serial)
    operator = by.strip()
    if not operator:
        raise InvalidInput("say who scanned the parts: the operator badge is empty")
    if not components:
        raise InvalidInput("no part was scanned")
    station_type = repo.lock_station(session, station_id)
    if station_type != SUB_BASE:
        here = station_type.replace("_", " ")
        raise InvalidInput(
            f"parts are scanned at a sub-base assembly station; {station_id} is a {here} station", station_id=station_id
        )
    scanned = _cleaned(components, allowed=_scannable_kinds())
    unit, _route = repo.unit_state(session, serial, for_update=True)
    attempt = _open_attempt(session, unit=unit, station_id=station_id)
    product = session.get(m.ProductModel, unit.product_model_id)
    assert product is not None  # a foreign key
    lock_part_identities(session, scanned)  # before the check "not already fitted in another unit"
    recorded = recorded_components(session, attempt.id)
    for part in scanned:
        _refuse_unfit(session, unit=unit, product=product, part=part, recorded=recorded, station_id=station_id)
    session.execute(
        insert(m.ComponentUse),
        [
            {
                "attempt_id": attempt.id,
                "unit_id": unit.id,
                "kind": c.kind.value,
                "identifier": c.identifier,
                "model": c.model,
                "station_id": station_id,
                "consumed_at": attempt.started_at,
            }
            for c in scanned
        ],
    )
    return ScanOutcome(
        attempt_id=attempt.id,
        serial=unit.serial,
        station_id=station_id,
        by=operator,
        consumed_at=attempt.started_at,
        stored=tuple(scanned),
        recorded=(*recorded, *scanned),
    )


def part_lock_name(kind: ComponentKind, identifier: str) -> str:
    """The advisory lock of one part identity (its serial in any case: CMP-1 and cmp-1 are one part, so
    one lock); its key is a signed 64-bit hash, the same in every process (db.advisory_lock_key)."""
    return f"component_use:{kind.value}:{identifier.lower()}"


def part_lock_key(kind: ComponentKind, identifier: str) -> int:
    return advisory_lock_key(part_lock_name(kind, identifier))


def lock_part_identities(session: Session, parts: Iterable[Component]) -> None:
    """Hold each part's identity (kind and serial) until the transaction ends, so the check that it is
    not fitted elsewhere and the insert that fits it are one step for every station at once.

    Taken after the station and unit rows and in key order, so two scans cannot wait on each other
    (db.lock_until_commit: an advisory lock on PostgreSQL, none needed on SQLite).
    """
    names = {part_lock_name(p.kind, p.identifier) for p in parts}
    for name in sorted(names, key=advisory_lock_key):
        lock_until_commit(session, name)


def _scannable_kinds() -> frozenset[ComponentKind]:
    return frozenset(spec.kind for spec in stations.get_station_type(SUB_BASE).components)


def _cleaned(components: list[Component], *, allowed: frozenset[ComponentKind]) -> list[Component]:
    """The scans with whitespace trimmed; refuses empty, over-long, foreign or repeated ones."""
    cleaned: list[Component] = []
    for c in components:
        identifier, model = c.identifier.strip(), (c.model or "").strip()
        word = kind_word(c.kind)
        if c.kind not in allowed:
            names = ", ".join(sorted(kind_word(k) for k in allowed))
            raise InvalidInput(f"a {word} is not scanned at the sub-base (parts scanned here: {names})")
        if not identifier:
            raise InvalidInput(f"the {word} serial is empty: scan the part's serial label")
        if not model:
            raise InvalidInput(f"the {word} model is empty: scan the part's model label too")
        if len(identifier) > IDENTIFIER_MAX or len(model) > IDENTIFIER_MAX:
            raise InvalidInput(f"the {word} serial and model are at most {IDENTIFIER_MAX} characters each")
        if any(x.kind is c.kind for x in cleaned):
            raise InvalidInput(f"two {word}s in one scan: a unit takes one {word}")
        cleaned.append(Component(kind=c.kind, identifier=identifier, model=model))
    return cleaned


def _open_attempt(session: Session, *, unit: UnitState, station_id: str) -> AttemptState:
    here = repo.attempts_at_station(session, station_id, result_key=None)
    attempt = next((a for a in here if a.unit_id == unit.id), None)
    if attempt is not None:
        return attempt
    elsewhere = session.execute(
        select(m.OperationAttempt.station_id).where(
            m.OperationAttempt.unit_id == unit.id, m.OperationAttempt.status == routing.AttemptStatus.OPEN.value
        )
    ).scalar()
    where = f"; it is in process at {elsewhere}" if elsewhere else ": start it there first"
    raise NoOpenAttempt(
        f"{unit.serial} has no open operation at {station_id}{where}", serial=unit.serial, station_id=station_id
    )


def _refuse_unfit(
    session: Session,
    *,
    unit: UnitState,
    product: m.ProductModel,
    part: Component,
    recorded: list[Component],
    station_id: str,
) -> None:
    word = kind_word(part.kind)
    same = next((r for r in recorded if identity(r) == identity(part)), None)
    if same is not None:
        raise Conflict(f"{word} {part.identifier} is already recorded on {unit.serial} at {station_id}")
    other = next((r for r in recorded if r.kind is part.kind), None)
    if other is not None:
        raise Conflict(
            f"{unit.serial} already has {word} {other.identifier} recorded at {station_id}; "
            "if that part is wrong, put the unit on hold so a quality engineer corrects the record"
        )
    assert part.model is not None  # _cleaned requires it
    verdict = bom_verdict(product, kind=part.kind, model=part.model)
    if not verdict.ok:
        raise Conflict(verdict.message, expected=verdict.expected)
    fitted = fitted_in(session, part=part, unit_id=unit.id)
    if fitted is not None:
        raise Conflict(f"{word} {part.identifier} is already fitted in {fitted}; scan the part in your hand")


def fitted_in(session: Session, *, part: Component, unit_id: int) -> str | None:
    """The serial of another unit, not scrapped, that ``part`` is fitted in (recorded in any case), or None.

    A part marked removed (taken out at the repair bench, ``component_use.removed_at``) is fitted in
    no unit any more. A part scanned on an attempt that later ended aborted still counts as fitted:
    the scan says the part was at the unit, and an aborted attempt does not say it was taken off
    again (a quality engineer decides; the birth record shows that attempt as aborted).
    Call under ``lock_part_identities`` when the answer decides a write.
    """
    return session.execute(
        select(m.Unit.serial)
        .join(m.ComponentUse, m.ComponentUse.unit_id == m.Unit.id)
        .where(
            # the expression ix_component_identifier_lower indexes (traceability.same_identifier)
            func.lower(m.ComponentUse.identifier) == func.lower(part.identifier),
            m.ComponentUse.kind == part.kind.value,
            m.ComponentUse.unit_id != unit_id,
            m.ComponentUse.removed_at.is_(None),
            m.Unit.status != routing.UnitStatus.SCRAPPED.value,
        )
        .limit(1)
    ).scalar()
