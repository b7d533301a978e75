"""Who did something: the signed-in user (or station service account, or the MES itself) behind
every change. Pure data; authentication lives in app/security."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    QUALITY_ENGINEER = "quality_engineer"
    ADMIN = "admin"
    STATION = "station"  # a station's service account, for integrations that push over HTTP


@dataclass(frozen=True, slots=True)
class Actor:
    """A user acting through the API or a page, or the MES itself (``user_id`` None, role None).
    ``stations``: for a station's service account, the stations it is bound to act for."""

    username: str
    role: Role | None
    user_id: int | None = None
    display_name: str = ""
    stations: frozenset[str] = frozenset()

    def may_act_at(self, station_id: str) -> bool:
        """A service account acts only at its own stations; people are not bound to stations."""
        return self.role is not Role.STATION or station_id in self.stations

    @property
    def label(self) -> str:
        return f"{self.username} ({self.role.value})" if self.role else self.username


# Results delivered by PLC handshakes over OPC UA: the station's own adapter, not a person.
def plc_actor(station_id: str) -> Actor:
    return Actor(username=f"plc:{station_id}", role=None)


SYSTEM = Actor(username="mes", role=None)
