"""Shape validation of an incoming result, for a clear 4xx before anything is stored or judged.

Judging never needs this to be safe (it FAILs what it cannot judge); the API uses it to refuse
malformed input with a message the sender can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from app.domain.results import StationResult
from stations import StationType

_KIND_CHECK = {
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "datetime": lambda v: isinstance(v, datetime),
}


@dataclass(frozen=True, slots=True)
class ResultProblem:
    field: str
    message: str


def validate_result(*, station_type: StationType, result: StationResult) -> tuple[ResultProblem, ...]:
    """Unknown or duplicate names, wrong kinds or units, malformed traces (None = not measured is fine)."""
    problems: list[ResultProblem] = []
    seen: set[str] = set()
    for m in result.measurements:
        where = f"measurements.{m.name}"
        schema = station_type.measurement(m.name)
        if schema is None:
            problems.append(ResultProblem(where, f"{station_type.code} reports no measurement {m.name!r}"))
            continue
        if m.name in seen:
            problems.append(ResultProblem(where, "reported twice"))
        seen.add(m.name)
        if m.value is not None and not _KIND_CHECK[schema.kind](m.value):
            problems.append(ResultProblem(where, f"should be a {schema.kind}, got {type(m.value).__name__}"))
        if m.unit is not None and schema.unit is not None and m.unit != schema.unit:
            problems.append(ResultProblem(where, f"unit {m.unit!r} given, the contract says {schema.unit!r}"))
    problems += _component_problems(station_type, result)
    channels = {t.channel for t in station_type.traces}
    for trace in result.traces:
        where = f"traces.{trace.channel}"
        if trace.channel not in channels:
            problems.append(ResultProblem(where, f"{station_type.code} records no trace {trace.channel!r}"))
            continue
        if len(trace.t_s) != len(trace.values):
            problems.append(ResultProblem(where, f"{len(trace.values)} samples but {len(trace.t_s)} time stamps"))
        # vectorised: a trace holds up to 20,000 samples per channel and this runs on every result
        t_s, values = trace.arrays()
        if not (np.isfinite(t_s).all() and np.isfinite(values).all()):
            problems.append(ResultProblem(where, "holds NaN or infinite samples"))
        elif t_s.size > 1 and not bool((np.diff(t_s) > 0).all()):
            problems.append(ResultProblem(where, "time stamps do not strictly increase"))
    return tuple(problems)


#: A component's identifier and model as the genealogy stores them (component_use: 64 characters each).
COMPONENT_TEXT_MAX = 64


def over_long_component_texts(station_type: StationType, result: StationResult) -> list[tuple[str, str, str]]:
    """(measurement name, component kind, text) of each scanned identifier or model that the genealogy
    could not store whole. PostgreSQL would otherwise keep it cut to the column's length (the
    completion's one-statement write casts its bound arrays), and a genealogy search would then miss
    the unit or find another's."""
    texts = {m.name: m.value.strip() for m in result.measurements if isinstance(m.value, str)}
    found = []
    for spec in station_type.components:
        for name in (spec.identifier, spec.model):
            value = texts.get(name) if name else None
            if name and value is not None and len(value) > COMPONENT_TEXT_MAX:
                found.append((name, spec.kind.value, value))
    return found


def over_long_message(kind: str, text: str) -> str:
    return f"names a {kind} in {len(text)} characters; the genealogy holds at most {COMPONENT_TEXT_MAX}"


def _component_problems(station_type: StationType, result: StationResult) -> list[ResultProblem]:
    return [
        ResultProblem(f"measurements.{name}", over_long_message(kind, text))
        for name, kind, text in over_long_component_texts(station_type, result)
    ]
