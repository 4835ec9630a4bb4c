"""Each log event reaches the stream in one write, newline included (radiusd.logs): the
workers of ``serve --workers N`` share one stderr, and an event written in two parts (text,
then newline) lets another worker's line land between them, two JSON objects on one line."""

from __future__ import annotations

import json

import structlog

from radiusd.logs import configure_logging, get_logger


class Recording:
    """A text stream that keeps each write call."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_every_event_is_one_write_ending_in_a_newline() -> None:
    out = Recording()
    try:
        configure_logging("json", "info", stream=out)
        log = get_logger("radiusd.test")
        log.info("first.event", worker=0)
        log.warning("second.event", worker=1)
    finally:
        structlog.reset_defaults()
    assert len(out.writes) == 2, out.writes
    assert all(w.endswith("\n") and w.count("\n") == 1 for w in out.writes)
    assert [json.loads(w)["event"] for w in out.writes] == ["first.event", "second.event"]
