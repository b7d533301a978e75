"""One place that turns errors into RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.schemas import Problem
from app.domain.errors import DomainError

log = logging.getLogger("app.api")
PROBLEM = "application/problem+json"
TYPE_BASE = "https://ashp-mes.example/problems/"
NOT_JSON = "The request body is not valid JSON (NaN and Infinity literals are not JSON either)"


def problem(
    *, status: int, title: str, detail: str, slug: str, instance: str | None, **extensions: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({k: v for k, v in extensions.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


def _validation_detail(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    items = []
    for err in errors:
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "finite_number":
            message = "must be a finite number (use null for 'not measured'; NaN and infinity are refused)"
        elif err.get("type") == "extra_forbidden":
            message = "is not a field of this request"
        items.append({"field": _location(tuple(err.get("loc", ()))), "message": message.removeprefix("Value error, ")})
    shown = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
    more = f" (and {len(items) - 5} more)" if len(items) > 5 else ""
    return f"The request was not accepted: {shown}{more}", items


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document what the handlers below answer: every 4xx and 5xx response is a problem
    details document served as application/problem+json (FastAPI would document application/json, and its
    own validation error body for 422)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", Problem.model_json_schema())
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            # any route that reads the database can meet a lost connection (see _database below)
            operation.setdefault("responses", {}).setdefault(
                "503",
                {
                    "description": "Database unavailable for a moment: send the request again (Retry-After)",
                    "content": {},
                },
            )
            for status, response in operation.get("responses", {}).items():
                if status[:1] in ("4", "5") and "content" in response:
                    response["content"] = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    # FastAPI's validation error body is never sent (the handler answers a problem): drop it once unreferenced
    for unused in ("HTTPValidationError", "ValidationError"):
        rest = {name: schema for name, schema in schemas.items() if name != unused}
        if f'"#/components/schemas/{unused}"' not in json.dumps([document.get("paths", {}), rest]):
            schemas.pop(unused, None)
    return document


def install(app: FastAPI) -> None:
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem(
            status=exc.status_code,
            title=exc.title,
            detail=exc.detail,
            slug=exc.slug,
            instance=request.url.path,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, items = _validation_detail(list(exc.errors()))
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            detail = NOT_JSON
        return problem(
            status=422,
            title="Invalid input",
            detail=detail,
            slug="invalid-input",
            instance=request.url.path,
            errors=items,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's answer to a body that is not UTF-8: malformed JSON like any other, so the same 422
            return problem(
                status=422, title="Invalid input", detail=NOT_JSON, slug="invalid-input", instance=request.url.path
            )
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no {request.method} {request.url.path} in this API (see /docs)"
        return problem(
            status=exc.status_code,
            title=titles.get(exc.status_code, "Error"),
            detail=detail,
            slug=f"http-{exc.status_code}",
            instance=request.url.path,
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated:
            return await _unexpected(request, exc)
        log.warning("database connection lost on %s %s: %s", request.method, request.url.path, exc.orig)
        response = problem(
            status=503,
            title="Database unavailable",
            detail=(
                "The MES lost its connection to the database while answering. Send the request again; "
                "a start, or a completion with the same result_id, is recorded at most once."
            ),
            slug="database-unavailable",
            instance=request.url.path,
        )
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            status=500,
            title="Internal error",
            detail="The MES hit an unexpected error; nothing was recorded. Tell the MES administrator.",
            slug="internal-error",
            instance=request.url.path,
        )
