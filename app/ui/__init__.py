"""The web pages of the MES: station tablets and the quality engineer's workbench.

Everything a page needs (templates, scripts, styles, Plotly's bundled JavaScript) is served by the
app itself; nothing is loaded from another host. ``install`` adds the UI to an app.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from app.api.shared_routes import include_router_shared
from app.opcua.live import LiveBus
from app.security.access import public
from app.ui import assets
from app.ui.dashboard import router as dashboard_router
from app.ui.events import router as events_router
from app.ui.genealogy import router as genealogy_router
from app.ui.login import router as login_router
from app.ui.nameplate_page import router as nameplate_router
from app.ui.spc_page import router as spc_router
from app.ui.spec_pages import router as specs_router
from app.ui.tablet import router as tablet_router
from app.ui.workbench import router as workbench_router

ROUTERS = (
    login_router,
    tablet_router,
    events_router,
    workbench_router,
    genealogy_router,
    spc_router,
    nameplate_router,
    dashboard_router,
    specs_router,
)


def install(app: FastAPI) -> None:
    """Mount the UI's routes and static files; give the app a live bus if the supervisor has none yet."""
    if getattr(app.state, "live_bus", None) is None:
        app.state.live_bus = LiveBus()
    assets.install(app)
    for router in ROUTERS:
        include_router_shared(app, router, prefix="/ui", include_in_schema=False)

    @app.get("/", include_in_schema=False, dependencies=[public("a redirect to the pages")])
    async def home() -> RedirectResponse:
        return RedirectResponse("/ui/")
