"""Credentials of the test and benchmark databases: the demo users, each with a known API token.

The tokens are inserted as SHA-256 digests like any other token; only tests and benchmarks know
the raw values. Creating them costs no password hashing (the demo users are hashed once per template).
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def bearer_token(role: str) -> str:
    """The raw API token of the demo user with ``role``."""
    return f"test-token-{role}"


# When a test does not say who calls, it signs in as the first of these roles the route allows.
ROLE_PREFERENCE = ("quality_engineer", "supervisor", "operator", "admin", "station")


def preferred_role(roles: object) -> str:
    """The role a test signs in as for a route that allows ``roles`` (Role members or names)."""
    names = {str(getattr(r, "value", r)) for r in roles}  # type: ignore[attr-defined]
    return next(r for r in ROLE_PREFERENCE if r in names)


def auth_headers(role: str = "quality_engineer") -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer_token(role)}"}


def seed_demo_users_and_tokens(session: Session) -> None:
    from app.persistence import models as m
    from app.services.clock import utcnow
    from app.services.demo import DEMO_USERS, load_demo_users
    from app.services.users import token_digest, user_by_name

    load_demo_users(session=session)
    for demo in DEMO_USERS:
        user = user_by_name(session=session, username=demo.username)
        session.add(
            m.AuthToken(
                user_id=user.id,
                kind="api",
                token_sha256=token_digest(bearer_token(demo.role.value)),
                label="tests and benchmarks",
                created_at=utcnow(),
            )
        )


# Environment for a MES started by a test or benchmark: its own secret key, demo users allowed.
SERVER_ENV = {"MES_SECURITY__ALLOW_DEMO_SECRETS": "true", "MES_SECURITY__SECRET_KEY": "tests-" + "k" * 40}
