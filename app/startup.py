"""What ``mes`` checks before it serves or touches the database, and how it words a refusal: one
sentence that says what to do, not a Python traceback."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, OperationalError

from app.config import Settings, unknown_variables
from app.persistence import migrate
from app.persistence.db import make_engine, make_session_factory
from app.security.secrets import InsecureConfiguration, refuse_demo_users, secret_key


class ConfigurationRefused(RuntimeError):
    """The configuration cannot be used as it is; the message says what to change."""


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Refuse ``MES_`` variables that name no setting (a typo would run the MES on a default)."""
    unknown = unknown_variables(os.environ if environ is None else environ)
    if unknown:
        raise ConfigurationRefused(
            f"unknown configuration variable(s) {'; '.join(unknown)}: every MES_ variable must be a setting "
            "(deploy/mes.env.example lists them)"
        )


def preflight(settings: Settings) -> None:
    """Everything ``mes serve`` would otherwise find out only inside the server: the secret key, a
    reachable database at this code's revision, and no demo password in production."""
    secret_key(settings.security)
    engine = make_engine(settings.resolved_database_url(), pool_size=1)
    try:
        migrate.require_head(engine)
        if not settings.security.allow_demo_secrets:
            refuse_demo_users(make_session_factory(engine))
    finally:
        engine.dispose()


def explain(exc: BaseException, *, database_url: str | None = None) -> str | None:
    """The operator's sentence for a start-up failure, or None for anything else (a defect: its
    traceback is worth having)."""
    if isinstance(exc, ConfigurationRefused | migrate.SchemaNotCurrent | InsecureConfiguration):
        return str(exc)
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"MES_{'__'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        return f"configuration not valid: {problems}"
    if isinstance(exc, ArgumentError):
        return f"MES_DATABASE_URL (or MES_OWNER_DATABASE_URL) is not a database URL: {exc}"
    if isinstance(exc, OperationalError):
        where = f" at {database_url}" if database_url else ""
        return f"cannot reach the database{where}: {str(exc.orig).strip() or exc}"
    return None
