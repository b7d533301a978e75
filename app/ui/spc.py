"""Statistical process control for one characteristic: individuals / moving-range chart, Nelson
rules, Cp and Cpk. Pure functions over a sequence of values in production order."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

D2_N2 = 1.128  # d2 for moving ranges of two consecutive values
D4_N2 = 3.267  # upper control limit factor of the moving-range chart


@dataclass(frozen=True, slots=True)
class ControlLimits:
    """Centre line and limits of the individuals and moving-range charts."""

    mean: float
    sigma_within: float
    ucl: float
    lcl: float
    mr_mean: float
    mr_ucl: float


@dataclass(frozen=True, slots=True)
class Capability:
    cp: float | None
    cpk: float | None


@dataclass(frozen=True, slots=True)
class SpcReport:
    values: list[float]
    moving_ranges: list[float]
    limits: ControlLimits
    capability: Capability
    violations: dict[int, list[int]] = field(default_factory=dict)  # rule number -> indexes of flagged points


def moving_ranges(values: Sequence[float]) -> list[float]:
    """|x[i] - x[i-1]| for i >= 1."""
    return [abs(b - a) for a, b in itertools.pairwise(values)]


def control_limits(values: Sequence[float]) -> ControlLimits:
    """Individuals chart limits from the average moving range (sigma = MR-bar / d2)."""
    if len(values) < 2:
        raise ValueError("an individuals chart needs at least two values")
    mrs = moving_ranges(values)
    mr_mean = statistics.fmean(mrs)
    mean = statistics.fmean(values)
    sigma = mr_mean / D2_N2
    return ControlLimits(
        mean=mean,
        sigma_within=sigma,
        ucl=mean + 3 * sigma,
        lcl=mean - 3 * sigma,
        mr_mean=mr_mean,
        mr_ucl=D4_N2 * mr_mean,
    )


def capability(*, mean: float, sigma: float, low: float | None, high: float | None) -> Capability:
    """Cp needs both spec limits; Cpk uses the nearer one (a one-sided spec gives Cpk only)."""
    if sigma <= 0 or not math.isfinite(sigma):
        return Capability(cp=None, cpk=None)
    cp = (high - low) / (6 * sigma) if low is not None and high is not None else None
    sides = [
        x
        for x in ((high - mean) if high is not None else None, (mean - low) if low is not None else None)
        if x is not None
    ]
    cpk = min(sides) / (3 * sigma) if sides else None
    return Capability(cp=cp, cpk=cpk)


def _runs(flags: Sequence[int], length: int) -> list[int]:
    """Indexes ending a run of ``length`` equal non-zero flags."""
    hits = []
    for i in range(length - 1, len(flags)):
        window = flags[i - length + 1 : i + 1]
        if window[0] != 0 and all(f == window[0] for f in window):
            hits.append(i)
    return hits


def _k_of_m(zone_sides: Sequence[int], k: int, m: int) -> list[int]:
    """Indexes ending a window of ``m`` points with ``k`` beyond the zone on the same side."""
    hits = []
    for i in range(m - 1, len(zone_sides)):
        window = zone_sides[i - m + 1 : i + 1]
        if window.count(1) >= k or window.count(-1) >= k:
            hits.append(i)
    return hits


def nelson(values: Sequence[float], mean: float, sigma: float) -> dict[int, list[int]]:
    """The eight Nelson rules; each flagged point is the last point of the pattern that triggered it."""
    if sigma <= 0:
        return {}
    z = [(x - mean) / sigma for x in values]
    side = [1 if v > 0 else -1 if v < 0 else 0 for v in z]

    def beyond(limit: float) -> list[int]:
        return [1 if v > limit else -1 if v < -limit else 0 for v in z]

    steps = [1 if b > a else -1 if b < a else 0 for a, b in itertools.pairwise(values)]
    alternations = [1 if s1 * s2 < 0 else 0 for s1, s2 in itertools.pairwise(steps)]
    rules: dict[int, Callable[[], list[int]]] = {
        1: lambda: [i for i, v in enumerate(z) if abs(v) > 3],
        2: lambda: _runs(side, 9),
        3: lambda: [i + 1 for i in _runs(steps, 5)],  # six points: five steps one way
        4: lambda: [i + 2 for i in _runs(alternations, 12)],  # fourteen points: twelve turns
        5: lambda: _k_of_m(beyond(2), 2, 3),
        6: lambda: _k_of_m(beyond(1), 4, 5),
        7: lambda: [i for i in range(14, len(z)) if all(abs(v) < 1 for v in z[i - 14 : i + 1])],
        8: lambda: [
            i
            for i in range(7, len(z))
            if all(abs(v) > 1 for v in z[i - 7 : i + 1]) and 1 in side[i - 7 : i + 1] and -1 in side[i - 7 : i + 1]
        ],
    }
    found = {rule: compute() for rule, compute in rules.items()}
    return {rule: idx for rule, idx in found.items() if idx}


def analyse(values: Sequence[float], *, low: float | None, high: float | None) -> SpcReport:
    """Chart limits, Nelson rule violations and capability for values in production order."""
    clean = [float(v) for v in values if v is not None and math.isfinite(v)]
    limits = control_limits(clean)
    return SpcReport(
        values=clean,
        moving_ranges=moving_ranges(clean),
        limits=limits,
        capability=capability(mean=limits.mean, sigma=limits.sigma_within, low=low, high=high),
        violations=nelson(clean, limits.mean, limits.sigma_within),
    )
