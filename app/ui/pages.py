"""The route class of the workbench's pages: an address a page cannot show is answered with a page.

A page's address carries what its form asked for (``?n=`` on SPC, ``?hours=`` on the dashboard, two
revision ids to compare). One that does not validate (a field left empty, a word where a number
goes, an id too large for the database) is answered, when a browser asked for a page, with the error
page in the words of the form, not with the API's problem details shown as raw text. A script's
request (not asking for text/html) keeps the problem details of the app's one handler.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BeforeValidator

from app.ui.templating import render

# The name of each address parameter as the page's form labels it.
FIELD_WORDS = {
    "n": "Last units",
    "hours": "Hours",
    "until": "Until",
    "a": "The first revision",
    "b": "The second revision",
    "revision_id": "The revision",
    "revision": "Revision",
    "serial": "The serial",
    "attempt_id": "The attempt",
    "identifier": "The identifier",
}


def _problem_words(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body")]
    name = loc[-1] if loc else "the address"
    field = FIELD_WORDS.get(name, f"“{name}”")
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    if kind == "missing":
        return f"{field} is missing: fill it in."
    if kind == "int_parsing":
        return f"{field} must be a whole number."
    if kind in ("float_parsing", "finite_number"):
        return f"{field} must be a number."
    if kind in ("less_than_equal", "less_than"):
        return f"{field} must be at most {ctx.get('le', ctx.get('lt'))}."
    if kind in ("greater_than_equal", "greater_than"):
        return f"{field} must be at least {ctx.get('ge', ctx.get('gt'))}."
    if kind.startswith("datetime"):
        return f"{field} must be a date and time (e.g. 2026-03-01T06:00:00Z)."
    return f"{field}: {error.get('msg', 'not accepted')}."


class PageRoute(APIRoute):
    """A GET page whose address does not validate renders the error page (``APIRouter(route_class=…)``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                if request.method != "GET" or "text/html" not in request.headers.get("accept", ""):
                    raise
                return render(
                    request,
                    "error.html",
                    status_code=422,
                    title="Cannot show this page for that address",
                    message=" ".join(_problem_words(e) for e in exc.errors()),
                    back=request.url.path,
                )

        return page_handler


def blank_is(default: object) -> BeforeValidator:
    """A form field left empty counts as its default (a cleared "Last units" shows the last 100)."""
    return BeforeValidator(lambda value: default if isinstance(value, str) and not value.strip() else value)


Hours = Annotated[int, blank_is(24)]
Until = Annotated[datetime | None, blank_is(None)]
LastUnits = Annotated[int, blank_is(100)]
