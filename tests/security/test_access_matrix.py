"""Every route of the app × every role and an anonymous caller, against ONE table.

The table below is written independently of the routes' own ``allow(...)`` declarations: a route
missing from it fails, a declaration that differs from it fails, and every denial must name the
caller's role and the roles that may (a bare 403 is not enough).
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.security.access import PUBLIC_NON_API_ROUTES
from tests.conftest import bearer_token

OP, S, Q, A, T = "operator", "supervisor", "quality_engineer", "admin", "station"
HUMANS = {OP, S, Q, A}
EVERYONE = {OP, S, Q, A, T}
BENCH = {S, Q, A}  # the quality engineer's workbench pages
PUBLIC = "public"

ACCESS: dict[tuple[str, str], set[str] | str] = {
    # operations: people at the station and the stations' service accounts
    ("GET", "/api/v1/stations/{station_id}/interlock"): {OP, S, Q, T},
    ("POST", "/api/v1/stations/{station_id}/start"): {OP, S, T},
    ("POST", "/api/v1/stations/{station_id}/complete"): {OP, S, T},
    # traceability: read by people
    ("GET", "/api/v1/units"): HUMANS,
    ("GET", "/api/v1/units/{serial}"): HUMANS,
    ("GET", "/api/v1/units/{serial}/birth-record"): HUMANS,
    ("GET", "/api/v1/attempts/{attempt_id}/traces/{channel}"): HUMANS,
    ("GET", "/api/v1/genealogy"): HUMANS,
    # holds: anyone on the floor may stop a unit; lots and releases need a supervisor or QE
    ("POST", "/api/v1/units/{serial}/holds"): {OP, S, Q},
    ("POST", "/api/v1/holds/by-component"): {S, Q},
    ("POST", "/api/v1/holds/{hold_id}/release"): {S, Q},
    ("POST", "/api/v1/lot-holds/{lot_hold_id}/release"): {S, Q},  # every hold of a lot hold, one e-signature
    ("GET", "/api/v1/holds"): HUMANS,
    # quality: specifications, re-judging and overrides are the quality engineer's
    ("GET", "/api/v1/station-types"): HUMANS,
    ("GET", "/api/v1/station-types/{code}"): HUMANS,
    ("GET", "/api/v1/spec-revisions"): HUMANS,
    ("GET", "/api/v1/spec-revisions/{revision_id}"): HUMANS,
    ("POST", "/api/v1/spec-revisions"): {Q},
    ("PUT", "/api/v1/spec-revisions/{revision_id}"): {Q},
    ("POST", "/api/v1/spec-revisions/{revision_id}/approve"): {Q},
    ("POST", "/api/v1/rejudge"): {Q},
    ("GET", "/api/v1/units/{serial}/nameplate"): HUMANS,
    ("POST", "/api/v1/attempts/{attempt_id}/override"): {Q},
    ("GET", "/api/v1/attempts/{attempt_id}/rederivation"): {S, Q, A},  # an auditor's question, read only
    ("POST", "/api/v1/attempts/{attempt_id}/manual-checks"): {OP, S, Q},
    # line status
    ("GET", "/api/v1/line/stations"): HUMANS,
    ("GET", "/api/v1/stations/{station_id}/link"): HUMANS,
    ("GET", "/api/v1/stations/{station_id}/alarms"): HUMANS,
    ("GET", "/api/v1/line/orphan-results"): {S, Q, A},  # results of no unit: investigated, not run
    # master data: engineering data by QE or admin, stations by admin, work orders by planning
    ("GET", "/api/v1/routes"): HUMANS,
    ("GET", "/api/v1/routes/{code}"): HUMANS,
    ("PUT", "/api/v1/routes/{code}"): {Q, A},
    ("GET", "/api/v1/product-models"): HUMANS,
    ("GET", "/api/v1/product-models/{code}"): HUMANS,
    ("PUT", "/api/v1/product-models/{code}"): {Q, A},
    ("GET", "/api/v1/market-rules"): HUMANS,
    ("PUT", "/api/v1/market-rules"): {Q, A},
    ("GET", "/api/v1/stations"): HUMANS,
    ("GET", "/api/v1/stations/{station_id}"): HUMANS,
    ("PUT", "/api/v1/stations/{station_id}"): {A},
    ("POST", "/api/v1/work-orders"): {S, A},
    ("GET", "/api/v1/work-orders/{number}"): HUMANS,
    # access itself
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("GET", "/api/v1/auth/me"): EVERYONE,
    ("GET", "/api/v1/auth/tokens"): EVERYONE,
    ("POST", "/api/v1/auth/tokens/{token_id}/revoke"): EVERYONE,
    ("GET", "/api/v1/users"): {A},
    ("POST", "/api/v1/users"): {A},
    ("PUT", "/api/v1/users/{username}"): {A},
    ("POST", "/api/v1/users/{username}/unlock"): {A, S},
    ("GET", "/api/v1/audit-events"): {S, Q, A},
    ("GET", "/api/v1/health"): PUBLIC,
    # pages
    ("GET", "/"): PUBLIC,
    ("GET", "/ui/vendor/plotly.min.js"): PUBLIC,
    ("GET", "/ui/login"): PUBLIC,
    ("POST", "/ui/login"): PUBLIC,
    ("POST", "/ui/logout"): EVERYONE,
    ("GET", "/ui/tablet"): {OP, S},
    ("GET", "/ui/tablet/{station_id}/panel"): {OP, S},
    ("POST", "/ui/tablet/{station_id}/start"): {OP, S},
    ("POST", "/ui/tablet/hold"): {OP, S},
    ("POST", "/ui/tablet/{station_id}/repair"): {OP, S},
    ("GET", "/ui/tablet/bom-check"): {OP, S},
    ("POST", "/ui/tablet/{station_id}/parts"): {OP, S},
    ("POST", "/ui/tablet/{station_id}/manual-check"): {OP, S},
    ("GET", "/ui/tablet/{station_id}/events"): {OP, S},
    ("GET", "/ui/"): BENCH,
    ("GET", "/ui/units/{serial}"): BENCH,
    ("GET", "/ui/units/{serial}/birth-record.csv"): BENCH,
    ("GET", "/ui/attempts/{attempt_id}/rederivation"): BENCH,
    ("GET", "/ui/genealogy"): BENCH,
    ("POST", "/ui/genealogy/hold"): {S, Q},
    ("GET", "/ui/spc"): BENCH,
    ("GET", "/ui/units/{serial}/nameplate"): BENCH,
    ("GET", "/ui/units/{serial}/nameplate.zpl"): BENCH,
    ("GET", "/ui/dashboard"): BENCH,
    ("GET", "/ui/specs"): BENCH,
    ("GET", "/ui/specs/compare"): BENCH,
    ("GET", "/ui/specs/{revision_id}"): BENCH,
    ("POST", "/ui/specs/draft"): {Q},
    ("POST", "/ui/specs/{revision_id}/approve"): {Q},
}

# Path parameters that exist nowhere: an allowed caller gets past the gate to a 404/422.
DUMMY = {
    "station_id": "no-such-station",
    "serial": "HP26-9999999",
    "attempt_id": "999999",
    "hold_id": "999999",
    "lot_hold_id": "999999",
    "revision_id": "999999",
    "token_id": "999999",
    "channel": "no_channel",
    "code": "NO-SUCH-CODE",
    "number": "WO-NO-SUCH",
    "username": "no-such-user",
}


def _routes(app: object) -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        if isinstance(context.route, APIRoute):
            for method in sorted(context.methods or ()):
                found.append((method, context.path_format))
    return found


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: DUMMY[m.group(1)], path)


def test_every_route_is_in_the_access_table_and_nothing_else_is(client) -> None:  # type: ignore[no-untyped-def]
    routes = set(_routes(client.app))
    assert sorted(routes - set(ACCESS)) == [], "routes without a row in the access table"
    assert sorted(set(ACCESS) - routes) == [], "rows of the access table for routes that do not exist"


def test_every_route_answers_every_role_as_the_table_says(client) -> None:  # type: ignore[no-untyped-def]
    client.auth = None  # this test says who calls, every time
    mismatches = []
    for method, path in _routes(client.app):
        expected = ACCESS[(method, path)]
        url = _url(path)
        body = {} if method in ("POST", "PUT") else None
        anonymous = client.request(
            method, url, json=body, headers={"Accept": "application/json"}, follow_redirects=False
        )
        if expected == PUBLIC:
            if anonymous.status_code in (401, 403):
                mismatches.append(f"{method} {path}: public route refused an anonymous caller")
            continue
        if anonymous.status_code != 401 or anonymous.json().get("type", "").rsplit("/", 1)[-1] != "not-authenticated":
            mismatches.append(f"{method} {path}: anonymous got {anonymous.status_code}, expected 401 not-authenticated")
        for role in sorted(EVERYONE):
            answer = client.request(
                method,
                url,
                json=body,
                headers={"Accept": "application/json", "Authorization": f"Bearer {bearer_token(role)}"},
                follow_redirects=False,
            )
            if role in expected:
                if answer.status_code in (401, 403):
                    mismatches.append(f"{method} {path}: {role} refused ({answer.status_code}) but the table allows")
                continue
            problem = answer.json() if answer.headers.get("content-type", "").startswith("application/") else {}
            if (
                answer.status_code != 403
                or problem.get("role") != role
                or set(problem.get("allowed_roles", [])) != set(expected)
                or role not in problem.get("detail", "")
            ):
                mismatches.append(f"{method} {path}: {role} got {answer.status_code} {problem}, expected a named 403")
    assert not mismatches, "\n".join(mismatches)


def test_the_app_refuses_to_start_with_a_route_that_declares_no_access(settings) -> None:  # type: ignore[no-untyped-def]
    from app import main

    original = main.install_ui

    def install_with_an_undeclared_route(app):  # type: ignore[no-untyped-def]
        original(app)

        @app.get("/api/v1/forgotten")
        def forgotten() -> dict[str, str]:
            return {}

    main.install_ui = install_with_an_undeclared_route
    try:
        with pytest.raises(RuntimeError, match="GET /api/v1/forgotten"):
            main.create_app(settings)
    finally:
        main.install_ui = original


def test_non_api_routes_that_are_public_are_only_documentation_and_static_files() -> None:
    assert set(PUBLIC_NON_API_ROUTES) == {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/ui/static"}


def test_a_route_added_to_an_included_router_later_is_still_refused(settings) -> None:  # type: ignore[no-untyped-def]
    """The apps of one process share their included routers' built routes (app/api/shared_routes.py): a
    route added to such a router after an app was built must still stop the next app from starting."""
    from app import main
    from app.api.routers import holds

    main.create_app(settings)  # the holds router's routes are built, and shared from now on

    def added_later() -> dict[str, str]:
        return {}

    holds.router.add_api_route("/holds-added-later", added_later, methods=["GET"])
    try:
        with pytest.raises(RuntimeError, match="GET /api/v1/holds-added-later"):
            main.create_app(settings)
    finally:
        holds.router.routes.pop()
        holds.router._mark_routes_changed()  # what add_api_route does: a removal the list alone would hide
    main.create_app(settings)  # and with the route gone the app starts again
