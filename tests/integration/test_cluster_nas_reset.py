"""Accounting-On from a NAS whose sessions another node wrote (two daemons, one PostgreSQL).

Node B accepts two subscribers of NAS X and records their Accounting-Start; node A never
learns of them (its listening connections are gone: the two feeds are stopped, as when a NAS
failed over between servers while they were down). The NAS reboots and sends Accounting-On
to A (RFC 2866 §5.1): every session of X must end in the database, cause NAS-Reboot, their
addresses go back to the pool, B's memory follows within a moment, and a subscriber limited
to one session logs in again at B. Two Daemon objects in this process (so their memory can be
read), real UDP through FreeRADIUS ``radclient``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ipam.lease import LIVE
from radiusd.config import load_settings
from radiusd.daemon import Daemon
from radiusd.model.sessions import LiveSession
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.nas import add_nas
from radiusd.store.plans import add_plan
from radiusd.store.pools import add_pool
from radiusd.store.subscribers import add_subscriber
from tests.conftest import _migrated_pg_url
from tests.integration.conftest import HOST

pytestmark = [pytest.mark.postgres, pytest.mark.radclient]

SECRET = "nas-reset-s3cret"
USERS = {"alice": "pw-Alice-1", "bob": "pw-Bob-22"}


@pytest.fixture
def url(request: pytest.FixtureRequest) -> str:
    """A fresh copy of the session's PostgreSQL database at head."""
    return _migrated_pg_url(request)


async def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        await ensure_schema(engine)
        await add_nas(engine, "x", HOST, SECRET, require_message_authenticator=False)
        await add_pool(engine, "px", ranges=["10.91.0.0/28"])
        await add_plan(engine, "plan", pool="px")
        for user, password in USERS.items():
            await add_subscriber(engine, user, password, plan="plan", simultaneous_use=1)
    finally:
        await engine.dispose()


@pytest.fixture
async def nodes(url: str, tmp_path: Path) -> AsyncIterator[tuple[Daemon, Daemon]]:
    await _seed(url)
    made: list[Daemon] = []
    try:
        for name in ("a", "b"):
            settings = load_settings(
                database_url=url, data_dir=tmp_path / name, bind=(HOST,), auth_port=0, acct_port=0,
                reject_delay=0, gc_freeze_interval=0, sweep_interval=3600,
            )  # fmt: skip
            d = Daemon(settings)
            await d.start()
            made.append(d)
        yield made[0], made[1]
    finally:
        for d in made:
            await d.stop()


def _task(d: Daemon, name: str) -> asyncio.Task[Any]:
    (task,) = [t for t in d._tasks if t.get_name() == name]
    return task


async def deafen(d: Daemon) -> None:
    """Stop ``d`` hearing of other nodes' writes (both of its listening connections lost)."""
    tasks = [_task(d, "radiusd-session-feed"), _task(d, "radiusd-lease-feed")]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def until(predicate: Callable[[], Any], seconds: float = 5.0) -> Any:
    """Poll ``predicate`` every 10 ms for up to ``seconds``; its last value."""
    for _ in range(int(seconds * 100)):
        if value := predicate():
            return value
        await asyncio.sleep(0.01)
    return predicate()


async def send(tool: str, port: int, command: str, attrs: str, retries: int = 1) -> str:
    """One request through ``radclient -x`` (``retries`` sends, a new Identifier each), in a
    thread so that the daemons of this event loop answer it; its output."""

    def run() -> str:
        done = subprocess.run(
            [tool, "-x", "-r", str(retries), "-t", "1", f"{HOST}:{port}", command, SECRET],
            input=attrs.strip() + "\n", capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return done.stdout + done.stderr

    return await asyncio.to_thread(run)


async def login(tool: str, d: Daemon, user: str) -> str | None:
    """An Access-Request at ``d``: the Framed-IP-Address of its Accept, None when rejected."""
    out = await send(
        tool, d.bound["auth"][0][1], "auth", f'User-Name = "{user}"\nUser-Password = "{USERS[user]}"'
    )
    if "Received Access-Accept" not in out:
        assert "Received Access-Reject" in out, out
        return None
    found = re.search(r"Framed-IP-Address = (\S+)", out)
    assert found, out
    return found.group(1)


async def acct(tool: str, d: Daemon, attrs: str) -> bool:
    """An Accounting-Request at ``d``, retransmitted until answered (up to 5 sends)."""
    out = await send(tool, d.bound["acct"][0][1], "acct", attrs, retries=5)
    return "Received Accounting-Response" in out


def start(user: str, ip: str) -> str:
    return (f'Acct-Status-Type = Start\nUser-Name = "{user}"\nAcct-Session-Id = "s-{user}"\n'
            f"NAS-Port = 1\nFramed-IP-Address = {ip}\nAcct-Interim-Interval = 300")  # fmt: skip


def interim(user: str, ip: str, seconds: int, octets: int) -> str:
    return (f'Acct-Status-Type = Interim-Update\nUser-Name = "{user}"\nAcct-Session-Id = "s-{user}"\n'
            f"NAS-Port = 1\nFramed-IP-Address = {ip}\nAcct-Session-Time = {seconds}\n"
            f"Acct-Input-Octets = {octets}\nAcct-Output-Octets = {2 * octets}")  # fmt: skip


ACCOUNTING_ON = 'Acct-Status-Type = Accounting-On\nAcct-Session-Id = "boot"\nNAS-IP-Address = 127.0.0.1'


def session_of(d: Daemon, user: str) -> LiveSession:
    """``user``'s session (of the Acct-Session-Id ``s-USER``) in ``d``'s memory."""
    (found,) = [s for s in d.sessions._sessions.values() if s.acct_session_id == f"s-{user}"]
    return found


async def rows(d: Daemon, sql: str) -> list[tuple[Any, ...]]:
    async with d.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(sa.text(sql))]


async def open_at(tool: str, b: Daemon) -> dict[str, str]:
    """Both subscribers logged in at B, their sessions started there, and one Interim each."""
    ips: dict[str, str] = {}
    for user in USERS:
        ip = await login(tool, b, user)
        assert ip is not None
        ips[user] = ip
        assert await acct(tool, b, start(user, ip))
        assert await acct(tool, b, interim(user, ip, 60, 1000))
    return ips


async def test_accounting_on_at_one_node_ends_the_sessions_another_node_wrote(
    nodes: tuple[Daemon, Daemon], radclient: str
) -> None:
    a, b = nodes
    tool = radclient
    await deafen(a)
    ips = await open_at(tool, b)
    assert a.sessions.open_of_nas(HOST) == [] and len(b.sessions.open_of_nas(HOST)) == 2
    assert all(a.ipam.alloc.lookup(ip) is None or a.ipam.alloc.lookup(ip).state not in LIVE  # type: ignore[union-attr]
               for ip in ips.values()), "A knew B's leases: the test would not show the gap"  # fmt: skip
    assert await login(tool, b, "alice") is None  # Simultaneous-Use 1: her session is open

    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert await acct(tool, a, ACCOUNTING_ON), "no Accounting-Response from A"
    after = dt.datetime.now(dt.UTC)

    # the database: every session of X closed at the event time, cause NAS-Reboot, recorded
    sessions = await rows(a, "SELECT username, status, terminate_cause, stopped_at FROM radius_sessions "
                             "ORDER BY username")  # fmt: skip
    assert [(u, s, c) for u, s, c, _ in sessions] == [("alice", "closed", "NAS-Reboot"),
                                                         ("bob", "closed", "NAS-Reboot")]  # fmt: skip
    for *_, stopped in sessions:
        assert before - dt.timedelta(seconds=1) <= stopped <= after
    closed = await rows(a, "SELECT username, terminate_cause, input_octets, output_octets "
                           "FROM radius_accounting ORDER BY username")  # fmt: skip
    assert closed == [("alice", "NAS-Reboot", 1000, 2000), ("bob", "NAS-Reboot", 1000, 2000)]
    # usage counted once: the closure adds nothing to what the requests reported
    usage = await rows(a, "SELECT username, input_octets, output_octets, session_time, sessions "
                          "FROM service_usage ORDER BY username")  # fmt: skip
    assert usage == [("alice", 1000, 2000, 60, 1), ("bob", 1000, 2000, 60, 1)]
    # the leases: released in the database, their history closed
    leases = await rows(a, "SELECT address, state FROM ipv4_ips ORDER BY address")
    assert {addr: state for addr, state in leases if addr in ips.values()} == dict.fromkeys(
        sorted(ips.values()), "released"
    )
    assert await rows(a, "SELECT count(*) FROM service_ip_assignments WHERE released_at IS NULL") == [(0,)]
    # A's memory took what it closed
    assert [(s.status, s.terminate_cause) for s in map(lambda u: session_of(a, u), USERS)] == [
        ("closed", "NAS-Reboot")
    ] * 2
    assert a.sessions.open_of_nas(HOST) == []
    assert all(a.ipam.alloc.lookup(ip).state not in LIVE for ip in ips.values())  # type: ignore[union-attr]

    # node B follows within a moment: its session table and its allocator
    assert await until(lambda: not b.sessions.open_of_nas(HOST)), "B still holds the sessions open"
    assert b.sessions.open_sessions("alice") == 0
    assert await until(
        lambda: all(b.ipam.alloc.lookup(ip).state not in LIVE for ip in ips.values())  # type: ignore[union-attr]
    ), "B's allocator still holds the addresses"
    # a new login of alice at B (Simultaneous-Use 1) is accepted, and its session starts
    ip = await login(tool, b, "alice")
    assert ip is not None, "B rejected alice: it still counts her closed session"
    new_start = start("alice", ip).replace('"s-alice"', '"s-alice-2"')
    assert await acct(tool, b, new_start)
    assert await rows(a, "SELECT count(*) FROM radius_sessions WHERE status = 'open'") == [(1,)]
    # the NAS retransmits its Accounting-On (a new Identifier and Acct-Delay-Time, past the
    # dedupe cache: RFC 2866 §5.2): it ends only what started before it was first sent, so
    # alice's new session stays open
    delay = int((dt.datetime.now(dt.UTC) - before).total_seconds()) + 1
    on_again = ACCOUNTING_ON + f"\nAcct-Delay-Time = {delay}"
    assert await acct(tool, a, on_again)
    assert await rows(a, "SELECT username FROM radius_sessions WHERE status = 'open'") == [("alice",)]
    assert len(b.sessions.open_of_nas(HOST)) == 1


async def test_an_interim_computed_before_the_reset_is_not_written_over_it(
    nodes: tuple[Daemon, Daemon], radclient: str
) -> None:
    """The race: B writes an Interim-Update of a session while A closes it. Here B never hears
    of the closure (its feeds are stopped too), the outcome of A committing first: B's write is
    over an old revision, so nothing of it is written; B rereads the session and answers the
    NAS's retransmission from the closed row (the usage it reports counted once, the session
    stays closed)."""
    a, b = nodes
    tool = radclient
    await deafen(a)
    ips = await open_at(tool, b)
    await deafen(b)
    assert await acct(tool, a, ACCOUNTING_ON)
    assert len(b.sessions.open_of_nas(HOST)) == 2  # B's memory is behind
    assert await acct(tool, b, interim("bob", ips["bob"], 120, 5000))  # lost once, then answered
    assert b.accounting.dropped_stale >= 1
    sessions = await rows(
        a, "SELECT username, status, terminate_cause FROM radius_sessions ORDER BY username"
    )
    assert sessions == [("alice", "closed", "NAS-Reboot"), ("bob", "closed", "NAS-Reboot")]
    usage = await rows(a, "SELECT input_octets, output_octets, session_time FROM service_usage "
                          "WHERE username = 'bob'")  # fmt: skip
    assert usage == [(5000, 10000, 120)]
    points = await rows(a, "SELECT i.input_octets FROM radius_interim_updates i JOIN radius_sessions s "
                           "ON s.id = i.session_id WHERE s.username = 'bob' "
                           "ORDER BY i.event_time, i.id")  # fmt: skip
    assert [p for (p,) in points] == [0, 1000, 5000]
    assert (session_of(b, "bob").status, session_of(b, "bob").terminate_cause) == ("closed", "NAS-Reboot")
