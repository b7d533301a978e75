"""asyncua's client logs a closed connection under its publish loop with a full stack at ERROR: the
MES keeps the line and drops the stack; other exceptions keep theirs."""

from __future__ import annotations

import logging

import pytest

from app.opcua.supervisor import quiet_asyncua_logging

SESSION_LOGGER = "asyncua.client.ua_session.UaSession"  # where asyncua 2.x logs "Publish iteration crashed"


def _log_during(exc: Exception) -> None:
    try:
        raise exc
    except Exception:
        logging.getLogger(SESSION_LOGGER).exception("Publish iteration crashed; retrying in 1s")


def test_a_closed_link_is_logged_in_one_line_and_other_errors_keep_their_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_asyncua_logging()
    quiet_asyncua_logging()  # idempotent: one filter, however often the supervisor starts
    assert len(logging.getLogger(SESSION_LOGGER).filters) == 1
    with caplog.at_level(logging.WARNING):
        _log_during(ConnectionError("Connection is closed"))
        _log_during(ValueError("a real defect"))
        _log_during(ConnectionError("peer sent 100%s of nothing"))  # a '%' in the text stays text
    closed, defect, odd = caplog.records
    assert closed.levelno == logging.ERROR and closed.exc_info is None
    assert closed.getMessage() == "Publish iteration crashed; retrying in 1s (Connection is closed)"
    assert odd.getMessage() == "Publish iteration crashed; retrying in 1s (peer sent 100%s of nothing)"
    assert defect.exc_info is not None and defect.exc_info[0] is ValueError
    as_written = logging.Formatter()
    assert "Traceback" not in as_written.format(closed)
    assert "Traceback" in as_written.format(defect) and "a real defect" in as_written.format(defect)
