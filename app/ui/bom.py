"""A part scanned at the sub-base, checked against the unit's bill of materials before it is fitted.

Read-only: the parts a unit consumed are stored from the sub-base station's result (the PLC
reports each scanned serial and model); this check only warns the operator of a wrong part early.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.domain.results import ComponentKind
from app.persistence import models as m
from app.persistence import repositories as repo

BOM_FIELD = {
    ComponentKind.COMPRESSOR: "bom_compressor_model",
    ComponentKind.INVERTER: "bom_inverter_model",
    ComponentKind.EVI_VALVE: "bom_evi_valve_model",
}


@dataclass(frozen=True, slots=True)
class BomVerdict:
    ok: bool
    expected: str | None
    message: str


def check_part(*, session: Session, serial: str, kind: ComponentKind, model: str) -> BomVerdict:
    """Does a part of ``model`` belong on unit ``serial`` as its ``kind``?"""
    unit = repo.unit_by_serial(session, serial)
    product = session.get(m.ProductModel, unit.product_model_id)
    assert product is not None
    field = BOM_FIELD.get(kind)
    expected = getattr(product, field) if field else None
    word = kind.value.replace("_", " ")
    if expected is None:
        return BomVerdict(False, None, f"{product.code} has no {word} in its bill of materials")
    if model.strip() == expected:
        return BomVerdict(True, expected, f"{word} {model} matches the bill of materials of {product.code}")
    return BomVerdict(False, expected, f"WRONG PART: {product.code} needs {word} {expected}, not {model}")
