"""Changes to users that happen as a side effect are audit events too: the failed attempt that locks an
account (by the MES itself) and an admin revoking another user's token (naming the owner and the
token id, never the token)."""

from __future__ import annotations

import json
from typing import Any

from app.config import SecuritySettings
from tests.conftest import auth_headers

TOKEN = "/api/v1/auth/token"
THRESHOLD = SecuritySettings().lockout_threshold


def _events(client: Any, **filters: str) -> list[dict[str, Any]]:
    page = client.get("/api/v1/audit-events", params={"limit": 1000, **filters}, headers=auth_headers("admin"))
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def _user(client: Any, username: str) -> dict[str, Any]:
    users = client.get("/api/v1/users", headers=auth_headers("admin")).json()
    return next(u for u in users if u["username"] == username)  # type: ignore[no-any-return]


def test_the_failed_sign_in_that_locks_an_account_is_an_audit_event_by_the_mes(client: Any) -> None:
    for n in range(THRESHOLD - 1):
        assert (
            client.post(TOKEN, json={"username": "supervisor1", "password": f"wrong-{n}"}, auth=None).status_code == 401
        )
    assert _events(client, action="user.lock") == []  # failures below the threshold change no user
    assert client.post(TOKEN, json={"username": "supervisor1", "password": "wrong-x"}, auth=None).status_code == 401

    [event] = _events(client, action="user.lock")
    assert (event["actor_username"], event["actor_role"], event["actor_user_id"]) == ("mes", None, None)
    assert (event["entity_type"], event["entity_id"]) == ("user", "supervisor1")
    assert event["before"] == {"failed_attempts": THRESHOLD - 1, "locked_until": None}
    locked_until = _user(client, "supervisor1")["locked_until"]
    assert locked_until is not None
    assert event["after"]["locked_after_failures"] == THRESHOLD and event["after"]["failed_attempts"] == 0
    assert event["after"]["locked_until"][:19] == locked_until[:19]
    assert str(THRESHOLD) in event["reason"]


def test_wrong_signatures_that_lock_the_signer_are_an_audit_event_and_a_locked_signer_signs_nothing(
    client: Any,
) -> None:
    draft = client.post(
        "/api/v1/spec-revisions", json={"station_type": "brazing", "product_model": "HPM-06-R290-EVI"}
    ).json()
    approve = f"/api/v1/spec-revisions/{draft['id']}/approve"
    for n in range(THRESHOLD):
        refused = client.post(approve, json={"reason": "limits reviewed", "signature": {"secret": f"wrong-{n}"}})
        assert refused.status_code == 403, refused.text
    [event] = _events(client, action="user.lock", entity_id="quality1")
    assert event["actor_username"] == "mes" and event["after"]["locked_after_failures"] == THRESHOLD

    locked = client.post(approve, json={"reason": "limits reviewed", "signature": {"secret": "demo-quality"}})
    assert locked.status_code == 403, locked.text
    assert "locked" in locked.json()["detail"] and "nothing was signed" in locked.json()["detail"]
    assert client.get(f"/api/v1/spec-revisions/{draft['id']}").json()["approval_signature"] is None


def test_an_admin_revoking_another_users_token_is_an_audit_event_without_the_token(client: Any) -> None:
    own = client.post(TOKEN, json={"username": "admin1", "password": "demo-admin-pw"}, auth=None).json()
    own_url = f"/api/v1/auth/tokens/{own['token_id']}/revoke"
    assert client.post(own_url, headers=auth_headers("admin"), auth=None).status_code == 200  # one's own: no event
    issued = client.post(
        TOKEN, json={"username": "quality1", "password": "demo-quality", "label": "MES bridge"}, auth=None
    ).json()
    url = f"/api/v1/auth/tokens/{issued['token_id']}/revoke"
    revoked = client.post(url, headers=auth_headers("admin"), auth=None)
    assert revoked.status_code == 200, revoked.text
    assert client.post(url, headers=auth_headers("admin"), auth=None).status_code == 200  # again: no change

    [event] = _events(client, action="user.revoke_token")
    assert (event["actor_username"], event["actor_role"]) == ("admin1", "admin")
    assert (event["entity_type"], event["entity_id"]) == ("user", "quality1")
    assert event["before"]["token_id"] == event["after"]["token_id"] == issued["token_id"]
    assert event["before"]["revoked_at"] is None and event["after"]["revoked_at"] is not None
    assert event["after"]["label"] == "MES bridge"
    assert issued["access_token"] not in json.dumps(event)
