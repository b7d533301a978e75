"""Specifications: the limits (each with its U) one station type judges one product model against.

A revision is drafted as *overrides* of the station's defaults (a JSON mapping), resolved into a
:class:`Spec` by :func:`build_spec`, and frozen for ever with :func:`spec_to_document` (store that
document with the approved revision: re-judging from it gives the same limits even after the code's
defaults change). :func:`spec_from_document` turns the stored document back into a :class:`Spec`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from stations import StationType, get_station_type
from stations._schema import LimitDefault

from .product import ProductData, RatingPoint

SPEC_DOCUMENT_VERSION = 2
"""2: the document holds the station's settings (e.g. the run-in instruments' U). A version 1 document
has none and is read with the settings' defaults, the values that were constants in code before."""
MAX_RETEST_CAP = 5
"""The most retests a revision may allow at a station. A RETEST means "measure again" (a second
measurement or a longer stabilisation); the plant defaults are 0 to 2 (line.md). A value still inside
the guard band after five more measurements is not one a sixth decides, and a larger cap (a million was
accepted once) keeps the unit at the station without a verdict instead of failing it for a decision."""
_LIMIT_OVERRIDE_KEYS = frozenset({"low", "high", "uncertainty", "nominal", "tolerance", "tolerance_fraction"})
_BOUND_KEYS = _LIMIT_OVERRIDE_KEYS - {"uncertainty"}


class SpecError(ValueError):
    """A specification override or stored document is not usable; the message says what to fix."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """A resolved limit: inclusive bounds (None: open side; both None: no limit applies) and U (k = 2)."""

    name: str
    unit: str
    low: float | None
    high: float | None
    uncertainty: float
    origin: str  # seed / public / plant / product / revision

    @property
    def applies(self) -> bool:
        return self.low is not None or self.high is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """Limits for one station type × product model, as of one specification revision."""

    station_type: str
    product: ProductData
    limits: Mapping[str, Limit]
    retest_cap: int
    revision_id: int | None = None
    settings: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def product_model_code(self) -> str:
        return self.product.model_code


def _resolve_default(default: LimitDefault, product: ProductData) -> Limit:
    bounds: tuple[float | None, float | None] | None = (default.low, default.high)
    if default.from_product is not None:
        bounds = default.from_product(product.view())
    elif product.refrigerant in default.by_refrigerant:
        bounds = default.by_refrigerant[product.refrigerant]
    low, high = bounds if bounds is not None else (None, None)
    return Limit(
        name=default.name,
        unit=default.unit,
        low=low,
        high=high,
        uncertainty=default.uncertainty,
        origin=default.origin,
    )


def _number(value: Any, *, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _apply_override(limit: Limit, override: Any, *, non_negative: bool = False) -> Limit:
    where = f"limit {limit.name!r}"
    if not isinstance(override, Mapping):
        raise SpecError(f"{where}: override must be an object with {sorted(_LIMIT_OVERRIDE_KEYS)}")
    unknown = set(override) - _LIMIT_OVERRIDE_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(_LIMIT_OVERRIDE_KEYS)}")
    low, high, uncertainty = limit.low, limit.high, limit.uncertainty
    if "nominal" in override:
        nominal = _number(override["nominal"], where=f"{where}.nominal")
        if "tolerance" in override:
            tolerance = _number(override["tolerance"], where=f"{where}.tolerance")
        elif "tolerance_fraction" in override:
            tolerance = abs(nominal) * _number(override["tolerance_fraction"], where=f"{where}.tolerance_fraction")
        else:
            raise SpecError(f"{where}: a nominal needs a tolerance or a tolerance_fraction")
        low, high = nominal - abs(tolerance), nominal + abs(tolerance)
    elif "tolerance" in override or "tolerance_fraction" in override:
        raise SpecError(f"{where}: a tolerance needs a nominal")
    for side, bound in (("low", limit.low), ("high", limit.high)):
        if side in override and override[side] is None and bound is not None:
            # a limit with a side removed passes what it was there to catch, or fails every unit
            raise SpecError(
                f"{where}: a revision moves a bound, it does not remove one; set {side} to a value "
                f"(now {bound:g} {limit.unit}) instead of null"
            )
    if "low" in override:
        low = None if override["low"] is None else _number(override["low"], where=f"{where}.low")
    if "high" in override:
        high = None if override["high"] is None else _number(override["high"], where=f"{where}.high")
    if "uncertainty" in override:
        uncertainty = _number(override["uncertainty"], where=f"{where}.uncertainty")
    if uncertainty < 0:
        raise SpecError(f"{where}: uncertainty U must not be negative")
    if low is None and high is None and (limit.applies or _BOUND_KEYS & set(override)):
        raise SpecError(
            f"{where}: the override leaves the limit with no bound (low and high both null), so nothing would be "
            f"judged against it; give it a low, a high or a nominal with a tolerance"
        )
    if low is not None and high is not None:
        if low > high:
            raise SpecError(f"{where}: low {low} is above high {high}")
        if 2 * uncertainty >= high - low:
            # ISO 14253-1 guard band: PASS needs low + U ≤ value ≤ high − U, which is empty here
            raise SpecError(
                f"{where}: U {uncertainty:g} {limit.unit} leaves no PASS band in {low:g}…{high:g} {limit.unit} "
                f"(a value passes only inside low + U … high − U, so 2U must be below the width "
                f"{high - low:g}); widen the limit or use a more precise instrument (smaller U)"
            )
    if non_negative and high is not None and high - uncertainty <= 0:
        # the band's low side is 0 here, whatever low + U is: the quantity is never below 0
        unit = "" if limit.unit in ("", "1") else f" {limit.unit}"
        instrument = f" or use a more precise instrument (U below {high:g}{unit})" if high > 0 else ""
        raise SpecError(
            f"{where}: U {uncertainty:g}{unit} leaves no PASS band under high {high:g}{unit} (a value passes "
            f"only at or below high − U = {high - uncertainty:g}{unit}, and the quantity cannot be below 0); "
            f"raise the limit above U{instrument}"
        )
    return Limit(name=limit.name, unit=limit.unit, low=low, high=high, uncertainty=uncertainty, origin="revision")


def build_spec(
    *,
    station_type: StationType | str,
    product: ProductData,
    overrides: Mapping[str, Any] | None = None,
    revision_id: int | None = None,
) -> Spec:
    """Resolve the station's default limits for a product, then apply a revision's overrides.

    ``overrides`` (JSON): ``{"retest_cap": 1, "limits": {"o2_ppm": {"high": 40, "uncertainty": 1.5},
    "belt_speed_mm_min": {"nominal": 310, "tolerance_fraction": 0.05}}}``. Raises :class:`SpecError`.
    """
    st = get_station_type(station_type) if isinstance(station_type, str) else station_type
    limits = {default.name: _resolve_default(default, product) for default in st.limits}
    retest_cap = st.retest_cap
    overrides = overrides or {}
    unknown_top = set(overrides) - {"limits", "retest_cap", "settings"}
    if unknown_top:
        raise SpecError(
            f"unknown keys {sorted(unknown_top)}; a revision overrides 'limits', 'settings' and 'retest_cap'"
        )
    limit_overrides = overrides.get("limits") or {}
    if not isinstance(limit_overrides, Mapping):
        raise SpecError("'limits' must be an object keyed by limit name")
    for name, override in limit_overrides.items():
        if name not in limits:
            raise SpecError(f"{st.code} has no limit {name!r}; it has {sorted(limits)}")
        default = st.limit(name)
        if default is not None and default.set_elsewhere:
            raise SpecError(f"limit {name!r} is not set by a specification revision: {default.set_elsewhere}")
        if default is not None and default.uncertainty_from_model and "uncertainty" in _keys(override):
            raise SpecError(
                f"limit {name!r}: its U is propagated through the cycle model from the instruments' U; "
                f"set the settings {', '.join(s.name for s in st.settings)} instead"
            )
        non_negative = default is not None and default.non_negative
        limits[name] = _apply_override(limits[name], override, non_negative=non_negative)
    for name in limit_overrides:
        _not_above(st, limits, name)
    settings = _settings(st, overrides.get("settings"))
    if "retest_cap" in overrides:
        cap = overrides["retest_cap"]
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
            raise SpecError(f"retest_cap must be a whole number ≥ 0, got {cap!r}")
        if cap > MAX_RETEST_CAP:
            raise SpecError(
                f"retest_cap {cap} is more than a RETEST is for: a revision allows at most {MAX_RETEST_CAP} "
                f"retests (the station's default is {st.retest_cap}); a unit still undecided after them "
                'FAILs ("retest cap reached") and follows the route\'s rework rules'
            )
        retest_cap = cap
    return Spec(
        station_type=st.code,
        product=product,
        limits=MappingProxyType(limits),
        retest_cap=retest_cap,
        revision_id=revision_id,
        settings=settings,
    )


def _not_above(st: StationType, limits: Mapping[str, Limit], name: str) -> None:
    """A revision's limit whose high exceeds the high of the limit it must stay under is refused."""
    default = st.limit(name)
    over = st.limit(default.not_above) if default is not None and default.not_above else None
    ceiling = limits.get(over.name) if over is not None else None
    limit = limits[name]
    if over is None or ceiling is None or ceiling.high is None or limit.high is None or limit.high <= ceiling.high:
        return
    raise SpecError(
        f"limit {name!r}: its high {limit.high:g} {limit.unit} is over {over.name} {ceiling.high:g} "
        f"{ceiling.unit} ({over.note}): a unit passing {name} above it would FAIL at {over.name}; "
        f"keep the high at or below {ceiling.high:g} {ceiling.unit}"
    )


def _keys(override: Any) -> set[str]:
    return set(override) if isinstance(override, Mapping) else set()


def _settings(st: StationType, overrides: Any) -> Mapping[str, float]:
    """The station's settings with a revision's overrides ({name: number}); each must be ≥ 0."""
    settings = {default.name: default.value for default in st.settings}
    if overrides is None:
        return MappingProxyType(settings)
    if not isinstance(overrides, Mapping):
        raise SpecError("'settings' must be an object keyed by setting name")
    for name, value in overrides.items():
        if name not in settings:
            known = ", ".join(sorted(settings)) or "none"
            raise SpecError(f"{st.code} has no setting {name!r}; it has {known}")
        number = _number(value, where=f"setting {name!r}")
        if number < 0:
            raise SpecError(f"setting {name!r} must not be negative")
        settings[name] = number
    return MappingProxyType(settings)


def product_to_document(product: ProductData) -> dict[str, Any]:
    """Product data as plain JSON."""
    return {
        "model_code": product.model_code,
        "refrigerant": product.refrigerant,
        "gwp": product.gwp,
        "construction": product.construction,
        "market": product.market,
        "evi": product.evi,
        "circuit_volume_l": product.circuit_volume_l,
        "max_allowable_pressure_bar_g": product.max_allowable_pressure_bar_g,
        "nominal_charge_g": product.nominal_charge_g,
        "charge_tolerance_g": product.charge_tolerance_g,
        "market_cap_g": product.market_cap_g,
        "market_cap_source": product.market_cap_source,
        "bom": dict(product.bom),
        "ratings": [
            {"point": r.point, "mode": r.mode, "capacity_kw": r.capacity_kw, "efficiency": r.efficiency}
            for r in product.ratings
        ],
    }


def product_from_document(document: Mapping[str, Any]) -> ProductData:
    """Inverse of :func:`product_to_document`."""
    try:
        fields = {key: value for key, value in document.items() if key not in {"bom", "ratings"}}
        return ProductData(
            **fields,
            bom=MappingProxyType(dict(document.get("bom") or {})),
            ratings=tuple(RatingPoint(**r) for r in document.get("ratings") or ()),
        )
    except TypeError as exc:
        raise SpecError(f"product document is not valid: {exc}") from exc


def spec_to_document(spec: Spec) -> dict[str, Any]:
    """The fully resolved spec as plain JSON, to store with an approved (immutable) revision."""
    return {
        "version": SPEC_DOCUMENT_VERSION,
        "station_type": spec.station_type,
        "revision_id": spec.revision_id,
        "retest_cap": spec.retest_cap,
        "product": product_to_document(spec.product),
        "limits": {
            name: {
                "unit": lim.unit,
                "low": lim.low,
                "high": lim.high,
                "uncertainty": lim.uncertainty,
                "origin": lim.origin,
            }
            for name, lim in spec.limits.items()
        },
        "settings": dict(spec.settings),
    }


def spec_from_document(document: Mapping[str, Any], *, revision_id: int | None = None) -> Spec:
    """Rebuild a :class:`Spec` from :func:`spec_to_document` output; checks it still fits the station type."""
    version = document.get("version")
    if version not in (1, SPEC_DOCUMENT_VERSION):
        raise SpecError(f"spec document version {version!r} is not 1 or {SPEC_DOCUMENT_VERSION}")
    st = get_station_type(str(document["station_type"]))
    limits = {
        name: Limit(
            name=name,
            unit=str(body["unit"]),
            low=body["low"],
            high=body["high"],
            uncertainty=float(body["uncertainty"]),
            origin=str(body["origin"]),
        )
        for name, body in dict(document["limits"]).items()
    }
    missing = {lim.name for lim in st.limits} - set(limits)
    if missing:
        raise SpecError(f"spec document lacks limits {sorted(missing)} that {st.code} judges against")
    product = product_from_document(document["product"])
    for default in st.limits:
        if default.set_elsewhere and limits[default.name].origin == "revision":
            # overridden by a revision approved before such limits were refused there (the market charge
            # cap): judged by the product facts frozen beside it, the market rule's value with its source
            limits[default.name] = _resolve_default(default, product)
    settings = {default.name: default.value for default in st.settings}
    if version == SPEC_DOCUMENT_VERSION:
        stored = {str(name): float(value) for name, value in dict(document["settings"]).items()}
        missing = set(settings) - set(stored)
        if missing:
            raise SpecError(f"spec document lacks settings {sorted(missing)} that {st.code} judges with")
        settings = stored
    return Spec(
        station_type=st.code,
        product=product,
        limits=MappingProxyType(limits),
        retest_cap=int(document["retest_cap"]),
        revision_id=revision_id if revision_id is not None else document.get("revision_id"),
        settings=MappingProxyType(settings),
    )
