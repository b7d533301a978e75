"""The OPC UA adapter: the only package that imports asyncua.

Public API (see the report of issue 5):

- :class:`OpcuaSupervisor` — start/stop in the app lifespan; ``statuses()``, ``status(id)``, ``live_bus``.
- :class:`StationEndpoint`, :class:`SecuritySettings`, :class:`AdapterTiming` — what the config maps onto.
- :mod:`app.opcua.backend` — the protocol the MES implements (:class:`StationBackend`).
- :func:`make_mes_certificate` — what ``mes opcua make-cert`` runs; :func:`app.opcua.cli.register_cli`.
"""

from app.opcua.backend import PlcResult, PlcValue, ReleaseAnswer, StationBackend, StoredVerdict
from app.opcua.live import LiveBus, LiveValue
from app.opcua.master_data import AdapterTiming, SecuritySettings, StationEndpoint
from app.opcua.security import make_mes_certificate
from app.opcua.status import HandshakeEvent, StationStatus
from app.opcua.supervisor import OpcuaSupervisor

__all__ = [
    "AdapterTiming",
    "HandshakeEvent",
    "LiveBus",
    "LiveValue",
    "OpcuaSupervisor",
    "PlcResult",
    "PlcValue",
    "ReleaseAnswer",
    "SecuritySettings",
    "StationBackend",
    "StationEndpoint",
    "StationStatus",
    "StoredVerdict",
    "make_mes_certificate",
]
