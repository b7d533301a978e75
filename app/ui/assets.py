"""Static files of the UI and Plotly's bundled JavaScript, served from the installed package."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from app.security.access import public

STATIC_DIR = Path(__file__).parent / "static"
CACHE = "public, max-age=86400"


@cache
def plotly_js_path() -> Path | None:
    """plotly.min.js from the ``plotly`` package's package_data folder (None when it is not installed)."""
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def install(app: FastAPI) -> None:
    """Serve /ui/static/* from the package and /ui/vendor/plotly.min.js from the plotly package."""
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")

    @app.get("/ui/vendor/plotly.min.js", include_in_schema=False, dependencies=[public("a static script (Plotly)")])
    async def plotly_js() -> Response:
        path = plotly_js_path()
        if path is None:
            return PlainTextResponse(
                "console.warn('plots unavailable: the plotly package is not installed');",
                media_type="text/javascript",
            )
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": CACHE})
