"""An in-memory MES for the adapter tests: a route interlock and a result store that can be 'down'."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.domain.results import Verdict
from app.opcua.backend import PlcResult, ReleaseAnswer, StoredVerdict

RECIPE = "HPM-06-R290-EVI/17"


class DatabaseDown(Exception):
    """The store is unavailable: nothing was committed."""


@dataclass
class MemoryBackend:
    """Units follow ``route`` (station ids in order); results are keyed by (station id, Result.Id)."""

    route: tuple[str, ...]
    serials: set[str] = field(default_factory=set)
    judge: Callable[[str, PlcResult], Verdict] = lambda station_id, result: Verdict.PASS
    database_up: bool = True
    progress: dict[str, int] = field(default_factory=dict)
    open_attempts: set[tuple[str, str]] = field(default_factory=set)
    stored: dict[tuple[str, str], tuple[PlcResult, Verdict]] = field(default_factory=dict)
    alarms: list[tuple[str, str]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    store_attempts: int = 0

    async def handle_request(self, *, station_id: str, serial: str) -> ReleaseAnswer:
        self.requests.append((station_id, serial))
        if serial not in self.serials:
            return ReleaseAnswer(release=False, reason=f"unknown serial {serial}", recipe="")
        step = self.progress.get(serial, 0)
        if step >= len(self.route) or self.route[step] != station_id:
            expected = self.route[step] if step < len(self.route) else "nothing (route complete)"
            return ReleaseAnswer(release=False, reason=f"route: {serial} must go to {expected} next", recipe="")
        self.open_attempts.add((station_id, serial))
        return ReleaseAnswer(release=True, reason="", recipe=RECIPE)

    async def handle_result(self, *, station_id: str, result: PlcResult) -> StoredVerdict:
        self.store_attempts += 1
        if not self.database_up:
            raise DatabaseDown("database unavailable")
        key = (station_id, result.result_id)
        if key in self.stored:
            return StoredVerdict(verdict=self.stored[key][1], duplicate=True)
        if (station_id, result.serial) not in self.open_attempts:
            verdict = Verdict.FAIL
            self.alarms.append((station_id, f"no release for {result.serial} here"))
        else:
            verdict = self.judge(station_id, result)
            self.open_attempts.discard((station_id, result.serial))
            if verdict == Verdict.PASS:
                self.progress[result.serial] = self.progress.get(result.serial, 0) + 1
        self.stored[key] = (result, verdict)
        return StoredVerdict(verdict=verdict, duplicate=False)

    async def raise_alarm(self, *, station_id: str, message: str) -> None:
        self.alarms.append((station_id, message))
