"""Fitted parameter sets: versioned JSON files shipped in ``app/cyclemodel/params/``.

A set's id is ``<model code>@<first 10 hex of the SHA-256 of its parameters>``, so the id changes
exactly when the numbers do; every verdict records it through ``model_version()``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.cyclemodel.cycle import CycleParameters

PARAMS_DIR = Path(__file__).with_name("params")


@dataclass(frozen=True, slots=True)
class RatingFit:
    """How closely a fitted set reproduces one rating point."""

    point: str
    rated_capacity_w: float
    model_capacity_w: float
    rated_cop: float
    model_cop: float


@dataclass(frozen=True, slots=True)
class ParameterSet:
    """One product model's fitted cycle parameters, with provenance."""

    parameter_set_id: str
    product_model_code: str
    refrigerant: str
    code_version: str
    parameters: CycleParameters
    rating_fit: tuple[RatingFit, ...]


class ParameterSetNotFoundError(LookupError):
    """No fitted parameter set ships for this product model."""


def parameter_set_id(*, product_model_code: str, parameters: CycleParameters) -> str:
    """Content-derived id: the same numbers always give the same id."""
    payload = json.dumps(dataclasses.asdict(parameters), sort_keys=True).encode()
    return f"{product_model_code}@{hashlib.sha256(payload).hexdigest()[:10]}"


def to_json(parameter_set: ParameterSet) -> str:
    """Serialise a parameter set (stable key order, so files diff cleanly)."""
    return json.dumps(dataclasses.asdict(parameter_set), indent=2, sort_keys=True) + "\n"


def from_json(text: str) -> ParameterSet:
    """Parse a parameter set and check its id against its numbers."""
    raw: dict[str, Any] = json.loads(text)
    parameters = CycleParameters(**raw["parameters"])
    parameter_set = ParameterSet(
        parameter_set_id=raw["parameter_set_id"],
        product_model_code=raw["product_model_code"],
        refrigerant=raw["refrigerant"],
        code_version=raw["code_version"],
        parameters=parameters,
        rating_fit=tuple(RatingFit(**r) for r in raw["rating_fit"]),
    )
    expected = parameter_set_id(product_model_code=parameter_set.product_model_code, parameters=parameters)
    if parameter_set.parameter_set_id != expected:
        raise ValueError(
            f"parameter set {parameter_set.parameter_set_id} was edited by hand: its numbers give {expected}"
        )
    return parameter_set


def shipped_path(product_model_code: str) -> Path:
    """Where the shipped set of a product model lives."""
    return PARAMS_DIR / f"{product_model_code}.json"


def load_shipped(*, product_model_code: str) -> ParameterSet:
    """The parameter set shipped for a product model."""
    path = shipped_path(product_model_code)
    if not path.exists():
        raise ParameterSetNotFoundError(f"no fitted cycle-model parameters for {product_model_code}")
    return from_json(path.read_text())


def save(*, parameter_set: ParameterSet, path: Path) -> None:
    """Write a parameter set file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(parameter_set))
