"""One Settings object for the whole service (environment prefix ``MES_``, nested with ``__``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.serials import SerialFormat


class SerialSettings(BaseModel):
    pattern: str = r"HP(?P<year>[0-9]{2})-(?P<seq>[0-9]{7})"
    description: str = "HP + two-digit year + '-' + seven digits, e.g. HP26-0000123"

    def format(self) -> SerialFormat:
        return SerialFormat(pattern=self.pattern, description=self.description)


class ApiSettings(BaseModel):
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    page_size_max: int = Field(default=500, ge=1)


class OpcuaSettings(BaseModel):
    """How the MES reaches station PLCs. Production: Basic256Sha256/SignAndEncrypt, the MES's own
    certificate (``mes opcua make-cert``), a user name and password, and a trust directory holding
    the PLCs' server certificates. ``allow_security_none`` is for the simulator and tests only."""

    enabled: bool = True
    allow_security_none: bool = False
    certificate_path: Path | None = None
    private_key_path: Path | None = None
    trust_dir: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    application_uri: str = "urn:ashp-line:mes"
    # refused PLC certificates, kept for 'mes opcua trust add'; default: trust_dir/../rejected
    rejected_dir: Path | None = None
    # a station alarm when the MES's or a PLC's certificate expires within this many days
    certificate_warn_days: int = Field(default=30, ge=0)
    # Timing of the station links (plc-interface.md's defaults; plant settings). The publishing interval
    # the MES asks for (50 ms) and sampling interval 0 are the contract's, not settings.
    reconcile_interval_s: float = Field(default=5.0, gt=0, le=3600)  # the four counters read while connected
    request_timeout_s: float = Field(default=5.0, gt=0, le=600)  # one OPC UA service call
    stale_after_s: float = Field(default=4.0, gt=0, le=3600)  # no keep-alive or data this long: the link is lost
    reconnect_min_delay_s: float = Field(default=0.5, gt=0, le=3600)
    reconnect_max_delay_s: float = Field(default=30.0, gt=0, le=86400)
    # a session up this long resets the reconnect delay to its minimum
    reconnect_backoff_reset_after_s: float = Field(default=10.0, gt=0, le=86400)
    certificate_check_interval_s: float = Field(default=3600.0, gt=0, le=86400 * 7)
    link_loss_window_s: float = Field(default=600.0, gt=0, le=86400 * 7)  # lost sessions counted over this window
    link_unstable_after_losses: int = Field(default=3, ge=1)  # from this many in the window the link is "unstable"

    @model_validator(mode="after")
    def _reconnect_delays_ordered(self) -> OpcuaSettings:
        if self.reconnect_max_delay_s < self.reconnect_min_delay_s:
            raise ValueError(
                f"the longest reconnect delay, MES_OPCUA__RECONNECT_MAX_DELAY_S ({self.reconnect_max_delay_s} s), "
                f"is below the shortest, MES_OPCUA__RECONNECT_MIN_DELAY_S ({self.reconnect_min_delay_s} s)"
            )
        return self


# OWASP Password Storage Cheat Sheet: argon2id with at least 19 MiB of memory and 2 passes (1 lane).
OWASP_MINIMUM_MEMORY_KIB = 19 * 1024
OWASP_MINIMUM_TIME_COST = 2


class SecuritySettings(BaseModel):
    """Sign-in, sessions, tokens and lockout. ``secret_key`` signs CSRF tokens; production refuses to
    start without one of its own (``allow_demo_secrets`` is for ``make run`` and tests only)."""

    secret_key: SecretStr | None = None
    allow_demo_secrets: bool = False
    session_hours: float = Field(default=12.0, gt=0)
    api_token_days: float = Field(default=90.0, gt=0)
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_minutes: float = Field(default=15.0, gt=0)
    cookie_secure: bool = False  # set true behind HTTPS
    token_cache_seconds: float = Field(default=5.0, ge=0)  # how long a revoked token may still pass in other workers
    # The argon2id cost of every password and PIN hash made from now on (a stored hash of another cost still
    # verifies, and is made again at its user's next sign-in). Defaults: RFC 9106's second recommended
    # option, argon2-cffi's default; about 0.1 s per sign-in here. A plant sets it to what its server
    # affords, not below OWASP's minimum.
    password_hash_time_cost: int = Field(default=3, ge=1, le=100)  # passes over the memory
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=8, le=4 * 1024 * 1024)
    password_hash_parallelism: int = Field(default=4, ge=1, le=255)  # lanes (threads)

    @model_validator(mode="after")
    def _password_hash_cost(self) -> SecuritySettings:
        if self.password_hash_memory_kib < 8 * self.password_hash_parallelism:
            raise ValueError(
                f"MES_SECURITY__PASSWORD_HASH_MEMORY_KIB ({self.password_hash_memory_kib}) must be at least 8 KiB "
                f"per lane of MES_SECURITY__PASSWORD_HASH_PARALLELISM ({self.password_hash_parallelism})"
            )
        below_minimum = (
            self.password_hash_memory_kib < OWASP_MINIMUM_MEMORY_KIB
            or self.password_hash_time_cost < OWASP_MINIMUM_TIME_COST
        )
        if below_minimum and not self.allow_demo_secrets:
            raise ValueError(
                f"the password hash cost (MES_SECURITY__PASSWORD_HASH_MEMORY_KIB={self.password_hash_memory_kib}, "
                f"MES_SECURITY__PASSWORD_HASH_TIME_COST={self.password_hash_time_cost}) is below OWASP's minimum "
                f"for argon2id ({OWASP_MINIMUM_MEMORY_KIB} KiB, {OWASP_MINIMUM_TIME_COST} passes): only the demo "
                "and the tests may hash cheaper (MES_SECURITY__ALLOW_DEMO_SECRETS=true)"
            )
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MES_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None  # default: SQLite in data_dir
    # The role that owns the tables, for `mes db upgrade` and `mes db grant-app-role` (default: database_url).
    owner_database_url: str | None = None
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    serial: SerialSettings = SerialSettings()
    api: ApiSettings = ApiSettings()
    opcua: OpcuaSettings = OpcuaSettings()
    security: SecuritySettings = SecuritySettings()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mes.db').as_posix()}"

    def resolved_owner_database_url(self) -> str:
        return self.owner_database_url or self.resolved_database_url()


# MES_ variables read by other parts than Settings: the test suite, the page tests, the OPC UA interop
# tests and the cycle model's table cache. Every other MES_ name must be a setting, or it is refused as a typo.
OTHER_MES_VARIABLES = frozenset(
    {
        "MES_TEST_POSTGRES_URL",
        "MES_REQUIRE_POSTGRES",
        "MES_REQUIRE_BROWSER",
        "MES_REQUIRE_NODE",
        "MES_CHROMIUM",
        "MES_CYCLEMODEL_CACHE",
    }
)


# Kubernetes gives every pod <SERVICE>_SERVICE_HOST, <SERVICE>_PORT… for each Service of its namespace:
# a Service named "mes" or "mes-db" makes MES_PORT, MES_DB_SERVICE_HOST … that are not the MES's settings.
_SERVICE_LINK = re.compile(
    r"MES(_[A-Z0-9_]+?)?_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)"
)


def setting_variables() -> list[str]:
    """The MES_ variable of every setting (a nested one as MES_SECTION__NAME)."""
    names = []
    for name, field in Settings.model_fields.items():
        nested = field.annotation
        if _is_section(nested):
            assert isinstance(nested, type)
            names += [f"MES_{name}__{inner}".upper() for inner in nested.model_fields]
        else:
            names.append(f"MES_{name}".upper())
    return names


def _section_variables() -> list[str]:
    """A nested section may also be given whole, as JSON (MES_OPCUA='{"enabled": false}')."""
    return [f"MES_{name}".upper() for name, field in Settings.model_fields.items() if _is_section(field.annotation)]


def _is_section(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``MES_`` variables that name no setting: each with the setting it was probably meant to be.
    A misspelt name would otherwise be ignored and the MES would run on a default (an empty SQLite
    database instead of the plant's PostgreSQL)."""
    known = setting_variables() + _section_variables()
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("MES_") or upper in OTHER_MES_VARIABLES or upper in known:
            continue
        if "__" not in upper and _SERVICE_LINK.fullmatch(upper):
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.8)
        found.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return found


@lru_cache
def get_settings() -> Settings:
    return Settings()
