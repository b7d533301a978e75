"""Reverse genealogy for the page: counts over every unit of a lot, rows for the first of its units.

The API's genealogy returns every consumption (5,000 rows for a cylinder lot); a page needs the
counts by status and a first screenful, both read through ix_component_identifier_lower. The page
is cut by units, as it counts them: a unit with two rows (re-brazed in the same furnace run) is
shown whole or not at all, and never pushes another unit off the table unsaid. Beside them, the lot
holds placed on the identifier, each with how many of its holds still stand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.persistence import models as m
from app.persistence import repositories as repo
from app.services.traceability import GenealogyEntry, same_identifier


@dataclass(frozen=True, slots=True)
class LotView:
    total: int  # units that consumed the identifier
    statuses: dict[str, int]  # units by status
    entries: list[GenealogyEntry]  # every consumption by the units shown, by unit
    shown: int  # units in ``entries``: the first ``limit`` units, or all of them
    # the identifier as recorded: one spelling, or (recorded in more than one case) the first and last of them
    spellings: tuple[str, ...]
    # the verdict that counts (the latest override's, else the engine's) of the operation that consumed it,
    # by attempt: which units of a suspect furnace run or lot failed there
    verdicts: dict[int, str] = field(default_factory=dict)


def lot_view(*, session: Session, identifier: str, kind: str | None, limit: int) -> LotView:
    """Units that consumed ``identifier`` (in any case, trimmed): how many, in which status, and the
    rows of the first ``limit`` units."""
    c, u = m.ComponentUse, m.Unit
    conditions = [same_identifier(identifier.strip())]
    if kind is not None:
        conditions.append(c.kind == kind)
    by_status = session.execute(
        # with its counts, each group's first and last spelling: one spelling in all (the rule), or more
        select(u.status, func.count(func.distinct(u.id)), func.min(c.identifier), func.max(c.identifier))
        .select_from(c)
        .join(u, u.id == c.unit_id)
        .where(*conditions)
        .group_by(u.status)
    ).all()
    statuses = {status: int(count) for status, count, _first, _last in by_status}
    spellings = tuple(sorted({s for _status, _count, *first_last in by_status for s in first_last}))
    first_units = select(c.unit_id).where(*conditions).distinct().order_by(c.unit_id).limit(limit).subquery()
    rows = session.execute(
        select(
            u.serial,
            u.status,
            m.ProductModel.code,
            m.WorkOrder.number,
            c.kind,
            c.identifier,
            c.model,
            c.station_id,
            c.attempt_id,
            c.consumed_at,
            c.removed_at,
            c.removed_by_attempt_id,
        )
        .select_from(c)
        .join(u, u.id == c.unit_id)
        .join(m.ProductModel, m.ProductModel.id == u.product_model_id)
        .join(m.WorkOrder, m.WorkOrder.id == u.work_order_id)
        .where(*conditions, c.unit_id.in_(select(first_units.c.unit_id)))
        .order_by(c.unit_id, c.id)
    ).all()
    return LotView(
        total=sum(statuses.values()),
        statuses=statuses,
        entries=[GenealogyEntry._make(row) for row in rows],  # the columns in GenealogyEntry's order
        shown=len({row.serial for row in rows}),
        spellings=spellings,
        verdicts=_verdicts(session, [row.attempt_id for row in rows if row.attempt_id is not None]),
    )


def _verdicts(session: Session, attempt_ids: list[int]) -> dict[int, str]:
    """Each attempt's verdict that counts (an override over the engine's), or its status while it has none."""
    a, vo = m.OperationAttempt, m.VerdictOverride
    found: dict[int, str] = {}
    for start in range(0, len(attempt_ids), 500):
        chunk = attempt_ids[start : start + 500]
        found |= {
            i: verdict or status
            for i, verdict, status in session.execute(select(a.id, a.verdict, a.status).where(a.id.in_(chunk)))
        }
        for attempt_id, verdict in session.execute(
            select(vo.attempt_id, vo.verdict).where(vo.attempt_id.in_(chunk)).order_by(vo.id)
        ):
            found[attempt_id] = verdict  # the latest override counts
    return found


@dataclass(frozen=True, slots=True)
class LotHoldView:
    """One lot hold of the identifier shown: what held the units, and how many of its holds still stand."""

    id: int
    identifier: str
    kind: str | None
    reason: str
    created_at: datetime
    created_by: str | None
    holds: int  # units the lot hold held
    active: int  # of its holds, those not released yet


def lot_holds(*, session: Session, identifier: str, kind: str | None) -> list[LotHoldView]:
    """The lot holds placed on ``identifier`` (in any case), newest first; with a kind chosen, those of that
    kind and those of any kind (which held its units too)."""
    lot, hold = m.LotHold, m.Hold
    conditions = [func.lower(lot.identifier) == func.lower(identifier.strip())]
    if kind is not None:
        conditions.append(or_(lot.kind == kind, lot.kind.is_(None)))
    rows = session.execute(
        select(
            lot.id,
            lot.identifier,
            lot.kind,
            lot.reason,
            lot.created_at,
            lot.created_by,
            func.count(hold.id),
            func.count(hold.id).filter(hold.released_at.is_(None)),
        )
        .join(hold, hold.lot_hold_id == lot.id)
        .where(*conditions)
        .group_by(lot.id, lot.identifier, lot.kind, lot.reason, lot.created_at, lot.created_by)
        .order_by(lot.id.desc())
    ).all()
    return [LotHoldView(*row) for row in rows]


def lot_hold_route_steps(*, session: Session, lot_hold_ids: list[int]) -> list[str]:
    """The steps of every route the units of these lot holds follow, in route order (where a rework of the
    whole lot may re-enter)."""
    if not lot_hold_ids:
        return []
    route_ids = session.scalars(
        select(m.ProductModel.route_id)
        .join(m.Unit, m.Unit.product_model_id == m.ProductModel.id)
        .join(m.Hold, m.Hold.unit_id == m.Unit.id)
        .where(m.Hold.lot_hold_id.in_(lot_hold_ids))
        .distinct()
    ).all()
    steps: list[str] = []
    for route_id in sorted(route_ids):
        steps += [s.station_type for s in repo.route_def(session, route_id).steps if s.station_type not in steps]
    return steps
