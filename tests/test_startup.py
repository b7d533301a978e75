"""Start-up refuses what would otherwise fail later and quietly: a database at another revision
(results touching a newer column are never stored, never acknowledged), a misspelt MES_ variable
(the MES would run on a default database), a pool size that cannot work; each with one sentence
that says what to do."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from app.config import OpcuaSettings, Settings
from app.main import create_app
from app.opcua import AdapterTiming
from app.persistence import migrate
from app.startup import ConfigurationRefused, check_environment, explain, preflight
from tests.conftest import DbUnderTest

HEAD = migrate.head_revision()
PREVIOUS = f"{int(HEAD) - 1:04d}"


def _settings(url: str, tmp_path: Path, **changes: object) -> Settings:
    return Settings(database_url=url, data_dir=tmp_path, opcua=OpcuaSettings(enabled=False), **changes)  # type: ignore[arg-type]


async def _start(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pass


def test_the_mes_refuses_to_serve_a_database_one_revision_behind(database: DbUnderTest, tmp_path: Path) -> None:
    settings = _settings(database.url, tmp_path, security={"allow_demo_secrets": True})
    asyncio.run(_start(settings))  # at head: starts
    migrate.downgrade(database.owner, PREVIOUS)
    with pytest.raises(migrate.SchemaNotCurrent) as refused:
        asyncio.run(_start(settings))
    assert f"at revision {PREVIOUS}, this MES needs {HEAD}: run 'mes db upgrade'" in str(refused.value)
    with pytest.raises(migrate.SchemaNotCurrent):
        preflight(settings)
    migrate.upgrade(database.owner)
    preflight(settings)


def test_a_database_never_migrated_is_named_as_such(tmp_path: Path) -> None:
    settings = _settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path, security={"allow_demo_secrets": True})
    with pytest.raises(migrate.SchemaNotCurrent) as refused:
        preflight(settings)
    assert "never migrated" in str(refused.value) and "mes db upgrade" in str(refused.value)


def test_a_misspelt_mes_variable_is_refused_with_the_setting_it_was_meant_to_be() -> None:
    environ = {
        "MES_DATABSE_URL": "postgresql+psycopg://mes@db/mes",
        "MES_OPCUA__TRUSTDIR": "/var/lib/ashp-mes/opcua/trusted",
        "MES_DATA_DIR": "data",  # a setting
        "MES_OPCUA__TRUST_DIR": "/x",  # a nested setting
        "MES_REQUIRE_POSTGRES": "1",  # read by the test suite, not by Settings
        "PATH": "/usr/bin",
    }
    with pytest.raises(ConfigurationRefused) as refused:
        check_environment(environ)
    message = str(refused.value)
    assert "MES_DATABSE_URL (did you mean MES_DATABASE_URL?)" in message
    assert "MES_OPCUA__TRUSTDIR (did you mean MES_OPCUA__TRUST_DIR?)" in message
    assert "MES_DATA_DIR" not in message.replace("MES_DATABSE", "") and "REQUIRE_POSTGRES" not in message
    check_environment({k: v for k, v in environ.items() if k not in ("MES_DATABSE_URL", "MES_OPCUA__TRUSTDIR")})


def test_kubernetes_service_links_and_a_section_given_whole_are_not_typos() -> None:
    """Kubernetes sets <SERVICE>_SERVICE_HOST, <SERVICE>_PORT… in every pod for each Service of its
    namespace (a Service "mes" or "mes-db"); pydantic reads a whole section as JSON (MES_OPCUA)."""
    check_environment(
        {
            "MES_SERVICE_HOST": "10.0.0.12",
            "MES_PORT": "tcp://10.0.0.12:8000",
            "MES_PORT_8000_TCP_ADDR": "10.0.0.12",
            "MES_DB_SERVICE_PORT_POSTGRES": "5432",
            "MES_DB_PORT_5432_TCP": "tcp://10.0.0.13:5432",
            "MES_OPCUA": '{"enabled": false}',
        }
    )
    with pytest.raises(ConfigurationRefused, match="MES_API__PORT"):  # no service link has a double underscore
        check_environment({"MES_API__PORT": "8000"})


@pytest.mark.parametrize("size", [0, -5])
def test_a_pool_size_below_one_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """A negative pool size was accepted and every request then failed with a RecursionError."""
    monkeypatch.setenv("MES_DB_POOL_SIZE", str(size))
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert (
        explain(refused.value)
        == "configuration not valid: MES_DB_POOL_SIZE: Input should be greater than or equal to 1"
    )


def test_an_unreachable_database_is_one_sentence(tmp_path: Path) -> None:
    url = "postgresql+psycopg://mes@127.0.0.1:1/mes"  # nothing listens on port 1
    with pytest.raises(OperationalError) as refused:
        preflight(_settings(url, tmp_path, security={"allow_demo_secrets": True}))
    message = explain(refused.value, database_url="postgresql+psycopg://mes@127.0.0.1:1/mes")
    assert message is not None and message.startswith(
        "cannot reach the database at postgresql+psycopg://mes@127.0.0.1:1"
    )
    assert "Traceback" not in message


def test_the_station_links_timing_is_the_plants_setting(
    database: DbUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plc-interface.md reads the counters 'every 5 s by default': the plant sets it, and the other link
    timings, with MES_OPCUA__… variables; the supervisor the lifespan starts runs on them."""
    monkeypatch.setenv("MES_OPCUA__RECONCILE_INTERVAL_S", "2.5")
    monkeypatch.setenv("MES_OPCUA__STALE_AFTER_S", "9")
    monkeypatch.setenv("MES_OPCUA__RECONNECT_MAX_DELAY_S", "60")
    monkeypatch.setenv("MES_OPCUA__LINK_UNSTABLE_AFTER_LOSSES", "5")
    check_environment(dict(os.environ))  # known settings, not typos
    settings = Settings(
        database_url=database.url,
        data_dir=tmp_path,
        security={"allow_demo_secrets": True},
        opcua={"allow_security_none": True},
    )  # type: ignore[arg-type]
    timings: list[object] = []

    async def start() -> None:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            timings.append(app.state.supervisor.timing)

    asyncio.run(start())
    (timing,) = timings
    assert (timing.reconcile_interval_s, timing.stale_after_s) == (2.5, 9.0)  # type: ignore[attr-defined]
    assert (timing.reconnect_max_delay_s, timing.link_unstable_after_losses) == (60.0, 5)  # type: ignore[attr-defined]
    assert (timing.reconnect_min_delay_s, timing.request_timeout_s) == (0.5, 5.0)  # type: ignore[attr-defined]
    # each link timing setting is a field of the adapter's timing (a misspelt one would be dropped silently)
    adapter_fields = {f.name for f in dataclasses.fields(AdapterTiming)}
    assert set(TIMING_SETTINGS) <= adapter_fields and set(TIMING_SETTINGS) <= set(OpcuaSettings.model_fields)


TIMING_SETTINGS = (
    "reconcile_interval_s",
    "request_timeout_s",
    "stale_after_s",
    "reconnect_min_delay_s",
    "reconnect_max_delay_s",
    "reconnect_backoff_reset_after_s",
    "certificate_check_interval_s",
    "link_loss_window_s",
    "link_unstable_after_losses",
)


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("MES_OPCUA__RECONCILE_INTERVAL_S", "0", "MES_OPCUA__RECONCILE_INTERVAL_S: Input should be greater than 0"),
        (
            "MES_OPCUA__RECONNECT_MAX_DELAY_S",
            "0.1",
            "MES_OPCUA__RECONNECT_MAX_DELAY_S (0.1 s), is below the shortest, MES_OPCUA__RECONNECT_MIN_DELAY_S (0.5 s)",
        ),
    ],
)
def test_a_link_timing_that_cannot_work_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert words in explain(refused.value)  # type: ignore[operator]
