"""The UI's routes without a browser (SQLite and PostgreSQL): errors a page must explain, the
transaction pattern of its write routes, and what the dashboard shows of a running supervisor."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from tests.api.driver import MONOBLOC, Line
from tests.conftest import auth_headers


def test_an_unknown_serial_gets_a_page_that_says_so(client: Any) -> None:
    r = client.get("/ui/units/HP26-9999999")
    assert r.status_code == 404
    assert "has not been released by any work order" in r.text
    panel = client.get("/ui/tablet/CEX-01/panel", params={"serial": "not-a-serial"})
    assert panel.status_code == 200 and 'data-problem="invalid-input"' in panel.text


def test_a_refused_start_from_the_tablet_is_a_409_with_the_reason_and_writes_nothing(client: Any) -> None:
    r = client.post("/ui/tablet/VAC-01/start", json={"serial": "HP26-0000301"})
    assert r.status_code == 409
    assert "has not passed coil expansion" in r.json()["detail"]
    assert client.get("/api/v1/units/HP26-0000301/birth-record").json()["attempts"] == []


def test_a_start_from_the_tablet_records_the_signed_in_user_who_cannot_name_another(client: Any) -> None:
    operator = auth_headers("operator")
    named = client.post(
        "/ui/tablet/CEX-01/start", json={"serial": "HP26-0000302", "operator": "OP-7"}, headers=operator
    )
    assert named.status_code == 422 and "operator: is not a field of this request" in named.json()["detail"]
    r = client.post("/ui/tablet/CEX-01/start", json={"serial": "HP26-0000302"}, headers=operator)
    assert r.status_code == 200, r.text
    attempt = client.get("/api/v1/units/HP26-0000302/birth-record").json()["attempts"][0]
    assert attempt["started_by"] == "operator1" and attempt["status"] == "open"


def test_hold_all_for_an_unknown_lot_says_no_unit_consumed_it(client: Any) -> None:
    r = client.post("/ui/genealogy/hold", json={"identifier": "CYL-NONE", "reason": "audit finding"})
    assert r.status_code == 404 and "no unit has consumed CYL-NONE" in r.json()["detail"]


def test_the_nameplate_of_a_unit_without_a_passed_charge_is_refused_with_the_reason(client: Any) -> None:
    r = client.get("/ui/units/HP26-0000303/nameplate")
    assert r.status_code == 409 and "no passed charge yet" in r.text


def test_the_dashboard_shows_the_supervisors_station_links(client: Any) -> None:
    from app.opcua.status import StatusBoard

    board = StatusBoard()
    board.register(station_id="VAC-01", station_type="vacuum_dehydration", endpoint_url="opc.tcp://127.0.0.1:4840")
    board.set_link(station_id="VAC-01", link="connected")
    client.app.state.supervisor = SimpleNamespace(board=board)
    Line(client).run("coil_expansion", "HP26-0000304")
    r = client.get("/ui/dashboard")
    assert r.status_code == 200
    assert "connected" in r.text and "not supervised" in r.text  # VAC-01 linked; others not in the board
    assert '"started": [' in r.text


def test_the_dashboard_says_when_a_connected_stations_link_keeps_dropping(client: Any) -> None:
    """A PLC that falls silent is reconnected again and again and shown "connected" most of the time: from
    three losses in the window the station's link cell says how often and why, and stands out."""
    from app.opcua.status import StatusBoard

    board = StatusBoard()
    for station_id, losses in (("VAC-01", 5), ("CHG-01", 2), ("CEX-01", 0)):
        board.register(station_id=station_id, station_type="any", endpoint_url="opc.tcp://127.0.0.1:4840")
        for _ in range(losses):
            board.set_link(station_id=station_id, link="connected")
            board.record_loss(station_id=station_id, reason="no data from the PLC for 4 s")
            board.set_link(station_id=station_id, link="disconnected", problem="LinkLost: no publish response")
        board.set_link(station_id=station_id, link="connected")
    client.app.state.supervisor = SimpleNamespace(board=board)
    page = client.get("/ui/dashboard")
    assert page.status_code == 200, page.text
    rows = [re.findall(r"<td([^>]*)>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", page.text, re.S)]
    # the link column, without "(since …)": its attributes (how it stands out) and its words
    links = {cells[0][1]: (cells[5][0], cells[5][1].split(" (since ")[0]) for cells in rows if cells}
    assert links["VAC-01"] == (
        ' class="error link-unstable"',
        "connected — link lost 5 times in the last 10 min (last: no data from the PLC for 4 s)",
    )
    assert links["CHG-01"] == ("", "connected")  # twice is not yet "keeps dropping"
    assert links["CEX-01"] == ("", "connected")


def test_the_dashboard_names_station_types_and_machine_states_in_words(client: Any) -> None:
    """The Type and Machine state columns read as the plant says them, not as codes and numbers; a state
    outside the contract's four shows the number the PLC wrote."""
    from app.opcua.status import StatusBoard

    board = StatusBoard()
    for station_id, state in (("CEX-01", 3), ("BRZ-01", 2), ("VAC-01", 1), ("CHG-01", 0), ("LKT-01", 7)):
        board.register(station_id=station_id, station_type="any", endpoint_url="opc.tcp://127.0.0.1:4840")
        board.set_link(station_id=station_id, link="connected")
        board.update(station_id=station_id, state=state)
    board.register(station_id="RUN-01", station_type="run_in", endpoint_url="opc.tcp://127.0.0.1:4840")
    client.app.state.supervisor = SimpleNamespace(board=board)
    page = client.get("/ui/dashboard")
    assert page.status_code == 200, page.text
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", page.text, re.S)]
    shown = {cells[0]: (cells[1], cells[6]) for cells in rows if cells}
    assert shown["CEX-01"] == ("Coil expansion and fin stamping", "executing")
    assert shown["BRZ-01"] == ("Furnace brazing", "idle")
    assert shown["VAC-01"] == ("Vacuum dehydration", "out of service")
    assert shown["CHG-01"] == ("Refrigerant charging", "not available")
    assert shown["LKT-01"] == ("Tracer-gas leak test", "unknown state 7 (not in the contract)")
    assert shown["RUN-01"] == ("Run-in in the climate chamber", "—")  # connected, no State read yet
    assert shown["REP-01"] == ("Repair bench", "—")  # no PLC


def test_first_pass_yield_counts_only_a_units_first_attempt_and_a_retest_is_not_a_pass(client: Any) -> None:
    """Three units charged: one PASS at once, one RETEST then PASS, one FAIL then PASS after repair
    and a new evacuation. First-pass yield at the charging station is 1 of 3; the vacuum station
    passed each unit at its first attempt (the repeat after repair is no first attempt)."""
    line = Line(client)
    serials = ["HP26-0000401", "HP26-0000402", "HP26-0000403"]
    for serial in serials:
        for station_type in MONOBLOC[:4]:
            line.run(station_type, serial)
    line.run("charging", serials[0], overrides={"ChargedMass_g": 140.0})
    line.run("charging", serials[1], expect="RETEST", overrides={"ChargedMass_g": 141.8})
    line.run("charging", serials[1], overrides={"ChargedMass_g": 141.4}, seed=99)
    line.run("charging", serials[2], expect="FAIL", overrides={"ChargedMass_g": 143.0})
    assert line.start("repair", serials[2]).status_code == 201
    assert line.complete("repair", serials[2], overrides={"RecoveredMass_g": 143.0}).status_code == 200
    line.run("vacuum_dehydration", serials[2], seed=50)
    line.run("charging", serials[2], overrides={"ChargedMass_g": 140.2}, seed=98)

    page = client.get("/ui/dashboard")
    assert page.status_code == 200, page.text
    table = re.findall(r"<tr>(.*?)</tr>", page.text, re.S)
    rows = {cells[0]: cells[2] for cells in (re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in table) if cells}
    assert rows["CHG-01"] == "33.3 % (1/3)"
    assert rows["VAC-01"] == "100.0 % (3/3)"


def _verdict_box(panel_html: str) -> tuple[str, str]:
    """The tablet panel's verdict box: its CSS class (the colour the operator sees) and its big word."""
    found = re.search(r'<div class="(verdict verdict-[A-Z]+)" id="verdict".*?"verdict-word">(\w+)<', panel_html, re.S)
    assert found is not None, panel_html
    return found.group(1), found.group(2)


def test_the_tablet_colours_the_verdict_that_counts_the_latest_override_over_the_engines(client: Any) -> None:
    line = Line(client)
    serial = "HP26-0000405"
    for station_type in MONOBLOC[:4]:
        line.run(station_type, serial)
    failed = line.run("charging", serial, "FAIL", overrides={"ChargedMass_g": 143.0})["attempt"]
    panel = client.get("/ui/tablet/CHG-01/panel", params={"serial": serial})
    assert panel.status_code == 200 and _verdict_box(panel.text) == ("verdict verdict-FAIL", "FAIL")

    override = {"verdict": "PASS", "reason": "concession per deviation D-17", "signature": {"secret": "demo-quality"}}
    assert client.post(f"/api/v1/attempts/{failed['id']}/override", json=override).status_code == 201
    panel = client.get("/ui/tablet/CHG-01/panel", params={"serial": serial})
    assert _verdict_box(panel.text) == ("verdict verdict-PASS", "PASS")
    assert 'data-engine-verdict="FAIL"' in panel.text

    withdrawn = {"verdict": "FAIL", "reason": "D-17 withdrawn by the customer", "signature": {"secret": "demo-quality"}}
    assert client.post(f"/api/v1/attempts/{failed['id']}/override", json=withdrawn).status_code == 201
    panel = client.get("/ui/tablet/CHG-01/panel", params={"serial": serial})
    assert _verdict_box(panel.text) == ("verdict verdict-FAIL", "FAIL")  # the latest override counts
    assert "D-17 withdrawn by the customer" in panel.text and "concession per deviation" not in panel.text


def test_every_page_script_and_style_is_served_by_the_app(client: Any) -> None:
    for path in ("/ui/static/ui.css", "/ui/static/tablet.js", "/ui/static/plots.js", "/ui/vendor/plotly.min.js"):
        r = client.get(path)
        assert r.status_code == 200 and len(r.content) > 500, path
    assert "plotly" in client.get("/ui/vendor/plotly.min.js").text[:2000].lower()


def test_a_part_scanned_on_the_tablet_is_recorded_or_refused_with_the_reason(client: Any) -> None:
    serial = "HP26-0000305"
    line = Line(client)
    line.run("coil_expansion", serial)
    line.run("brazing", serial)
    part = {"kind": "compressor", "identifier": "C-P-0305", "model": "RSC-19-EVI"}
    body = {"serial": serial, "parts": [part]}
    r = client.post("/ui/tablet/SBA-01/parts", json=body)
    assert r.status_code == 409 and r.json()["title"] == "No open operation to complete", r.text
    assert line.start("sub_base_assembly", serial).status_code == 201
    wrong = client.post("/ui/tablet/SBA-01/parts", json={**body, "parts": [{**part, "model": "RSC-30"}]})
    assert wrong.status_code == 409 and "WRONG PART" in wrong.json()["detail"]
    r = client.post("/ui/tablet/SBA-01/parts", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] == [part] and "compressor C-P-0305 (RSC-19-EVI) recorded" in r.json()["message"]
    assert client.post("/ui/tablet/VAC-01/parts", json=body).status_code == 422
    assert client.post("/ui/tablet/SBA-01/parts", json={**body, "parts": []}).status_code == 422
    panel = client.get("/ui/tablet/SBA-01/panel", params={"serial": serial}).text
    assert 'data-identifier="C-P-0305"' in panel and 'id="parts-form"' in panel
    components = client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"][-1]["components"]
    assert [c["identifier"] for c in components] == ["C-P-0305"]


def test_a_manual_check_from_the_tablet_lands_on_the_latest_attempt_and_in_the_birth_record(client: Any) -> None:
    serial = "HP26-0000306"
    check = {"serial": serial, "name": "label_check", "verdict": "PASS", "message": "label legible"}
    operator = auth_headers("operator")
    r = client.post("/ui/tablet/CEX-01/manual-check", json=check, headers=operator)
    assert r.status_code == 409 and "no operation at CEX-01" in r.json()["detail"]
    line = Line(client)
    line.run("coil_expansion", serial)
    assert line.start("brazing", serial).status_code == 201
    r = client.post("/ui/tablet/CEX-01/manual-check", json=check, headers=operator)
    assert r.status_code == 200, r.text
    attempts = client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"]
    assert r.json()["attempt_id"] == attempts[0]["id"] and attempts[0]["station_id"] == "CEX-01"
    assert client.post("/ui/tablet/CEX-01/manual-check", json={**check, "verdict": "RETEST"}).status_code == 422
    r = client.post(
        "/ui/tablet/BRZ-01/manual-check",
        json={**check, "verdict": "FAIL", "name": "joint_look", "message": "joint sooty"},
    )
    assert r.status_code == 200 and r.json()["attempt_id"] == attempts[1]["id"]  # the open one at BRZ-01
    assert line.unit(serial)["status"] == "on_hold"
    page = client.get(f"/ui/units/{serial}").text
    assert page.count('class="manual-checks"') == 2 and "joint sooty" in page and "operator1" in page
    csv = client.get(f"/ui/units/{serial}/birth-record.csv").text
    assert "manual_check,label_check,,,,,,,PASS,manual by operator1,label legible" in csv
    panel = client.get("/ui/tablet/BRZ-01/panel", params={"serial": serial}).text
    assert "mc-FAIL" in panel and "joint sooty" in panel and "label legible" not in panel  # this station's only


PAGE = {"Accept": "text/html,application/xhtml+xml"}  # what a browser asks for when it opens a page


def test_the_sign_in_forms_post_and_a_form_posted_without_the_script_signs_in(client: Any) -> None:
    login = client.get("/ui/login", auth=None).text
    assert login.count('method="post" action="/ui/login"') == 2  # never a GET with the PIN in the URL
    badge = {"badge_id": "B1001", "pin": "1001", "username": "", "password": "", "next": "/ui/tablet"}
    r = client.post("/ui/login", data=badge, auth=None, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/tablet"
    assert "mes_session=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    assert "1001" not in r.headers["location"]
    password = {"username": "quality1", "password": "demo-quality", "next": "/ui/dashboard"}
    r = client.post("/ui/login", data=password, auth=None, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/dashboard"
    # a refusal is the sign-in page again, with the reason; no session, nothing in a URL
    wrong = client.post("/ui/login", data={**badge, "pin": "9999"}, auth=None, follow_redirects=False)
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    assert 'id="login-error"' in wrong.text and "not accepted" in wrong.text and "9999" not in wrong.text
    assert 'name="next" value="/ui/tablet"' in wrong.text
    empty = client.post("/ui/login", data={"badge_id": "B1001", "pin": ""}, auth=None, follow_redirects=False)
    assert empty.status_code == 422 and "scan your badge and enter your PIN" in empty.text
    # a form on another site may not sign this browser in as someone else
    forged = client.post(
        "/ui/login", data=badge, auth=None, follow_redirects=False, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    other = client.post(
        "/ui/login", data=badge, auth=None, follow_redirects=False, headers={"Origin": "https://evil.example"}
    )
    assert other.status_code == 403 and "set-cookie" not in other.headers
    # the script's JSON sign-in is answered as before, from this site's page or from a client that is no browser
    scripted_badge = {"badge_id": "B1001", "pin": "1001"}
    r = client.post("/ui/login", json=scripted_badge, auth=None)
    assert r.status_code == 200 and r.json() == {"next": "/ui/tablet"}
    own = client.post("/ui/login", json=scripted_badge, auth=None, headers={"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 200 and "set-cookie" in own.headers
    # and refused from another site's script, whatever its body, before anything is checked or counted
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        scripted = client.post("/ui/login", json=scripted_badge, auth=None, headers=headers)
        assert scripted.status_code == 403 and "set-cookie" not in scripted.headers
        assert (
            scripted.json()["detail"] == "This sign-in did not come from this site's sign-in page: sign in here again."
        )
    assert client.post("/ui/login", json={"badge_id": "B1001", "pin": "1001", "x": 1}, auth=None).status_code == 422
    plain = client.post(
        "/ui/login", content='{"badge_id": "B1001", "pin": "1001"}', headers={"Content-Type": "text/plain"}, auth=None
    )
    assert plain.status_code == 422 and "set-cookie" not in plain.headers


def test_the_sign_in_page_says_why_a_session_ended(client: Any) -> None:
    page = client.get("/ui/login", params={"next": "/ui/tablet", "reason": "session_ended"}, auth=None).text
    assert 'id="login-notice"' in page and "Your session ended" in page and "sign in again" in page
    made_up = client.get("/ui/login", params={"reason": "<b>call 555</b>"}, auth=None).text
    assert 'id="login-notice"' not in made_up and "call 555" not in made_up  # only the page's own words


def test_a_revision_id_too_large_for_the_database_is_refused_not_a_server_error(client: Any) -> None:
    huge = "99999999999999999999"
    view = client.get(f"/ui/specs/{huge}", headers=PAGE)
    assert view.status_code == 422 and "The revision must be at most 2147483647" in view.text
    compare = client.get("/ui/specs/compare", params={"a": "1", "b": huge}, headers=PAGE)
    assert compare.status_code == 422 and "The second revision must be at most" in compare.text
    draft = {"station_type": "charging", "product_model": "HPM-06-R290-EVI", "overrides": {}, "based_on": int(huge)}
    refused = client.post("/ui/specs/draft", json=draft)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "based_on"
    approve = client.post(f"/ui/specs/{huge}/approve", json={"reason": "ok for use", "secret": "x"})
    assert approve.status_code == 422


def test_a_page_address_a_form_left_empty_shows_the_page_or_says_what_is_wrong(client: Any) -> None:
    spc = client.get("/ui/spc", params={"n": ""}, headers=PAGE)
    assert spc.status_code == 200 and 'name="n" type="number" min="25" max="500" value="100"' in spc.text
    dashboard = client.get("/ui/dashboard", params={"hours": "", "until": ""}, headers=PAGE)
    assert dashboard.status_code == 200 and 'name="hours" type="number" min="1" max="168" value="24"' in dashboard.text
    words = client.get("/ui/spc", params={"n": "many"}, headers=PAGE)
    assert words.status_code == 422 and words.headers["content-type"].startswith("text/html")
    assert "Last units must be a whole number." in words.text and 'href="/ui/spc"' in words.text
    missing = client.get("/ui/specs/compare", params={"a": "1"}, headers=PAGE)
    assert missing.status_code == 422 and "The second revision is missing: fill it in." in missing.text
    assert '"type":' not in missing.text  # a page, not the problem details as raw text
    # a script asking for the same address keeps the problem details
    script = client.get("/ui/specs/compare", params={"a": "1"})
    assert script.status_code == 422 and script.headers["content-type"] == "application/problem+json"


def test_a_serial_typed_in_lower_case_finds_the_unit(client: Any) -> None:
    r = client.get("/ui/", params={"q": " hp26-0000010 "}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/units/HP26-0000010"
