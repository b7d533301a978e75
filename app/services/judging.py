"""The judge of every station result: the rules engine, the specification revision in force when
the operation started, and the cycle model's expectations with the database's current parameter set."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import rules
from app.domain.expectations import CycleExpectations, EviStepExpectation, PlateauCode, PlateauExpectation
from app.domain.results import CheckResult, Judgement, StationResult, Verdict
from app.persistence import models as m
from app.persistence import repositories as repo
from app.persistence.driver import DriverStatement
from app.services import specs
from app.services.operations import JudgeContext

if TYPE_CHECKING:  # the cycle model imports CoolProp and SciPy: only when first used
    from app.cyclemodel.paramsets import ParameterSet
    from app.services.cycle_parameters import CurrentKey


# CoolProp's state objects and FITPACK are not promised to be thread-safe, and the cycle model's
# providers are shared: every judging in the process (verdicts, what-if re-judges, re-derivations)
# runs under this one lock. Judging is CPU-bound (one interpreter lock anyway): only reads run beside it.
_JUDGING = threading.Lock()


def judge_serially(**judge_arguments: Any) -> Judgement:
    """``rules.judge`` under the process's judging lock."""
    with _JUDGING:
        return rules.judge(**judge_arguments)


class EngineJudge:
    """Judges a completion; the caller stores the judgement in the same transaction.

    The cycle model is built on first use (it takes seconds) and shared (see ``judge_serially``).
    """

    def __init__(self, expectations: Callable[[], CycleExpectations | None]) -> None:
        self._expectations_factory = expectations

    @property
    def expectations(self) -> CycleExpectations | None:
        return self._expectations_factory()

    def __call__(self, session: Session, context: JudgeContext, result: StationResult) -> Judgement:
        expectations = self.expectations
        if isinstance(expectations, DatabaseCycleModel):
            # the current parameter set and the specification in force: one round trip
            key, revision_id = _judging_inputs(session, context)
            expectations = expectations.bind_key(session, product_model_code=context.unit.product_model_code, key=key)
            spec = None if revision_id is None else specs.approved_spec(session, revision_id)
        else:
            spec = specs.effective_spec(
                session,
                station_type=context.station_type,
                product_model_id=context.unit.product_model_id,
                at=context.attempt.started_at,
            )
        if spec is None:
            check = no_specification_check(
                station_type=context.station_type,
                product_model_code=context.unit.product_model_code,
                started_at=context.attempt.started_at,
            )
            return Judgement(verdict=Verdict.FAIL, checks=(check,))
        judgement = judge_serially(
            station_type=context.station_type,
            spec=spec,
            result=result,
            expectations=expectations,
            retest_count=context.attempt.retest_index,
            now=context.judged_at,
            value_status=context.value_status,
        )
        model_version = expectations.model_version(context.unit.product_model_code) if expectations else None
        return dataclasses.replace(judgement, spec_revision_id=spec.revision_id, model_version=model_version)


def no_specification_check(*, station_type: str, product_model_code: str, started_at: datetime) -> CheckResult:
    """The FAIL check of a result whose operation started with no approved specification in force."""
    message = (
        f"no approved specification for {station_type} on {product_model_code} "
        f"in force at {started_at:%Y-%m-%d %H:%M} UTC; a quality engineer must approve one"
    )
    return CheckResult(name="specification", verdict=Verdict.FAIL, rule="specification", message=message)


@lru_cache(maxsize=1)
def _judging_inputs_statement() -> DriverStatement:
    from app.services import cycle_parameters

    return DriverStatement(
        cycle_parameters.current_key_statement().add_columns(specs.effective_revision_id(m.ProductModel.id))
    )


def _judging_inputs(session: Session, context: JudgeContext) -> tuple[CurrentKey | None, int | None]:
    """``cycle_parameters.current_key`` and the id of ``specs.effective_spec``'s revision, in one query."""
    from app.services.cycle_parameters import CurrentKey

    code = context.unit.product_model_code
    found = _judging_inputs_statement().rows(
        repo.core(session), {"code": code, "station_type": context.station_type, "at": context.attempt.started_at}
    )
    if not found:
        return None, None
    physics, version, parameter_set_id, revision_id = found[0]
    return CurrentKey(code, physics, version, parameter_set_id), revision_id


class DatabaseCycleModel:
    """The cycle model with each product model's physics and current parameter set from the database.

    ``bind(session, product_model_code=…)`` costs one query; the CoolProp provider it returns is cached
    per product model and rebuilt only when the model's current version (or its physics data) changes,
    so a newly fitted version is used, and recorded, by the next verdict. Used unbound (a re-judge
    that has no session here), it answers with the providers it last bound.
    """

    def __init__(self, **provider_options: Any) -> None:
        self._options = provider_options
        self._bound: dict[str, tuple[CurrentKey | None, CycleExpectations]] = {}
        self._lock = threading.Lock()

    def bind(self, session: Session, *, product_model_code: str) -> CycleExpectations:
        """Expectations for one product model with its current parameter set."""
        from app.services import cycle_parameters

        key = cycle_parameters.current_key(session, product_model_code=product_model_code)
        return self.bind_key(session, product_model_code=product_model_code, key=key)

    def bind_key(self, session: Session, *, product_model_code: str, key: CurrentKey | None) -> CycleExpectations:
        """:meth:`bind` with the model's current key already read (``cycle_parameters.current_key``)."""
        from app.services import cycle_parameters

        with self._lock:
            cached = self._bound.get(product_model_code)
        if cached is not None and cached[0] == key:
            return cached[1]
        parameter_set = None
        if key is not None and key.version is not None:
            parameter_set = cycle_parameters.current(session, product_model_code=product_model_code)
        provider = self._provider(
            session,
            product_model_code,
            has_physics=key is not None and bool(key.cycle_physics),
            parameter_set=parameter_set,
        )
        with self._lock:
            self._bound[product_model_code] = (key, provider)
        return provider

    def bind_version(self, session: Session, *, product_model_code: str, version: int | None) -> CycleExpectations:
        """Expectations with one stored version of the model's parameter set (None: none), as a recorded
        verdict names it, and the product's physics data as the master data holds it now."""
        from app.services import cycle_parameters

        key = cycle_parameters.current_key(session, product_model_code=product_model_code)
        parameter_set = None
        if version is not None:
            parameter_set = cycle_parameters.stored_version(
                session, product_model_code=product_model_code, version=version
            )
        return self._provider(
            session,
            product_model_code,
            has_physics=key is not None and bool(key.cycle_physics),
            parameter_set=parameter_set,
        )

    def _provider(
        self, session: Session, product_model_code: str, *, has_physics: bool, parameter_set: ParameterSet | None
    ) -> CycleExpectations:
        from app.cyclemodel.products import NoCyclePhysicsError, product_physics
        from app.cyclemodel.provider import CoolPropExpectations
        from app.services import cycle_parameters

        products, parameter_sets = {}, {}
        if has_physics:
            model = session.scalars(select(m.ProductModel).where(m.ProductModel.code == product_model_code)).one()
            with contextlib.suppress(NoCyclePhysicsError):  # no physics: the provider says so in each check
                products[product_model_code] = product_physics(cycle_parameters.master_record(model))
        if parameter_set is not None:
            parameter_sets[product_model_code] = parameter_set
        return CoolPropExpectations(products=products, parameter_sets=parameter_sets, **self._options)

    def _last(self, product_model_code: str) -> CycleExpectations:
        with self._lock:
            cached = self._bound.get(product_model_code)
        if cached is not None:
            return cached[1]
        from app.cyclemodel.provider import CoolPropExpectations

        return CoolPropExpectations(products={}, parameter_sets={}, **self._options)

    def model_version(self, product_model_code: str) -> str:
        return self._last(product_model_code).model_version(product_model_code)

    def plateau(
        self,
        *,
        product_model_code: str,
        plateau: PlateauCode,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> PlateauExpectation:
        return self._last(product_model_code).plateau(
            product_model_code=product_model_code, plateau=plateau, values=values, uncertainties=uncertainties
        )

    def evi_step(
        self,
        *,
        product_model_code: str,
        values: Mapping[str, float | None],
        uncertainties: Mapping[str, float] | None = None,
    ) -> EviStepExpectation:
        return self._last(product_model_code).evi_step(
            product_model_code=product_model_code, values=values, uncertainties=uncertainties
        )

    def leak_rate_g_per_year(
        self, *, tracer_gas: str, signal_mbar_l_s: float, test_pressure_bar_abs: float, refrigerant: str
    ) -> float:
        from app.cyclemodel import leak

        return leak.leak_rate_g_per_year(
            tracer_gas=tracer_gas,
            signal_mbar_l_s=signal_mbar_l_s,
            test_pressure_bar_abs=test_pressure_bar_abs,
            refrigerant=refrigerant,
        )


@lru_cache(maxsize=1)
def default_expectations() -> CycleExpectations:
    """The CoolProp cycle model with the database's product physics and current parameter sets."""
    return DatabaseCycleModel()
