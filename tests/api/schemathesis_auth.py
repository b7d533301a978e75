"""The credentials the schemathesis run sends: the one place that knows how it authenticates.

No single role may call every operation (admin-only user management, quality-engineer-only approvals), so the
run signs each operation in as a demo user whose role the route declares (tests/auth_support.py gives every
demo user of a test database a known API token).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from app.security.access import declared_access
from tests.auth_support import bearer_token

# The first of these that a route allows signs in (the same preference as the `client` fixture).
ROLE_PREFERENCE = ("quality_engineer", "supervisor", "operator", "admin", "station")


def auth_headers(app: FastAPI, method: str, path: str) -> dict[str, str]:
    """Request headers of a signed-in user allowed to call ``method path`` (``path`` as in the OpenAPI document)."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.route, APIRoute) and context.path_format == path and method.upper() in context.methods:
            access = declared_access(context.route)
            if access is None or access.public_reason is not None:
                return {}
            names = {role.value for role in access.roles}
            role = next(r for r in ROLE_PREFERENCE if r in names)
            return {"Authorization": f"Bearer {bearer_token(role)}"}
    raise LookupError(f"{method} {path} is no route of this app")
