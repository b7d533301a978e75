"""Where a failed unit goes: rework rules as data keyed by (station type, failure mode or "*")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stations import all_station_types
from stations._schema import ReworkAction

ANY_FAILURE_MODE = "*"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReworkRule:
    """One row of a route's rework table (line.md); no re-entry station: the quality engineer decides."""

    station_type: str
    failure_mode: str
    action: ReworkAction
    reentry_station_type: str | None
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.station_type, self.failure_mode)


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteDecision:
    action: ReworkAction
    reentry_station_type: str | None
    reason: str
    rule: ReworkRule | None


def default_rework_rules() -> tuple[ReworkRule, ...]:
    """The registered station types' default rework rows, to seed a route's (editable) rework table."""
    return tuple(
        ReworkRule(
            station_type=st.code,
            failure_mode=row.failure_mode,
            action=row.action,
            reentry_station_type=row.reentry_station_type,
            note=row.note,
        )
        for st in all_station_types()
        for row in st.rework
    )


def route_failure(
    *,
    station_type: str,
    failure_mode: str | None,
    rules: Iterable[ReworkRule] | Mapping[tuple[str, str], ReworkRule],
    loops_done: int,
    loop_cap: int = 2,
) -> RouteDecision:
    """Look up (station type, failure mode), falling back to (station type, "*"); past the loop cap: hold."""
    table = rules if isinstance(rules, Mapping) else {rule.key: rule for rule in rules}
    rule = table.get((station_type, failure_mode or ANY_FAILURE_MODE)) or table.get((station_type, ANY_FAILURE_MODE))
    if rule is None:
        return RouteDecision(
            action="hold",
            reentry_station_type=None,
            rule=None,
            reason=f"no rework rule for a failure at {station_type}: quality engineer decides",
        )
    if rule.action != "hold" and loops_done >= loop_cap:
        return RouteDecision(
            action="hold",
            reentry_station_type=None,
            rule=rule,
            reason=f"rework loop cap reached ({loops_done} of {loop_cap}): quality engineer decides",
        )
    where = rule.reentry_station_type or "where the quality engineer decides"
    words = {"hold": "hold for the quality engineer", "repair": "to repair", "repeat": "repeat"}[rule.action]
    mode = f" ({failure_mode})" if failure_mode else ""
    note = f"; {rule.note}" if rule.note else ""
    return RouteDecision(
        action=rule.action,
        reentry_station_type=rule.reentry_station_type,
        rule=rule,
        reason=f"failed at {station_type}{mode}: {words}, then re-enter at {where}{note}",
    )
