"""Include a router into an app so that the apps of one process share its built routes.

FastAPI builds every route of an included router afresh for each app (its dependencies, its pydantic
fields: about 0.1–0.2 s for all of this app's routers), on the first requests that reach them. A plant
runs one app per process; the test suite builds several hundred (563 tests take an app of their own),
and that build was a fifth of its CPU. The apps of one process include the same routers with the same
prefix, the same dependency functions and the same FastAPI defaults, so the included node the first
app built serves the later ones. Nothing of an app lives in a route: settings, engine and state are reached through
``request.app``. The one thing a shared node takes from the first app is its dependency overrides
(``app.dependency_overrides``), which this project never sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.params import Depends
from starlette.routing import BaseRoute

# key → (the included node, what the key names by id: held so that no id can be reused)
_SHARED: dict[tuple[object, ...], tuple[BaseRoute, tuple[object, ...]]] = {}


def include_router_shared(
    app: FastAPI,
    router: APIRouter,
    *,
    prefix: str,
    dependencies: Sequence[Depends] = (),
    include_in_schema: bool = True,
) -> None:
    """``app.include_router`` whose built routes are shared with the process's other apps."""
    app.include_router(router, prefix=prefix, dependencies=list(dependencies), include_in_schema=include_in_schema)
    node = app.router.routes[-1]
    if getattr(node, "original_router", None) is not router:
        return  # a FastAPI that includes routers another way: nothing is shared, nothing is skipped
    defaults = _defaults(app)
    if defaults is None:
        return
    callables = tuple(d.dependency for d in dependencies)
    key = (id(router), prefix, tuple(id(c) for c in callables), include_in_schema, defaults)
    shared, _ = _SHARED.setdefault(key, (node, (router, *callables)))
    app.router.routes[-1] = shared


def _defaults(app: FastAPI) -> tuple[Any, ...] | None:
    """What an include takes from the app's own router besides its arguments (None: not comparable)."""
    parent = app.router
    if parent.responses or parent.callbacks:
        return None
    return (
        parent.prefix,
        tuple(parent.tags),
        tuple(id(d.dependency) for d in parent.dependencies),
        id(parent.default_response_class),
        id(parent.generate_unique_id_function),
        parent.include_in_schema,
        parent.deprecated,
        parent.strict_content_type,
        parent.max_body_size,
    )
