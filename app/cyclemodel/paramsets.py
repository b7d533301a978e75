"""Fitted parameter sets: what a fit produces, and how it is written down.

A set's id is ``<model code>@<first 10 hex of the SHA-256 of its parameters>``, so the id changes
exactly when the numbers do. Sets live in the database, versioned per product model
(``app.services.cycle_parameters``); ``version`` is that number, and ``version_label`` is what every
verdict records through ``model_version()``. The demo models' sets also ship as demo seed data
(``app/services/demo_cycle_parameter_sets.json``), which the demo load puts into the database and the
simulator and database-free tests read directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from app.cyclemodel.cycle import CycleParameters

DEMO_SEED = Path(__file__).resolve().parents[1] / "services" / "demo_cycle_parameter_sets.json"


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
    rating_data: tuple[dict[str, Any], ...] = ()  # the rating points it was fitted to, as the product gave them
    version: int | None = None  # the database version (None: not stored)

    @property
    def version_label(self) -> str:
        """'<model>@<hash>#v<version>' (just the id when the set is not a stored version)."""
        return self.parameter_set_id if self.version is None else f"{self.parameter_set_id}#v{self.version}"


@dataclass(frozen=True, slots=True)
class RecordedModelVersion:
    """What a verdict's ``model_version`` names: the code version, the set's id and its database version."""

    code_version: str
    parameter_set_id: str | None  # None: the verdict was judged without a parameter set
    version: int | None  # None: not a stored version (the demo seed read directly)


def parse_model_version(label: str | None) -> RecordedModelVersion | None:
    """Parse ``<code version>/<model>@<hash>[#v<version>]`` or ``<code version>/no-parameter-set``."""
    if not label or "/" not in label:
        return None
    code_version, rest = label.split("/", 1)
    if rest == "no-parameter-set":
        return RecordedModelVersion(code_version, None, None)
    set_id, marker, version = rest.rpartition("#v")
    if marker and version.isdigit():
        return RecordedModelVersion(code_version, set_id, int(version))
    return RecordedModelVersion(code_version, rest, None)


class ParameterSetNotFoundError(LookupError):
    """No fitted parameter set for this product model."""


def parameter_set_id(*, product_model_code: str, parameters: CycleParameters) -> str:
    """Content-derived id: the same numbers always give the same id."""
    payload = json.dumps(dataclasses.asdict(parameters), sort_keys=True).encode()
    return f"{product_model_code}@{hashlib.sha256(payload).hexdigest()[:10]}"


def to_dict(parameter_set: ParameterSet) -> dict[str, Any]:
    """A parameter set as plain data (the database version is not part of it)."""
    raw = dataclasses.asdict(parameter_set)
    raw.pop("version")
    raw["rating_data"] = list(raw["rating_data"])
    raw["rating_fit"] = list(raw["rating_fit"])
    return raw


def from_dict(raw: Mapping[str, Any], *, version: int | None = None) -> ParameterSet:
    """Parse a parameter set and check its id against its numbers."""
    parameters = CycleParameters(**raw["parameters"])
    parameter_set = ParameterSet(
        parameter_set_id=raw["parameter_set_id"],
        product_model_code=raw["product_model_code"],
        refrigerant=raw["refrigerant"],
        code_version=raw["code_version"],
        parameters=parameters,
        rating_fit=tuple(RatingFit(**r) for r in raw["rating_fit"]),
        rating_data=tuple(dict(r) for r in raw.get("rating_data", ())),
        version=version,
    )
    expected = parameter_set_id(product_model_code=parameter_set.product_model_code, parameters=parameters)
    if parameter_set.parameter_set_id != expected:
        raise ValueError(
            f"parameter set {parameter_set.parameter_set_id} was edited by hand: its numbers give {expected}"
        )
    return parameter_set


def to_json(parameter_set: ParameterSet) -> str:
    """Serialise a parameter set (stable key order, so files diff cleanly)."""
    return json.dumps(to_dict(parameter_set), indent=2, sort_keys=True) + "\n"


def from_json(text: str) -> ParameterSet:
    """Parse a serialised parameter set and check its id against its numbers."""
    return from_dict(json.loads(text))


def read_seed(path: Path = DEMO_SEED) -> dict[str, ParameterSet]:
    """The parameter sets of a seed file, by product model code."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {item["product_model_code"]: from_dict(item) for item in raw["parameter_sets"]}


def write_seed(parameter_sets: Iterable[ParameterSet], path: Path = DEMO_SEED) -> None:
    """Write a seed file (sets sorted by model code, stable key order)."""
    items = sorted((to_dict(ps) for ps in parameter_sets), key=lambda item: str(item["product_model_code"]))
    path.write_text(json.dumps({"parameter_sets": items}, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_shipped(*, product_model_code: str) -> ParameterSet:
    """The demo seed's parameter set of a product model (the simulator and database-free tests use it)."""
    seed = _demo_seed()
    if product_model_code not in seed:
        raise ParameterSetNotFoundError(f"no fitted cycle-model parameters for {product_model_code} in the demo seed")
    return seed[product_model_code]


@cache
def _demo_seed() -> dict[str, ParameterSet]:
    return read_seed(DEMO_SEED)
