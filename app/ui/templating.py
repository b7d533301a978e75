"""The Jinja2 environment of the pages, with the few filters the templates share."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

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


TEMPLATES.env.filters["num"] = number
TEMPLATES.env.filters["instant"] = instant


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page template with its context."""
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
