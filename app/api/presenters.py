"""ORM rows → response documents (kept apart from the routers so every router presents alike)."""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi import Response
from pydantic import BaseModel

from app.api import schemas as s
from app.domain.results import CheckResult, finite_or_none
from app.persistence import models as m
from app.persistence.repositories import AttemptState, UnitState
from app.services.operations import CompletionOutcome, StartOutcome
from app.services.traceability import BirthRecord, UnitRow


def json_response(document: BaseModel) -> Response:
    """A large answer serialised once; FastAPI would validate a returned model again before dumping it."""
    return Response(content=document.model_dump_json(), media_type="application/json")


def plain_json_response(document: dict[str, Any], *, status_code: int = 200) -> Response:
    """A document built by one of the ``*_document`` functions below, serialised once."""
    return Response(content=pydantic_core.to_json(document), status_code=status_code, media_type="application/json")


def unit_out(row: UnitRow) -> s.UnitOut:
    return _unit(row.unit, product_model=row.product_model_code, work_order=row.work_order_number)


def unit_state_out(u: UnitState) -> s.UnitOut:
    return _unit(u, product_model=u.product_model_code, work_order=u.work_order_number)


def _unit(u: m.Unit | UnitState, *, product_model: str, work_order: str) -> s.UnitOut:
    return s.UnitOut(
        serial=u.serial,
        product_model=product_model,
        work_order=work_order,
        status=u.status,  # type: ignore[arg-type]
        next_step=u.next_step,
        reentry_step=u.reentry_step,
        rework_loops=u.rework_loops,
        created_at=u.created_at,
        updated_at=u.updated_at,
    )


def hold_out(hold: m.Hold, serial: str | None = None, signature: m.ESignature | None = None) -> s.HoldOut:
    out = s.HoldOut.model_validate(hold)
    out.serial = serial
    out.release_signature = signature_out(signature)
    return out


def signature_out(signature: m.ESignature | None) -> s.SignatureOut | None:
    return s.SignatureOut.model_validate(signature) if signature is not None else None


def override_out(override: m.VerdictOverride, signature: m.ESignature | None) -> s.OverrideOut:
    out = s.OverrideOut.model_validate(override)
    out.signature = signature_out(signature)
    return out


# --- the station hot path: the same documents as the models above, built as plain dicts ---------
# A start and a completion answer on every cycle of every station. Building the response models
# and then having FastAPI validate them again cost more than the rest of the answer; these
# functions write the documents of StartResponse and CompletionResponse directly (a test holds
# them to the models). Their inputs are the service's own records, so there is nothing to validate.


def attempt_document(a: AttemptState) -> dict[str, Any]:
    return {
        "id": a.id,
        "station_id": a.station_id,
        "station_type": a.station_type,
        "status": a.status,
        "verdict": a.verdict,
        "retest_index": a.retest_index,
        "started_at": a.started_at,
        "completed_at": a.completed_at,
        "started_by": a.started_by,
        "completed_by": a.completed_by,
        "origin": a.origin,
        "result_id": a.result_key,
        "summary": a.summary,
        "failure_mode": a.failure_mode,
        "alarm": a.alarm,
        "instruction": a.instruction,
        "spec_revision_id": a.spec_revision_id,
        "model_version": a.model_version,
        "rules_version": a.rules_version,
        "use_as_is": a.use_as_is,
        # a station's answer: no override of this result can have come before it (AttemptOut says so)
        "effective_verdict": a.verdict,
    }


def unit_document(u: UnitState) -> dict[str, Any]:
    return {
        "serial": u.serial,
        "product_model": u.product_model_code,
        "work_order": u.work_order_number,
        "status": u.status,
        "next_step": u.next_step,
        "reentry_step": u.reentry_step,
        "rework_loops": u.rework_loops,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    }


def check_document(c: CheckResult) -> dict[str, Any]:
    return {
        "name": c.name,
        "verdict": c.verdict.value,
        "rule": c.rule,
        "message": c.message,
        "measured": finite_or_none(c.measured),
        "expected": finite_or_none(c.expected),
        "limit_low": finite_or_none(c.limit_low),
        "limit_high": finite_or_none(c.limit_high),
        "uncertainty": finite_or_none(c.uncertainty),
        "failure_mode": c.failure_mode,
    }


def start_document(outcome: StartOutcome) -> dict[str, Any]:
    """The document of :class:`~app.api.schemas.StartResponse`."""
    return {
        "attempt": attempt_document(outcome.attempt),
        "resumed": outcome.resumed,
        "aborted_serials": list(outcome.aborted_serials),
    }


def completion_document(outcome: CompletionOutcome) -> dict[str, Any]:
    """The document of :class:`~app.api.schemas.CompletionResponse`."""
    return {
        "attempt": attempt_document(outcome.attempt),
        "checks": [check_document(c) for c in outcome.checks],
        "unit": unit_document(outcome.unit),
        "duplicate": outcome.duplicate,
    }


def birth_record_out(record: BirthRecord, *, api_prefix: str) -> s.BirthRecordOut:
    signed = record.signatures
    attempts = []
    for rec in record.attempts:
        base = s.AttemptOut.model_validate(rec.attempt).model_dump() | {"effective_verdict": rec.effective_verdict}
        attempts.append(
            s.AttemptDetailOut(
                **base,
                measurements=[s.MeasurementOut.model_validate(x) for x in rec.measurements],
                traces=[
                    s.TraceSummaryOut(
                        channel=t.channel,
                        n_samples=t.n_samples,
                        t_start_s=t.t_start_s,
                        t_end_s=t.t_end_s,
                        value_min=t.value_min,
                        value_max=t.value_max,
                        value_first=t.value_first,
                        value_last=t.value_last,
                        quality=t.quality,
                        href=f"{api_prefix}/attempts/{rec.attempt.id}/traces/{t.channel}",
                    )
                    for t in rec.traces
                ],
                components=[s.ComponentOut.model_validate(c) for c in rec.components],
                checks=[s.CheckOut.model_validate(c) for c in rec.checks],
                overrides=[override_out(o, signed.get(o.signature_id)) for o in rec.overrides],
                manual_checks=[s.ManualCheckOut.model_validate(c) for c in rec.manual_checks],
            )
        )
    return s.BirthRecordOut(
        unit=unit_out(UnitRow(record.unit, record.product_model_code, record.work_order_number)),
        attempts=attempts,
        holds=[hold_out(h, record.unit.serial, signed.get(h.release_signature_id)) for h in record.holds],
    )
