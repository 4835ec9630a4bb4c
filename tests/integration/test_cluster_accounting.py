"""One session's accounting spread over two ``radiusd serve`` nodes on one PostgreSQL database.

A NAS that fails over, or balances, sends the Start, the Interim-Updates and the Stop of one
session to whichever server it likes. Each node computes usage deltas against its memory of
the session, so a node that missed the other's updates would count them again: it must not.
The session row carries a revision; a node whose memory is behind writes nothing, rereads the
session and answers the NAS's retransmission from what the database holds.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    HOST,
    DaemonProcess,
    pg_database,
    run_radclient,
    stop_and_check,
    wait_until,
)
from tests.integration.test_accounting_daemon import query, req

pytestmark = pytest.mark.postgres

SECRET = "acct-cluster-s3cret"


@pytest.fixture
def url() -> Iterator[str]:
    with pg_database() as pg:
        yield pg


def send(radclient: str, d: DaemonProcess, request: str) -> bool:
    """One Accounting-Request, retransmitted (new Identifier) until answered; whether it was."""
    done = subprocess.run(
        [radclient, "-x", "-r", "5", "-t", "1", f"{HOST}:{d.acct_port}", "acct", SECRET],
        input=request.strip() + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return "Received Accounting-Response" in done.stdout


def interim(seconds: int, octets_in: int, octets_out: int, status: str = "Interim-Update", **kw: Any) -> str:
    return req(status, "roamer", "r1", Acct_Session_Time=seconds, Acct_Input_Octets=octets_in,
               Acct_Output_Octets=octets_out, **kw)  # fmt: skip


def test_one_session_over_two_nodes_is_counted_once(url: str, radclient: str, tmp_path: Path) -> None:
    a = DaemonProcess(url, tmp_path / "a")
    a.cli("nas", "add", "lo", "--address", HOST, "--secret", SECRET)
    a.cli("subscriber", "add", "roamer", "--password", "pw-Roam-1")
    a.start()
    b = DaemonProcess(url, tmp_path / "b").start()
    try:
        assert send(radclient, a, req("Start", "roamer", "r1"))
        assert send(radclient, a, interim(60, 1000, 2000))
        assert send(radclient, b, interim(120, 3000, 5000))  # B never saw the session
        assert send(radclient, a, interim(180, 4000, 9000))  # A's memory is one update behind
        assert send(radclient, b, interim(180, 4000, 9000))  # a duplicate at the other node
        stop = interim(240, 6000, 12000, status="Stop", Acct_Terminate_Cause="User-Request")
        assert send(radclient, b, stop)
        usage = query(url, "SELECT SUM(input_octets), SUM(output_octets), SUM(session_time), SUM(sessions) "
                           "FROM service_usage WHERE username = 'roamer'")  # fmt: skip
        assert [tuple(int(x) for x in row) for row in usage] == [(6000, 12000, 240, 1)]
        sessions = query(url, "SELECT status, input_octets + input_base, output_octets + output_base, "
                              "session_time FROM radius_sessions WHERE username = 'roamer'")  # fmt: skip
        assert sessions == [("closed", 6000, 12000, 240)]
        points = query(url, "SELECT status_type, input_octets FROM radius_interim_updates "
                            "ORDER BY event_time, id")  # fmt: skip
        assert [p[1] for p in points] == [0, 1000, 3000, 4000, 6000]  # no row twice, none lost
        closed = query(url, "SELECT input_octets, output_octets FROM radius_accounting "
                            "WHERE username = 'roamer'")  # fmt: skip
        assert closed == [(6000, 12000)]
        moved = len(a.events("accounting.session-moved")) + len(b.events("accounting.session-moved"))
        assert moved >= 2, "each node's first request on a session the other wrote must be reread"
    finally:
        problems = [p for p in (stop_and_check(a), stop_and_check(b)) if p]
    assert not problems, problems


def test_simultaneous_use_counts_sessions_opened_at_another_node(
    url: str, radclient: str, tmp_path: Path
) -> None:
    a = DaemonProcess(url, tmp_path / "a")
    a.cli("nas", "add", "lo", "--address", HOST, "--secret", SECRET, "--no-message-authenticator")
    a.cli("subscriber", "add", "single", "--password", "pw-Single-1", "--simultaneous-use", "1")
    a.start()
    b = DaemonProcess(url, tmp_path / "b").start()
    try:
        login = 'User-Name = "single"\nUser-Password = "pw-Single-1"\n'
        assert "Access-Accept" in run_radclient(radclient, b.auth_port, SECRET, login)
        assert send(radclient, a, req("Start", "single", "one"))  # the session opens at A ...
        rejected = wait_until(
            lambda: "Access-Reject" in run_radclient(radclient, b.auth_port, SECRET, login), timeout=5
        )
        assert rejected, "B let a second session in: it never learnt of the one A opened"  # ... B counts it
        assert send(radclient, a, req("Stop", "single", "one", Acct_Session_Time=5))  # closed at A ...
        assert wait_until(lambda: "Access-Accept" in run_radclient(radclient, b.auth_port, SECRET, login), 5)
    finally:
        problems = [p for p in (stop_and_check(a), stop_and_check(b)) if p]
    assert not problems, problems
