"""Accounting end to end: FreeRADIUS radclient and pyrad against ``radiusd serve``, SQLite and PostgreSQL.

Each test uses its own usernames and session ids on the module's daemon and reads the rows
back from the database: every accounting edge case (Start/Interim/Stop in any order, duplicates, missing
Start, NAS reboots), a retransmission storm (new Identifier
and Acct-Delay-Time each time) giving one row per session, gigawords, Simultaneous-Use from
live sessions. The PostgreSQL outage test is in test_accounting_outage.py.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from radiusd.store.engine import create_engine
from tests.conftest import _run
from tests.integration.conftest import HOST, DaemonProcess, run_radclient, wait_until

SECRET = "acct-s3cret"
PASSWORD = "pw-Acct-1"
G = 2**32


def seed(d: DaemonProcess) -> None:
    d.cli("nas", "add", "lo", "--address", HOST, "--secret", SECRET)
    d.cli("subscriber", "add", "single", "--password", PASSWORD, "--simultaneous-use", "1")


@pytest.fixture(scope="module")
def daemon_seed() -> Callable[[DaemonProcess], None]:
    return seed


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in await conn.execute(sa.text(sql), params)]
        finally:
            await engine.dispose()

    result: list[tuple[Any, ...]] = _run(go())
    return result


def acct(radclient: str, d: DaemonProcess, requests: list[str], parallel: int = 1, retries: int = 1) -> int:
    """Send Accounting-Requests (attribute blocks) with radclient; how many were answered."""
    done = subprocess.run(
        [radclient, "-x", "-p", str(parallel), "-r", str(retries), "-t", "2", f"{HOST}:{d.acct_port}",
         "acct", SECRET],
        input="\n\n".join(r.strip() for r in requests) + "\n",
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.stdout.count("Received Accounting-Response")


def req(status: str, user: str, sid: str, port: int = 1, **attrs: Any) -> str:
    lines = [f"Acct-Status-Type = {status}", f'User-Name = "{user}"', f'Acct-Session-Id = "{sid}"',
             f"NAS-Port = {port}"]  # fmt: skip
    lines += [f"{k.replace('_', '-')} = {v}" for k, v in attrs.items()]
    return "\n".join(lines)


def sessions_of(d: DaemonProcess, user: str) -> list[tuple[Any, ...]]:
    return query(
        d.url,
        "SELECT status, input_octets + input_base, output_octets + output_base, session_time, "
        "terminate_cause FROM radius_sessions WHERE username = :u ORDER BY acct_session_id",
        u=user,
    )


def usage_of(d: DaemonProcess, user: str) -> tuple[int, int, int, int]:
    rows = query(
        d.url,
        "SELECT COALESCE(SUM(input_octets),0), COALESCE(SUM(output_octets),0), "
        "COALESCE(SUM(session_time),0), COALESCE(SUM(sessions),0) FROM service_usage WHERE username = :u",
        u=user,
    )
    a, b, c, e = rows[0]
    return int(a), int(b), int(c), int(e)


def interim_count(d: DaemonProcess, user: str) -> int:
    return int(
        query(
            d.url,
            "SELECT COUNT(*) FROM radius_interim_updates i JOIN radius_sessions s ON s.id = i.session_id "
            "WHERE s.username = :u",
            u=user,
        )[0][0]
    )


def test_start_interim_stop_lifecycle(daemon: DaemonProcess, radclient: str) -> None:
    u = "life"
    assert acct(radclient, daemon, [req("Start", u, "a1", Framed_IP_Address="10.9.0.1")]) == 1
    assert sessions_of(daemon, u) == [("open", 0, 0, 0, None)]
    assert acct(radclient, daemon, [req("Interim-Update", u, "a1", Acct_Session_Time=60,
                                        Acct_Input_Octets=1000, Acct_Output_Octets=5000)]) == 1  # fmt: skip
    stop = req("Stop", u, "a1", Acct_Session_Time=90, Acct_Input_Octets=1500, Acct_Output_Octets=9000,
               Acct_Terminate_Cause="User-Request")  # fmt: skip
    assert acct(radclient, daemon, [stop]) == 1
    assert sessions_of(daemon, u) == [("closed", 1500, 9000, 90, "User-Request")]
    assert usage_of(daemon, u) == (1500, 9000, 90, 1)
    assert interim_count(daemon, u) == 3
    rec = query(daemon.url, "SELECT input_octets, output_octets, framed_ip FROM radius_accounting "
                            "WHERE username = :u", u=u)  # fmt: skip
    assert rec == [(1500, 9000, "10.9.0.1")]


def test_retransmission_storm_gives_one_row_per_session(daemon: DaemonProcess, radclient: str) -> None:
    n, copies = 40, 4
    rng = random.Random(5)
    users = [f"storm{i}" for i in range(n)]

    def storm(make: Callable[[str], str]) -> int:
        batch = [make(u) + f"\nAcct-Delay-Time = {k}" for u in users for k in range(copies)]
        rng.shuffle(batch)
        return acct(radclient, daemon, batch, parallel=64, retries=3)

    assert storm(lambda u: req("Start", u, "st-" + u)) == n * copies
    assert storm(lambda u: req("Interim-Update", u, "st-" + u, Acct_Session_Time=60,
                               Acct_Input_Octets=100, Acct_Output_Octets=200)) == n * copies  # fmt: skip
    assert storm(lambda u: req("Stop", u, "st-" + u, Acct_Session_Time=120,
                               Acct_Input_Octets=300, Acct_Output_Octets=700)) == n * copies  # fmt: skip
    rows = query(daemon.url, "SELECT COUNT(*), COUNT(DISTINCT acct_unique_id) FROM radius_sessions "
                             "WHERE username LIKE 'storm%'")  # fmt: skip
    assert rows == [(n, n)]
    assert query(daemon.url, "SELECT COUNT(*) FROM radius_accounting WHERE username LIKE 'storm%'") == [(n,)]
    totals = query(
        daemon.url,
        "SELECT SUM(input_octets), SUM(output_octets), SUM(session_time), SUM(sessions) "
        "FROM service_usage WHERE username LIKE 'storm%'",
    )
    assert tuple(int(x) for x in totals[0]) == (300 * n, 700 * n, 120 * n, n)
    assert sum(interim_count(daemon, u) for u in users[:5]) == 3 * 5


def test_edge_cases_without_start_and_after_stop(daemon: DaemonProcess, radclient: str) -> None:
    # Stop without Start: a closed session, counted once
    assert (
        acct(radclient, daemon, [req("Stop", "nostart", "e1", Acct_Session_Time=30, Acct_Input_Octets=70)])
        == 1
    )
    assert sessions_of(daemon, "nostart") == [("closed", 70, 0, 30, None)]
    assert usage_of(daemon, "nostart") == (70, 0, 30, 1)
    # Interim without Start: an open session
    assert acct(radclient, daemon, [req("Interim-Update", "noopen", "e2", Acct_Session_Time=30,
                                        Acct_Output_Octets=11)]) == 1  # fmt: skip
    assert sessions_of(daemon, "noopen") == [("open", 0, 11, 30, None)]
    # Interim after Stop: acknowledged, does not reopen, counts nothing
    assert acct(radclient, daemon, [req("Interim-Update", "nostart", "e1", Acct_Session_Time=20,
                                        Acct_Input_Octets=50)]) == 1  # fmt: skip
    assert sessions_of(daemon, "nostart") == [("closed", 70, 0, 30, None)]
    assert usage_of(daemon, "nostart") == (70, 0, 30, 1)


def test_gigawords_and_counter_reset_with_pyrad(daemon: DaemonProcess, acct_client: Any) -> None:
    u = "giga"
    send_pyrad(acct_client, "Start", u, "g1")
    send_pyrad(acct_client, "Interim-Update", u, "g1", session_time=60, octets=(G - 10, 5), giga=(1, 0))
    # the 32-bit Octets wrapped and Gigawords went up: still monotonic, not a reset
    send_pyrad(acct_client, "Interim-Update", u, "g1", session_time=120, octets=(20, 6), giga=(2, 0))
    assert sessions_of(daemon, u) == [("open", 2 * G + 20, 6, 120, None)]
    # a NAS that lost its counters (no Gigawords): new baseline, never negative usage
    send_pyrad(acct_client, "Interim-Update", u, "g1", session_time=180, octets=(100, 1), giga=(0, 0))
    assert sessions_of(daemon, u) == [("open", 2 * G + 120, 7, 180, None)]
    assert usage_of(daemon, u) == (2 * G + 120, 7, 180, 1)
    rows = query(daemon.url, "SELECT input_octets, input_base FROM radius_sessions WHERE username = :u", u=u)
    assert rows == [(100, 2 * G + 20)]


def test_accounting_on_closes_sessions_idempotently(daemon: DaemonProcess, radclient: str) -> None:
    assert acct(radclient, daemon, [req("Start", "boot1", "b1"), req("Start", "boot2", "b2")]) == 2
    on = "Acct-Status-Type = Accounting-On\nNAS-IP-Address = 127.0.0.1"
    assert acct(radclient, daemon, [on]) == 1
    assert acct(radclient, daemon, [on + "\nAcct-Delay-Time = 3"]) == 1  # retransmitted
    for u in ("boot1", "boot2"):
        assert sessions_of(daemon, u) == [("closed", 0, 0, 0, "NAS-Reboot")]
        assert usage_of(daemon, u)[3] == 1
    assert query(daemon.url, "SELECT COUNT(*) FROM radius_sessions WHERE status = 'open'") == [(0,)]


def test_simultaneous_use_from_live_sessions(daemon: DaemonProcess, radclient: str) -> None:
    login = f'User-Name = "single"\nUser-Password = "{PASSWORD}"\nMessage-Authenticator = 0x00'
    assert "Received Access-Accept" in run_radclient(radclient, daemon.auth_port, SECRET, login)
    assert acct(radclient, daemon, [req("Start", "single", "su1")]) == 1
    out = run_radclient(radclient, daemon.auth_port, SECRET, login)
    assert "Received Access-Reject" in out
    assert acct(radclient, daemon, [req("Stop", "single", "su1", Acct_Session_Time=5)]) == 1
    assert "Received Access-Accept" in run_radclient(radclient, daemon.auth_port, SECRET, login)


def test_session_closed_outside_the_daemon_frees_simultaneous_use(
    daemon: DaemonProcess, radclient: str
) -> None:
    """A session closed by a Disconnect answered with Error-Cause 503 (RFC 5176 §3.5) is closed
    in the database by the CLI process; the change feed brings it to the running daemon, so the
    subscriber's Simultaneous-Use slot is free again without a Stop from the NAS."""
    from radiusd.coa.sessions import close_session

    daemon.cli("subscriber", "add", "single2", "--password", PASSWORD, "--simultaneous-use", "1")
    login = f'User-Name = "single2"\nUser-Password = "{PASSWORD}"\nMessage-Authenticator = 0x00'
    assert wait_until(
        lambda: "Received Access-Accept" in run_radclient(radclient, daemon.auth_port, SECRET, login), 5
    )
    assert acct(radclient, daemon, [req("Start", "single2", "ce1")]) == 1
    assert "Received Access-Reject" in run_radclient(radclient, daemon.auth_port, SECRET, login)
    (sid,) = query(daemon.url, "SELECT id FROM radius_sessions WHERE username = 'single2'")[0]

    async def close() -> bool:
        engine = create_engine(daemon.url)
        try:
            return await close_session(engine, int(sid))
        finally:
            await engine.dispose()

    assert _run(close()) is True
    assert wait_until(
        lambda: "Received Access-Accept" in run_radclient(radclient, daemon.auth_port, SECRET, login), 5
    )
    assert daemon.events("session.closed-elsewhere")


# -- pyrad -------------------------------------------------------------------------------------

PYRAD_ACCT_DICTIONARY = """\
# Written for these tests from RFC 2865 §5, RFC 2866 §5 and RFC 2869 §5.
ATTRIBUTE	User-Name		1	string
ATTRIBUTE	NAS-IP-Address		4	ipaddr
ATTRIBUTE	NAS-Port		5	integer
ATTRIBUTE	Acct-Status-Type	40	integer
ATTRIBUTE	Acct-Delay-Time		41	integer
ATTRIBUTE	Acct-Input-Octets	42	integer
ATTRIBUTE	Acct-Output-Octets	43	integer
ATTRIBUTE	Acct-Session-Id		44	string
ATTRIBUTE	Acct-Session-Time	46	integer
ATTRIBUTE	Acct-Input-Gigawords	52	integer
ATTRIBUTE	Acct-Output-Gigawords	53	integer
VALUE	Acct-Status-Type	Start		1
VALUE	Acct-Status-Type	Stop		2
VALUE	Acct-Status-Type	Interim-Update	3
"""


@pytest.fixture
def acct_client(daemon: DaemonProcess, tmp_path: Any) -> Any:
    from pyrad.client import Client
    from pyrad.dictionary import Dictionary

    path = tmp_path / "dictionary"
    path.write_text(PYRAD_ACCT_DICTIONARY)
    return Client(server=HOST, acctport=daemon.acct_port, secret=SECRET.encode(), dict=Dictionary(str(path)),
                  retries=2, timeout=2)  # fmt: skip


def send_pyrad(
    client: Any,
    status: str,
    user: str,
    sid: str,
    session_time: int = 0,
    octets: tuple[int, int] = (0, 0),
    giga: tuple[int, int] = (0, 0),
) -> None:
    from pyrad import packet

    p = client.CreateAcctPacket(User_Name=user)
    p["Acct-Status-Type"] = status
    p["Acct-Session-Id"] = sid
    p["NAS-Port"] = 1
    p["Acct-Session-Time"] = session_time
    p["Acct-Input-Octets"], p["Acct-Output-Octets"] = octets
    p["Acct-Input-Gigawords"], p["Acct-Output-Gigawords"] = giga
    reply = client.SendPacket(p)
    assert reply.code == packet.AccountingResponse


def test_other_status_types_are_recorded_once_then_answered(daemon: DaemonProcess, radclient: str) -> None:
    """Failed (15) and a tunnel type (RFC 2867: 9, Tunnel-Start) are not session events, but a
    NAS expects them answered (RFC 2866 §2): each is recorded once in radius_accounting_events,
    a retransmission (new Identifier and Acct-Delay-Time, RFC 5080 §2.2.1) adds no row, and no
    session is created."""
    u = "failed-login"
    failed = req("Failed", u, "f1", Calling_Station_Id='"aa:bb:cc:dd:ee:01"')
    tunnel = req("9", u, "t1")
    assert acct(radclient, daemon, [failed, tunnel]) == 2
    assert acct(radclient, daemon, [failed + "\nAcct-Delay-Time = 3", tunnel + "\nAcct-Delay-Time = 7"]) == 2
    rows = query(
        daemon.url,
        "SELECT status_type, status_name, username, acct_session_id, attributes "
        "FROM radius_accounting_events WHERE username = :u ORDER BY status_type",
        u=u,
    )
    assert [r[:4] for r in rows] == [(9, "Tunnel-Start", u, "t1"), (15, "Failed", u, "f1")]
    assert 'Calling-Station-Id = "aa:bb:cc:dd:ee:01"' in rows[1][4].splitlines()
    assert sessions_of(daemon, u) == [] and usage_of(daemon, u) == (0, 0, 0, 0)
    listed = daemon.cli("session", "events", "--user", u, "--status", "Failed", "--json")
    listed_rows = [(e["status_type"], e["acct_session_id"], e["nas"]) for e in json.loads(listed.stdout)]
    assert listed_rows == [(15, "f1", "lo")]


def test_request_without_status_type_is_still_dropped(daemon: DaemonProcess, radclient: str) -> None:
    """No Acct-Status-Type at all cannot be recorded as anything: dropped, unanswered (RFC 2866 §5.1)."""
    lines = 'User-Name = "nostatus"\nAcct-Session-Id = "n1"\nNAS-Port = 1'
    assert acct(radclient, daemon, [lines]) == 0
    count = "SELECT COUNT(*) FROM radius_accounting_events WHERE username = 'nostatus'"
    assert query(daemon.url, count) == [(0,)]
