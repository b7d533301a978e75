"""A refused sign-in says nothing about which user names or badges exist: an unknown name or badge, a
wrong password or PIN, a user without a password and a locked account get the same status and text,
and each costs the same password hashing (counted here, not timed: timings on a busy machine are noise)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher

from app.config import SecuritySettings
from tests.conftest import auth_headers

TOKEN = "/api/v1/auth/token"
PAGE_SIGN_IN = "/ui/login"
THRESHOLD = SecuritySettings().lockout_threshold


def _sign_in(client: Any, path: str, **body: str) -> Any:
    return client.post(path, json=body, auth=None)


def _deactivate(client: Any, username: str) -> None:
    off = client.put(
        f"/api/v1/users/{username}", json={"active": False, "reason": "left"}, headers=auth_headers("admin")
    )
    assert off.status_code == 200, off.text


def _create(client: Any, **user: str) -> None:
    created = client.post("/api/v1/users", json=user, headers=auth_headers("admin"))
    assert created.status_code == 201, created.text


def _locked_until(client: Any, username: str) -> str | None:
    users = client.get("/api/v1/users", headers=auth_headers("admin")).json()
    locked: str | None = next(u for u in users if u["username"] == username)["locked_until"]
    return locked


def _refusals(client: Any, path: str, attempt: Callable[[str, dict[str, str]], Any]) -> None:
    """Every kind of refused sign-in, each passed to ``attempt(case, body)`` in an order that locks
    supervisor1 (password) and operator1 (badge B1001) on the way."""
    _deactivate(client, "svc-leak-test")
    _create(client, username="badge-no-pin", display_name="B", role="supervisor", password="a-long-passphrase")
    assert client.put(
        "/api/v1/users/badge-no-pin", json={"badge_id": "B7777", "reason": "badge"}, headers=auth_headers("admin")
    ).is_success
    attempt("unknown user name", {"username": "nobody", "password": "wrong-password-1"})
    attempt("inactive user", {"username": "svc-leak-test", "password": "demo-station-svc"})
    attempt("user without a password", {"username": "operator1", "password": "wrong-password-1"})
    attempt("wrong password", {"username": "quality1", "password": "wrong-password-1"})
    for n in range(THRESHOLD - 1):
        assert _sign_in(client, path, username="supervisor1", password=f"wrong-{n}").status_code == 401
    attempt("the wrong password that locks", {"username": "supervisor1", "password": "wrong-password-1"})
    attempt("locked user, right password", {"username": "supervisor1", "password": "demo-supervisor"})
    attempt("locked user, wrong password", {"username": "supervisor1", "password": "wrong-password-1"})
    attempt("unknown badge", {"badge_id": "B0000", "pin": "1001"})
    attempt("badge of a user without a PIN", {"badge_id": "B7777", "pin": "1001"})
    attempt("wrong PIN", {"badge_id": "B1001", "pin": "9999"})
    for n in range(THRESHOLD - 2):
        assert _sign_in(client, path, badge_id="B1001", pin=f"999{n}").status_code == 401
    attempt("the wrong PIN that locks", {"badge_id": "B1001", "pin": "9998"})
    attempt("locked badge, right PIN", {"badge_id": "B1001", "pin": "1001"})
    assert _locked_until(client, "supervisor1") is not None
    assert _locked_until(client, "operator1") is not None


@pytest.mark.parametrize("path", [TOKEN, PAGE_SIGN_IN])
def test_every_refused_sign_in_gets_the_same_answer_naming_no_user(client: Any, path: str) -> None:
    answers: dict[str, tuple[int, dict[str, Any]]] = {}

    def attempt(case: str, body: dict[str, str]) -> None:
        answer = _sign_in(client, path, **body)
        answers[case] = (answer.status_code, answer.json())

    _refusals(client, path, attempt)
    status, first = answers["unknown user name"]
    assert status == 401
    assert {case: answer for case, answer in answers.items() if answer != (status, first)} == {}
    detail = first["detail"]
    assert f"after {THRESHOLD} failed attempts" in detail and "locked for 15 minutes" in detail
    assert "supervisor" in detail  # who to ask
    assert not any(name in detail for name in ("supervisor1", "operator1", "quality1", "B1001"))


def test_every_refused_sign_in_costs_one_password_verification(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    verifications = 0
    verify = PasswordHasher.verify

    def counted(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        nonlocal verifications
        verifications += 1
        return verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    costs: dict[str, int] = {}

    def attempt(case: str, body: dict[str, str]) -> None:
        nonlocal verifications
        verifications = 0
        assert _sign_in(client, TOKEN, **body).status_code == 401
        costs[case] = verifications

    _refusals(client, TOKEN, attempt)
    verifications = 0
    assert _sign_in(client, TOKEN, username="quality1", password="demo-quality").status_code == 201
    assert verifications == 1
    assert {case: cost for case, cost in costs.items() if cost != 1} == {}
