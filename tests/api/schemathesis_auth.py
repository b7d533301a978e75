"""The credentials the schemathesis run sends: the one place that knows how it authenticates.

No single role may call every operation (admin-only user management, quality-engineer-only approvals), so the
run signs each operation in as a demo user whose role the route declares (tests/auth_support.py gives every
demo user of a test database a known API token).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from app.security.access import declared_access
from tests.auth_support import bearer_token, preferred_role


def auth_headers(app: FastAPI, method: str, path: str) -> dict[str, str]:
    """Request headers of a signed-in user allowed to call ``method path`` (``path`` as in the OpenAPI document)."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.route, APIRoute) and context.path_format == path and method.upper() in context.methods:
            access = declared_access(context.route)
            if access is None or access.public_reason is not None:
                return {}
            role = preferred_role(access.roles)
            return {"Authorization": f"Bearer {bearer_token(role)}"}
    raise LookupError(f"{method} {path} is no route of this app")
