"""The start and completion answers are written as plain documents (presenters.py) and request bodies
are parsed by pydantic's JSON parser (json_body.py): both must answer exactly as the models and the
standard parser did."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pydantic_core
import pytest
from sqlalchemy import create_engine, text

from app.api import presenters, schemas
from app.domain.results import CheckResult, Verdict
from app.persistence import trace_codec
from app.persistence.repositories import AttemptState, UnitState
from app.services.operations import CompletionOutcome, StartOutcome
from tests.api.driver import Line, station_payload
from tests.conftest import DbUnderTest


@pytest.fixture
def line(client: Any) -> Line:
    return Line(client)


def _as_the_model_writes_it(model: type[schemas.BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(model.model_validate(body).model_dump_json())
    return document


def test_start_and_completion_answer_the_documents_of_their_models(line: Line) -> None:
    serial = line.work_order()[0]
    started = line.start("coil_expansion", serial)
    assert started.status_code == 201, started.text
    assert started.json() == _as_the_model_writes_it(schemas.StartResponse, started.json())
    completed = line.complete("coil_expansion", serial, result_id="R-ANSWER-1")
    assert completed.status_code == 200, completed.text
    body = completed.json()
    assert body == _as_the_model_writes_it(schemas.CompletionResponse, body)
    assert body["attempt"]["result_id"] == "R-ANSWER-1" and body["checks"] and not body["duplicate"]
    again = line.complete("coil_expansion", serial, result_id="R-ANSWER-1")
    assert again.status_code == 200, again.text
    stored = again.json()
    assert stored == _as_the_model_writes_it(schemas.CompletionResponse, stored)
    # the same answer, checks in the judge's order included
    assert stored == body | {"duplicate": True}


def _attempt(**changes: Any) -> AttemptState:
    at = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    values: dict[str, Any] = dict(
        id=7,
        unit_id=3,
        station_id="CEX-01",
        station_type="coil_expansion",
        status="failed",
        verdict="FAIL",
        retest_index=0,
        started_at=at,
        completed_at=at,
        started_by=None,
        completed_by="op-1",
        origin="rest",
        result_key="R-7",
        failure_mode="leak",
        summary="too short",
        alarm=None,
        instruction="repair",
        spec_revision_id=2,
        model_version="m-1",
        rules_version="rules-2",
        use_as_is=False,
    )
    return AttemptState(**(values | changes))


def _unit() -> UnitState:
    at = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    return UnitState(3, "HP26-0000003", "in_process", "repair", "coil_expansion", 1, 1, 1, at, at, "HPM", "WO-1")


def test_plain_documents_write_numbers_as_the_models_do() -> None:
    checks = [
        CheckResult(name="a", verdict=Verdict.FAIL, message="m", rule="r", measured=float("nan"), expected=5),
        CheckResult(name="b", verdict=Verdict.PASS, message="m", rule="r", limit_low=float("-inf"), limit_high=1.5),
    ]
    outcome = CompletionOutcome(attempt=_attempt(), unit=_unit(), duplicate=False, checks=checks)
    written = pydantic_core.to_json(presenters.completion_document(outcome))
    model = schemas.CompletionResponse(
        attempt=schemas.AttemptOut.model_validate(outcome.attempt),
        checks=[schemas.CheckOut.model_validate(c) for c in checks],
        unit=presenters.unit_state_out(outcome.unit),
        duplicate=False,
    )
    assert written == model.model_dump_json().encode()
    start = StartOutcome(attempt=_attempt(status="open", verdict=None), unit=_unit(), resumed=True)
    model_start = schemas.StartResponse(
        attempt=schemas.AttemptOut.model_validate(start.attempt), resumed=True, aborted_serials=[]
    )
    assert pydantic_core.to_json(presenters.start_document(start)) == model_start.model_dump_json().encode()


def test_bodies_the_fast_parser_refuses_are_read_as_the_standard_parser_reads_them(line: Line, client: Any) -> None:
    serial = line.work_order()[0]
    # a byte-order mark: the standard parser accepts it, pydantic's does not
    r = client.post(
        "/api/v1/stations/CEX-01/start",
        content=b"\xef\xbb\xbf" + json.dumps({"serial": serial}).encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 201, r.text
    # malformed JSON: the same problem as before
    r = client.post(
        "/api/v1/stations/CEX-01/complete", content=b'{"serial": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"].startswith("The request body is not valid JSON")
    # NaN is read (both parsers do) and refused by the model with its message
    body = json.dumps({"serial": serial, "result_id": "R-NAN", "measurements": [{"name": "X", "value": float("nan")}]})
    r = client.post("/api/v1/stations/CEX-01/complete", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "finite number" in r.text


def test_a_repeated_delivery_and_the_birth_record_list_checks_in_the_verdicts_order(
    line: Line, database: DbUnderTest
) -> None:
    """However the database happens to return the rows (here: stored again in reverse order), the
    checks come back in the order of the first answer: the judge's."""
    serial = line.work_order()[0]
    line.start("coil_expansion", serial)
    first = line.complete("coil_expansion", serial, result_id="R-ORDER-1").json()
    names = [c["name"] for c in first["checks"]]
    assert names != sorted(names) and names != sorted(names, reverse=True)  # else order would prove nothing
    engine = create_engine(database.owner)
    with engine.begin() as connection:
        attempt_id = connection.execute(
            text("SELECT id FROM operation_attempt WHERE result_key = 'R-ORDER-1'")
        ).scalar_one()
        rows = (
            connection.execute(text("SELECT * FROM check_result WHERE attempt_id = :a"), {"a": attempt_id})
            .mappings()
            .all()
        )
        connection.execute(text("DELETE FROM check_result WHERE attempt_id = :a"), {"a": attempt_id})
        for row in reversed(rows):
            columns = ", ".join(row.keys())
            connection.execute(
                text(f"INSERT INTO check_result ({columns}) VALUES ({', '.join(':' + k for k in row)})"),
                dict(row),
            )
    engine.dispose()
    again = line.complete("coil_expansion", serial, result_id="R-ORDER-1").json()
    assert [c["name"] for c in again["checks"]] == names
    assert again == first | {"duplicate": True}
    record = line.client.get(f"/api/v1/units/{serial}/birth-record").json()
    assert [c["name"] for c in record["attempts"][0]["checks"]] == names


ATTEMPT_RECORD = ("verdict", "spec_revision_id", "model_version", "rules_version")
CHECK_RECORD = ("name", "verdict", "rule", "message", "measured", "expected", "limit_low", "limit_high", "uncertainty",
                "failure_mode")  # fmt: skip


def test_a_completion_is_stored_whole_as_delivered_and_answered(line: Line, database: DbUnderTest) -> None:
    """Every value with its kind and unit, every trace sample bit for bit, every check as answered (in
    the judge's order, with its limits, U and rule) and the verdict's revision and model version: the
    record a verdict is explained and re-derived from."""
    serial = line.work_order()[0]
    line.start("coil_expansion", serial)
    body = station_payload("coil_expansion", serial, overrides={"CoilBatch": "CB-STORED-1"})
    body["result_id"] = "R-WHOLE-1"
    r = line.client.post("/api/v1/stations/CEX-01/complete", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    engine = create_engine(database.owner)
    try:
        with engine.connect() as connection:
            attempt = connection.execute(
                text(f"SELECT id, {', '.join(ATTEMPT_RECORD)} FROM operation_attempt WHERE result_key = 'R-WHOLE-1'")
            ).one()
            measurements = connection.execute(
                text("SELECT name, kind, value, text, unit, quality FROM measurement WHERE attempt_id = :a"),
                {"a": attempt.id},
            ).all()
            traces = connection.execute(
                text("SELECT channel, n_samples, encoding, t_blob, value_blob, t_start_s, t_end_s, value_first,"
                     " value_last, value_min, value_max FROM trace WHERE attempt_id = :a"), {"a": attempt.id}
            ).all()  # fmt: skip
            checks = (
                connection.execute(
                    text(f"SELECT {', '.join(CHECK_RECORD)} FROM check_result WHERE attempt_id = :a ORDER BY position"),
                    {"a": attempt.id},
                )
                .mappings()
                .all()
            )
    finally:
        engine.dispose()
    assert tuple(attempt)[1:] == tuple(answer["attempt"][k] for k in ATTEMPT_RECORD)
    assert attempt.spec_revision_id is not None and attempt.model_version and attempt.rules_version

    def stored_value(kind: str, value: float | None, text_value: str | None) -> object:
        return text_value if kind == "string" else value

    assert sorted((n, stored_value(k, v, t), u, q) for n, k, v, t, u, q in measurements) == sorted(
        (x["name"], x["value"], x["unit"], None) for x in body["measurements"]
    )
    assert {n: k for n, k, *_ in measurements}["CoilBatch"] == "string"
    assert {n: u for n, _, _, _, u, _ in measurements}["LengthLoss_mm"] == "mm"
    assert len(traces) == len(body["traces"]) == 2
    sent = {t["channel"]: t for t in body["traces"]}
    for channel, n_samples, encoding, t_blob, value_blob, t_start, t_end, first, last, low, high in traces:
        t_s, values = sent[channel]["t_s"], sent[channel]["values"]
        assert trace_codec.decode(t_blob, encoding) == [float(t) for t in t_s]
        assert trace_codec.decode(value_blob, encoding) == [float(v) for v in values]
        assert (n_samples, t_start, t_end) == (len(values), t_s[0], t_s[-1])
        assert (first, last, low, high) == (values[0], values[-1], min(values), max(values))
    assert [dict(c) for c in checks] == [{k: c[k] for k in CHECK_RECORD} for c in answer["checks"]]
    assert any(c["uncertainty"] and c["limit_low"] is not None and c["limit_high"] is not None for c in checks)
