"""Throttle (agents/log_throttle.py): a recurring condition logged once per interval."""

from __future__ import annotations

import asyncio
import logging

import pytest

from peerwork.agents.log_throttle import ACCEPT_FAILED, Throttle, throttle_accept_errors


def test_once_per_interval_with_a_count_of_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttle = Throttle(logging.getLogger("t"), interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, "t"):
        assert throttle.log("k", logging.WARNING, "refused %s", "a")
        for _ in range(1000):
            now[0] += 0.01
            assert not throttle.log("k", logging.WARNING, "refused %s", "a")
        assert throttle.log("other", logging.WARNING, "other kind")  # its own interval
        now[0] = 61
        assert throttle.log("k", logging.WARNING, "refused %s", "b")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "refused a",
        "other kind",
        "refused b (and 1000 more times in the last 60s)",
    ]


def test_accept_errors_are_throttled_and_others_pass(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        throttle_accept_errors(loop, logging.getLogger("t"))
        with caplog.at_level(logging.ERROR):
            for _ in range(500):
                loop.call_exception_handler(
                    {"message": ACCEPT_FAILED, "exception": OSError(24, "Too many open files")}
                )
            loop.call_exception_handler({"message": "something else"})
    finally:
        loop.close()
    accept = [r for r in caplog.records if "accepting a connection failed" in r.getMessage()]
    assert len(accept) == 1 and "Too many open files" in accept[0].getMessage()
    assert any(r.getMessage() == "something else" for r in caplog.records)
