"""Refuse to run in production with the demo's secrets."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy.orm import Session

from app.config import SecuritySettings

# Values published in this repository: never acceptable outside the demo and the tests.
KNOWN_DEFAULTS = frozenset({"", "CHANGE-ME", "change-me", "changeme", "secret", "demo"})
DEMO_SECRET_KEY = b"ashp-mes demo secret: NOT FOR PRODUCTION"


class InsecureConfiguration(RuntimeError):
    """The configuration would run the MES with a secret anyone can read in this repository."""


def secret_key(settings: SecuritySettings) -> bytes:
    """The key that signs CSRF tokens. Without one of the plant's own, only the demo may start."""
    configured = settings.secret_key.get_secret_value() if settings.secret_key is not None else ""
    if configured and configured not in KNOWN_DEFAULTS and len(configured) >= 32:
        return hashlib.sha256(configured.encode()).digest()
    if settings.allow_demo_secrets:
        return DEMO_SECRET_KEY
    raise InsecureConfiguration(
        "MES_SECURITY__SECRET_KEY is missing, a published default or shorter than 32 characters; "
        "set a random one (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`). "
        "Only the demo may run without it (MES_SECURITY__ALLOW_DEMO_SECRETS=true)."
    )


def refuse_demo_users(session_factory: Callable[[], Session]) -> None:
    """Production start-up: no active user may still sign in with a password published in the demo."""
    from app.services.demo import users_with_demo_secrets

    with session_factory() as session:
        found = users_with_demo_secrets(session=session)
    if found:
        raise InsecureConfiguration(
            f"users {', '.join(found)} still have the demo's published password or PIN; before running in "
            "production change them ('mes users set-password USERNAME', for a badge PIN 'mes users set-pin "
            "USERNAME', or PUT /api/v1/users/{username}) or deactivate them ('mes users deactivate USERNAME "
            "--reason …')"
        )
