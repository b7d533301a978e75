"""A driver of the REST API for tests: start units and complete them with physically plausible
results (the simulated line's physics), judged by the MES's own rules engine and cycle model."""

from __future__ import annotations

import itertools
import math
import random
from datetime import datetime
from typing import Any

import stations
from app.opcua.simulator.faults import Fault, UnitTruth
from app.opcua.simulator.physics import generate

MONOBLOC = ["coil_expansion", "brazing", "sub_base_assembly", "vacuum_dehydration", "charging", "leak_test", "run_in"]
STATION_OF = {
    "coil_expansion": "CEX-01",
    "brazing": "BRZ-01",
    "sub_base_assembly": "SBA-01",
    "vacuum_dehydration": "VAC-01",
    "charging": "CHG-01",
    "leak_test": "LKT-01",
    "run_in": "RUN-01",
    "repair": "REP-01",
}
_ids = itertools.count(1)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # "not measured" over REST
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def station_payload(
    station_type: str,
    serial: str,
    *,
    model: str = "HPM-06-R290-EVI",
    fault: Fault | None = None,
    overrides: dict[str, Any] | None = None,
    seed: int = 1,
) -> dict[str, Any]:
    """A completion body for ``station_type``: the simulator's physics for this unit, plus overrides."""
    declared = stations.get_station_type(station_type)
    if station_type == "repair":
        values: dict[str, Any] = {"RepairAction": "rebraze", "RepairDescription": "re-brazed the suction joint"}
        traces: dict[str, tuple[list[float], list[float]]] = {}
    else:
        truth = UnitTruth(
            serial=serial, model_code=model, faults=frozenset({fault} if fault else set()), near_limit=False
        )
        output = generate(station_type=station_type, unit=truth, rng=random.Random(seed))
        values, traces = dict(output.values), dict(output.traces)
    values.update(overrides or {})
    measurements = []
    for name, value in values.items():
        schema = declared.measurement(name)
        measurements.append({"name": name, "value": _json_value(value), "unit": schema.unit if schema else None})
    return {
        "serial": serial,
        "result_id": f"R-{next(_ids)}",
        "measurements": measurements,
        "traces": [{"channel": ch, "t_s": t, "values": v} for ch, (t, v) in traces.items()],
    }


class Line:
    def __init__(self, client: Any, *, model: str = "HPM-06-R290-EVI") -> None:
        self.client = client
        self.model = model

    def work_order(
        self, *, model: str | None = None, first: str = "HP26-5000001", quantity: int = 5, number: str | None = None
    ) -> list[str]:
        number = number or f"WO-T-{first}"
        if model is not None:
            self.model = model
        r = self.client.post(
            "/api/v1/work-orders",
            json={"number": number, "product_model": self.model, "first_serial": first, "quantity": quantity},
        )
        assert r.status_code == 201, r.text
        head, seq = first.split("-")
        return [f"{head}-{int(seq) + i:07d}" for i in range(r.json()["quantity"])]

    def start(self, station_type: str, serial: str, *, station: str | None = None) -> Any:
        return self.client.post(
            f"/api/v1/stations/{station or STATION_OF[station_type]}/start", json={"serial": serial}
        )

    def complete(
        self,
        station_type: str,
        serial: str,
        *,
        fault: Fault | None = None,
        overrides: dict[str, Any] | None = None,
        station: str | None = None,
        result_id: str | None = None,
        seed: int = 1,
    ) -> Any:
        body = station_payload(station_type, serial, model=self.model, fault=fault, overrides=overrides, seed=seed)
        if result_id is not None:
            body["result_id"] = result_id
        return self.client.post(f"/api/v1/stations/{station or STATION_OF[station_type]}/complete", json=body)

    def run(self, station_type: str, serial: str, expect: str = "PASS", **kw: Any) -> dict[str, Any]:
        r = self.start(station_type, serial)
        assert r.status_code == 201, r.text
        r = self.complete(station_type, serial, **kw)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        failing = [c["message"] for c in body["checks"] if c["verdict"] != "PASS"]
        assert body["attempt"]["verdict"] == expect, f"{station_type}: {body['attempt']['verdict']} {failing}"
        return body

    def unit(self, serial: str) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/units/{serial}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]
