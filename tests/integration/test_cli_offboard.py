"""``subscriber remove`` of an online subscriber: refused naming the session, or with
``--disconnect`` the Disconnect-Requests go out first (pyrad NAS stand-in on loopback) and the
subscriber is removed only once every session is gone; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_coa_cli import rows, run, seed
from tests.integration.test_coa_nas import PyradNas, ack, nak


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
