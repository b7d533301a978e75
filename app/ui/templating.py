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
from markupsafe import Markup, escape
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


def breakable(value: Any) -> Markup:
    """A code such as a check name or rule (``time_below_target_station_cross_check``) that may wrap after
    each ``_`` and ``:`` in a narrow table cell, escaped."""
    return Markup(_BREAK_AFTER.sub(r"\1<wbr>", str(escape(value))))


_BREAK_AFTER = re.compile(r"([_:])")


def instant(value: datetime | None) -> str:
    """A UTC instant to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _routes(app: Any) -> list[tuple[str, re.Pattern[str], Access | None]]:
    """The app's routes (method, path pattern, declared access), compiled once per app."""
    routes = _ROUTES.get(app)
    if routes is None:
        routes = [
            (method, compile_path(context.path_format)[0], declared_access(context.route))
            for context in iter_route_contexts(app.routes)
            if isinstance(context.route, APIRoute) and context.path_format
            for method in sorted(context.methods or ())
        ]
        _ROUTES[app] = routes
    return routes


_ROUTES: WeakKeyDictionary[Any, list[tuple[str, re.Pattern[str], Access | None]]] = WeakKeyDictionary()


def may_call(request: Request, method: str, path: str) -> bool:
    """Whether the signed-in user's role may call ``method path``, by the route's own declaration (a page
    offers only what the user may do)."""
    actor = getattr(request.state, "actor", None)
    if actor is None:
        return False
    for route_method, pattern, access in _routes(request.app):
        if route_method == method and pattern.match(path):
            return access is not None and (access.public_reason is not None or actor.role in access.roles)
    return False


def may_open(request: Request, path: str) -> bool:
    """Whether the signed-in user's role may GET ``path`` (the nav shows only the pages the user can open)."""
    return may_call(request, "GET", path)


TEMPLATES.env.filters["num"] = number
TEMPLATES.env.filters["instant"] = instant
TEMPLATES.env.filters["wbr"] = breakable
TEMPLATES.env.globals["may_open"] = may_open
TEMPLATES.env.globals["may_call"] = may_call


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page template with its context."""
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
