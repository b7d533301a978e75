"""Signing in on a page: badge + PIN at a station tablet, user name + password elsewhere.

A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure behind HTTPS); its
SHA-256 is stored and it can be revoked. Five failures in a row lock the account (plant setting).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.concurrency import run_in_threadpool

from app.domain.actors import Role
from app.domain.errors import InvalidInput, NotAuthenticated
from app.security.access import SESSION_COOKIE, SIGNED_IN, allow, public
from app.services import users
from app.ui.templating import render

router = APIRouter()

Field64 = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Field64 | None = None
    password: Secret | None = None
    badge_id: Field64 | None = None
    pin: Secret | None = None


def _safe_next(target: str | None, role: Role) -> str:
    default = "/ui/tablet" if role is Role.OPERATOR else "/ui/"
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/ui/"):  # never an open redirect
        return default
    return target


@router.get("/login", response_class=HTMLResponse, dependencies=[public("the sign-in page itself")])
def login_page(request: Request, next: str = "") -> HTMLResponse:
    return render(request, "login.html", next=next[:512])


@router.post("/login", dependencies=[public("signing in is how a page gets a session")])
async def login(body: SignIn, request: Request, next: str = "") -> Response:
    settings = request.app.state.settings.security

    def sign_in() -> tuple[str, Role] | NotAuthenticated:
        with request.app.state.session_factory() as session, session.begin():
            if body.badge_id and body.pin:
                user, refused = users.authenticate_badge(
                    session=session, settings=settings, badge_id=body.badge_id, pin=body.pin
                )
            elif body.username and body.password:
                user, refused = users.authenticate_password(
                    session=session, settings=settings, username=body.username, password=body.password
                )
            else:
                raise InvalidInput("scan your badge and enter your PIN, or give user name and password")
            if user is None:
                assert refused is not None
                return refused  # the failed-attempt count is committed as the block ends
            issued = users.issue_token(
                session=session, user=user, kind="session", lifetime=timedelta(hours=settings.session_hours)
            )
            return issued.raw, Role(user.role)

    outcome = await run_in_threadpool(sign_in)
    if isinstance(outcome, NotAuthenticated):
        raise outcome
    raw, role = outcome
    response = JSONResponse({"next": _safe_next(next, role)})
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return response


@router.post("/logout", dependencies=[allow(*SIGNED_IN)])
def logout(request: Request) -> Response:
    """End this page session (its token is revoked, not only forgotten by the browser)."""
    token_id = getattr(request.state, "token_id", None)
    if token_id is not None and request.state.token_kind == "session":  # an API token is revoked explicitly
        with request.app.state.session_factory() as session, session.begin():
            users.revoke_token(session=session, actor=request.state.actor, token_id=token_id, may_revoke_others=False)
        request.app.state.gate.forget([token_id])
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
