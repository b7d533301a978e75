"""The UI's routes without a browser (SQLite and PostgreSQL): errors a page must explain, the
transaction pattern of its write routes, and what the dashboard shows of a running supervisor."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.api.driver import Line


def test_an_unknown_serial_gets_a_page_that_says_so(client: Any) -> None:
    r = client.get("/ui/units/HP26-9999999")
    assert r.status_code == 404
    assert "has not been released by any work order" in r.text
    panel = client.get("/ui/tablet/CEX-01/panel", params={"serial": "not-a-serial"})
    assert panel.status_code == 200 and 'data-problem="invalid-input"' in panel.text


def test_a_refused_start_from_the_tablet_is_a_409_with_the_reason_and_writes_nothing(client: Any) -> None:
    r = client.post("/ui/tablet/VAC-01/start", json={"serial": "HP26-0000301", "operator": "OP-1"})
    assert r.status_code == 409
    assert "has not passed coil_expansion" in r.json()["detail"]
    assert client.get("/api/v1/units/HP26-0000301/birth-record").json()["attempts"] == []


def test_a_start_from_the_tablet_records_the_operator(client: Any) -> None:
    r = client.post("/ui/tablet/CEX-01/start", json={"serial": "HP26-0000302", "operator": "OP-7"})
    assert r.status_code == 200, r.text
    attempt = client.get("/api/v1/units/HP26-0000302/birth-record").json()["attempts"][0]
    assert attempt["started_by"] == "OP-7" and attempt["status"] == "open"


def test_hold_all_for_an_unknown_lot_says_no_unit_consumed_it(client: Any) -> None:
    r = client.post("/ui/genealogy/hold", json={"identifier": "CYL-NONE", "reason": "audit finding", "by": "qe"})
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


def test_every_page_script_and_style_is_served_by_the_app(client: Any) -> None:
    for path in ("/ui/static/ui.css", "/ui/static/tablet.js", "/ui/static/plots.js", "/ui/vendor/plotly.min.js"):
        r = client.get(path)
        assert r.status_code == 200 and len(r.content) > 500, path
    assert "plotly" in client.get("/ui/vendor/plotly.min.js").text[:2000].lower()
