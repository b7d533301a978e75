"""Lot holds: the holds one hold-by-component request places belong to one lot hold, which is released whole
with one e-signature (POST /api/v1/lot-holds/{id}/release), each hold audited as a single release audits it."""

from __future__ import annotations

from typing import Any

import pytest

from app.persistence.db import make_engine, make_session_factory
from app.services import audit
from tests.api.driver import Line
from tests.conftest import DbUnderTest, auth_headers, query_rows

RIGHT = {"secret": "demo-quality"}  # quality1's password, re-entered to sign
WRONG = {"secret": "demo-qualitY"}
FURNACE_RUN = "FR-LOT-0412"
FALSE_ALARM = {"disposition": "use_as_is", "reason": "furnace log re-read: dew point was in range", "signature": RIGHT}


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _brazed_in_one_run(line: Line, quantity: int = 3) -> list[str]:
    """Units brazed in FURNACE_RUN (and one unit brazed elsewhere, last), waiting at sub-base assembly."""
    serials = line.work_order(quantity=quantity + 1)
    for serial in serials:
        line.run("coil_expansion", serial)
    for serial in serials[:quantity]:
        line.run("brazing", serial, overrides={"FurnaceRun": FURNACE_RUN})
    line.run("brazing", serials[quantity], overrides={"FurnaceRun": "FR-OTHER-1"})
    return serials[:quantity]


def _hold_the_run(client: Any) -> dict[str, Any]:
    r = client.post(
        "/api/v1/holds/by-component",
        json={"identifier": FURNACE_RUN, "kind": "furnace_run", "reason": "furnace run dew point alarm"},
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _release(client: Any, lot_hold_id: int, body: dict[str, Any] = FALSE_ALARM) -> Any:
    return client.post(f"/api/v1/lot-holds/{lot_hold_id}/release", json=body)


def _events(client: Any, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit-events", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def _counts(database: DbUnderTest) -> tuple[int, int]:
    [(signatures, events)] = query_rows(
        database.url, "SELECT (SELECT count(*) FROM e_signature), (SELECT count(*) FROM audit_event)"
    )
    return int(signatures), int(events)


def _problem(r: Any, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return str(r.json()["detail"])


def test_a_hold_by_component_places_one_lot_hold_that_the_hold_list_shows(line: Line, client: Any) -> None:
    serials = _brazed_in_one_run(line)
    own = client.post(f"/api/v1/units/{serials[0]}/holds", json={"reason": "scratched cover"}).json()

    placed = _hold_the_run(client)

    lot_hold_id = placed["lot_hold_id"]
    assert isinstance(lot_hold_id, int)
    assert sorted(h["serial"] for h in placed["held"]) == serials
    assert {h["lot_hold_id"] for h in placed["held"]} == {lot_hold_id}
    listed = client.get("/api/v1/holds").json()
    assert {(h["serial"], h["lot_hold_id"]) for h in listed} == {(s, lot_hold_id) for s in serials} | {
        (serials[0], None)  # a unit's own hold belongs to no lot hold
    }
    of_lot = client.get("/api/v1/holds", params={"lot_hold_id": lot_hold_id}).json()
    assert sorted(h["id"] for h in of_lot) == sorted(h["id"] for h in placed["held"])
    assert own["lot_hold_id"] is None
    [event] = _events(client, entity_type="lot_hold", entity_id=str(lot_hold_id))
    assert event["action"] == "lot_hold.place" and event["reason"] == "furnace run dew point alarm"
    assert event["after"]["held"] == serials and event["after"]["lot_hold"]["identifier"] == FURNACE_RUN
    record = client.get(f"/api/v1/units/{serials[1]}/birth-record").json()
    assert [h["lot_hold_id"] for h in record["holds"]] == [lot_hold_id]


def test_releasing_a_lot_hold_releases_every_hold_with_one_signature_and_audits_each(
    line: Line, client: Any, database: DbUnderTest
) -> None:
    serials = _brazed_in_one_run(line)
    placed = _hold_the_run(client)
    lot_hold_id = placed["lot_hold_id"]
    hold_ids = sorted(h["id"] for h in placed["held"])
    assert all(line.start("sub_base_assembly", s).status_code == 409 for s in serials)

    r = _release(client, lot_hold_id)

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["lot_hold_id"], body["identifier"], body["kind"]) == (lot_hold_id, FURNACE_RUN, "furnace_run")
    assert sorted(h["id"] for h in body["released"]) == hold_ids and body["already_released"] == []
    assert body["still_on_hold"] == []
    signature = body["signature"]
    assert signature["username"] == "quality1" and signature["meaning"] == "release lot hold with disposition"
    assert {h["release_signature"]["id"] for h in body["released"]} == {signature["id"]}
    assert {h["disposition"] for h in body["released"]} == {"use_as_is"}
    assert client.get("/api/v1/holds").json() == []
    for serial in serials:
        assert line.unit(serial)["status"] == "in_process"
        line.run("sub_base_assembly", serial)  # the units go on along their route
    # one signature, named by the lot hold; each hold's release audited under it, as a single release is
    assert query_rows(database.url, "SELECT entity_type, entity_id FROM e_signature WHERE meaning LIKE 'release%'") == [
        ("lot_hold", str(lot_hold_id))
    ]
    for hold_id in hold_ids:
        placed_event, released = _events(client, entity_type="hold", entity_id=str(hold_id))
        assert placed_event["action"] == "hold.place"
        assert released["action"] == "hold.release.use_as_is" and released["signature"]["id"] == signature["id"]
        assert released["reason"] == FALSE_ALARM["reason"] and released["actor_username"] == "quality1"
        assert (released["before"]["unit"]["status"], released["after"]["unit"]["status"]) == ("on_hold", "in_process")
        assert released["after"]["hold"]["release_signature_id"] == signature["id"]
    _placed, lot_event = _events(client, entity_type="lot_hold", entity_id=str(lot_hold_id))
    assert lot_event["action"] == "lot_hold.release.use_as_is" and lot_event["signature"]["id"] == signature["id"]
    assert sorted(h["serial"] for h in lot_event["after"]["released"]) == serials
    assert lot_event["after"]["already_released"] == []
    engine = make_engine(database.url)
    try:
        with make_session_factory(engine)() as session:
            assert audit.verify_chain(session=session) is None  # the chain holds every event appended
    finally:
        engine.dispose()


def test_a_wrong_password_releases_nothing_of_a_lot_hold(line: Line, client: Any, database: DbUnderTest) -> None:
    serials = _brazed_in_one_run(line)
    lot_hold_id = _hold_the_run(client)["lot_hold_id"]
    before = _counts(database)

    detail = _problem(_release(client, lot_hold_id, FALSE_ALARM | {"signature": WRONG}), 403)

    assert "did not match" in detail and "nothing was signed" in detail
    assert _counts(database) == before  # no signature, no audit event
    assert len(client.get("/api/v1/holds", params={"lot_hold_id": lot_hold_id}).json()) == len(serials)
    assert [line.unit(s)["status"] for s in serials] == ["on_hold"] * len(serials)


def test_a_unit_also_held_for_another_reason_stays_on_hold_when_its_lot_hold_is_released(
    line: Line, client: Any
) -> None:
    serials = _brazed_in_one_run(line)
    lot_hold_id = _hold_the_run(client)["lot_hold_id"]
    other = client.post(f"/api/v1/units/{serials[1]}/holds", json={"reason": "dented side panel"}).json()

    r = _release(client, lot_hold_id)

    assert r.status_code == 200, r.text
    assert len(r.json()["released"]) == len(serials) and r.json()["still_on_hold"] == [serials[1]]
    assert [line.unit(s)["status"] for s in serials] == ["in_process", "on_hold", "in_process"]
    assert [h["id"] for h in client.get("/api/v1/holds").json()] == [other["id"]]  # the other hold stands
    refused = line.start("sub_base_assembly", serials[1])
    assert refused.status_code == 409 and "dented side panel" in refused.json()["detail"]


def test_a_hold_released_before_is_reported_not_released_again(line: Line, client: Any, database: DbUnderTest) -> None:
    serials = _brazed_in_one_run(line)
    placed = _hold_the_run(client)
    lot_hold_id = placed["lot_hold_id"]
    first = next(h for h in placed["held"] if h["serial"] == serials[0])
    single = {"disposition": "rework", "reason": "re-braze it anyway", "reenter_at": "brazing", "signature": RIGHT}
    r = client.post(f"/api/v1/holds/{first['id']}/release", json=single)
    assert r.status_code == 200, r.text
    single_signature = r.json()["release_signature"]["id"]

    r = _release(client, lot_hold_id)

    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(h["serial"] for h in body["released"]) == serials[1:]
    [before] = body["already_released"]
    assert (before["id"], before["disposition"], before["release_reason"]) == (first["id"], "rework", single["reason"])
    assert before["release_signature"]["id"] == single_signature  # left as it was, with its own signature
    unit = line.unit(serials[0])
    assert (unit["status"], unit["next_step"]) == ("in_process", "brazing")  # not moved on by the lot's use_as_is
    releases = _events(client, entity_type="hold", entity_id=str(first["id"]))
    assert [e["action"] for e in releases] == ["hold.place", "hold.release.rework"]
    assert [e["signature"]["id"] for e in releases[1:]] == [single_signature]

    signatures = _counts(database)[0]
    detail = _problem(_release(client, lot_hold_id), 409)
    assert detail.startswith(f"every hold of lot hold {lot_hold_id} (furnace_run {FURNACE_RUN}) was already released")
    assert f"{serials[0]} (rework)" in detail and f"{serials[1]} (use_as_is)" in detail
    assert _counts(database)[0] == signatures


def test_a_disposition_one_unit_refuses_releases_no_hold_of_the_lot(line: Line, client: Any) -> None:
    """A rework with no re-entry step follows each unit's pending path; a unit that finished its route has
    none, so the release names it and leaves every hold standing."""
    finished, waiting = line.work_order(quantity=2)
    for serial in (finished, waiting):
        line.run("coil_expansion", serial, overrides={"CoilBatch": "CB-LOT-9"})
    for station_type in ("brazing", "sub_base_assembly", "vacuum_dehydration", "charging", "leak_test", "run_in"):
        line.run(station_type, finished)
    r = client.post("/api/v1/holds/by-component", json={"identifier": "cb-lot-9", "reason": "thin tube walls"})
    assert r.status_code == 201, r.text
    lot_hold_id = r.json()["lot_hold_id"]

    rework = {"disposition": "rework", "reason": "re-test the coils", "signature": RIGHT}
    detail = _problem(_release(client, lot_hold_id, rework), 422)

    assert detail.startswith(f"nothing of lot hold {lot_hold_id} (cb-lot-9) was released: ")
    assert f"say where {finished} re-enters" in detail
    assert [line.unit(s)["status"] for s in (finished, waiting)] == ["on_hold", "on_hold"]
    assert len(client.get("/api/v1/holds", params={"lot_hold_id": lot_hold_id}).json()) == 2
    r = _release(client, lot_hold_id, rework | {"reenter_at": "coil_expansion"})
    assert r.status_code == 200, r.text
    assert [line.unit(s)["next_step"] for s in (finished, waiting)] == ["coil_expansion", "coil_expansion"]


def test_refusals_of_a_lot_hold_release_are_problem_documents(line: Line, client: Any) -> None:
    _brazed_in_one_run(line, quantity=1)
    lot_hold_id = _hold_the_run(client)["lot_hold_id"]

    assert _problem(_release(client, 999_999), 404) == "lot hold 999999 does not exist"
    operator = client.post(
        f"/api/v1/lot-holds/{lot_hold_id}/release", json=FALSE_ALARM, headers=auth_headers("operator")
    )
    assert "supervisor" in _problem(operator, 403) and "quality_engineer" in operator.json()["detail"]
    no_reason = _release(client, lot_hold_id, FALSE_ALARM | {"reason": "ok"})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"].endswith("reason")
    assert len(client.get("/api/v1/holds", params={"lot_hold_id": lot_hold_id}).json()) == 1
