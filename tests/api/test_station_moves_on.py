"""A station handles one unit at a time: a request for another unit means the one in the station left."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.driver import Line


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _last_attempt(client: Any, serial: str) -> dict[str, Any]:
    return client.get(f"/api/v1/units/{serial}/birth-record").json()["attempts"][-1]  # type: ignore[no-any-return]


def test_a_refused_request_for_another_unit_still_aborts_the_open_attempt_at_the_station(
    line: Line, client: Any
) -> None:
    first, second = line.work_order(first="HP26-6600001", quantity=2)
    line.run("coil_expansion", first)
    assert line.start("brazing", first).status_code == 201

    r = line.start("brazing", second)  # the second unit has not been expanded: refused
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["detail"].startswith(f"{second} has not passed coil expansion")
    assert body["aborted_serials"] == [first]
    attempt = _last_attempt(client, first)
    assert (attempt["station_id"], attempt["status"]) == ("BRZ-01", "aborted")
    assert attempt["summary"] == "station moved on without a result"

    r = line.start("brazing", first)  # back in the station: a new attempt, not the aborted one
    assert r.status_code == 201 and r.json()["resumed"] is False, r.text


def test_a_misread_scan_does_not_abort_the_unit_in_the_station(line: Line, client: Any) -> None:
    serial = line.work_order(first="HP26-6600101", quantity=1)[0]
    assert line.start("coil_expansion", serial).status_code == 201

    assert line.start("coil_expansion", "HP26-9999990").status_code == 404  # in no work order
    assert line.start("coil_expansion", "HP26-66").status_code == 422  # not a serial of the plant's format
    assert _last_attempt(client, serial)["status"] == "open"
    r = line.start("coil_expansion", serial)
    assert r.status_code == 201 and r.json()["resumed"] is True, r.text
