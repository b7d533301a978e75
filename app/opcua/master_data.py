"""Station master data and security settings the app's configuration is mapped onto."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class StationEndpoint:
    """One station as the MES knows it: which endpoint hosts it, and what it must identify as."""

    station_id: str
    station_type: str
    endpoint_url: str
    interface_version: int = 1


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    """How the MES connects to station endpoints.

    Production: ``Basic256Sha256``/``SignAndEncrypt`` with the MES application certificate, a user name
    and password, and server certificates trusted only when they are in ``trust_dir``.
    ``allow_none`` lets the MES connect without security (simulator, tests) and must be set explicitly.
    """

    allow_none: bool = False
    certificate_path: Path | None = None
    private_key_path: Path | None = None
    trust_dir: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    application_uri: str = "urn:ashp-line:mes"
    application_name: str = "ASHP line MES"
    rejected_dir: Path | None = None  # refused server certificates; default: beside trust_dir
    certificate_warn_days: int = 30  # alarm when a certificate of a connection expires this soon

    @property
    def has_certificate(self) -> bool:
        return self.certificate_path is not None and self.private_key_path is not None

    @property
    def rejected_directory(self) -> Path | None:
        from app.opcua.trust import default_rejected_dir

        return self.rejected_dir or default_rejected_dir(self.trust_dir)


@dataclass(frozen=True, slots=True)
class AdapterTiming:
    """Timing of the adapter; defaults follow the contract, tests shorten them."""

    publishing_interval_ms: float = 50.0
    keepalive_count: int = 20
    lifetime_count: int = 200
    reconcile_interval_s: float = 5.0
    request_timeout_s: float = 5.0
    stale_after_s: float = 4.0
    certificate_check_interval_s: float = 3600.0  # expiring certificates are looked for again while connected
    reconnect_min_delay_s: float = 0.5
    reconnect_max_delay_s: float = 30.0
    reconnect_backoff_reset_after_s: float = 10.0  # a session up this long starts the backoff over
    live_queue_size: int = 10_000
    live_item_queue_size: int = 16  # per Live item: changes between two publishes are not overwritten
    # a link that keeps dropping and coming back: sessions lost within the window are counted per station,
    # and from this many on its status says so (a PLC that falls silent is lost every stale_after_s or so)
    link_loss_window_s: float = 600.0
    link_unstable_after_losses: int = 3


def group_by_endpoint(stations: Iterable[StationEndpoint]) -> Mapping[str, tuple[StationEndpoint, ...]]:
    """Stations grouped by endpoint URL: one client per endpoint hosting one or more stations."""
    grouped: dict[str, list[StationEndpoint]] = {}
    for station in stations:
        grouped.setdefault(station.endpoint_url, []).append(station)
    return {url: tuple(group) for url, group in grouped.items()}
