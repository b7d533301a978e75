"""A station type as plain JSON, for the station-type listing API and the UI."""

from __future__ import annotations

import dataclasses
from typing import Any

from ._checks import CheckSpec
from ._schema import StationType

#: Where a station's result nodes live; ``{id}`` is the station id, ``{name}``/``{channel}`` a contract name.
NODE_ID_TEMPLATES = {
    "value": "{id}.Result.Values.{name}",
    "trace": "{id}.Result.Traces.{channel}",
    "trace_time": "{id}.Result.Traces.{channel}_t",
    "live": "{id}.Live.{channel}",
}


def _check(check: CheckSpec) -> dict[str, Any]:
    params = {
        f.name: getattr(check, f.name)
        for f in dataclasses.fields(check)
        if f.name not in {"name", "label", "failure_mode", "evi_only"}
    }
    return {
        "name": check.name,
        "kind": type(check).__name__,
        "label": check.label,
        "failure_mode": check.failure_mode,
        "evi_only": check.evi_only,
        "parameters": {
            k: (list(v) if isinstance(v, tuple) else str(v) if hasattr(v, "value") else v) for k, v in params.items()
        },
    }


def describe_station_type(station_type: StationType) -> dict[str, Any]:
    """Schema, components, checks, default limits (product-derived ones marked), retest cap, rework."""
    st = station_type
    return {
        "code": st.code,
        "title": st.title,
        "plant_name": st.plant_name,
        "has_plc": st.has_plc,
        "measurements": [
            {"name": m.name, "kind": m.kind, "unit": m.unit, "required": m.required, "description": m.description}
            for m in st.measurements
        ],
        "traces": [{"channel": t.channel, "unit": t.unit, "description": t.description} for t in st.traces],
        "live_channels": list(st.live_channels),
        "components": [{"kind": c.kind.value, "identifier": c.identifier, "model": c.model} for c in st.components],
        "checks": [_check(c) for c in st.checks],
        "default_limits": [
            {
                "name": lim.name,
                "unit": lim.unit,
                "low": lim.low,
                "high": lim.high,
                "uncertainty": lim.uncertainty,
                "origin": lim.origin,
                "by_refrigerant": {k: list(v) for k, v in lim.by_refrigerant.items()},
                "from_product": lim.from_product is not None,
                "note": lim.note,
                # what a specification revision may do with it (app.rules.spec.build_spec refuses the rest)
                "set_elsewhere": lim.set_elsewhere or None,
                "uncertainty_from_model": lim.uncertainty_from_model,
                "non_negative": lim.non_negative,
                "not_above": lim.not_above or None,
            }
            for lim in st.limits
        ],
        "retest_cap": st.retest_cap,
        "failure_modes": list(st.failure_modes),
        "rework": [dataclasses.asdict(r) for r in st.rework],
        "node_ids": NODE_ID_TEMPLATES if st.has_plc else {},
    }
