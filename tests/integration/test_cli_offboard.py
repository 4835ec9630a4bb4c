"""``subscriber remove`` of an online subscriber: refused naming the session, or with
``--disconnect`` the Disconnect-Requests go out first (pyrad NAS stand-in on loopback) and the
subscriber is removed only once every session is gone; SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.integration.test_coa_cli import rows, run, seed
from tests.integration.test_coa_nas import PyradNas, ack, nak, silent


@pytest.fixture
def nas() -> Iterator[PyradNas]:
    standin = PyradNas()
    yield standin
    standin.close()


def test_remove_refuses_then_disconnects_first(db_url: str, nas: PyradNas) -> None:
    seed(db_url, nas.port)
    result = run(db_url, "subscriber", "remove", "alice")
    assert result.exit_code == 1 and "is online (session 81a00001 on 127.0.0.1" in result.stderr
    assert nas.received == []

    nas.responder = nak(506)  # the NAS refuses: alice stays, and the error says why
    result = run(db_url, "subscriber", "remove", "alice", "--disconnect")
    assert result.exit_code == 1 and "not removed: 2 of 2 session(s) still connected" in result.stderr
    assert run(db_url, "subscriber", "show", "alice").exit_code == 0

    nas.responder = ack
    result = run(db_url, "subscriber", "remove", "alice", "--disconnect")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "removed subscriber 'alice'"
    assert result.stdout.count(": disconnected") == 2
    assert run(db_url, "subscriber", "show", "alice").exit_code == 1
    assert [kind for kind, _ in rows(db_url)[1]].count("disconnect") == 4


def test_remove_gives_up_on_a_silent_nas_after_timeout(db_url: str, nas: PyradNas) -> None:
    """``--timeout`` bounds the wait for each session's NAS, as for ``subscriber suspend``: a NAS
    that never answers costs about that long per session, and the subscriber stays."""
    seed(db_url, nas.port)
    nas.responder = silent
    started = time.monotonic()
    result = run(db_url, "subscriber", "remove", "alice", "--disconnect", "--timeout", "0.6")
    took = time.monotonic() - started
    assert result.exit_code == 1 and "not removed: 2 of 2 session(s) still connected" in result.stderr
    assert took < 10, took  # two sessions x 0.6 s, not RFC 5080's 30 s each
    assert len(nas.received) >= 2  # each session's request was sent (and retransmitted)
    assert run(db_url, "subscriber", "show", "alice").exit_code == 0
    bad = run(db_url, "subscriber", "remove", "alice", "--disconnect", "--timeout", "0")
    assert bad.exit_code == 2 and "--timeout" in bad.stderr and "Traceback" not in bad.stderr
