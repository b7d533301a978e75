"""The Jinja2 environment of the pages, with the few filters the templates share."""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from fastapi import Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse
from starlette.routing import compile_path

from app.security.access import Access, declared_access

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def number(value: Any, digits: int = 4) -> str:
    """A measured value as an engineer reads it: significant digits, no float noise."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.{digits}g}"
    return str(value)


def instant(value: datetime | None) -> str:
    """A UTC instant to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _page_routes(app: Any) -> list[tuple[re.Pattern[str], Access | None]]:
    """The app's GET routes with their declared access, compiled once per app."""
    routes = _PAGE_ROUTES.get(app)
    if routes is None:
        routes = [
            (compile_path(context.path_format)[0], declared_access(context.route))
            for context in iter_route_contexts(app.routes)
            if isinstance(context.route, APIRoute) and context.path_format and "GET" in (context.methods or ())
        ]
        _PAGE_ROUTES[app] = routes
    return routes


_PAGE_ROUTES: WeakKeyDictionary[Any, list[tuple[re.Pattern[str], Access | None]]] = WeakKeyDictionary()


def may_open(request: Request, path: str) -> bool:
    """Whether the signed-in user's role may GET ``path``, by the route's own declaration (the nav shows
    only the pages the user can open)."""
    actor = getattr(request.state, "actor", None)
    if actor is None:
        return False
    for pattern, access in _page_routes(request.app):
        if pattern.match(path):
            return access is not None and (access.public_reason is not None or actor.role in access.roles)
    return False


TEMPLATES.env.filters["num"] = number
TEMPLATES.env.filters["instant"] = instant
TEMPLATES.env.globals["may_open"] = may_open


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page template with its context."""
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
