"""Birth records, trace samples, reverse genealogy, lot holds and unit lists."""

from __future__ import annotations

from typing import Any

import pytest

from app.api.schemas import BirthRecordOut, GenealogyOut
from app.opcua.simulator.faults import Fault
from tests.api.driver import MONOBLOC, Line


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def test_birth_record_holds_every_attempt_with_results_in_time_order(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    line.run("coil_expansion", serial, overrides={"FinPitch_mm": None, "CoilBatch": "CB-77"}, expect="FAIL")
    hold = client.get(f"/api/v1/units/{serial}/birth-record").json()["holds"][0]
    release = {"disposition": "rework", "reason": "measure again", "signature": {"secret": "demo-quality"}}
    assert client.post(f"/api/v1/holds/{hold['id']}/release", json=release).status_code == 200
    line.run("coil_expansion", serial)
    line.run("brazing", serial, "FAIL", fault=Fault.DEW_POINT_EXCURSION, overrides={"FurnaceRun": "FR-1127-03"})
    line.run("repair", serial)
    line.run("brazing", serial)
    line.run("sub_base_assembly", serial, overrides={"CompressorSerial": "CMP-0001", "InverterSerial": "INV-0001"})
    line.run("vacuum_dehydration", serial)

    record = client.get(f"/api/v1/units/{serial}/birth-record").json()
    BirthRecordOut.model_validate(record)  # served without FastAPI's response validation: check the schema here
    assert record["unit"]["serial"] == serial and record["unit"]["product_model"] == "HPM-06-R290-EVI"
    types = [a["station_type"] for a in record["attempts"]]
    assert types == [
        "coil_expansion",
        "coil_expansion",
        "brazing",
        "repair",
        "brazing",
        "sub_base_assembly",
        "vacuum_dehydration",
    ]
    started = [a["started_at"] for a in record["attempts"]]
    assert started == sorted(started)
    coil = record["attempts"][0]
    by_name = {m["name"]: m for m in coil["measurements"]}
    assert by_name["FinPitch_mm"]["value"] is None  # not measured stays not measured, and cannot pass
    assert by_name["LengthLoss_mm"]["unit"] == "mm" and by_name["LengthLoss_mm"]["kind"] == "number"
    assert by_name["CoilBatch"]["kind"] == "string" and by_name["CoilBatch"]["text"] == "CB-77"
    assert coil["verdict"] == "FAIL" and coil["spec_revision_id"] is not None and coil["model_version"]
    assert {c["identifier"] for c in coil["components"]} == {"CB-77"}
    brazing = record["attempts"][2]
    assert brazing["verdict"] == "FAIL" and "dew point" in brazing["summary"].lower()
    assert any(c["verdict"] == "FAIL" and c["limit_high"] == -50.0 for c in brazing["checks"])
    assert {c["identifier"] for c in brazing["components"]} >= {"FR-1127-03"}
    sub_base = record["attempts"][5]
    assert {c["identifier"] for c in sub_base["components"]} >= {"CMP-0001", "INV-0001"}
    assert any(m["kind"] == "bool" for m in sub_base["measurements"])
    assert [h["scope"] for h in record["holds"]] == ["verdict"]
    assert record["holds"][0]["release_signature"]["username"] == "quality1"  # the e-signature, with the hold

    vacuum = record["attempts"][6]
    summary = vacuum["traces"][0]
    assert summary["channel"] == "Pressure_Pa" and summary["n_samples"] > 1000
    samples = client.get(summary["href"]).json()
    assert len(samples["t_s"]) == len(samples["values"]) == summary["n_samples"]
    assert samples["values"][0] == summary["value_first"] and min(samples["values"]) == summary["value_min"]


def test_reverse_genealogy_finds_every_unit_of_a_lot_and_lot_hold_stops_them(line: Line, client: Any) -> None:
    serials = line.work_order(quantity=4)
    for serial in serials:
        for station_type in MONOBLOC[:4]:
            line.run(station_type, serial)
    for serial in serials[:3]:
        line.run("charging", serial, overrides={"CylinderLot": "CYL-R290-4411"})
    line.run("charging", serials[3], overrides={"CylinderLot": "CYL-OTHER"})

    found = client.get("/api/v1/genealogy", params={"identifier": "CYL-R290-4411"}).json()
    GenealogyOut.model_validate(found)
    assert found["count"] == 3 and sorted(u["serial"] for u in found["units"]) == serials[:3]
    assert all(u["station_id"] == "CHG-01" for u in found["units"])
    assert (
        client.get("/api/v1/genealogy", params={"identifier": "CYL-R290-4411", "kind": "furnace_run"}).json()["count"]
        == 0
    )

    r = client.post(
        "/api/v1/holds/by-component",
        json={"identifier": "CYL-R290-4411", "kind": "cylinder_lot", "reason": "supplier recall 7"},
    )
    assert r.status_code == 201, r.text
    assert sorted(h["serial"] for h in r.json()["held"]) == serials[:3]
    for serial in serials[:3]:
        refused = line.start("leak_test", serial)
        assert refused.status_code == 409 and "supplier recall 7" in refused.json()["detail"]
    line.run("leak_test", serials[3])
    active = client.get("/api/v1/holds").json()
    assert {h["serial"] for h in active} == set(serials[:3])
    assert all(h["scope_ref"] == "cylinder_lot:CYL-R290-4411" for h in active)


def test_lot_hold_holds_the_units_the_genealogy_finds_whatever_the_case_typed(line: Line, client: Any) -> None:
    serials = line.work_order(quantity=3)
    for serial in serials:
        line.run("coil_expansion", serial)
    for serial in serials[:2]:
        line.run("brazing", serial, overrides={"FurnaceRun": "FR-CASE-7"})
    assert client.get("/api/v1/genealogy", params={"identifier": "fr-case-7"}).json()["unit_count"] == 2

    r = client.post("/api/v1/holds/by-component", json={"identifier": "fr-case-7", "reason": "furnace recall"})

    assert r.status_code == 201, r.text
    assert sorted(h["serial"] for h in r.json()["held"]) == serials[:2]
    assert line.unit(serials[2])["status"] == "in_process"


def test_a_furnace_run_recall_finds_finished_units_holds_them_and_names_the_scrapped_ones(
    line: Line, client: Any
) -> None:
    """A bad run is traced to every unit brazed in it (line.md), the ones that have left the line above all."""
    finished, in_process, scrapped = line.work_order(quantity=3)
    for serial in (finished, in_process, scrapped):
        line.run("coil_expansion", serial)
        line.run("brazing", serial, overrides={"FurnaceRun": "FR-0412-02"})
    for station_type in MONOBLOC[2:]:
        line.run(station_type, finished)
    hold = client.post(f"/api/v1/units/{scrapped}/holds", json={"reason": "dropped from the conveyor"}).json()
    release = {"disposition": "scrap", "reason": "frame bent", "signature": {"secret": "demo-quality"}}
    assert client.post(f"/api/v1/holds/{hold['id']}/release", json=release).status_code == 200

    found = client.get("/api/v1/genealogy", params={"identifier": "FR-0412-02"}).json()
    assert (found["count"], found["unit_count"]) == (3, 3)
    assert [(u["serial"], u["status"], u["kind"], u["station_id"]) for u in found["units"]] == [
        (finished, "finished", "furnace_run", "BRZ-01"),
        (in_process, "in_process", "furnace_run", "BRZ-01"),
        (scrapped, "scrapped", "furnace_run", "BRZ-01"),
    ]

    r = client.post(
        "/api/v1/holds/by-component",
        json={"identifier": "FR-0412-02", "kind": "furnace_run", "reason": "furnace run FR-0412-02 out of spec"},
    )
    assert r.status_code == 201, r.text
    assert [h["serial"] for h in r.json()["held"]] == [finished, in_process]
    assert r.json()["skipped_scrapped"] == [scrapped]
    assert [line.unit(s)["status"] for s in (finished, in_process, scrapped)] == ["on_hold", "on_hold", "scrapped"]


def test_a_hold_by_component_of_one_kind_leaves_units_that_recorded_the_same_text_under_another_kind(
    line: Line, client: Any
) -> None:
    """A furnace run and a filler lot that happen to be spelled alike are different things: a recall of
    the run holds only the units brazed in it."""
    in_the_run, with_the_lot, unrelated = line.work_order(quantity=3)
    for serial in (in_the_run, with_the_lot, unrelated):
        line.run("coil_expansion", serial)
    line.run("brazing", in_the_run, overrides={"FurnaceRun": "LOT-7", "FillerLot": "FL-1"})
    line.run("brazing", with_the_lot, overrides={"FurnaceRun": "FR-2", "FillerLot": "LOT-7"})
    line.run("brazing", unrelated, overrides={"FurnaceRun": "FR-2", "FillerLot": "FL-1"})

    r = client.post(
        "/api/v1/holds/by-component", json={"identifier": "LOT-7", "kind": "furnace_run", "reason": "furnace recall"}
    )
    assert r.status_code == 201, r.text
    assert [(h["serial"], h["scope_ref"]) for h in r.json()["held"]] == [(in_the_run, "furnace_run:LOT-7")]
    assert [line.unit(s)["status"] for s in (in_the_run, with_the_lot, unrelated)] == [
        "on_hold",
        "in_process",
        "in_process",
    ]
    r = client.post(
        "/api/v1/holds/by-component", json={"identifier": "LOT-7", "kind": "coil_batch", "reason": "coil recall"}
    )
    assert r.status_code == 404 and r.json()["detail"] == "no unit has consumed coil_batch LOT-7"


def test_lot_hold_of_unknown_identifier_is_a_clear_404(client: Any) -> None:
    r = client.post("/api/v1/holds/by-component", json={"identifier": "NOPE-1", "reason": "recall"})
    assert r.status_code == 404 and "no unit has consumed NOPE-1" in r.json()["detail"]


def test_unit_list_filters_by_station_verdict_status_and_pages(line: Line, client: Any) -> None:
    serials = line.work_order(quantity=7, number="WO-LIST")
    for serial in serials:
        line.run("coil_expansion", serial)
    for serial in serials[:3]:
        line.run("brazing", serial, "FAIL", overrides={"O2_ppm": 80.0})
    failed = client.get("/api/v1/units", params={"station_id": "BRZ-01", "verdict": "FAIL"}).json()
    assert [u["serial"] for u in failed["items"]] == serials[:3]
    by_order = client.get("/api/v1/units", params={"work_order": "WO-LIST", "limit": 3}).json()
    seen = [u["serial"] for u in by_order["items"]]
    while by_order["next_cursor"]:
        by_order = client.get(
            "/api/v1/units", params={"work_order": "WO-LIST", "limit": 3, "cursor": by_order["next_cursor"]}
        ).json()
        seen += [u["serial"] for u in by_order["items"]]
    assert seen == serials
    in_process = client.get("/api/v1/units", params={"work_order": "WO-LIST", "status": "in_process"}).json()
    assert len(in_process["items"]) == 7
    none_yet = client.get("/api/v1/units", params={"station_id": "BRZ-01", "since": "2099-01-01T00:00:00Z"}).json()
    assert none_yet["items"] == []
    r = client.get("/api/v1/units", params={"since": "2026-01-01T00:00:00"})
    assert r.status_code == 422  # a time without an offset is ambiguous on a plant floor


def test_unit_list_station_verdict_and_time_filters_apply_to_one_and_the_same_attempt(line: Line, client: Any) -> None:
    """Units that had a FAIL at BRZ-01 are not units that passed BRZ-01 and failed elsewhere, and units
    with an attempt at BRZ-01 since a time are not units with any attempt since then."""
    passed_brazing, failed_brazing = line.work_order(quantity=2, number="WO-SAME-ATTEMPT")
    for serial in (passed_brazing, failed_brazing):
        line.run("coil_expansion", serial)
    line.run("brazing", passed_brazing)
    line.run("brazing", failed_brazing, "FAIL", overrides={"O2_ppm": 80.0})
    wrong_compressor = {"CompressorSerial": "CMP-X-778", "CompressorModel": "RSC-38-EVI"}  # HPM-12's compressor
    sub_base = line.run("sub_base_assembly", passed_brazing, "FAIL", overrides=wrong_compressor)

    def listed(**params: str) -> list[str]:
        r = client.get("/api/v1/units", params={"work_order": "WO-SAME-ATTEMPT"} | params)
        assert r.status_code == 200, r.text
        return [u["serial"] for u in r.json()["items"]]

    assert listed(verdict="FAIL") == [passed_brazing, failed_brazing]
    assert listed(station_id="BRZ-01", verdict="FAIL") == [failed_brazing]
    assert listed(station_id="SBA-01", verdict="FAIL") == [passed_brazing]
    since_sub_base = sub_base["attempt"]["started_at"]
    assert listed(since=since_sub_base) == [passed_brazing]
    assert listed(station_id="BRZ-01", since=since_sub_base) == []
    assert listed(station_id="BRZ-01", until=since_sub_base) == [passed_brazing, failed_brazing]


def test_demo_work_orders_release_the_serials_of_line_md(client: Any) -> None:
    r = client.get("/api/v1/work-orders/WO-DEMO-R290").json()
    assert r["first_serial"] == "HP26-0000001" and r["last_serial"] == "HP26-0000500"
    assert client.get("/api/v1/units/HP26-0000123").json()["next_step"] == "coil_expansion"


def test_lot_hold_holds_every_unit_of_a_lot_recorded_with_an_inner_space(line: Line, client: Any) -> None:
    serials = line.work_order(quantity=3)
    for serial in serials[:2]:
        for station_type in MONOBLOC[:4]:
            line.run(station_type, serial)
        line.run("charging", serial, overrides={"CylinderLot": "CYL 2026/07"})
    assert client.get("/api/v1/genealogy", params={"identifier": "CYL 2026/07"}).json()["count"] == 2

    r = client.post(
        "/api/v1/holds/by-component",
        json={"identifier": "  CYL 2026/07 ", "kind": "cylinder_lot", "reason": "supplier recall of cylinder lot"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["identifier"] == "CYL 2026/07"
    assert sorted(h["serial"] for h in r.json()["held"]) == serials[:2]
    assert all(line.unit(serial)["status"] == "on_hold" for serial in serials[:2])
    for refused in ("CYL\t2026/07", "CYL 2026/07\x7f", "   ", "C" * 65):
        r = client.post("/api/v1/holds/by-component", json={"identifier": refused, "reason": "recall"})
        assert r.status_code == 422 and "identifier" in r.json()["detail"], (refused, r.text)
