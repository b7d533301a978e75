"""The judge of every station result: the rules engine, the specification revision in force when
the operation started, and the cycle model's expectations."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from functools import lru_cache

from sqlalchemy.orm import Session

from app import rules
from app.domain.expectations import CycleExpectations
from app.domain.results import CheckResult, Judgement, StationResult, Verdict
from app.services import specs
from app.services.clock import utcnow
from app.services.operations import JudgeContext


class EngineJudge:
    """Judges a completion; the caller stores the judgement in the same transaction.

    The cycle model is built on first use (it takes seconds) and shared; judging runs under a
    lock because CoolProp's state objects are not promised to be thread-safe.
    """

    def __init__(self, expectations: Callable[[], CycleExpectations | None]) -> None:
        self._expectations_factory = expectations
        self._lock = threading.Lock()

    @property
    def expectations(self) -> CycleExpectations | None:
        return self._expectations_factory()

    def __call__(self, session: Session, context: JudgeContext, result: StationResult) -> Judgement:
        spec = specs.effective_spec(
            session,
            station_type=context.station_type,
            product_model_id=context.unit.product_model_id,
            at=context.attempt.started_at,
        )
        if spec is None:
            message = (
                f"no approved specification for {context.station_type} on {context.unit.product_model_code} "
                f"in force at {context.attempt.started_at:%Y-%m-%d %H:%M} UTC; a quality engineer must approve one"
            )
            check = CheckResult(name="specification", verdict=Verdict.FAIL, rule="specification", message=message)
            return Judgement(verdict=Verdict.FAIL, checks=(check,))
        judgement = rules.judge(
            station_type=context.station_type,
            spec=spec,
            result=result,
            expectations=self.expectations,
            retest_count=context.attempt.retest_index,
            now=utcnow(),
            value_status=context.value_status,
        )
        model_version = self.expectations.model_version(context.unit.product_model_code) if self.expectations else None
        return dataclasses.replace(judgement, spec_revision_id=spec.revision_id, model_version=model_version)


@lru_cache(maxsize=1)
def default_expectations() -> CycleExpectations:
    """The CoolProp cycle model with the shipped, fitted parameter sets."""
    from app.cyclemodel.provider import CoolPropExpectations

    return CoolPropExpectations()
