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


def test_a_reply_cut_short_by_a_refusing_plc_is_logged_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """node-opcua refusing the MES certificate closes the socket mid-reply; asyncua's socket protocol
    logs that with a full stack at ERROR on every retry (the MES raises its own clear alarm)."""
    from asyncua.common.utils import NotEnoughData

    quiet_asyncua_logging()
    with caplog.at_level(logging.WARNING):
        try:
            raise NotEnoughData("Not enough data left in buffer, request for 4, we have 0")
        except NotEnoughData:
            logging.getLogger("asyncua.client.ua_client.UASocketProtocol").exception(
                "Exception raised while parsing message from server"
            )
    (cut,) = caplog.records
    assert cut.exc_info is None and "Not enough data left in buffer" in cut.getMessage()
    assert "Traceback" not in logging.Formatter().format(cut)


def test_asyncua_info_logging_is_turned_down_to_warning_when_the_supervisor_starts() -> None:
    """pitfalls.md: asyncua's INFO logging dumps whole publish results and doubles CPU."""
    asyncua_logger = logging.getLogger("asyncua")
    level = asyncua_logger.level
    asyncua_logger.setLevel(logging.INFO)  # what an application's basicConfig(level=INFO) lets through
    try:
        quiet_asyncua_logging()
        assert asyncua_logger.level == logging.WARNING
        assert not logging.getLogger("asyncua.common.subscription").isEnabledFor(logging.INFO)
    finally:
        asyncua_logger.setLevel(level)
