"""Overriding a RETEST: the station measures again, so a PASS is given over its FAIL, never over a RETEST."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.driver import MONOBLOC, Line

# A leak signal right at 3 g/yr of R290 (5.3e-5 mbar·l/s, line.md): inside the guard band.
AT_THE_LEAK_LIMIT = {"TracerGas": "R290", "LeakSignal_mbar_l_s": 5.3e-5}
QUALITY_SIGNATURE = {"secret": "demo-quality"}  # quality1's password, re-entered to sign


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _to_leak_test(line: Line) -> str:
    serial = line.work_order(first="HP26-5700001", quantity=1)[0]
    for station_type in MONOBLOC[:5]:
        line.run(station_type, serial)
    return serial


def _override(client: Any, attempt_id: int, verdict: str, reason: str) -> Any:
    return client.post(
        f"/api/v1/attempts/{attempt_id}/override",
        json={"verdict": verdict, "reason": reason, "signature": QUALITY_SIGNATURE},
    )


def test_a_retest_cannot_be_overridden_to_pass_the_unit_is_measured_again(line: Line, client: Any) -> None:
    serial = _to_leak_test(line)
    retest = line.run("leak_test", serial, "RETEST", overrides=AT_THE_LEAK_LIMIT)["attempt"]

    r = _override(client, retest["id"], "PASS", "sniffed by hand, tight")
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    detail = r.json()["detail"]
    assert "is a RETEST, not a verdict" in detail and f"measure {serial} again at leak_test" in detail
    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    assert record["attempts"][-1]["overrides"] == []  # nothing recorded, nothing signed
    unit = line.unit(serial)
    assert (unit["status"], unit["next_step"]) == ("in_process", "leak_test")

    # what the message says works: measure again until the station decides, then concede over its FAIL
    line.run("leak_test", serial, "RETEST", overrides=AT_THE_LEAK_LIMIT)
    failed = line.run("leak_test", serial, "FAIL", overrides=AT_THE_LEAK_LIMIT)["attempt"]
    assert "retest cap reached" in failed["summary"]
    r = _override(client, failed["id"], "PASS", "sniffed by hand, tight")
    assert r.status_code == 201, r.text
    assert line.unit(serial)["next_step"] == "run_in"
    line.run("run_in", serial)
    assert line.unit(serial)["status"] == "finished"


def test_a_retest_overridden_to_fail_goes_down_the_rework_path(line: Line, client: Any) -> None:
    serial = _to_leak_test(line)
    retest = line.run("leak_test", serial, "RETEST", overrides=AT_THE_LEAK_LIMIT)["attempt"]

    r = _override(client, retest["id"], "FAIL", "bubble test shows a leak at the service valve")
    assert r.status_code == 201, r.text
    unit = line.unit(serial)
    assert (unit["status"], unit["next_step"], unit["reentry_step"]) == ("in_process", "repair", "vacuum_dehydration")
    # and that decision is not conceded back over the RETEST either
    r = _override(client, retest["id"], "PASS", "changed mind")
    assert r.status_code == 409 and "is a RETEST, not a verdict" in r.json()["detail"], r.text
    assert line.start("repair", serial).status_code == 201
