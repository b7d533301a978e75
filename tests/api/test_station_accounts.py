"""A station's service account acts only at the stations it is bound to (migration 0016): the leak
tester's integration cannot start or complete a unit at coil expansion, and an account bound to no
station acts nowhere, with a refusal that says how to bind it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from app.persistence import models as m
from app.services.demo import load_demo_users
from tests.api.driver import Line, station_payload
from tests.auth_support import auth_headers

ADMIN = auth_headers("admin")


def station_account(client: Any, username: str, stations: list[str]) -> dict[str, str]:
    """Headers with a bearer token of a new service account bound to ``stations``."""
    user = {"username": username, "display_name": username, "role": "station", "password": "a-long-passphrase"}
    created = client.post("/api/v1/users", json=user | {"stations": stations}, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["stations"] == sorted(stations)
    token = client.post("/api/v1/auth/token", json={"username": username, "password": "a-long-passphrase"})
    assert token.status_code == 201, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _attempts(client: Any, serial: str) -> list[dict[str, Any]]:
    return client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"]  # type: ignore[no-any-return]


def test_the_leak_testers_account_cannot_start_or_complete_at_coil_expansion(client: Any) -> None:
    serial = Line(client).work_order(quantity=1, first="HP26-5700001")[0]
    leak_tester = auth_headers("station")  # the demo's svc-leak-test, bound to LKT-01
    assert client.get("/api/v1/auth/me", headers=leak_tester).json()["stations"] == ["LKT-01"]
    for refused in (
        client.get("/api/v1/stations/CEX-01/interlock", params={"serial": serial}, headers=leak_tester),
        client.post("/api/v1/stations/CEX-01/start", json={"serial": serial}, headers=leak_tester),
    ):
        assert refused.status_code == 403, refused.text
        problem = refused.json()
        assert "svc-leak-test is the service account of LKT-01, not of CEX-01" in problem["detail"]
        assert problem["stations"] == ["LKT-01"]
    assert _attempts(client, serial) == []  # nothing opened
    # a person opens the attempt; the leak tester's account still cannot record its result
    assert client.post("/api/v1/stations/CEX-01/start", json={"serial": serial}).status_code == 201
    body = station_payload("coil_expansion", serial)
    refused = client.post("/api/v1/stations/CEX-01/complete", json=body, headers=leak_tester)
    assert refused.status_code == 403 and "not of CEX-01" in refused.json()["detail"]
    (attempt,) = _attempts(client, serial)
    assert attempt["status"] == "open" and attempt["completed_by"] is None


def test_a_service_account_is_bound_to_existing_stations_and_only_a_service_account_is(client: Any) -> None:
    user = {"display_name": "x", "password": "a-long-passphrase"}
    unbound = client.post("/api/v1/users", json=user | {"username": "svc-none", "role": "station"}, headers=ADMIN)
    assert unbound.status_code == 422 and "give stations" in unbound.json()["detail"]
    unknown = client.post(
        "/api/v1/users",
        json=user | {"username": "svc-x", "role": "station", "stations": ["CEX-01", "NO-SUCH-1"]},
        headers=ADMIN,
    )
    assert unknown.status_code == 404 and "NO-SUCH-1" in unknown.json()["detail"]
    person = client.post(
        "/api/v1/users",
        json=user | {"username": "super2", "role": "supervisor", "stations": ["CEX-01"]},
        headers=ADMIN,
    )
    assert person.status_code == 422 and "only a station's service account" in person.json()["detail"]
    bad_id = client.post(
        "/api/v1/users", json=user | {"username": "svc-y", "role": "station", "stations": ["cex.01"]}, headers=ADMIN
    )
    assert bad_id.status_code == 422
    listed = {u["username"] for u in client.get("/api/v1/users", headers=ADMIN).json()}
    assert not listed & {"svc-none", "svc-x", "super2", "svc-y"}  # nothing half-created


def test_rebinding_applies_to_the_tokens_it_has_and_is_audited(client: Any) -> None:
    serial = Line(client).work_order(quantity=1, first="HP26-5700011")[0]
    account = station_account(client, "svc-brz", ["BRZ-01"])
    start = {"serial": serial}
    assert client.post("/api/v1/stations/CEX-01/start", json=start, headers=account).status_code == 403
    moved = client.put(
        "/api/v1/users/svc-brz", json={"stations": ["CEX-01", "BRZ-01"], "reason": "cell rebuilt"}, headers=ADMIN
    )
    assert moved.status_code == 200 and moved.json()["stations"] == ["BRZ-01", "CEX-01"]
    assert client.post("/api/v1/stations/CEX-01/start", json=start, headers=account).status_code == 201
    emptied = client.put("/api/v1/users/svc-brz", json={"stations": [], "reason": "x"}, headers=ADMIN)
    assert emptied.status_code == 422  # an active service account serves at least one station
    events = client.get(
        "/api/v1/audit-events", params={"entity_type": "user", "entity_id": "svc-brz"}, headers=ADMIN
    ).json()
    change = next(e for e in events["items"] if e["action"] == "user.change")
    assert (change["before"]["stations"], change["after"]["stations"]) == (["BRZ-01"], ["BRZ-01", "CEX-01"])
    role = client.put("/api/v1/users/svc-brz", json={"role": "supervisor", "reason": "a person now"}, headers=ADMIN)
    assert role.status_code == 200 and role.json()["stations"] == []  # a person is bound to no station


def test_an_account_bound_to_no_station_acts_nowhere_and_the_demo_binds_its_own(
    client: Any, sessions: sessionmaker[Session]
) -> None:
    serial = Line(client).work_order(quantity=1, first="HP26-5700021")[0]
    with sessions() as session, session.begin():  # as after migration 0016, which binds no account
        session.execute(delete(m.ServiceAccountStation))
    leak_tester = auth_headers("station")
    refused = client.post("/api/v1/stations/LKT-01/start", json={"serial": serial}, headers=leak_tester)
    assert refused.status_code == 403
    assert "service account of no station yet" in refused.json()["detail"]
    assert "PUT /api/v1/users/svc-leak-test with stations" in refused.json()["detail"]
    with sessions() as session, session.begin():
        assert load_demo_users(session=session) == []  # nothing created, the demo account bound again
    users = client.get("/api/v1/users", headers=ADMIN).json()
    assert next(u for u in users if u["username"] == "svc-leak-test")["stations"] == ["LKT-01"]
