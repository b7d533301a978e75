"""Statistical process control for one characteristic: pure functions over values in production order.

One value per unit: an individuals / moving-range (I-MR) chart, σ within = MR̄/d2. Several readings per
unit (each hairpin of a coil, each fastener of a unit): the unit is the rational subgroup (AIAG SPC
manual; ISO 7870-2): an X̄ chart of each unit's mean and an s chart of its standard deviation, σ within
from the standard deviation pooled over the units (their sizes may differ) divided by c4 of the pooled
degrees of freedom, and limits per unit from its own size. Charting the readings one by one would take
σ within from consecutive readings of the same unit and leave out the unit-to-unit variation.

Capability (ISO 22514-2): Cp/Cpk from σ within, which describe the process only while it is in
statistical control; Pp/Ppk from the overall standard deviation of every value, which describe the
values produced either way. Nelson rules on the individuals or X̄ chart.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

D2_N2 = 2.0 / math.sqrt(math.pi)  # d2 for ranges of two: E|X1 − X2| of two standard normal values (1.128)
D3_N2 = math.sqrt(2.0 - 4.0 / math.pi)  # d3 for ranges of two: the standard deviation of |X1 − X2|
D4_N2 = 1.0 + 3.0 * D3_N2 / D2_N2  # upper limit factor of the moving-range chart (3.267)


def c4(n: float) -> float:
    """E[s]/σ for ``n`` normal values (n − 1 degrees of freedom): √(2/(n−1))·Γ(n/2)/Γ((n−1)/2)."""
    if n < 2:
        raise ValueError("c4 needs at least two values")
    return math.sqrt(2.0 / (n - 1.0)) * math.exp(math.lgamma(n / 2.0) - math.lgamma((n - 1.0) / 2.0))


def b3(n: int) -> float:
    """Lower limit factor of the s chart: LCL = B3·s̄ (zero below six values a subgroup)."""
    return max(0.0, 1.0 - 3.0 * math.sqrt(1.0 - c4(n) ** 2) / c4(n))


def b4(n: int) -> float:
    """Upper limit factor of the s chart: UCL = B4·s̄."""
    return 1.0 + 3.0 * math.sqrt(1.0 - c4(n) ** 2) / c4(n)


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
class SubgroupLimits:
    """Centre lines and per-subgroup limits of the X̄ and s charts (``None`` where a subgroup of one
    reading has no standard deviation)."""

    mean: float  # of every reading: the X̄ chart's centre line
    sigma_within: float  # pooled s / c4(pooled degrees of freedom + 1)
    pooled_sd: float
    degrees_of_freedom: int
    ucl: list[float]
    lcl: list[float]
    s_centre: list[float | None]  # c4(n)·σ within: the s expected of a subgroup of its size
    s_ucl: list[float | None]
    s_lcl: list[float | None]


@dataclass(frozen=True, slots=True)
class Capability:
    """Cp/Cpk from σ within, Pp/Ppk from σ overall; a one-sided spec gives only Cpk and Ppk."""

    cp: float | None
    cpk: float | None
    pp: float | None = None
    ppk: float | None = None


@dataclass(frozen=True, slots=True)
class SpcReport:
    """Individuals / moving-range chart: one value per unit."""

    values: list[float]
    moving_ranges: list[float]
    limits: ControlLimits
    capability: Capability
    sigma_overall: float
    violations: dict[int, list[int]]  # Nelson rule number -> indexes of flagged points
    dispersion_flagged: list[int]  # points whose moving range (from the point before) is above its UCL

    @property
    def points(self) -> list[float]:
        """The values on the location chart, one per unit."""
        return self.values

    @property
    def in_control(self) -> bool:
        return not self.violations and not self.dispersion_flagged


@dataclass(frozen=True, slots=True)
class SubgroupReport:
    """X̄ and s charts: each unit's readings one rational subgroup."""

    subgroups: list[list[float]]
    means: list[float]
    sds: list[float | None]  # None for a subgroup of one reading
    limits: SubgroupLimits
    capability: Capability
    sigma_overall: float
    violations: dict[int, list[int]]  # Nelson rule number -> indexes of flagged subgroups (X̄ chart)
    dispersion_flagged: list[int]  # subgroups whose s lies outside its limits

    @property
    def values(self) -> list[float]:
        """Every reading, subgroup after subgroup."""
        return [x for group in self.subgroups for x in group]

    @property
    def points(self) -> list[float]:
        return self.means

    @property
    def in_control(self) -> bool:
        return not self.violations and not self.dispersion_flagged


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


def subgroup_limits(subgroups: Sequence[Sequence[float]]) -> SubgroupLimits:
    """X̄ and s chart limits, each subgroup's from its own size n: σ within = s_p / c4(ν + 1) with s_p
    pooled over ν = Σ(n − 1) degrees of freedom; X̄ within x̿ ± 3σ/√n, s within B3 … B4 times c4(n)·σ."""
    if len(subgroups) < 2:
        raise ValueError("an X̄ chart needs at least two subgroups")
    dof = sum(len(g) - 1 for g in subgroups)
    if dof < 1:
        raise ValueError("σ within needs a subgroup of two or more readings")
    pooled = math.sqrt(sum((len(g) - 1) * statistics.variance(g) for g in subgroups if len(g) > 1) / dof)
    sigma = pooled / c4(dof + 1)
    mean = statistics.fmean(x for g in subgroups for x in g)
    sizes = [len(g) for g in subgroups]
    centre = [c4(n) * sigma if n > 1 else None for n in sizes]
    return SubgroupLimits(
        mean=mean,
        sigma_within=sigma,
        pooled_sd=pooled,
        degrees_of_freedom=dof,
        ucl=[mean + 3 * sigma / math.sqrt(n) for n in sizes],
        lcl=[mean - 3 * sigma / math.sqrt(n) for n in sizes],
        s_centre=centre,
        s_ucl=[b4(n) * s if s is not None else None for n, s in zip(sizes, centre, strict=True)],
        s_lcl=[b3(n) * s if s is not None else None for n, s in zip(sizes, centre, strict=True)],
    )


def _indices(*, mean: float, sigma: float, low: float | None, high: float | None) -> tuple[float | None, ...]:
    """(spread, centred): Cp and Cpk for σ within, Pp and Ppk for σ overall."""
    if sigma <= 0 or not math.isfinite(sigma):
        return None, None
    spread = (high - low) / (6 * sigma) if low is not None and high is not None else None
    sides = [d for d in (None if high is None else high - mean, None if low is None else mean - low) if d is not None]
    return spread, (min(sides) / (3 * sigma) if sides else None)


def capability(
    *, mean: float, sigma: float, low: float | None, high: float | None, sigma_overall: float | None = None
) -> Capability:
    """Cp needs both spec limits; Cpk uses the nearer one (a one-sided spec gives Cpk only); Pp/Ppk
    likewise from ``sigma_overall``."""
    cp, cpk = _indices(mean=mean, sigma=sigma, low=low, high=high)
    pp, ppk = (None, None) if sigma_overall is None else _indices(mean=mean, sigma=sigma_overall, low=low, high=high)
    return Capability(cp=cp, cpk=cpk, pp=pp, ppk=ppk)


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


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def analyse(values: Sequence[float], *, low: float | None, high: float | None) -> SpcReport:
    """I-MR chart limits, Nelson rule violations and capability for one value per unit in production order."""
    clean = _finite(values)
    limits = control_limits(clean)
    mrs = moving_ranges(clean)
    overall = statistics.stdev(clean)
    return SpcReport(
        values=clean,
        moving_ranges=mrs,
        limits=limits,
        capability=capability(mean=limits.mean, sigma=limits.sigma_within, low=low, high=high, sigma_overall=overall),
        sigma_overall=overall,
        violations=nelson(clean, limits.mean, limits.sigma_within),
        dispersion_flagged=[i + 1 for i, mr in enumerate(mrs) if mr > limits.mr_ucl],
    )


def analyse_subgroups(
    subgroups: Sequence[Sequence[float]], *, low: float | None, high: float | None
) -> SubgroupReport | SpcReport:
    """X̄ and s charts, Nelson rules and capability for each unit's readings, units in production order.

    Units with no finite reading are left out; when no unit has two readings there is no σ within a
    unit, and each unit's one reading goes on an individuals chart."""
    groups = [clean for clean in (_finite(g) for g in subgroups) if clean]
    if sum(len(g) - 1 for g in groups) < 1:
        return analyse([g[0] for g in groups], low=low, high=high)
    limits = subgroup_limits(groups)
    means = [statistics.fmean(g) for g in groups]
    sds = [statistics.stdev(g) if len(g) > 1 else None for g in groups]
    overall = statistics.stdev(x for g in groups for x in g)
    # Limits differ with the subgroup size: the Nelson zones are judged on the standardised means.
    sigma = limits.sigma_within
    z = [
        (m - limits.mean) * math.sqrt(len(g)) / sigma if sigma > 0 else 0.0 for m, g in zip(means, groups, strict=True)
    ]
    outside = [
        i
        for i, (s, lo, hi) in enumerate(zip(sds, limits.s_lcl, limits.s_ucl, strict=True))
        if s is not None and lo is not None and hi is not None and not lo <= s <= hi
    ]
    return SubgroupReport(
        subgroups=groups,
        means=means,
        sds=sds,
        limits=limits,
        capability=capability(mean=limits.mean, sigma=limits.sigma_within, low=low, high=high, sigma_overall=overall),
        sigma_overall=overall,
        violations=nelson(z, 0.0, 1.0) if sigma > 0 else {},
        dispersion_flagged=outside,
    )
