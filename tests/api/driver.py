"""A tiny driver of the REST API for tests: start and complete units like a station would."""

from __future__ import annotations

import itertools
from typing import Any

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


class Line:
    def __init__(self, client: Any) -> None:
        self.client = client

    def work_order(
        self,
        *,
        model: str = "HPM-06-R290-EVI",
        first: str = "HP26-5000001",
        quantity: int = 5,
        number: str | None = None,
    ) -> list[str]:
        number = number or f"WO-T-{first}"
        r = self.client.post(
            "/api/v1/work-orders",
            json={"number": number, "product_model": model, "first_serial": first, "quantity": quantity},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        head, seq = first.split("-")
        return [f"{head}-{int(seq) + i:07d}" for i in range(body["quantity"])]

    def start(self, station_type: str, serial: str, *, station: str | None = None) -> Any:
        return self.client.post(
            f"/api/v1/stations/{station or STATION_OF[station_type]}/start", json={"serial": serial}
        )

    def complete(
        self,
        station_type: str,
        serial: str,
        verdict: str = "PASS",
        *,
        station: str | None = None,
        failure_mode: str | None = None,
        message: str = "check",
        result_id: str | None = None,
        **extra: Any,
    ) -> Any:
        payload: dict[str, Any] = {
            "serial": serial,
            "result_id": result_id or f"R-{next(_ids)}",
            "verdict": verdict,
            "measurements": [{"name": "Example_value", "value": 1.0, "unit": "1"}],
        }
        if verdict != "PASS":
            payload["checks"] = [
                {"name": "main", "verdict": verdict, "message": message, "rule": "test", "failure_mode": failure_mode}
            ]
            payload["failure_mode"] = failure_mode
        payload.update(extra)
        return self.client.post(f"/api/v1/stations/{station or STATION_OF[station_type]}/complete", json=payload)

    def run(self, station_type: str, serial: str, verdict: str = "PASS", **kw: Any) -> Any:
        r = self.start(station_type, serial)
        assert r.status_code == 201, r.text
        r = self.complete(station_type, serial, verdict, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def unit(self, serial: str) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/units/{serial}")
        assert r.status_code == 200, r.text
        return r.json()
