"""Signing in on a page: badge + PIN at a station tablet, user name + password elsewhere.

A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure behind HTTPS); its
SHA-256 is stored and it can be revoked. Five failures in a row lock the account (plant setting).

The page's script posts the form as JSON and is answered with the next page's address. Without the
script (switched off, or not loaded yet) the browser posts the same form itself, form-encoded: it is
answered the same way a browser understands, a redirect to the next page or the sign-in page again
with the reason. Either way the PIN or password travels only in a POST body, never in a URL, and a
sign-in another site's page sent is refused before its credentials are checked or counted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from starlette.concurrency import run_in_threadpool

from app.domain.actors import Role
from app.domain.errors import DomainError, InvalidInput, NotAuthenticated
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


FORM_ENCODED = "application/x-www-form-urlencoded"
FILL_IN = "scan your badge and enter your PIN, or give user name and password"
FORM_FIELDS = frozenset(SignIn.model_fields)
# Why a page was sent to sign in again, as the sign-in page says it (the code is in the URL, never the text).
SIGN_IN_REASONS = {
    "session_ended": (
        "Your session ended (signed out on another screen, revoked or expired): sign in again. "
        "What you were typing is kept on this tablet."
    ),
}


def _safe_next(target: str | None, role: Role) -> str:
    default = "/ui/tablet" if role is Role.OPERATOR else "/ui/"
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/ui/"):  # never an open redirect
        return default
    return target


@router.get("/login", response_class=HTMLResponse, dependencies=[public("the sign-in page itself")])
def login_page(request: Request, next: str = "", reason: str = "") -> HTMLResponse:
    return render(request, "login.html", next=next[:512], notice=SIGN_IN_REASONS.get(reason, ""))


class CrossSiteSignIn(DomainError):
    """A sign-in sent by another site's page: refused before the credentials are checked."""

    status_code = 403
    title = "Sign-in from another site refused"
    slug = "cross-site-sign-in"


NOT_FROM_THIS_SITE = "This sign-in did not come from this site's sign-in page: sign in here again."


def _form_fields(raw: bytes) -> tuple[dict[str, str], str]:
    """The sign-in form as the browser posts it without the page's script: its filled fields and ``next``."""
    fields: dict[str, str] = {}
    next_page = ""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return {}, ""
    for name, value in pairs:
        if name == "next":
            next_page = value
        elif name in FORM_FIELDS and value:  # the other form's empty fields come along: not given
            fields[name] = value
    return fields, next_page


def _from_this_site(request: Request) -> bool:
    """Whether a sign-in came from this site's own page, or from no page at all (a client that is not a
    browser). Another site's form could otherwise sign a tablet in as someone else, and its script (a
    no-cors fetch needs no preflight) could send wrong passwords until the account locks. Browsers say
    where a request comes from in Sec-Fetch-Site, older ones in Origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")


def _is_json(content_type: str) -> bool:
    """As FastAPI decides for a JSON body: no content type, application/json or application/*+json."""
    return (
        not content_type
        or content_type == "application/json"
        or (content_type.startswith("application/") and content_type.endswith("+json"))
    )


@router.post("/login", dependencies=[public("signing in is how a page gets a session")])
async def login(request: Request, next: str = "") -> Response:
    """Sign in: a JSON body (the page's script) is answered with JSON naming the next page; the form
    posted by the browser itself (form-encoded) with a redirect to it, or the sign-in page with the reason."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == FORM_ENCODED:
        fields, form_next = _form_fields(raw)
        next_page = (form_next or next)[:512]

        def refused(status: int, reason: str) -> Response:
            return render(request, "login.html", status_code=status, next=next_page, error=reason)

        if not _from_this_site(request):
            return refused(403, NOT_FROM_THIS_SITE)
        try:
            body = SignIn.model_validate(fields)
            token, role = await _sign_in(request, body)
        except ValidationError:
            return refused(422, FILL_IN)
        except (NotAuthenticated, InvalidInput) as exc:
            return refused(exc.status_code, exc.detail)
        response: Response = RedirectResponse(_safe_next(next_page, role), status_code=303)
    else:
        if not _from_this_site(request):  # whatever the body: nothing is checked, so nothing is counted
            raise CrossSiteSignIn(NOT_FROM_THIS_SITE)
        if not _is_json(content_type):
            raise InvalidInput("send the sign-in as JSON, or post the sign-in form")
        try:
            body = SignIn.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(), body=raw) from exc
        token, role = await _sign_in(request, body)
        response = JSONResponse({"next": _safe_next(next, role)})
    settings = request.app.state.settings.security
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return response


async def _sign_in(request: Request, body: SignIn) -> tuple[str, Role]:
    """Check the credentials and issue a page session: (its raw token, the user's role); refusals raise."""
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
                raise InvalidInput(FILL_IN)
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
    return outcome


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
