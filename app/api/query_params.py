"""A query parameter that a route does not take is refused (422), not silently ignored.

A client that asks ``GET /api/v1/units?next_step=repair`` believes it got the repair queue; FastAPI
would ignore the unknown name and answer with every unit. Applied to every API route as a router
dependency, so the names are checked against what the route itself declares (its own and its
dependencies' query parameters, by alias).
"""

from __future__ import annotations

import pydantic
from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameter names of a dependant and its sub-dependencies (a query model: its fields)."""
    names: set[str] = set()
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, pydantic.BaseModel):
            names.update(field.alias or name for name, field in model.model_fields.items())
        else:
            names.add(param.alias)
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def refuse_unknown_query_parameters(request: Request) -> None:
    """Raise a validation error naming each query parameter the matched route does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _query_names(route.dependant)  # a walk of a few dependants, only when a query is sent
    unknown = sorted(set(request.query_params) - known)
    if not unknown:
        return
    takes = f"it takes {', '.join(sorted(known))}" if known else "it takes none"
    raise RequestValidationError(
        [
            {
                "type": "unknown_query_parameter",
                "loc": ("query", name),
                "msg": f"is not a query parameter of {request.method} {request.url.path} ({takes})",
                "input": request.query_params.getlist(name),
            }
            for name in unknown
        ]
    )
