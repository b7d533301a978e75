"""No secret reaches a log or an error text: a badge given to a second user is a conflict (409), not a
database error, and a statement the database refuses never shows its parameters (a password hash
among them) in the error's text, which the API's 500 handler logs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.persistence import models as m
from app.persistence.db import make_engine
from tests.conftest import DbUnderTest, auth_headers


def _badge_of(client: Any, username: str) -> str | None:
    users = client.get("/api/v1/users", headers=auth_headers("admin")).json()
    badge: str | None = next(u for u in users if u["username"] == username)["badge_id"]
    return badge


def test_giving_a_user_a_badge_another_user_has_is_a_conflict(client: Any) -> None:
    admin = auth_headers("admin")
    body = {"badge_id": "B1001", "password": "Secret-New-Password-9", "reason": "give badge"}
    refused = client.put("/api/v1/users/supervisor1", json=body, headers=admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == "badge B1001 already belongs to another user"
    assert _badge_of(client, "supervisor1") is None
    own = client.put("/api/v1/users/operator1", json={"badge_id": "B1001", "reason": "reissued"}, headers=admin)
    assert own.status_code == 200, own.text  # a user's own badge is no conflict


def test_a_statement_the_database_refuses_does_not_show_its_parameters(database: DbUnderTest) -> None:
    secret_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$never-in-an-error-text"
    engine = make_engine(database.url)
    try:
        with pytest.raises(IntegrityError) as refused, engine.begin() as conn:
            conn.execute(
                update(m.AppUser)
                .where(m.AppUser.username == "supervisor1")
                .values(badge_id="B1001", password_hash=secret_hash, display_name="Shown Nowhere")
            )
    finally:
        engine.dispose()
    text = f"{refused.value}\n{refused.value!r}"
    assert secret_hash not in text and "Shown Nowhere" not in text
    assert "UPDATE app_user" in text  # the statement itself is still there to debug with
