"""An in-memory MES that judges with the real rules engine and cycle model (no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.cyclemodel.paramsets import load_shipped
from app.cyclemodel.provider import CoolPropExpectations
from app.domain.results import Measurement, StationResult, Trace, Verdict
from app.opcua.backend import PlcResult, ReleaseAnswer, StoredVerdict
from app.rules import ProductData, Spec, build_spec, judge
from tests.rules import factories

HPM_06 = factories.HPM_06  # the demo R290 monobloc, as the rules tests describe it


@dataclass
class RulesBackend:
    """Route interlock by station order, retest counting, judging by ``app.rules``; results keyed by id."""

    product: ProductData
    route: tuple[tuple[str, str], ...]  # (station id, station type) in route order
    serials: set[str]
    progress: dict[str, int] = field(default_factory=dict)
    retests: dict[tuple[str, str], int] = field(default_factory=dict)
    stored: dict[tuple[str, str], Verdict] = field(default_factory=dict)
    failures: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # serial -> (type, checks)
    alarms: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        code = self.product.model_code
        self._expectations = CoolPropExpectations(parameter_sets={code: load_shipped(product_model_code=code)})
        self._specs: dict[str, Spec] = {st: build_spec(station_type=st, product=self.product) for _, st in self.route}
        self._types = dict(self.route)

    async def handle_request(self, *, station_id: str, serial: str) -> ReleaseAnswer:
        step = self.progress.get(serial, 0)
        if serial not in self.serials or serial in self.failures:
            return ReleaseAnswer(release=False, reason=f"{serial} is not released for this line", recipe="")
        if step >= len(self.route) or self.route[step][0] != station_id:
            return ReleaseAnswer(release=False, reason="not the next operation of the route", recipe="")
        return ReleaseAnswer(release=True, reason="", recipe=f"{self.product.model_code}/1")

    async def handle_result(self, *, station_id: str, result: PlcResult) -> StoredVerdict:
        key = (station_id, result.result_id)
        if key in self.stored:
            return StoredVerdict(verdict=self.stored[key], duplicate=True)
        station_type = self._types[station_id]
        judgement = judge(
            station_type=station_type,
            spec=self._specs[station_type],
            result=StationResult(
                measurements=tuple(Measurement(name, v.value) for name, v in result.values.items()),
                traces=tuple(Trace(ch, t, v) for ch, (t, v) in result.traces.items()),
            ),
            expectations=self._expectations,
            retest_count=self.retests.get((station_id, result.serial), 0),
            now=datetime.now(UTC),
            value_status=result.statuses(),
        )
        verdict = judgement.verdict
        if verdict == Verdict.PASS:
            self.progress[result.serial] = self.progress.get(result.serial, 0) + 1
        elif verdict == Verdict.RETEST:
            self.retests[(station_id, result.serial)] = self.retests.get((station_id, result.serial), 0) + 1
        else:
            failing = tuple(c.name for c in judgement.checks if c.verdict != Verdict.PASS)
            self.failures[result.serial] = (station_type, failing)
        self.stored[key] = verdict
        return StoredVerdict(verdict=verdict, duplicate=False)

    async def raise_alarm(self, *, station_id: str, message: str) -> None:
        self.alarms.append((station_id, message))
