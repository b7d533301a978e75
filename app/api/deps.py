"""Dependency aliases for the routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.config import Settings
from app.domain.serials import SerialFormat


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; write routes open ``session.begin()`` themselves and commit once."""
    with request.app.state.session_factory() as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_serial_format(request: Request) -> SerialFormat:
    serial_format: SerialFormat = request.app.state.serial_format
    return serial_format


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SerialFormatDep = Annotated[SerialFormat, Depends(get_serial_format)]
