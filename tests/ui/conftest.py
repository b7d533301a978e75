"""Browser tests of the pages: a real uvicorn on loopback over a fresh demo database, driven by
headless Chromium (Debian's ``chromium``) through Playwright's Python package.

The server runs on SQLite; a test marked ``ui_backends("sqlite", "postgres")`` runs once against
a server on each, the PostgreSQL one over a database cloned from the suite's PostgreSQL template
(skipped without a server, or failed with MES_REQUIRE_POSTGRES=1). A representative subset is
marked so (scan and interlock, verdict without reload, parts and manual checks, genealogy hold);
the whole suite on both would double its time.

Without Chromium or Playwright the browser tests are skipped and say why; with
MES_REQUIRE_BROWSER=1 (CI) that is a failure instead. Every page load records the URLs the
browser requested and its console errors: any request off loopback or any console error fails
the test.

Every page needs a signed-in user: ``operator_page`` is signed in at the tablet as the demo
operator (badge + PIN), ``qe_page`` as the demo quality engineer, both through the real sign-in
endpoint (POST /ui/login, which sets the session cookie); ``page`` is anonymous
(tests/ui/test_sign_in.py drives the sign-in form itself). The server's ``client`` calls the REST
API with the bearer token of a role each route allows, as an integration would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from tests.conftest import RoleForRoute, cloned_database

CHROMIUM = os.environ.get("MES_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("MES_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
LOOPBACK = {"127.0.0.1", "localhost"}
TABLET_LANDSCAPE = {"width": 1280, "height": 800}
TABLET_PORTRAIT = {"width": 800, "height": 1280}
# The demo users (app.services.demo.DEMO_USERS): published secrets, present in every test database.
OPERATOR = {"badge_id": "B1001", "pin": "1001"}
QUALITY_ENGINEER = {"username": "quality1", "password": "demo-quality"}
SUPERVISOR = {"username": "supervisor1", "password": "demo-supervisor"}


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; never `playwright install`)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def require_browser() -> None:
    problem = _browser_problem()
    if problem is None:
        return
    if REQUIRE_BROWSER:
        pytest.fail(f"MES_REQUIRE_BROWSER=1 but browser tests cannot run: {problem}")
    pytest.skip(f"browser tests skipped: {problem}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class UiServer:
    base: str
    app: Any
    loop: asyncio.AbstractEventLoop
    client: httpx.Client

    def publish(self, value: Any) -> None:
        """Publish a live value on the app's bus from the test thread (the bus lives on the server loop)."""
        self.loop.call_soon_threadsafe(self.app.state.live_bus.publish, value)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ui_backends(*names): run a browser test against a server on each database named (default sqlite)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every browser test names its backend; all tests of a module on one backend share one server."""
    if "ui_backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("ui_backends")
    metafunc.parametrize("ui_backend", marker.args if marker else ("sqlite",), indirect=True, scope="module")


@pytest.fixture(scope="module")
def ui_backend(request: pytest.FixtureRequest) -> str:
    """The database behind the module's server (see ``ui_backends``)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="module")
def ui_database_url(
    ui_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh copy of the demo database (schema by migrations, then the demo data) for one module."""
    require_browser()
    with cloned_database(ui_backend, request, tmp_path_factory.mktemp("ui-db")) as db:
        yield db.url


@pytest.fixture(scope="module")
def ui_server(ui_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """One server per test module (and backend) over its own copy of the demo database."""
    folder = tmp_path_factory.mktemp("ui")
    # no OPC UA supervisor: the tests publish live values on the app's bus themselves
    settings = Settings(database_url=ui_database_url, data_dir=folder, opcua={"enabled": False})  # type: ignore[call-arg]
    app = create_app(settings)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2, access_log=False
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60, auth=RoleForRoute(app)) as client:
        yield UiServer(base=base, app=app, loop=loop, client=client)
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser(ui_server: UiServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What the browser did: every requested URL and every console error or page error."""

    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def off_loopback(self) -> list[str]:
        return [
            u
            for u in self.urls
            if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).hostname not in LOOPBACK
        ]


@pytest.fixture
def watch() -> Watch:
    return Watch()


def new_page(browser: Any, watch: Watch, *, viewport: dict[str, int] = TABLET_LANDSCAPE) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.on("request", lambda request: watch.urls.append(request.url))
    page.on("console", lambda msg: watch.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    page.set_default_timeout(10_000)
    return page


def sign_in(page: Any, base: str, credentials: dict[str, str]) -> None:
    """Sign the page's browser context in through the real endpoint (the session cookie lands in the context)."""
    response = page.context.request.post(f"{base}/ui/login", data=credentials)
    assert response.ok, f"sign-in refused: {response.status} {response.text()}"
    assert any(c["name"] == "mes_session" for c in page.context.cookies(base))


def _checked(p: Any, watch: Watch) -> Iterator[Any]:
    yield p
    p.context.close()
    assert watch.off_loopback() == [], f"requests left localhost: {watch.off_loopback()}"
    assert watch.errors == [], f"console errors: {watch.errors}"


@pytest.fixture
def page(browser: Any, watch: Watch) -> Iterator[Any]:
    """An anonymous page at tablet landscape size; after the test: no console error, no request off loopback."""
    yield from _checked(new_page(browser, watch), watch)


@pytest.fixture
def operator_page(browser: Any, watch: Watch, ui_server: UiServer) -> Iterator[Any]:
    """A tablet page signed in as the demo operator (badge + PIN)."""
    p = new_page(browser, watch)
    sign_in(p, ui_server.base, OPERATOR)
    yield from _checked(p, watch)


@pytest.fixture
def qe_page(browser: Any, watch: Watch, ui_server: UiServer) -> Iterator[Any]:
    """A workbench page signed in as the demo quality engineer (user name + password)."""
    p = new_page(browser, watch)
    sign_in(p, ui_server.base, QUALITY_ENGINEER)
    yield from _checked(p, watch)


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot for reviewers under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
