"""The judging engine: pure functions from (spec, station result, expectations) to a judgement."""

from .context import ValueStatus, components_of, guard_band
from .engine import EVALUATORS, RULES_VERSION, judge, station_alarms
from .nameplate import Nameplate, nameplate_data, passed_charge_mass_g
from .product import ProductData, RatingPoint
from .spec import (
    Limit,
    Spec,
    SpecError,
    build_spec,
    product_from_document,
    product_to_document,
    spec_from_document,
    spec_to_document,
)
from .vacuum import RiseFit, classify_rise
from .validation import COMPONENT_TEXT_MAX, ResultProblem, over_long_component_texts, over_long_message, validate_result

__all__ = [
    "COMPONENT_TEXT_MAX",
    "EVALUATORS",
    "RULES_VERSION",
    "Limit",
    "Nameplate",
    "ProductData",
    "RatingPoint",
    "ResultProblem",
    "RiseFit",
    "Spec",
    "SpecError",
    "ValueStatus",
    "build_spec",
    "classify_rise",
    "components_of",
    "guard_band",
    "judge",
    "nameplate_data",
    "over_long_component_texts",
    "over_long_message",
    "passed_charge_mass_g",
    "product_from_document",
    "product_to_document",
    "spec_from_document",
    "spec_to_document",
    "station_alarms",
    "validate_result",
]
