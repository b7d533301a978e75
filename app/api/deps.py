"""Dependency aliases for the routers.

The cheap ones are ``async`` on purpose: FastAPI runs a sync dependency in the thread pool, and
each hop there costs more than these functions do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.domain.serials import SerialFormat


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request; write routes open ``session.begin()`` themselves and commit once.

    Opening a session does no I/O; closing one that still holds a connection (a read route)
    rolls back over the network, so that part runs in the thread pool.
    """
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_serial_format(request: Request) -> SerialFormat:
    serial_format: SerialFormat = request.app.state.serial_format
    return serial_format


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SerialFormatDep = Annotated[SerialFormat, Depends(get_serial_format)]
