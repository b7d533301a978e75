"""The values of one characteristic, in production order, for the SPC page.

A characteristic is a numeric check of a station type: its judged value (the leak rate in g/yr of
the unit's refrigerant, the charged mass…) or, for a check against the cycle model, the residual
as the check judges it (measured − expected, or measured / expected − 1 where the band is
relative); its limits are then already residual limits. Spec limits are those the newest sampled
attempt was judged against.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

import stations
from app.persistence import models as m

NON_NUMERIC = {"PresenceCheck", "OneOfCheck", "SequenceCheck", "FlagCheck", "BomCheck", "CheckAgeCheck"}
RESIDUAL = {"ResidualCheck"}
JUDGED = ("passed", "failed", "retest")


@dataclass(frozen=True, slots=True)
class Characteristic:
    station_type: str
    check: str
    label: str
    residual: bool
    relative: bool = False  # a residual as a fraction of the model's value (capacity, COP, power)

    @property
    def key(self) -> str:
        return f"{self.station_type}:{self.check}"


@dataclass(frozen=True, slots=True)
class Sample:
    values: list[float]
    serials: list[str]
    low: float | None
    high: float | None


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
            label = f"{st.title}: {getattr(check, 'label', check.name)}{suffix}"
            found.append(Characteristic(st.code, check.name, label, residual, relative))
    return found


def sample(*, session: Session, characteristic: Characteristic, product_model: str, limit: int) -> Sample:
    """The last ``limit`` judged values of the characteristic for a product model, oldest first."""
    a, u = m.OperationAttempt, m.Unit
    model_id = session.execute(select(m.ProductModel.id).where(m.ProductModel.code == product_model)).scalar_one()
    rows = session.execute(
        select(a.id, u.serial)
        .join(u, u.id == a.unit_id)
        .where(a.station_type == characteristic.station_type, u.product_model_id == model_id, a.status.in_(JUDGED))
        .order_by(a.id.desc())
        .limit(limit)
    ).all()
    if not rows:
        return Sample([], [], None, None)
    serial_of = {attempt_id: serial for attempt_id, serial in rows}
    c = m.CheckResultRow
    checks = session.execute(
        select(c.attempt_id, c.measured, c.expected, c.limit_low, c.limit_high)
        .where(c.attempt_id.in_(list(serial_of)), c.name == characteristic.check)
        .order_by(c.attempt_id)
    ).all()
    values, serials = [], []
    low = high = None
    for attempt_id, measured, expected, limit_low, limit_high in checks:
        value = residual_of(characteristic, measured=measured, expected=expected)
        if value is None:
            continue
        values.append(value)
        serials.append(serial_of[attempt_id])
        low, high = limit_low, limit_high
    return Sample(values, serials, low, high)


def residual_of(characteristic: Characteristic, *, measured: float | None, expected: float | None) -> float | None:
    """The charted value of one check row (None when it cannot be computed)."""
    if measured is None:
        return None
    if not characteristic.residual:
        return measured
    if expected is None or (characteristic.relative and expected == 0):
        return None
    return measured / expected - 1.0 if characteristic.relative else measured - expected
