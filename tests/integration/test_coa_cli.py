"""``session disconnect``, ``subscriber suspend`` and ``subscriber set-plan`` act on live
sessions through the NAS's plugin (pyrad NAS stand-in on loopback), SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from radiusd.cli.main import cli
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.models import CoaAudit, RadiusSession
from radiusd.store.nas import add_nas
from radiusd.store.plans import add_plan
from radiusd.store.subscribers import add_subscriber
from tests.integration.conftest import wait_until
from tests.integration.test_coa_nas import SECRET, PyradNas, ack, add_session, nak


@pytest.fixture
def nas() -> Iterator[PyradNas]:
    standin = PyradNas()
    yield standin
    standin.close()


def seed(url: str, port: int, vendor: str = "mikrotik") -> list[int]:
    async def go() -> list[int]:
        engine = create_engine(url)
        try:
            await ensure_schema(engine)
            router = await add_nas(engine, "r1", "127.0.0.1", SECRET.decode(), vendor=vendor, coa_port=port)
            await add_plan(engine, "basic", rate_limit="5M/10M")
            await add_plan(engine, "gold", rate_limit="20M/40M")
            await add_subscriber(engine, "alice", "alice-Pw-1", plan="basic")
            return [await add_session(engine, "alice", router.id, n) for n in (1, 2)]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def rows(url: str) -> tuple[dict[int, str], list[tuple[str, str]]]:
    async def go() -> tuple[dict[int, str], list[tuple[str, str]]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                status = {r.id: r.status for r in await conn.execute(sa.select(RadiusSession))}
                audit = [
                    (a.kind, a.outcome) for a in await conn.execute(sa.select(CoaAudit).order_by(CoaAudit.id))
                ]
                return status, audit
        finally:
            await engine.dispose()

    return asyncio.run(go())


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database", url, *args])


def test_session_disconnect_by_id_and_by_user(db_url: str, nas: PyradNas) -> None:
    first, second = seed(db_url, nas.port)
    result = run(db_url, "session", "disconnect", str(first))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"session {first} (alice on r1): disconnected\n"
    assert nas.received[0].attributes["Acct-Session-Id"] == ["81a00001"]
    assert nas.received[0].authenticator_ok and nas.received[0].message_authenticator

    nas.responder = nak(503)
    result = run(db_url, "session", "disconnect", "--user", "alice", "--json")
    assert result.exit_code == 0, result.stderr  # 503: gone already, our records now say so
    data = json.loads(result.stdout)
    assert [(d["session"], d["outcome"], d["error_cause"], d["session_closed"]) for d in data] == [
        (first, "nak", 503, True),
        (second, "nak", 503, True),
    ]
    status, audit = rows(db_url)
    assert status == {first: "closed", second: "closed"}
    assert audit == [("disconnect", "ack"), ("disconnect", "nak"), ("disconnect", "nak")]

    result = run(db_url, "session", "disconnect", str(first))
    assert result.exit_code == 1 and result.stderr == f"radiusd: error: session '{first}' is already closed\n"
    result = run(db_url, "session", "disconnect")
    assert result.exit_code == 2 and result.stderr.startswith("radiusd: error: give a session ID or --user")


def test_suspend_disconnects_and_reports_failures(sqlite_url: str, nas: PyradNas) -> None:
    first, second = seed(sqlite_url, nas.port)
    nas.responder = lambda request, seen: (
        ack(request, seen) if request["Acct-Session-Id"] == ["81a00001"] else nak(501)(request, seen)
    )
    result = run(sqlite_url, "subscriber", "suspend", "alice")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "subscriber 'alice' is suspended",
        f"session {first} (alice on r1): disconnected",
        f"session {second} (alice on r1): disconnect NAK Administratively-Prohibited (501)",
    ]
    assert result.stderr.splitlines() == [
        f"session {first} (alice on 127.0.0.1): waiting up to 30 s for the NAS",
        f"session {second} (alice on 127.0.0.1): waiting up to 30 s for the NAS",
        "radiusd: error: 1 of 2 sessions not acted on (see above)",
    ]
    assert SECRET.decode() not in result.output


def test_set_plan_sends_a_coa_with_the_new_rate(sqlite_url: str, nas: PyradNas) -> None:
    first, second = seed(sqlite_url, nas.port)
    result = run(sqlite_url, "subscriber", "set-plan", "alice", "gold")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "subscriber 'alice' is on plan 'gold'",
        f"session {first} (alice on r1): plan changed (CoA-ACK)",
        f"session {second} (alice on r1): plan changed (CoA-ACK)",
    ]
    assert [r.attributes["Mikrotik-Rate-Limit"] for r in nas.received] == [["20M/40M"], ["20M/40M"]]
    assert all(r.code == 43 for r in nas.received)


def test_set_plan_disconnects_where_the_vendor_cannot_change_it_live(sqlite_url: str, nas: PyradNas) -> None:
    first, _ = seed(sqlite_url, nas.port, vendor="generic")
    result = run(sqlite_url, "subscriber", "set-plan", "alice", "gold")
    assert result.exit_code == 0, result.stderr
    assert (
        f"session {first} (alice on r1): generic NAS cannot change a plan live; disconnected"
        in result.stdout.splitlines()
    )
    assert all(r.code == 40 for r in nas.received)


class SilentNas:
    """A UDP socket that reads every Disconnect-Request and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.received = 0
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while self.running:
            with contextlib.suppress(TimeoutError, OSError):
                self.sock.recv(4096)
                self.received += 1

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentNas]:
    standin = SilentNas()
    yield standin
    standin.close()


def test_a_nas_that_never_answers_is_given_up_after_timeout(sqlite_url: str, silent: SilentNas) -> None:
    first, second = seed(sqlite_url, silent.port)
    started = time.monotonic()
    result = run(sqlite_url, "session", "disconnect", str(first), "--timeout", "1")
    took = time.monotonic() - started
    assert took < 3.0, f"--timeout 1 took {took:.1f} s"
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[0]
        == f"session {first} (alice on 127.0.0.1): waiting up to 1 s for the NAS"
    )
    [line] = result.stdout.splitlines()
    assert line.startswith(f"session {first} (alice on r1): disconnect no answer after ")
    assert silent.received >= 2  # retransmitted within the second

    started = time.monotonic()
    result = run(sqlite_url, "subscriber", "suspend", "alice", "--timeout", "0.5")
    assert time.monotonic() - started < 3.0
    assert result.exit_code == 1
    assert len([x for x in result.stdout.splitlines() if "no answer after" in x]) == 2
    status, audit = rows(sqlite_url)
    assert status == {first: "open", second: "open"}
    assert audit == [("disconnect", "timeout")] * 3


def test_no_wait_sends_and_returns_at_once(sqlite_url: str, silent: SilentNas) -> None:
    first, second = seed(sqlite_url, silent.port)
    started = time.monotonic()
    result = run(sqlite_url, "session", "disconnect", "--user", "alice", "--no-wait", "--json")
    took = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert took < 1.5, f"--no-wait took {took:.1f} s"
    data = json.loads(result.stdout)
    assert [(d["session"], d["attempts"], d["waited"]) for d in data] == [
        (first, 1, False),
        (second, 1, False),
    ]
    assert "sending a Disconnect-Request" in result.stderr
    result = run(sqlite_url, "session", "disconnect", str(first), "--no-wait")
    assert result.exit_code == 0
    assert result.stdout == (
        f"session {first} (alice on r1): Disconnect-Request sent (not waiting for the NAS's answer)\n"
    )
    assert wait_until(lambda: silent.received >= 3, 2.0)
    result = run(sqlite_url, "session", "disconnect", str(first), "--timeout", "0")
    assert result.exit_code == 2 and "--timeout" in result.stderr
