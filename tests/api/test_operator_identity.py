"""Whoever starts or completes a unit's operation is the signed-in person, never a name typed into
the request; a station's service account may name the operator its own sign-in knows."""

from __future__ import annotations

from typing import Any

from tests.api.driver import Line, station_payload
from tests.api.test_station_accounts import station_account
from tests.auth_support import auth_headers


def _attempt(client: Any, serial: str) -> dict[str, Any]:
    return client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"][-1]  # type: ignore[no-any-return]


def test_a_person_is_recorded_as_signed_in_and_cannot_name_another(client: Any) -> None:
    serial = Line(client).work_order(quantity=1, first="HP26-5600001")[0]
    operator = auth_headers("operator")
    named = client.post(
        "/api/v1/stations/CEX-01/start", json={"serial": serial, "operator": "quality1"}, headers=operator
    )
    assert named.status_code == 422 and "you are signed in as operator1" in named.json()["detail"]
    assert client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"] == []  # nothing opened
    assert client.post("/api/v1/stations/CEX-01/start", json={"serial": serial}, headers=operator).status_code == 201
    body = station_payload("coil_expansion", serial) | {"operator": "operator1"}  # naming oneself is fine
    assert client.post("/api/v1/stations/CEX-01/complete", json=body, headers=operator).status_code == 200
    attempt = _attempt(client, serial)
    assert (attempt["started_by"], attempt["completed_by"], attempt["origin"]) == ("operator1", "operator1", "operator")


def test_a_station_account_acts_for_its_station_and_may_name_its_operator(client: Any) -> None:
    first, second = Line(client).work_order(quantity=2, first="HP26-5600011")
    station = station_account(client, "svc-cex", ["CEX-01"])
    assert client.post("/api/v1/stations/CEX-01/start", json={"serial": first}, headers=station).status_code == 201
    body = station_payload("coil_expansion", first)
    assert client.post("/api/v1/stations/CEX-01/complete", json=body, headers=station).status_code == 200
    attempt = _attempt(client, first)
    assert (attempt["started_by"], attempt["completed_by"], attempt["origin"]) == ("svc-cex",) * 2 + ("rest",)
    named = {"serial": second, "operator": "OP-7"}
    assert client.post("/api/v1/stations/CEX-01/start", json=named, headers=station).status_code == 201
    assert (_attempt(client, second)["started_by"], _attempt(client, second)["origin"]) == ("OP-7", "operator")
