"""Access control: every route declares who may call it, next to the route, and nothing else passes.

A route declares its access with ``dependencies=[allow(Role.X, …)]`` (or ``PUBLIC`` with a reason).
``install`` refuses to build an app that has a route without a declaration: the default is deny,
enforced before the first request. The gate resolves the caller from a bearer token
(``Authorization: Bearer …``, API) or the page-session cookie, checks the role, and, for a cookie
session, the CSRF token on every unsafe method. The caller becomes ``request.state.actor``.

Resolved tokens are cached for ``token_cache_seconds`` (default 5 s) so a request costs no query;
revoking through this process forgets the cache at once, other processes within that window.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from threading import Lock
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.concurrency import run_in_threadpool
from starlette.routing import Mount, Route

from app.domain.actors import Actor, Role
from app.domain.errors import AccessDenied, DomainError, NotAuthenticated
from app.services import users

SESSION_COOKIE = "mes_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Routes that are not API routes (FastAPI's own documentation, static files): public, with the reason.
PUBLIC_NON_API_ROUTES: dict[str, str] = {
    "/openapi.json": "the API's description, for integrators; carries no plant data",
    "/docs": "interactive API documentation (each call still needs a token)",
    "/docs/oauth2-redirect": "part of the interactive documentation",
    "/redoc": "API documentation",
    "/ui/static": "style sheets and scripts of the pages, needed by the sign-in page",
}


class LoginRequired(NotAuthenticated):
    """A page asked for without a session: the browser is sent to the sign-in page."""


@dataclass(frozen=True, slots=True)
class Access:
    """The access a route declares; as a dependency it is the gate that enforces it."""

    roles: frozenset[Role]
    public_reason: str | None = None

    async def __call__(self, request: Request) -> None:
        if self.public_reason is not None:
            return
        gate: Gate = request.app.state.gate
        resolved = await gate.resolve(request)
        if resolved is None:
            if request.method == "GET" and request.url.path.startswith("/ui/") and _wants_html(request):
                raise LoginRequired("sign in to see this page")
            raise NotAuthenticated(
                "sign in first: send 'Authorization: Bearer <token>' (POST /api/v1/auth/token gives one) "
                "or sign in on a page"
            )
        actor, via_cookie, raw = resolved
        if actor.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise AccessDenied(
                f"{actor.username} is signed in as {actor.role.value if actor.role else 'no role'}, which may not "
                f"{request.method} {request.url.path}; allowed: {allowed}",
                role=actor.role.value if actor.role else None,
                allowed_roles=sorted(r.value for r in self.roles),
            )
        if via_cookie:
            expected = gate.csrf_token(raw)
            request.state.csrf_token = expected
            if request.method not in SAFE_METHODS and not await _csrf_matches(request, expected):
                raise AccessDenied("this form is out of date or not from this site (CSRF check): reload the page")
        request.state.actor = actor


def allow(*roles: Role) -> DependsParam:
    """Declare the roles that may call a route: ``dependencies=[allow(Role.QUALITY_ENGINEER)]``."""
    if not roles:
        raise ValueError("allow() needs at least one role; use public(reason) for an open route")
    return Depends(Access(frozenset(roles)))


def public(reason: str) -> DependsParam:
    """Declare a route open to anyone, with the reason (sign-in, health)."""
    return Depends(Access(frozenset(), public_reason=reason))


SIGNED_IN = frozenset(Role)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept or accept in ("", "*/*")


async def _csrf_matches(request: Request, expected: str) -> bool:
    """The pages send every change with fetch() and the X-CSRF-Token header (static/csrf.js)."""
    sent = request.headers.get(CSRF_HEADER)
    return sent is not None and hmac.compare_digest(sent, expected)


@dataclass
class Gate:
    """Resolves credentials to actors, with a short cache; one per app."""

    secret_key: bytes
    cache_seconds: float
    _cache: dict[str, tuple[float, users.ResolvedToken]] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def csrf_token(self, raw_session: str) -> str:
        return hmac.new(self.secret_key, b"csrf:" + raw_session.encode(), hashlib.sha256).hexdigest()

    async def resolve(self, request: Request) -> tuple[Actor, bool, str] | None:
        header = request.headers.get("authorization")
        via_cookie = False
        if header is not None:
            scheme, _, raw = header.partition(" ")
            if scheme.lower() != "bearer" or not raw.strip():
                return None
            raw = raw.strip()
        else:
            raw = request.cookies.get(SESSION_COOKIE, "")
            if not raw:
                return None
            via_cookie = True
        token = await self._lookup(request, raw)
        if token is None or (via_cookie and token.kind != "session"):
            return None
        request.state.token_id = token.token_id
        request.state.token_kind = token.kind
        return token.actor, via_cookie, raw

    async def _lookup(self, request: Request, raw: str) -> users.ResolvedToken | None:
        if len(raw) > 256:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(raw)
        if hit is not None and now - hit[0] < self.cache_seconds:
            return hit[1]

        def load() -> users.ResolvedToken | None:
            with request.app.state.session_factory() as session, session.begin():
                return users.resolve_token(session=session, raw=raw)

        token = await run_in_threadpool(load)
        with self._lock:
            if token is None:
                self._cache.pop(raw, None)
            else:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[raw] = (now, token)
        return token

    def forget(self, token_ids: Iterable[int] | None = None) -> None:
        """Drop cached tokens (all, or those ids) after a revocation or a user change."""
        with self._lock:
            if token_ids is None:
                self._cache.clear()
                return
            ids = set(token_ids)
            for key in [k for k, (_, t) in self._cache.items() if t.token_id in ids]:
                del self._cache[key]


def declared_access(route: object) -> Access | None:
    for dependency in getattr(route, "dependencies", None) or []:
        if isinstance(dependency.dependency, Access):
            return dependency.dependency
    return None


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes that declare no access (an app with any refuses to start). Checked in full for every app:
    the routes it walks are built once per process (app/api/shared_routes.py), and after the first app
    the check took 0.08 ms here."""
    missing = []
    for context in iter_route_contexts(app.routes):
        route = context.route
        if isinstance(route, APIRoute):
            if declared_access(route) is None:
                missing.append(f"{','.join(sorted(context.methods or []))} {context.path_format}")
        elif isinstance(route, Mount | Route):
            path = route.path if isinstance(route, Mount) else context.path_format
            if path not in PUBLIC_NON_API_ROUTES:
                missing.append(f"{type(route).__name__} {path}")
        else:
            missing.append(repr(route))
    return missing


def install(app: FastAPI, *, secret_key: bytes, cache_seconds: float) -> None:
    """Check every route declares its access (refuse to build the app otherwise) and add the gate."""
    missing = undeclared_routes(app)
    if missing:
        raise RuntimeError("routes without an access declaration (default deny): " + "; ".join(missing))
    app.state.gate = Gate(secret_key=secret_key, cache_seconds=cache_seconds)
    _document_access(app)

    @app.exception_handler(LoginRequired)
    async def _to_sign_in(request: Request, exc: LoginRequired) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> Response:
        # A page opened in the browser gets a page that says why; the API and the pages' fetch calls
        # (which do not ask for text/html) keep the problem details of the app's one DomainError handler.
        opened_in_browser = request.method == "GET" and request.url.path.startswith("/ui/")
        if not (opened_in_browser and "text/html" in request.headers.get("accept", "")):
            answer = app.exception_handlers[DomainError](request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        from app.ui.templating import render  # the pages import this module: a late import avoids the cycle

        resolved = await app.state.gate.resolve(request)
        if resolved is not None:  # the page's nav shows who is signed in, and Sign out works
            actor, via_cookie, raw = resolved
            request.state.actor = actor
            if via_cookie:
                request.state.csrf_token = app.state.gate.csrf_token(raw)
        roles = [r.replace("_", " ") for r in exc.extensions.get("allowed_roles", [])]
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            title="Not allowed for your role",
            message=exc.detail,
            allowed=roles,
        )


_PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_REFUSALS = {
    "401": "Not signed in: no token, or an expired or revoked one",
    "403": (
        "The caller's role may not do this (the detail names it and who may), a CSRF check failed, "
        "or an e-signature was refused"
    ),
}


def _document_access(app: FastAPI) -> None:
    """Put each operation's access into the OpenAPI document: the bearer scheme and ``x-roles``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        if "bearer" in schemes:
            return schema
        schemes["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from POST /api/v1/auth/token (user name + password, or badge + PIN)",
        }
        for context in iter_route_contexts(app.routes):
            route = context.route
            access = declared_access(route) if isinstance(route, APIRoute) else None
            if access is None:
                continue
            for method in context.methods or ():
                operation = schema.get("paths", {}).get(context.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                if access.public_reason is not None:
                    operation["security"] = []
                    operation["x-public"] = access.public_reason
                else:
                    operation["security"] = [{"bearer": []}]
                    operation["x-roles"] = sorted(r.value for r in access.roles)
                    responses = operation.setdefault("responses", {})
                    for status, words in _REFUSALS.items():
                        responses.setdefault(status, {"description": words, "content": _PROBLEM_CONTENT})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
