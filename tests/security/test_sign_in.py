"""Sign-in, lockout, tokens (revocable, expiring, hashed at rest), page sessions with CSRF, and the
refusal to run in production with the demo's published secrets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from app.config import SecuritySettings
from app.persistence import models as m
from app.security.secrets import InsecureConfiguration
from app.services.clock import utcnow
from tests.conftest import auth_headers

TOKEN = "/api/v1/auth/token"


def _sign_in(client, **body):  # type: ignore[no-untyped-def]
    return client.post(TOKEN, json=body, auth=None)


def test_password_sign_in_gives_a_bearer_token_that_identifies_the_user(client) -> None:  # type: ignore[no-untyped-def]
    answer = _sign_in(client, username="quality1", password="demo-quality", label="script")
    assert answer.status_code == 201, answer.text
    token = answer.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, auth=None)
    assert me.status_code == 200
    assert me.json() == {
        "username": "quality1",
        "display_name": "Quinn Quality",
        "role": "quality_engineer",
        "stations": [],
    }


def test_badge_and_pin_sign_in_an_operator(client) -> None:  # type: ignore[no-untyped-def]
    answer = _sign_in(client, badge_id="B1001", pin="1001")
    assert answer.status_code == 201, answer.text
    assert answer.json()["role"] == "operator"
    assert _sign_in(client, badge_id="B1001", pin="9999").status_code == 401


def test_wrong_password_and_unknown_user_are_refused_alike(client) -> None:  # type: ignore[no-untyped-def]
    wrong = _sign_in(client, username="quality1", password="not-the-password")
    unknown = _sign_in(client, username="nobody", password="not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]  # no user enumeration


def test_five_failures_lock_the_account_until_unlocked(client, database) -> None:  # type: ignore[no-untyped-def]
    for attempt in range(5):
        refused = _sign_in(client, username="supervisor1", password=f"wrong-password-{attempt}")
        assert refused.status_code == 401
    assert "locked" in refused.json()["detail"]
    right_but_locked = _sign_in(client, username="supervisor1", password="demo-supervisor")
    assert right_but_locked.status_code == 401
    assert "locked" in right_but_locked.json()["detail"]
    unlocked = client.post(
        "/api/v1/users/supervisor1/unlock", json={"reason": "forgot the new password"}, headers=auth_headers("admin")
    )
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["locked_until"] is None
    assert _sign_in(client, username="supervisor1", password="demo-supervisor").status_code == 201


def test_a_successful_sign_in_resets_the_failure_count(client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        assert _sign_in(client, username="quality1", password="wrong-password").status_code == 401
    assert _sign_in(client, username="quality1", password="demo-quality").status_code == 201
    for _ in range(4):
        assert _sign_in(client, username="quality1", password="wrong-password").status_code == 401
    assert _sign_in(client, username="quality1", password="demo-quality").status_code == 201


def test_a_revoked_token_is_refused_at_once(client) -> None:  # type: ignore[no-untyped-def]
    issued = _sign_in(client, username="quality1", password="demo-quality").json()
    headers = {"Authorization": f"Bearer {issued['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=headers, auth=None).status_code == 200
    revoked = client.post(f"/api/v1/auth/tokens/{issued['token_id']}/revoke", headers=headers, auth=None)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/auth/me", headers=headers, auth=None).status_code == 401


def test_one_user_cannot_revoke_anothers_token_but_an_admin_can(client) -> None:  # type: ignore[no-untyped-def]
    issued = _sign_in(client, username="quality1", password="demo-quality").json()
    url = f"/api/v1/auth/tokens/{issued['token_id']}/revoke"
    assert client.post(url, headers=auth_headers("supervisor"), auth=None).status_code == 404
    assert client.post(url, headers=auth_headers("admin"), auth=None).status_code == 200


def test_an_expired_token_is_refused(client, database) -> None:  # type: ignore[no-untyped-def]
    issued = _sign_in(client, username="quality1", password="demo-quality").json()
    engine = create_engine(database.url)
    with engine.begin() as conn:
        conn.execute(
            update(m.AuthToken).where(m.AuthToken.id == issued["token_id"]).values(expires_at=utcnow() - timedelta(1))
        )
    engine.dispose()
    client.app.state.gate.forget()
    headers = {"Authorization": f"Bearer {issued['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=headers, auth=None).status_code == 401


def test_secrets_and_tokens_are_stored_only_as_hashes(client, database) -> None:  # type: ignore[no-untyped-def]
    issued = _sign_in(client, username="quality1", password="demo-quality").json()
    engine = create_engine(database.url)
    with engine.connect() as conn:
        user = conn.execute(select(m.AppUser).where(m.AppUser.username == "quality1")).one()
        digests = conn.execute(select(m.AuthToken.token_sha256)).scalars().all()
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM app_user")) for v in row)
        dump += " ".join(str(v) for row in conn.execute(text("SELECT * FROM auth_token")) for v in row)
    engine.dispose()
    assert user.password_hash.startswith("$argon2id$")
    assert issued["access_token"] not in dump and "demo-quality" not in dump
    assert len(digests) >= 1 and all(len(d) == 64 for d in digests)


def _create_user(client, **user: str):  # type: ignore[no-untyped-def]
    """The admin creates a user through the API (201): the response."""
    created = client.post("/api/v1/users", json=user, headers=auth_headers("admin"))
    assert created.status_code == 201, created.text
    return created


def test_admin_creates_a_user_who_can_then_sign_in_and_a_deactivated_user_cannot(client) -> None:  # type: ignore[no-untyped-def]
    admin = auth_headers("admin")
    created = _create_user(
        client, username="newqe", display_name="New QE", role="quality_engineer", password="a-long-passphrase"
    )
    assert "password" not in created.text.replace("has_password", "")
    token = _sign_in(client, username="newqe", password="a-long-passphrase").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=headers, auth=None).status_code == 200
    off = client.put("/api/v1/users/newqe", json={"active": False, "reason": "left the company"}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
    assert client.get("/api/v1/auth/me", headers=headers, auth=None).status_code == 401
    assert _sign_in(client, username="newqe", password="a-long-passphrase").status_code == 401


def test_a_deactivated_badge_user_cannot_sign_in_with_badge_and_pin(client) -> None:  # type: ignore[no-untyped-def]
    admin = auth_headers("admin")
    _create_user(client, username="newop", display_name="New Operator", role="operator", badge_id="B7301", pin="7301")
    assert _sign_in(client, badge_id="B7301", pin="7301").status_code == 201
    off = client.put("/api/v1/users/newop", json={"active": False, "reason": "left the company"}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False

    refused = _sign_in(client, badge_id="B7301", pin="7301")
    assert refused.status_code == 401, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("user name and password, or badge and PIN, not accepted")
    assert detail == _sign_in(client, badge_id="B0000", pin="7301").json()["detail"]  # reads as an unknown badge


def test_weak_passwords_and_pins_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    admin = auth_headers("admin")
    short = {"username": "weak", "display_name": "W", "role": "supervisor", "password": "short"}
    assert client.post("/api/v1/users", json=short, headers=admin).status_code == 422
    no_password = {"username": "weak", "display_name": "W", "role": "supervisor", "badge_id": "B7", "pin": "1234"}
    assert client.post("/api/v1/users", json=no_password, headers=admin).status_code == 422
    bad_pin = {"username": "weak", "display_name": "W", "role": "operator", "badge_id": "B7", "pin": "12ab"}
    assert client.post("/api/v1/users", json=bad_pin, headers=admin).status_code == 422


def _page_session(client) -> str:  # type: ignore[no-untyped-def]
    signed_in = client.post("/ui/login", json={"username": "quality1", "password": "demo-quality"}, auth=None)
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    return signed_in.cookies["mes_session"]


def test_a_page_session_needs_the_csrf_token_for_changes(client) -> None:  # type: ignore[no-untyped-def]
    session = _page_session(client)
    client.cookies.clear()
    cookies = {"mes_session": session}
    page = client.get("/ui/specs", cookies=cookies, auth=None)
    assert page.status_code == 200
    csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    body = {"station_type": "charging", "product_model": "HPM-06-R290-EVI", "overrides": {}, "note": "csrf test"}
    forged = client.post("/ui/specs/draft", json=body, cookies=cookies, auth=None)
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    wrong = client.post("/ui/specs/draft", json=body, cookies=cookies, headers={"X-CSRF-Token": "0" * 64}, auth=None)
    assert wrong.status_code == 403
    genuine = client.post("/ui/specs/draft", json=body, cookies=cookies, headers={"X-CSRF-Token": csrf}, auth=None)
    assert genuine.status_code not in (401, 403), genuine.text


def test_signing_out_revokes_the_page_session(client) -> None:  # type: ignore[no-untyped-def]
    session = _page_session(client)
    client.cookies.clear()
    cookies = {"mes_session": session}
    page = client.get("/ui/specs", cookies=cookies, auth=None)
    csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    out = client.post("/ui/logout", cookies=cookies, headers={"X-CSRF-Token": csrf}, auth=None, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()
    again = client.get("/ui/specs", cookies=cookies, auth=None, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/ui/login")


def test_an_api_token_is_not_a_page_session(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get(
        "/ui/specs", cookies={"mes_session": "test-token-quality_engineer"}, auth=None, follow_redirects=False
    )
    assert page.status_code == 303


def test_production_refuses_to_start_without_a_secret_key_of_its_own(settings) -> None:  # type: ignore[no-untyped-def]
    from app.main import create_app

    for key in (None, "CHANGE-ME", "too-short"):
        insecure = settings.model_copy(update={"security": SecuritySettings(secret_key=key, allow_demo_secrets=False)})
        with pytest.raises(InsecureConfiguration, match="MES_SECURITY__SECRET_KEY"):
            create_app(insecure)


def test_production_refuses_to_start_while_demo_users_keep_their_published_secrets(settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from app.main import create_app

    production = settings.model_copy(
        update={"security": SecuritySettings(secret_key="k" * 40, allow_demo_secrets=False)}
    )
    with pytest.raises(InsecureConfiguration, match="operator1"), TestClient(create_app(production)):
        pass
