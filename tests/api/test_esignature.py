"""E-signatures: approving a spec revision, releasing a hold and overriding a verdict need the signer's
password re-entered and a reason; the signature is stored with the record, shown with it, and audited.
A wrong password signs nothing and changes nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.domain.errors import InvalidInput
from app.persistence import models as m
from app.services import signatures
from app.services.signatures import VerifiedSignature
from app.services.users import actor_of, user_by_name
from tests.api.driver import Line
from tests.conftest import DbUnderTest

RIGHT = {"secret": "demo-quality"}  # quality1's password
WRONG = {"secret": "demo-qualitY"}


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _counts(database: DbUnderTest) -> tuple[int, int]:
    engine = create_engine(database.url)
    try:
        with engine.connect() as conn:
            signatures = conn.execute(select(func.count()).select_from(m.ESignature)).scalar_one()
            events = conn.execute(select(func.count()).select_from(m.AuditEvent)).scalar_one()
    finally:
        engine.dispose()
    return signatures, events


def _refused(r: Any) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "did not match" in r.json()["detail"] and "nothing was signed" in r.json()["detail"]


def test_a_wrong_password_signs_nothing_and_changes_nothing(line: Line, client: Any, database: DbUnderTest) -> None:
    serial = line.work_order(quantity=1)[0]
    line.run("coil_expansion", serial)
    failed = line.run("brazing", serial, "FAIL", overrides={"O2_ppm": 80.0})
    hold = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "furnace log missing"}).json()
    draft = client.post(
        "/api/v1/spec-revisions", json={"station_type": "brazing", "product_model": "HPM-06-R290-EVI"}
    ).json()
    before = _counts(database)

    _refused(
        client.post(f"/api/v1/spec-revisions/{draft['id']}/approve", json={"reason": "looks right", "signature": WRONG})
    )
    release = {"disposition": "use_as_is", "reason": "concession C-9", "signature": WRONG}
    _refused(client.post(f"/api/v1/holds/{hold['id']}/release", json=release))
    override = {"verdict": "PASS", "reason": "probe fault", "signature": WRONG}
    _refused(client.post(f"/api/v1/attempts/{failed['attempt']['id']}/override", json=override))

    assert _counts(database) == before  # no signature, no audit event
    assert client.get(f"/api/v1/spec-revisions/{draft['id']}").json()["status"] == "draft"
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    assert record["holds"][0]["released_at"] is None and record["attempts"][1]["overrides"] == []
    assert line.unit(serial)["status"] == "on_hold"


def test_the_signature_is_stored_with_the_record_shown_with_it_and_audited(
    line: Line, client: Any, database: DbUnderTest
) -> None:
    draft = client.post(
        "/api/v1/spec-revisions", json={"station_type": "brazing", "product_model": "HPM-06-R290-EVI"}
    ).json()
    body = {"reason": "limits reviewed", "signature": RIGHT | {"reason": "reviewed against supplier audit 12"}}
    approved = client.post(f"/api/v1/spec-revisions/{draft['id']}/approve", json=body)
    assert approved.status_code == 200, approved.text
    signature = client.get(f"/api/v1/spec-revisions/{draft['id']}").json()["approval_signature"]
    assert signature["username"] == "quality1" and signature["display_name"] == "Quinn Quality"
    assert signature["meaning"] == "approve specification revision" and signature["signed_at"]
    assert signature["reason"] == "reviewed against supplier audit 12"
    page = client.get(f"/ui/specs/{draft['id']}")
    assert page.status_code == 200 and "Quinn Quality" in page.text and "approve specification revision" in page.text
    listed_page = client.get("/ui/specs", params={"station_type": "brazing", "model": "HPM-06-R290-EVI"}).text
    assert "e-signed by Quinn Quality" in listed_page

    serial = line.work_order(quantity=1)[0]
    hold = client.post(f"/api/v1/units/{serial}/holds", json={"reason": "dropped"}).json()
    release = {"disposition": "scrap", "reason": "frame bent", "signature": RIGHT}
    released = client.post(f"/api/v1/holds/{hold['id']}/release", json=release).json()
    assert released["release_signature"]["meaning"] == "release hold with disposition"
    assert released["release_signature"]["reason"] == "frame bent"  # the action's reason when none of its own
    listed = next(h for h in client.get("/api/v1/holds", params={"active": False}).json() if h["id"] == hold["id"])
    assert listed["release_signature"] == released["release_signature"]
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    assert record["holds"][0]["release_signature"] == released["release_signature"]
    assert "Quinn Quality" in client.get(f"/ui/units/{serial}").text

    [event] = client.get(
        "/api/v1/audit-events", params={"entity_type": "hold", "entity_id": hold["id"], "action": "hold.release.scrap"}
    ).json()["items"]
    assert event["signature"] == released["release_signature"] and event["actor_username"] == "quality1"
    [approval] = client.get(
        "/api/v1/audit-events", params={"entity_type": "spec_revision", "action": "spec_revision.approve"}
    ).json()["items"][-1:]
    assert approval["signature"]["id"] == signature["id"]


def test_a_signature_is_stored_only_under_the_name_of_the_person_acting(sessions: sessionmaker[Session]) -> None:
    """No route can reach this today (the API checks the signed-in actor's own password), so the
    service guards it for every future caller: quality1 cannot store a signature that names another
    person, nor one that carries quality1's id under another name."""
    with sessions() as session:
        quality, supervisor = (user_by_name(session=session, username=u) for u in ("quality1", "supervisor1"))
        actor = actor_of(quality)
        stored = session.scalar(select(func.count()).select_from(m.ESignature))
        for forged, signer in (
            (VerifiedSignature.of(supervisor), "supervisor1"),
            (dataclasses.replace(VerifiedSignature.of(quality), username="supervisor1"), "supervisor1"),
        ):
            with pytest.raises(InvalidInput) as refused:
                signatures.sign(
                    session=session,
                    actor=actor,
                    signature=forged,
                    meaning=signatures.RELEASE_HOLD,
                    reason="lot cleared",
                    entity_type="hold",
                    entity_id="1",
                )
            assert str(refused.value) == f"a signature is by the person acting: {signer} cannot sign for quality1"
            assert session.scalar(select(func.count()).select_from(m.ESignature)) == stored

        own = signatures.sign(
            session=session,
            actor=actor,
            signature=VerifiedSignature.of(quality),
            meaning=signatures.RELEASE_HOLD,
            reason="lot cleared",
            entity_type="hold",
            entity_id="1",
        )
        assert (own.user_id, own.username, own.display_name) == (quality.id, "quality1", "Quinn Quality")
        assert session.scalar(select(func.count()).select_from(m.ESignature)) == stored + 1
        session.rollback()
