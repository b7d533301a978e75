"""Fitted cycle-model parameter sets in the database, versioned per product model, and the product
physics the cycle model reads from the product-model master data.

Versions are numbered 1, 2, 3 … per product model and never change once written; the highest is
current. Judging uses the current version and records it with every verdict (``app.services.judging``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from app.cyclemodel.paramsets import ParameterSet, from_dict, read_seed, to_dict
from app.cyclemodel.products import NoCyclePhysicsError, ProductPhysics, product_physics
from app.domain.actors import Actor
from app.domain.errors import InvalidInput, NotFound
from app.persistence import models as m
from app.persistence import repositories as repo
from app.services import audit
from app.services.clock import utcnow

DEMO_SEED_SOURCE = "demo seed"


def master_record(model: m.ProductModel) -> dict[str, Any]:
    """A product_model row in the master-data document's shape (what ``product_physics`` reads)."""
    rating = {
        name: getattr(model, name)
        for name in (
            "heating_a7w35_kw",
            "cop_a7w35",
            "heating_am7w35_kw",
            "cop_am7w35",
            "cooling_a35w7_kw",
            "eer_a35w7",
        )
    }
    return {
        "code": model.code,
        "refrigerant": model.refrigerant,
        "gwp": model.gwp,
        "evi": model.evi,
        "internal_volume_l": model.internal_volume_l,
        "max_allowable_pressure_bar_g": model.max_allowable_pressure_bar_g,
        "nominal_charge_g": model.nominal_charge_g,
        "charge_tolerance_g": model.charge_tolerance_g,
        "rating": rating,
        "cycle_physics": model.cycle_physics,
    }


def _model(session: Session, code: str) -> m.ProductModel:
    model = session.scalars(select(m.ProductModel).where(m.ProductModel.code == code)).one_or_none()
    if model is None:
        raise NotFound(f"product model {code} does not exist")
    return model


def physics_of(session: Session, *, product_model_code: str) -> ProductPhysics:
    """The cycle model's view of a product model, from its master data."""
    try:
        return product_physics(master_record(_model(session, product_model_code)))
    except NoCyclePhysicsError as exc:
        raise InvalidInput(f"{exc}: load master data with cycle_physics for {product_model_code} first") from exc


def product_codes(session: Session) -> list[str]:
    """Codes of the product models whose master data carries cycle physics."""
    rows = session.execute(select(m.ProductModel.code, m.ProductModel.cycle_physics).order_by(m.ProductModel.code))
    return [code for code, physics in rows if physics]


def _as_parameter_set(row: m.CycleParameterSet, code: str, refrigerant: str) -> ParameterSet:
    raw = {
        "parameter_set_id": row.parameter_set_id,
        "product_model_code": code,
        "refrigerant": refrigerant,
        "code_version": row.code_version,
        "parameters": row.parameters,
        "rating_fit": row.rating_fit,
        "rating_data": row.rating_data,
    }
    return from_dict(raw, version=row.version)


def current(session: Session, *, product_model_code: str) -> ParameterSet | None:
    """The current (highest) version of a product model's parameter set, or None when it has none."""
    newest = _sets_of(product_model_code).order_by(m.CycleParameterSet.version.desc()).limit(1)
    row = session.execute(newest).first()
    return None if row is None else _as_parameter_set(row[0], product_model_code, row[1])


def stored_version(session: Session, *, product_model_code: str, version: int) -> ParameterSet | None:
    """One stored version of a product model's parameter set, or None when there is no such version."""
    row = session.execute(_sets_of(product_model_code).where(m.CycleParameterSet.version == version)).first()
    return None if row is None else _as_parameter_set(row[0], product_model_code, row[1])


def _sets_of(product_model_code: str) -> Select[m.CycleParameterSet, str]:
    return (
        select(m.CycleParameterSet, m.ProductModel.refrigerant)
        .join(m.ProductModel, m.ProductModel.id == m.CycleParameterSet.product_model_id)
        .where(m.ProductModel.code == product_model_code)
    )


@dataclass(frozen=True, slots=True)
class CurrentKey:
    """What decides which expectations a product model gets: its physics data and its current version."""

    product_model_code: str
    cycle_physics: Any
    version: int | None
    parameter_set_id: str | None


@cache
def current_key_statement() -> Select[tuple[Any, int | None, str | None]]:
    """physics data, version, parameter set id of the product model ``code`` (a parameter).

    Built once: judging runs this for every verdict (with more columns: app.services.judging)."""
    newest = (
        select(func.max(m.CycleParameterSet.version))
        .where(m.CycleParameterSet.product_model_id == m.ProductModel.id)
        .correlate(m.ProductModel)
        .scalar_subquery()
    )
    return (
        select(m.ProductModel.cycle_physics, m.CycleParameterSet.version, m.CycleParameterSet.parameter_set_id)
        .select_from(m.ProductModel)
        .outerjoin(
            m.CycleParameterSet,
            (m.CycleParameterSet.product_model_id == m.ProductModel.id) & (m.CycleParameterSet.version == newest),
        )
        .where(m.ProductModel.code == bindparam("code"))
    )


def current_key(session: Session, *, product_model_code: str) -> CurrentKey | None:
    """One query: the model's physics data and its current parameter set's version (None: no such model)."""
    row = repo.core(session).execute(current_key_statement(), {"code": product_model_code}).first()
    if row is None:
        return None
    return CurrentKey(product_model_code, row[0], row[1], row[2])


def versions(session: Session, *, product_model_code: str) -> list[m.CycleParameterSet]:
    """Every stored version of a product model's parameter set, oldest first."""
    return list(
        session.scalars(
            select(m.CycleParameterSet)
            .where(m.CycleParameterSet.product_model_id == _model(session, product_model_code).id)
            .order_by(m.CycleParameterSet.version)
        )
    )


def store(
    *,
    session: Session,
    actor: Actor,
    parameter_set: ParameterSet,
    source: str,
    max_rating_error: float,
    if_changed: bool = False,
) -> ParameterSet:
    """Add a parameter set as the product model's next version (audited); returns it with its version.

    ``if_changed``: when the current version has the same numbers, add nothing and return the current one.
    """
    model = _model(session, parameter_set.product_model_code)
    now_current = current(session, product_model_code=model.code)
    if if_changed and now_current is not None and now_current.parameter_set_id == parameter_set.parameter_set_id:
        return now_current
    from app.cyclemodel.fitting import parameters_within_bounds  # SciPy: only when storing

    raw = to_dict(parameter_set)
    out_of_bounds = parameters_within_bounds(parameter_set.parameters)
    version = (now_current.version or 0) + 1 if now_current is not None else 1
    row = m.CycleParameterSet(
        product_model_id=model.id,
        version=version,
        parameter_set_id=parameter_set.parameter_set_id,
        code_version=parameter_set.code_version,
        parameters=raw["parameters"],
        rating_data=raw["rating_data"],
        rating_fit=raw["rating_fit"],
        max_rating_error=max_rating_error,
        within_bounds=not out_of_bounds,
        out_of_bounds=out_of_bounds,
        source=source,
        fitted_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="cycle_parameter_set.create",
        entity_type="cycle_parameter_set",
        entity_id=f"{model.code}#v{version}",
        before=None,
        after=audit.snapshot(row),
        reason=source,
    )
    return current(session, product_model_code=model.code)  # type: ignore[return-value]


def seed_demo(*, session: Session, actor: Actor, load: Callable[[], dict[str, ParameterSet]] = read_seed) -> int:
    """Make the demo seed's parameter sets current where they are not; returns how many versions it added."""
    added = 0
    for code, parameter_set in sorted(load().items()):
        if session.scalars(select(m.ProductModel.id).where(m.ProductModel.code == code)).first() is None:
            continue
        before = current(session, product_model_code=code)
        stored = store(
            session=session,
            actor=actor,
            parameter_set=parameter_set,
            source=DEMO_SEED_SOURCE,
            max_rating_error=worst_rating_error(parameter_set),
            if_changed=True,
        )
        added += before is None or before.version != stored.version
    return added


def worst_rating_error(parameter_set: ParameterSet) -> float:
    """The largest relative deviation of the set's model capacity or COP from the rated ones."""
    return max(
        (
            max(abs(f.model_capacity_w / f.rated_capacity_w - 1.0), abs(f.model_cop / f.rated_cop - 1.0))
            for f in parameter_set.rating_fit
        ),
        default=0.0,
    )
