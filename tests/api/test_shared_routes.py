"""Apps built in one process share their included routers' built routes (app/api/shared_routes.py),
and each still answers from its own database, settings and state."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import OpcuaSettings, Settings
from app.main import create_app
from tests.conftest import RoleForRoute, cloned_database


def _included_nodes(app: object) -> list[object]:
    return [r for r in app.routes if hasattr(r, "original_router")]  # type: ignore[attr-defined]


def test_two_apps_share_their_routes_and_each_answers_from_its_own_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with (
        cloned_database("sqlite", request, tmp_path / "a") as db_a,
        cloned_database("sqlite", request, tmp_path / "b") as db_b,
    ):
        apps = [
            create_app(Settings(database_url=db.url, data_dir=tmp_path / name, opcua=OpcuaSettings(enabled=False)))
            for name, db in (("a", db_a), ("b", db_b))
        ]
        nodes_a, nodes_b = (_included_nodes(app) for app in apps)
        assert len(nodes_a) == 17  # eight API routers and nine of the pages
        assert all(x is y for x, y in zip(nodes_a, nodes_b, strict=True))

        with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
            a.auth, b.auth = RoleForRoute(apps[0]), RoleForRoute(apps[1])
            route = b.get("/api/v1/routes/MONOBLOC").json()
            answer = b.put("/api/v1/routes/ONLY-IN-B", json={**route, "code": "ONLY-IN-B"})
            assert answer.status_code == 200, answer.text
            codes_a = {r["code"] for r in a.get("/api/v1/routes").json()}
            codes_b = {r["code"] for r in b.get("/api/v1/routes").json()}
            assert "MONOBLOC" in codes_a
            assert codes_b - codes_a == {"ONLY-IN-B"}
            assert a.get("/api/v1/routes/ONLY-IN-B").status_code == 404
