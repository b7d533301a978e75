"""Signing in and out in Chromium: the sign-in page (badge + PIN at a tablet, user name + password
on the workbench), the lockout, the readable refusal of a page the role may not see, the end of a
session at sign-out, and the CSRF check on every change a page sends (those marked BOTH also
against a server on PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import auth_headers
from tests.ui.conftest import OPERATOR, QUALITY_ENGINEER, UiServer, Watch, screenshot

pytestmark = pytest.mark.browser
BOTH = pytest.mark.ui_backends("sqlite", "postgres")
GENEALOGY = "/ui/genealogy?identifier=CB-NONE&kind=coil_batch"

REFUSED = (
    "user name and password, or badge and PIN, not accepted; after 5 failed attempts in a row an account is "
    "locked for 15 minutes: ask a supervisor or admin to unlock it"
)


def refused_loads(watch: Watch, status: int) -> int:
    """Drop (and count) the browser's own log line for each load answered with ``status``: the page shows why."""
    refused = [e for e in watch.errors if f"status of {status}" in e]
    watch.errors[:] = [e for e in watch.errors if e not in refused]
    return len(refused)


def session_cookie(page: Any, base: str) -> str:
    return next(c["value"] for c in page.context.cookies(base) if c["name"] == "mes_session")


def badge_sign_in(page: Any, badge: str, pin: str) -> None:
    """As a badge reader does it: the badge id and Enter, then the PIN typed and Enter."""
    page.fill("#badge", badge)
    page.press("#badge", "Enter")
    assert page.evaluate("document.activeElement.id") == "pin"  # Enter moved on, sent nothing
    page.keyboard.type(pin)
    page.keyboard.press("Enter")


def refused_sign_in(page: Any, badge: str, pin: str) -> str:
    """A badge sign-in the server refuses: the reason the page shows."""
    page.evaluate("document.getElementById('login-error').textContent = ''")
    badge_sign_in(page, badge, pin)
    page.wait_for_function(
        "() => { const e = document.getElementById('login-error'); return !e.hidden && e.textContent; }"
    )
    assert page.input_value("#pin") == ""
    return str(page.locator("#login-error").inner_text())


def test_an_anonymous_page_is_sent_to_sign_in_and_back_to_the_page(page: Any, ui_server: UiServer) -> None:
    page.goto(f"{ui_server.base}{GENEALOGY}")
    page.wait_for_url("**/ui/login?next=*")
    assert page.url.endswith("/ui/login?next=" + quote(GENEALOGY, safe=""))
    assert page.locator("nav.top").count() == 0 and page.locator("#who").count() == 0
    page.fill("#username", QUALITY_ENGINEER["username"])
    page.fill("#password", QUALITY_ENGINEER["password"])
    page.click('#password-form button[type="submit"]')
    page.wait_for_url(f"{ui_server.base}{GENEALOGY}")
    assert page.locator("main .error").inner_text() == "No unit has consumed CB-NONE."
    assert page.locator("nav.top #who").inner_text() == "quality1 (quality_engineer)"
    assert page.locator("nav.top #logout-form button").inner_text() == "Sign out"
    nav = page.locator("nav.top a:not(.brand)").all_inner_texts()  # the pages this role may open
    assert nav == ["Search", "Genealogy", "Dashboard", "SPC", "Spec revisions"]


def test_a_sign_in_never_leads_off_the_site(page: Any, ui_server: UiServer) -> None:
    page.goto(f"{ui_server.base}/ui/login?next={quote('https://example.com/ui/', safe='')}")
    page.fill("#username", QUALITY_ENGINEER["username"])
    page.fill("#password", QUALITY_ENGINEER["password"])
    page.click('#password-form button[type="submit"]')
    page.wait_for_url(f"{ui_server.base}/ui/")  # the workbench's home, not the named site


@BOTH
def test_badge_and_pin_sign_in_lands_on_the_tablet_as_that_operator(page: Any, ui_server: UiServer) -> None:
    page.goto(f"{ui_server.base}/ui/login")
    assert page.evaluate("document.activeElement.id") == "badge"  # ready for the badge reader
    screenshot(page, "sign-in-1280x800")
    page.fill("#pin", "0000")  # left over from someone else: the badge's Enter must not send it
    page.fill("#badge", OPERATOR["badge_id"])
    page.press("#badge", "Enter")
    assert page.input_value("#pin") == "" and page.evaluate("document.activeElement.id") == "pin"
    badge_sign_in(page, OPERATOR["badge_id"], OPERATOR["pin"])
    page.wait_for_url(f"{ui_server.base}/ui/tablet")
    assert page.locator("#who").inner_text() == "Olga Operator · operator1"
    assert page.locator("#logout-form button").is_visible()
    assert page.locator("#operator").count() == 0  # nobody types an operator name any more
    cookie = next(c for c in page.context.cookies(ui_server.base) if c["name"] == "mes_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_a_wrong_pin_is_refused_with_the_reason_and_the_right_one_then_signs_in(
    page: Any, ui_server: UiServer, watch: Watch
) -> None:
    page.goto(f"{ui_server.base}/ui/login")
    badge_sign_in(page, OPERATOR["badge_id"], "9999")
    error = page.locator("#login-error")
    error.wait_for()
    assert error.inner_text() == REFUSED
    assert page.input_value("#pin") == "" and page.url.endswith("/ui/login")
    assert not any(c["name"] == "mes_session" for c in page.context.cookies(ui_server.base))
    screenshot(page, "sign-in-refused-1280x800")
    badge_sign_in(page, OPERATOR["badge_id"], OPERATOR["pin"])
    page.wait_for_url(f"{ui_server.base}/ui/tablet")
    assert refused_loads(watch, 401) == 1


@BOTH
def test_five_wrong_pins_lock_the_badge_and_the_right_pin_is_then_refused(
    page: Any, ui_server: UiServer, watch: Watch
) -> None:
    admin = auth_headers("admin")
    badge = {"badge_id": "B2001", "pin": "2001"}
    user = {"username": "op-lock", "display_name": "Lock Test", "role": "operator", **badge}
    created = ui_server.client.post("/api/v1/users", json=user, headers=admin)
    assert created.status_code == 201, created.text
    page.goto(f"{ui_server.base}/ui/login")
    answers = [refused_sign_in(page, badge["badge_id"], f"999{n}") for n in range(5)]
    # one answer for every refusal: nothing tells a prober which badge exists or which account locked
    assert answers == [REFUSED] * 5
    screenshot(page, "sign-in-locked-1280x800")
    locked = refused_sign_in(page, badge["badge_id"], badge["pin"])  # the right PIN, too late
    assert locked == REFUSED
    assert page.url.endswith("/ui/login")
    assert not any(c["name"] == "mes_session" for c in page.context.cookies(ui_server.base))
    users = ui_server.client.get("/api/v1/users", headers=admin).json()
    assert next(u for u in users if u["username"] == "op-lock")["locked_until"] is not None
    assert refused_loads(watch, 401) == 6


def test_an_operator_opening_a_quality_page_sees_a_page_naming_the_role_and_who_may(
    operator_page: Any, ui_server: UiServer, watch: Watch
) -> None:
    page = operator_page
    response = page.goto(f"{ui_server.base}/ui/specs")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "Not allowed for your role"
    message = page.locator("#error-message").inner_text()
    assert "operator1 is signed in as operator, which may not GET /ui/specs" in message
    assert (
        page.locator("#allowed-roles").inner_text().startswith("This page is for: admin, quality engineer, supervisor.")
    )
    assert page.locator("nav.top #who").inner_text() == "operator1 (operator)"  # and Sign out works from here
    assert page.locator("nav.top a:not(.brand)").all_inner_texts() == ["Station tablet"]
    screenshot(page, "forbidden-1280x800")
    refused_loads(watch, 403)
    # the same refusal asked for by a script (not text/html) stays problem details
    problem = page.request.get(f"{ui_server.base}/ui/specs", headers={"Accept": "application/json"})
    assert problem.status == 403 and problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["role"] == "operator" and "quality_engineer" in problem.json()["allowed_roles"]
    page.click("nav.top #logout-form button")
    page.wait_for_url("**/ui/login")


def still_signed_in(base: str, cookie: str, path: str) -> int:
    """The status a request carrying this session cookie gets (a page: 200, or 303 to the sign-in)."""
    headers = {"Cookie": f"mes_session={cookie}", "Accept": "text/html"}
    return httpx.get(f"{base}{path}", headers=headers, follow_redirects=False).status_code


@BOTH
def test_signing_out_at_the_tablet_ends_the_session(operator_page: Any, ui_server: UiServer) -> None:
    page = operator_page
    page.goto(f"{ui_server.base}/ui/tablet")
    cookie = session_cookie(page, ui_server.base)
    assert still_signed_in(ui_server.base, cookie, "/ui/tablet") == 200
    page.click("#logout-form button")
    page.wait_for_url(f"{ui_server.base}/ui/login")
    assert not any(c["name"] == "mes_session" for c in page.context.cookies(ui_server.base))
    assert still_signed_in(ui_server.base, cookie, "/ui/tablet") == 303  # revoked, not only forgotten
    page.goto(f"{ui_server.base}/ui/tablet")
    page.wait_for_url("**/ui/login?next=%2Fui%2Ftablet")


def test_signing_out_from_the_workbench_nav_ends_the_session(qe_page: Any, ui_server: UiServer) -> None:
    page = qe_page
    page.goto(f"{ui_server.base}/ui/dashboard")
    cookie = session_cookie(page, ui_server.base)
    page.click("nav.top #logout-form button")
    page.wait_for_url(f"{ui_server.base}/ui/login")
    assert still_signed_in(ui_server.base, cookie, "/ui/dashboard") == 303


@BOTH
def test_a_change_sent_without_the_csrf_token_is_refused_while_the_page_action_works(
    operator_page: Any, ui_server: UiServer, watch: Watch
) -> None:
    page = operator_page
    serial = "HP26-0000401"
    page.goto(f"{ui_server.base}/ui/tablet")
    page.select_option("#station", "CEX-01")
    page.fill("#serial", serial)
    page.press("#serial", "Enter")
    page.wait_for_selector("#may-start")
    start = f"{ui_server.base}/ui/tablet/CEX-01/start"
    # the browser's cookie alone, no X-CSRF-Token: what a forged cross-site request would carry
    forged = page.request.post(start, data={"serial": serial})
    assert forged.status == 403 and "CSRF" in forged.json()["detail"]
    unwrapped = page.evaluate(
        """async (url) => {
            const xhr = new XMLHttpRequest();  // not the fetch csrf.js wraps
            xhr.open("POST", url); xhr.setRequestHeader("Content-Type", "application/json");
            await new Promise((done) => { xhr.onloadend = done; xhr.send(JSON.stringify({serial: "HP26-0000401"})); });
            return xhr.status;
        }""",
        start,
    )
    assert unwrapped == 403
    logout = page.request.post(f"{ui_server.base}/ui/logout", max_redirects=0)  # a form post without the token
    assert logout.status == 403
    assert ui_server.client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"] == []
    page.click("#start-btn")  # the page's own request carries the token
    page.wait_for_selector("#running")
    assert "operator1" in page.locator("#running").inner_text()
    assert still_signed_in(ui_server.base, session_cookie(page, ui_server.base), "/ui/tablet") == 200
    refused_loads(watch, 403)


def scan_at_tablet(page: Any, base: str, *, station: str, serial: str) -> None:
    """Open the tablet at a station and scan a serial; returns once the unit shows and its event stream is open."""
    page.goto(f"{base}/ui/tablet")
    page.select_option("#station", station)
    page.fill("#serial", serial)
    with page.expect_response(lambda r: "/events?" in r.url and r.status == 200):
        page.press("#serial", "Enter")
    page.wait_for_selector(f'.unit[data-serial="{serial}"]')


def end_session_elsewhere(page: Any, base: str) -> str:
    """Sign the page's session out from another window (its cookie and CSRF token); the session's cookie."""
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    cookie = session_cookie(page, base)
    ended = httpx.post(f"{base}/ui/logout", headers={"Cookie": f"mes_session={cookie}", "X-CSRF-Token": csrf})
    assert ended.status_code == 303
    return cookie


def test_a_tablet_whose_session_was_ended_elsewhere_goes_back_to_sign_in(
    operator_page: Any, ui_server: UiServer
) -> None:
    page = operator_page
    scan_at_tablet(page, ui_server.base, station="CEX-01", serial="HP26-0000402")
    cookie = end_session_elsewhere(page, ui_server.base)
    assert session_cookie(page, ui_server.base) == cookie  # the tablet still holds it
    page.fill("#serial", "HP26-0000403")
    page.press("#serial", "Enter")
    page.wait_for_url(f"{ui_server.base}/ui/login?next=%2Fui%2Ftablet&reason=session_ended")
    badge_sign_in(page, OPERATOR["badge_id"], OPERATOR["pin"])
    page.wait_for_url(f"{ui_server.base}/ui/tablet")
    assert page.input_value("#station") == "CEX-01" and page.input_value("#serial") == "HP26-0000403"  # kept
    page.wait_for_selector('.unit[data-serial="HP26-0000403"]')  # and the scan goes through once signed in


def test_an_open_tablet_goes_to_sign_in_by_itself_when_its_session_is_ended_elsewhere(
    operator_page: Any, ui_server: UiServer
) -> None:
    """The tablet's event stream checks the session at every poll: no scan or click is needed."""
    page = operator_page
    scan_at_tablet(page, ui_server.base, station="CEX-01", serial="HP26-0000404")
    end_session_elsewhere(page, ui_server.base)
    # well before the stream's own 50 s end and the browser's reconnect
    page.wait_for_url(f"{ui_server.base}/ui/login?next=%2Fui%2Ftablet&reason=session_ended", timeout=10_000)


def test_without_the_script_the_sign_in_form_posts_and_no_pin_or_password_lands_in_a_url(
    browser: Any, ui_server: UiServer
) -> None:
    """With JavaScript off (or login.js not loaded yet) the browser posts the form itself."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(f"{ui_server.base}/ui/login?next=%2Fui%2Ftablet")
    page.fill("#badge", OPERATOR["badge_id"])
    page.fill("#pin", OPERATOR["pin"])
    page.click('#badge-form button[type="submit"]')
    page.wait_for_url(f"{ui_server.base}/ui/tablet")
    assert page.locator("#who").inner_text() == "Olga Operator · operator1"
    page.goto(f"{ui_server.base}/ui/login?next=%2Fui%2Fdashboard")
    page.fill("#username", QUALITY_ENGINEER["username"])
    page.fill("#password", "wrong-password-1")
    page.click('#password-form button[type="submit"]')
    page.wait_for_selector("#login-error")
    assert page.locator("#login-error").inner_text() == REFUSED  # the page again, with the reason
    page.fill("#username", QUALITY_ENGINEER["username"])
    page.fill("#password", QUALITY_ENGINEER["password"])
    page.click('#password-form button[type="submit"]')
    page.wait_for_url(f"{ui_server.base}/ui/dashboard")
    context.close()
    secrets = (f"pin={OPERATOR['pin']}", "password=", QUALITY_ENGINEER["password"], "wrong-password-1")
    assert [u for u in urls if any(s in u for s in secrets)] == []


@contextmanager
def another_site() -> Iterator[str]:
    """A plain page on another site: http://localhost:<port>/ (for the browser, localhost is not 127.0.0.1)."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            # an icon of its own: Chromium asks for /favicon.ico late, and once this server has stopped
            # that request was reset and failed the page's no-console-error check now and then
            body = b'<!doctype html><title>elsewhere</title><link rel="icon" href="data:,">'
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_sites_page_cannot_lock_an_account_with_wrong_passwords(
    page: Any, ui_server: UiServer, watch: Watch
) -> None:
    """A script on another site posts wrong passwords as a type-less Blob (no Content-Type: a no-cors
    fetch the browser sends without asking): each is refused before it is checked, none is counted."""
    account = {"username": "xsite-lock", "password": "correct-horse-xsite"}
    user = {**account, "display_name": "Cross-site Lock Test", "role": "quality_engineer"}
    admin = auth_headers("admin")
    assert ui_server.client.post("/api/v1/users", json=user, headers=admin).status_code == 201
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if r.url.endswith("/ui/login") else None)
    with another_site() as elsewhere:
        page.goto(elsewhere)
        page.evaluate(
            """async (url) => {
                for (let i = 0; i < 5; i++) {
                    const guess = JSON.stringify({username: "xsite-lock", password: "wrong-guess-" + i});
                    await fetch(url, {method: "POST", mode: "no-cors", body: new Blob([guess])});
                }
            }""",
            f"{ui_server.base}/ui/login",
        )
    assert answers == [403] * 5  # refused as sent from elsewhere, not as wrong passwords (401)
    users = ui_server.client.get("/api/v1/users", headers=admin).json()
    assert next(u for u in users if u["username"] == "xsite-lock")["locked_until"] is None
    signed_in = ui_server.client.post("/ui/login", json=account, auth=None)  # the owner, not from a page
    assert signed_in.status_code == 200 and signed_in.json() == {"next": "/ui/"}
    refused_loads(watch, 403)
