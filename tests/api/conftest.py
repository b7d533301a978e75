"""Fixtures shared by the API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.persistence.db import make_engine, make_session_factory
from tests.conftest import DbUnderTest


@pytest.fixture
def sessions(database: DbUnderTest) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's database, for calling services directly."""
    engine = make_engine(database.url)
    yield make_session_factory(engine)
    engine.dispose()
