"""The argon2id cost of password and PIN hashes is the plant's setting: RFC 9106's recommendation by
default, never below OWASP's minimum outside the demo and the tests; a stored hash still verifies at
the cost it was made with after the setting changes, and its user's next sign-in re-makes it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import profiles
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.cli import main as mes
from app.config import SecuritySettings, Settings, get_settings
from app.main import create_app
from app.security import passwords
from tests.conftest import DbUnderTest, auth_headers, query_rows

OWASP_MINIMUM = {"password_hash_time_cost": 2, "password_hash_memory_kib": 19 * 1024, "password_hash_parallelism": 1}


@pytest.fixture(autouse=True)
def _back_to_the_test_cost() -> Iterator[None]:
    yield
    passwords.configure(Settings().security)


def _cost(argon2_hash: str) -> str:
    return argon2_hash.split("$")[3]


def test_the_default_cost_is_rfc_9106s_second_recommendation() -> None:
    plant = SecuritySettings(secret_key="k" * 40)
    recommended = profiles.RFC_9106_LOW_MEMORY
    assert (plant.password_hash_time_cost, plant.password_hash_memory_kib, plant.password_hash_parallelism) == (
        recommended.time_cost,
        recommended.memory_cost,
        recommended.parallelism,
    )
    passwords.configure(plant)
    made = passwords.hash_secret("a-long-passphrase")
    assert made.startswith("$argon2id$") and _cost(made) == "m=65536,t=3,p=4"


@pytest.mark.parametrize(
    ("cheaper", "named"),
    [
        ({"password_hash_memory_kib": 19 * 1024 - 1}, "MES_SECURITY__PASSWORD_HASH_MEMORY_KIB=19455"),
        ({"password_hash_time_cost": 1}, "MES_SECURITY__PASSWORD_HASH_TIME_COST=1"),
    ],
)
def test_a_cost_below_owasps_minimum_is_refused_outside_the_demo(cheaper: dict[str, int], named: str) -> None:
    with pytest.raises(ValidationError, match="below OWASP's minimum") as refused:
        SecuritySettings(**{**OWASP_MINIMUM, **cheaper})
    assert named in str(refused.value) and "MES_SECURITY__ALLOW_DEMO_SECRETS" in str(refused.value)
    SecuritySettings(**OWASP_MINIMUM)  # the minimum itself is a plant's choice to make
    SecuritySettings(**{**OWASP_MINIMUM, **cheaper}, allow_demo_secrets=True)  # the demo and the tests


def test_memory_too_small_for_its_lanes_is_refused_even_in_the_demo() -> None:
    with pytest.raises(ValidationError, match="at least 8 KiB per lane"):
        SecuritySettings(password_hash_memory_kib=8 * 4 - 1, password_hash_parallelism=4, allow_demo_secrets=True)


def test_mes_refuses_to_start_with_a_cost_below_the_minimum_and_says_which_setting(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MES_SECURITY__SECRET_KEY", "a-plant-secret-" + "x" * 40)
    monkeypatch.setenv("MES_SECURITY__ALLOW_DEMO_SECRETS", "false")
    monkeypatch.setenv("MES_SECURITY__PASSWORD_HASH_TIME_COST", "1")
    get_settings.cache_clear()
    assert mes(["serve"]) == 2
    refusal = capsys.readouterr().err
    assert refusal.startswith("error: configuration not valid") and "MES_SECURITY__PASSWORD_HASH_TIME_COST=1" in refusal
    assert "Traceback" not in refusal


def test_new_secrets_are_hashed_at_the_apps_cost_and_older_hashes_sign_in_and_are_upgraded(
    database: DbUnderTest, settings: Settings
) -> None:
    """The suite's own cost made the template's demo users; this app hashes at OWASP's minimum. A user
    whose hash has the old cost still signs in, and that sign-in stores a hash at the new one."""
    plant = settings.model_copy(update={"security": settings.security.model_copy(update=OWASP_MINIMUM)})
    app = create_app(plant)

    def stored(column: str, username: str) -> str:
        [(value,)] = query_rows(database.owner, f"SELECT {column} FROM app_user WHERE username = '{username}'")
        return str(value)

    with TestClient(app) as client:

        def sign_in(**body: Any) -> int:
            return int(client.post("/api/v1/auth/token", json=body).status_code)

        created = client.post(
            "/api/v1/users",
            json={
                "username": "new-qe",
                "display_name": "New QE",
                "role": "quality_engineer",
                "password": "a-long-passphrase",
            },
            headers=auth_headers("admin"),
        )
        assert created.status_code == 201, created.text
        assert _cost(stored("password_hash", "new-qe")) == "m=19456,t=2,p=1"
        assert sign_in(username="new-qe", password="a-long-passphrase") == 201

        old = stored("password_hash", "quality1")
        assert _cost(old) == "m=1024,t=1,p=1"
        assert sign_in(username="quality1", password="not-the-password") == 401
        assert stored("password_hash", "quality1") == old  # a refused sign-in changes no hash
        assert sign_in(username="quality1", password="demo-quality") == 201
        upgraded = stored("password_hash", "quality1")
        assert _cost(upgraded) == "m=19456,t=2,p=1"
        assert sign_in(username="quality1", password="demo-quality") == 201
        assert stored("password_hash", "quality1") == upgraded  # hashed once, not at every sign-in

        assert _cost(stored("pin_hash", "operator1")) == "m=1024,t=1,p=1"
        assert sign_in(badge_id="B1001", pin="1001") == 201
        assert _cost(stored("pin_hash", "operator1")) == "m=19456,t=2,p=1"
