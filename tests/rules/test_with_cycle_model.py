"""The engine against the real cycle model (app.cyclemodel), where it is installed: the seam holds."""

from __future__ import annotations

import pytest

from app.domain.results import Verdict
from app.rules import build_spec, judge
from tests.rules.factories import HPM_06, NOW, good_result, with_values

provider = pytest.importorskip("app.cyclemodel.provider")


@pytest.fixture(scope="module")
def cycle_model():  # type: ignore[no-untyped-def]
    return provider.CoolPropExpectations()


def test_run_in_is_judged_against_the_cycle_model_with_its_uncertainty(cycle_model) -> None:  # type: ignore[no-untyped-def]
    spec = build_spec(station_type="run_in", product=HPM_06, revision_id=3)
    judgement = judge(
        station_type="run_in",
        spec=spec,
        result=good_result("run_in"),
        expectations=cycle_model,
        retest_count=0,
        now=NOW,
    )
    assert judgement.model_version is not None and judgement.model_version.startswith("cyclemodel-")
    residuals = [c for c in judgement.checks if c.rule.startswith("residual:")]
    assert len(residuals) == 21
    assert all(c.expected is not None and c.uncertainty and c.uncertainty > 0 for c in residuals)


def test_a_leak_signal_at_the_r290_anchor_is_at_the_limit(cycle_model) -> None:  # type: ignore[no-untyped-def]
    result = with_values(good_result("leak_test"), LeakSignal_mbar_l_s=5.3e-5)
    judgement = judge(
        station_type="leak_test",
        spec=build_spec(station_type="leak_test", product=HPM_06),
        result=result,
        expectations=cycle_model,
        retest_count=0,
        now=NOW,
    )
    leak = next(c for c in judgement.checks if c.name == "leak_rate")
    assert leak.measured == pytest.approx(3.0, rel=0.03)
    assert leak.verdict is Verdict.RETEST
