"""The SPC arithmetic: I-MR and X̄/s limits, the chart constants, Cp/Cpk and Pp/Ppk, and the eight
Nelson rules, on hand-checked series, published tables and numpy computations from the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.ui import spc


def test_individuals_limits_come_from_the_average_moving_range() -> None:
    values = [10.0, 12.0, 11.0, 13.0, 12.0]
    limits = spc.control_limits(values)
    table = {"rel": 5e-4}  # d2 = 1.128 and D4 = 3.267 as tabled, to their four figures
    assert limits.mr_mean == pytest.approx((2 + 1 + 2 + 1) / 4)
    assert limits.sigma_within == pytest.approx(1.5 / 1.128, **table)
    assert limits.ucl == pytest.approx(11.6 + 3 * 1.5 / 1.128, **table)
    assert limits.lcl == pytest.approx(11.6 - 3 * 1.5 / 1.128, **table)
    assert limits.mr_ucl == pytest.approx(3.267 * 1.5, **table)


# n: c4, B3, B4, A3 as the AIAG SPC manual (2nd ed., appendix E) and ASTM E2587 tabulate them
PUBLISHED = {
    2: (0.7979, 0.0, 3.267, 2.659),
    3: (0.8862, 0.0, 2.568, 1.954),
    4: (0.9213, 0.0, 2.266, 1.628),
    5: (0.9400, 0.0, 2.089, 1.427),
    6: (0.9515, 0.030, 1.970, 1.287),
    7: (0.9594, 0.118, 1.882, 1.182),
    8: (0.9650, 0.185, 1.815, 1.099),
    10: (0.9727, 0.284, 1.716, 0.975),
    25: (0.9896, 0.565, 1.435, 0.606),
}


@pytest.mark.parametrize("n", sorted(PUBLISHED))
def test_chart_constants_agree_with_the_published_tables(n: int) -> None:
    c4, b3, b4, a3 = PUBLISHED[n]
    assert spc.c4(n) == pytest.approx(c4, abs=5e-5)
    assert spc.b3(n) == pytest.approx(b3, abs=5e-4) and spc.b4(n) == pytest.approx(b4, abs=5e-4)
    # A3: X̄ limits x̿ ± A3·s̄ for units of n readings; the chart puts s̄ = c4(n)·σ within
    limits = spc.subgroup_limits([[0.0] * (n - 1) + [1.0], [1.0] * (n - 1) + [0.0]])
    assert (limits.ucl[0] - limits.mean) / limits.s_centre[0] == pytest.approx(a3, abs=5e-4)  # type: ignore[operator]


def test_moving_range_constants_agree_with_the_published_tables() -> None:
    d2, d4 = spc.D2_N2, spc.D4_N2  # n = 2: d2 = 1.128, D4 = 3.267
    assert d2 == pytest.approx(1.128, abs=5e-4) and d4 == pytest.approx(3.267, abs=5e-4)


def _c4(n: float) -> float:
    return math.sqrt(2.0 / (n - 1)) * math.gamma(n / 2) / math.gamma((n - 1) / 2)


def test_units_of_different_sizes_pool_their_standard_deviations_with_limits_of_their_own_size() -> None:
    rng = np.random.default_rng(4)
    units = [list(rng.normal(rng.normal(20.0, 1.0), 0.3, size)) for size in (3, 7, 5, 2, 6, 4, 8, 5)]
    sizes = np.array([len(u) for u in units])
    dof = int(np.sum(sizes - 1))
    pooled = math.sqrt(sum((len(u) - 1) * np.var(u, ddof=1) for u in units) / dof)
    sigma = pooled / _c4(dof + 1)
    grand = float(np.mean(np.concatenate(units)))

    limits = spc.subgroup_limits(units)
    assert limits.degrees_of_freedom == dof and limits.pooled_sd == pytest.approx(pooled)
    assert limits.sigma_within == pytest.approx(sigma) and limits.mean == pytest.approx(grand)
    assert limits.ucl == pytest.approx(list(grand + 3 * sigma / np.sqrt(sizes)))
    assert limits.lcl == pytest.approx(list(grand - 3 * sigma / np.sqrt(sizes)))
    centre = np.array([_c4(n) for n in sizes]) * sigma
    spread = 3 * sigma * np.sqrt(1 - np.array([_c4(n) for n in sizes]) ** 2)
    assert limits.s_centre == pytest.approx(list(centre))
    assert limits.s_ucl == pytest.approx(list(centre + spread))
    assert limits.s_lcl == pytest.approx(list(np.maximum(0.0, centre - spread)))


def test_a_unit_whose_readings_spread_too_little_falls_below_the_s_charts_lower_limit() -> None:
    """Eight readings a unit: B3 = 0.185 (published), so a unit whose readings hardly differ (a stuck
    sensor, a copied value) lies below B3·c4·σ and the s chart is out of control."""
    rng = np.random.default_rng(5)
    units = [list(rng.normal(10.0, 1.0, 8)) for _ in range(20)]
    units[12] = [10.0, 10.01, 9.99, 10.0, 10.0, 10.01, 9.99, 10.0]
    sds = np.array([np.std(u, ddof=1) for u in units])
    sigma = math.sqrt(float(np.mean(sds**2))) / _c4(20 * 7 + 1)  # equal sizes: pooled s over 140 degrees of freedom
    s_lcl, s_ucl = 0.185 * 0.9650 * sigma, 1.815 * 0.9650 * sigma  # B3·c4(8)·σ and B4·c4(8)·σ, n = 8
    expected = [i for i, s in enumerate(sds) if not s_lcl <= s <= s_ucl]
    assert 12 in expected

    report = spc.analyse_subgroups(units, low=None, high=None)
    assert report.limits.s_lcl[12] == pytest.approx(s_lcl, rel=1e-3)
    assert report.dispersion_flagged == expected and not report.in_control


def test_a_unit_of_one_reading_is_charted_without_a_standard_deviation() -> None:
    report = spc.analyse_subgroups([[1.0, 1.2], [1.1], [0.9, 1.0, 1.05]], low=0.0, high=2.0)
    assert isinstance(report, spc.SubgroupReport)
    assert report.sds[1] is None and report.limits.s_ucl[1] is None
    assert report.limits.ucl[1] == pytest.approx(report.limits.mean + 3 * report.limits.sigma_within)


def test_units_of_one_reading_each_go_on_an_individuals_chart() -> None:
    report = spc.analyse_subgroups([[1.0], [1.2], [float("nan")], [0.9], []], low=0.0, high=2.0)
    assert isinstance(report, spc.SpcReport) and report.values == [1.0, 1.2, 0.9]


def test_pp_and_ppk_come_from_the_overall_standard_deviation_beside_cp_and_cpk() -> None:
    rng = np.random.default_rng(9)
    values = list(rng.normal(10.0, 0.4, 40))
    report = spc.analyse(values, low=8.0, high=13.0)
    s = float(np.std(values, ddof=1))
    mean = float(np.mean(values))
    assert report.sigma_overall == pytest.approx(s)
    assert report.capability.pp == pytest.approx(5.0 / (6 * s))
    assert report.capability.ppk == pytest.approx((mean - 8.0) / (3 * s))
    upper_only = spc.analyse(values, low=None, high=13.0).capability
    assert upper_only.cp is None and upper_only.pp is None
    assert upper_only.ppk == pytest.approx((13.0 - mean) / (3 * s))


def test_units_shifted_from_one_another_put_the_xbar_chart_out_of_control() -> None:
    """Readings within a unit spread little, units wander: each X̄ limit is narrow, Cpk far above Ppk."""
    rng = np.random.default_rng(7)
    wandering = [list(rng.normal(m, 0.25, 6)) for m in rng.normal(38.5, 2.6, 30)]
    report = spc.analyse_subgroups(wandering, low=30.0, high=45.0)
    assert not report.in_control and 1 in report.violations
    assert report.capability.cpk > 3 * report.capability.ppk  # type: ignore[operator]
    calm = np.random.default_rng(2)  # a seed whose 30 units show no false alarm (about one in five does)
    stable = [list(calm.normal(38.5, 1.0, 6)) for _ in range(30)]
    steady = spc.analyse_subgroups(stable, low=30.0, high=45.0)
    assert steady.in_control, (steady.violations, steady.dispersion_flagged)
    assert steady.capability.cpk == pytest.approx(steady.capability.ppk, rel=0.15)  # type: ignore[arg-type]


def test_a_moving_range_above_its_limit_puts_the_individuals_chart_out_of_control() -> None:
    values = [10.0, 10.1, 9.9, 10.0, 10.1, 9.9, 10.0, 10.1, 9.9, 10.0, 10.1, 11.0, 10.0, 9.9]
    report = spc.analyse(values, low=None, high=None)
    assert report.dispersion_flagged == [11, 12] and not report.in_control


def test_cp_and_cpk_against_two_sided_and_one_sided_limits() -> None:
    both = spc.capability(mean=10.0, sigma=0.5, low=7.0, high=14.0)
    assert both.cp == pytest.approx(7.0 / 3.0)
    assert both.cpk == pytest.approx(2.0)  # nearer limit 7.0 is 3.0 away: 3 / 1.5
    upper_only = spc.capability(mean=10.0, sigma=0.5, low=None, high=12.0)
    assert upper_only.cp is None and upper_only.cpk == pytest.approx(4.0 / 3.0)
    assert spc.capability(mean=1.0, sigma=0.0, low=0.0, high=2.0).cpk is None


def test_a_point_beyond_three_sigma_breaks_rule_1() -> None:
    found = spc.nelson([0.0, 0.5, -0.5, 3.5, 0.0], mean=0.0, sigma=1.0)
    assert found[1] == [3]


def test_nine_points_on_one_side_break_rule_2() -> None:
    values = [0.5] * 9
    assert spc.nelson(values, mean=0.0, sigma=1.0)[2] == [8]
    assert 2 not in spc.nelson([0.5] * 8 + [-0.5], mean=0.0, sigma=1.0)


def test_six_points_rising_break_rule_3() -> None:
    values = [-0.5, -0.3, -0.1, 0.1, 0.3, 0.5]
    assert spc.nelson(values, mean=0.0, sigma=1.0)[3] == [5]
    assert 3 not in spc.nelson(values[:5], mean=0.0, sigma=1.0)


def test_fourteen_points_alternating_break_rule_4() -> None:
    values = [0.2 if i % 2 else -0.2 for i in range(14)]
    assert spc.nelson(values, mean=0.0, sigma=1.0)[4] == [13]
    assert 4 not in spc.nelson(values[:13], mean=0.0, sigma=1.0)


def test_two_of_three_beyond_two_sigma_break_rule_5() -> None:
    assert spc.nelson([2.5, 0.0, 2.2], mean=0.0, sigma=1.0)[5] == [2]
    assert 5 not in spc.nelson([2.5, 0.0, -2.2], mean=0.0, sigma=1.0)


def test_four_of_five_beyond_one_sigma_break_rule_6() -> None:
    assert spc.nelson([1.5, 1.2, 0.0, 1.1, 1.7], mean=0.0, sigma=1.0)[6] == [4]


def test_fifteen_points_hugging_the_centre_break_rule_7() -> None:
    values = [0.1 if i % 3 else -0.1 for i in range(15)]
    assert 7 in spc.nelson(values, mean=0.0, sigma=1.0)


def test_eight_points_avoiding_the_centre_on_both_sides_break_rule_8() -> None:
    values = [1.5, -1.5, 1.2, -1.3, 1.4, -1.6, 1.1, -1.2]
    assert spc.nelson(values, mean=0.0, sigma=1.0)[8] == [7]


def test_a_moving_range_above_its_limit_alone_puts_the_individuals_chart_out_of_control() -> None:
    """Every point inside x̄ ± 3σ and no Nelson pattern, but one jump wider than D4·MR̄ (D4 = 3.267)."""
    values = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, -3.0, 4.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    ranges = np.abs(np.diff(values))
    mr_ucl = 3.267 * float(np.mean(ranges))  # 3.267 × 20/13 = 5.03: only the jump of 7 from -3 to 4 exceeds it
    assert [i + 1 for i, r in enumerate(ranges) if r > mr_ucl] == [7]
    report = spc.analyse(values, low=None, high=None)
    assert report.violations == {} and report.dispersion_flagged == [7]
    assert not report.in_control


def test_three_of_five_beyond_one_sigma_do_not_break_rule_6() -> None:
    assert 6 not in spc.nelson([1.5, 1.2, 0.0, 0.5, 1.7], mean=0.0, sigma=1.0)
    assert 6 not in spc.nelson([1.5, -1.2, 1.1, 1.7, 0.0], mean=0.0, sigma=1.0)  # four beyond 1σ, one of them below


def test_fourteen_points_hugging_the_centre_do_not_break_rule_7_the_fifteenth_does() -> None:
    values = [0.1 if i % 3 else -0.1 for i in range(15)]
    assert 7 not in spc.nelson(values[:14], mean=0.0, sigma=1.0)
    assert spc.nelson(values, mean=0.0, sigma=1.0)[7] == [14]


def test_analyse_skips_unmeasured_values_and_needs_two() -> None:
    report = spc.analyse([1.0, float("nan"), 2.0, 1.5], low=0.0, high=3.0)
    assert report.values == [1.0, 2.0, 1.5]
    assert report.capability.cp is not None
    with pytest.raises(ValueError):
        spc.analyse([1.0], low=None, high=None)
