"""Request bodies validated by pydantic straight from their JSON bytes.

A station result carries traces of thousands of samples (~70 kB of JSON). FastAPI parses a body
into Python objects (``json.loads``: ~1.3 ms of the server's CPU for one such result) and then
validates those objects against the route's model. Here the route's model validates the bytes
directly (pydantic-core's parser; one pass, no intermediate dict), and FastAPI receives the
finished model instance, which its own validation passes through unchanged.

Nothing is accepted or refused differently: a body that the direct validation refuses is parsed
again the standard way (pydantic-core's parser, or the standard library's where that one refuses a
lone surrogate escape or a byte-order mark) and FastAPI validates it as it always did, so the
client sees exactly the error it saw before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import pydantic
import pydantic_core
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope


class JsonBodyRequest(Request):
    def __init__(self, scope: Scope, receive: Receive, model: type[pydantic.BaseModel] | None = None) -> None:
        super().__init__(scope, receive)
        self._body_model = model

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if self._body_model is not None:
                try:
                    self._json = self._body_model.model_validate_json(body)
                    return self._json
                except pydantic.ValidationError:
                    pass  # parsed below, and refused by FastAPI with its usual error
            try:
                self._json = pydantic_core.from_json(body)
            except ValueError:
                self._json = json.loads(body)
        return self._json


def _body_model(route: APIRoute) -> type[pydantic.BaseModel] | None:
    """The route's body model, when the whole body is one pydantic model (not embedded, not a form)."""
    params = route.dependant.body_params
    if len(params) != 1 or getattr(params[0].field_info, "embed", False):
        return None
    annotation = params[0].field_info.annotation
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    return None


class JsonBodyRoute(APIRoute):
    """A route whose JSON body is validated as in :class:`JsonBodyRequest` (``APIRouter(route_class=…)``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        model = _body_model(self)

        async def handle(request: Request) -> Response:
            return await handler(JsonBodyRequest(request.scope, request.receive, model))

        return handle
