"""The engine against the real cycle model (app.cyclemodel), where it is installed: the seam holds."""

from __future__ import annotations

import pytest

from app.domain.results import Verdict
from app.rules import SpecError, build_spec, judge
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


def test_the_revisions_instrument_and_model_uncertainties_are_the_ones_propagated(cycle_model) -> None:  # type: ignore[no-untyped-def]
    """The chamber's instruments are plant data in the revision: a better flow meter and thermometer pair
    narrow U of the capacity residual; a model trusted less widens it. The provider's own are not used."""

    def capacity_u(settings: dict[str, float] | None) -> dict[str, float]:
        overrides = {"settings": settings} if settings else None
        spec = build_spec(station_type="run_in", product=HPM_06, overrides=overrides)
        judgement = judge(
            station_type="run_in", spec=spec, result=good_result("run_in"), expectations=cycle_model,
            retest_count=0, now=NOW,
        )  # fmt: skip
        return {c.name: c.uncertainty for c in judgement.checks if c.name.endswith("_capacity_w") and c.uncertainty}

    default = capacity_u(None)
    sharper = capacity_u({"instrument_water_flow_fraction": 0.002, "instrument_water_temp_k": 0.02,
                          "model_capacity_fraction": 0.0})  # fmt: skip
    looser = capacity_u({"model_capacity_fraction": 0.06})
    assert set(default) == {"M10_capacity_w", "P07_capacity_w", "P45_capacity_w"}
    for name, u in default.items():
        assert sharper[name] < 0.5 * u < u < looser[name], name
        # the model's own U adds in quadrature: 6 % instead of the default 3 %, instruments unchanged
        assert looser[name] ** 2 - u**2 == pytest.approx(0.06**2 - 0.03**2, rel=1e-6)


def test_a_residual_limits_u_cannot_be_set_in_a_revision() -> None:
    """It would be stored with the revision and never used: the residual's U is propagated."""
    with pytest.raises(SpecError, match="propagated through the cycle model"):
        build_spec(
            station_type="run_in",
            product=HPM_06,
            overrides={"limits": {"capacity_residual_fraction": {"uncertainty": 0.0}}},
        )
    changed = build_spec(
        station_type="run_in", product=HPM_06, overrides={"limits": {"capacity_residual_fraction": {"high": 0.07}}}
    )
    assert changed.limits["capacity_residual_fraction"].high == 0.07
