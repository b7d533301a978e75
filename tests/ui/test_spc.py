"""The SPC arithmetic: I-MR limits, Cp/Cpk and the eight Nelson rules, on hand-checked series."""

from __future__ import annotations

import pytest

from app.ui import spc


def test_individuals_limits_come_from_the_average_moving_range() -> None:
    values = [10.0, 12.0, 11.0, 13.0, 12.0]
    limits = spc.control_limits(values)
    assert limits.mr_mean == pytest.approx((2 + 1 + 2 + 1) / 4)
    assert limits.sigma_within == pytest.approx(1.5 / 1.128)
    assert limits.ucl == pytest.approx(11.6 + 3 * 1.5 / 1.128)
    assert limits.lcl == pytest.approx(11.6 - 3 * 1.5 / 1.128)
    assert limits.mr_ucl == pytest.approx(3.267 * 1.5)


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


def test_analyse_skips_unmeasured_values_and_needs_two() -> None:
    report = spc.analyse([1.0, float("nan"), 2.0, 1.5], low=0.0, high=3.0)
    assert report.values == [1.0, 2.0, 1.5]
    assert report.capability.cp is not None
    with pytest.raises(ValueError):
        spc.analyse([1.0], low=None, high=None)
