"""The running daemon over time: ``serve -X`` output, the Access-Reject delay, retransmissions
seen in the debug output, SIGHUP (config and tables reloaded) and SIGTERM (in-flight requests
finished, exit 0).

One daemon, started as an operator would: ``radiusd serve -X --config radiusd.toml`` with the
reject delay and the change-feed interval in the file (the interval is an hour here, so only
SIGHUP can bring a CLI edit in). SQLite only: nothing here depends on the backend, and
test_daemon_auth.py runs the login flows on both. The tests run in file order; the last one
stops the daemon.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyrad import packet as pyrad_packet

from .conftest import DaemonProcess, UdpPeer, pyrad_client, run_radclient, run_radtest, wait_until

SECRET = "debug-Secr3t-h4"
SECRET6 = "ipv6-Secr3t-k2"
PASSWORD = "alice-Dbg-Pw-93"
OTHER_PASSWORD = "bob-Dbg-Pw-27"
RATE_LIMIT = "5M/10M"
REJECT_DELAY = 0.5
TIMER_GRAIN = 0.002  # seconds: libuv's millisecond timer clock, with a margin


def write_config(path: Path, reject_delay: float) -> None:
    path.write_text(f"[radiusd]\nreject_delay = {reject_delay}\nchange_poll_interval = 3600.0\n")


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "radiusd.toml"
    write_config(path, REJECT_DELAY)
    return path


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, daemon_factory: Callable[..., DaemonProcess], config_file: Path
) -> DaemonProcess:
    def seed(d: DaemonProcess) -> None:
        d.cli("nas", "add", "lab", "--address", "127.0.0.1", "--secret", SECRET, "--vendor", "mikrotik")
        d.cli("nas", "add", "lab6", "--address", "::1", "--secret", SECRET6)
        d.cli("plan", "add", "basic", "--rate-limit", RATE_LIMIT)
        d.cli("subscriber", "add", "alice", "--password", PASSWORD, "--plan", "basic")
        d.cli("subscriber", "add", "bob", "--password", OTHER_PASSWORD)

    url = f"sqlite+aiosqlite:///{(tmp_path_factory.mktemp('db') / 'radiusd.sqlite3').as_posix()}"
    # The delay comes from the file, so the harness's RADIUSD_REJECT_DELAY=0 must not override it.
    return daemon_factory(
        url,
        args=("-X", "--config", str(config_file), "--bind", "::1"),
        env={"RADIUSD_REJECT_DELAY": None},
        seed=seed,
    )


@pytest.fixture
def client(daemon: DaemonProcess, pyrad_dictionary: Any) -> Any:
    return pyrad_client(daemon, pyrad_dictionary, SECRET)


def pap(client: Any, user: str, password: str) -> Any:
    req = client.CreateAuthPacket(User_Name=user)
    req["User-Password"] = req.PwCrypt(password)
    return req


def received_lines(daemon: DaemonProcess, port: int) -> list[str]:
    return re.findall(
        rf"^\(\d+\) Received Access-Request Id \d+ from 127\.0\.0\.1:{port} .*$", daemon.stdout(), re.M
    )


def block(daemon: DaemonProcess, n: str) -> str:
    """Every ``-X`` line of packet number ``n``."""
    return "\n".join(line for line in daemon.stdout().splitlines() if line.startswith(f"({n}) "))


def seq_of(daemon: DaemonProcess, port: int) -> str:
    lines = received_lines(daemon, port)
    assert len(lines) == 1, lines
    return lines[0][1 : lines[0].index(")")]


def test_debug_output_shows_each_packet_and_decision(
    daemon: DaemonProcess, radtest: str, client: Any
) -> None:
    out = run_radtest(radtest, "alice", PASSWORD, daemon.auth_port, SECRET)
    assert "Received Access-Accept" in out, out
    port = int(re.search(r"from 0\.0\.0\.0:(\d+)", out).group(1))  # type: ignore[union-attr]
    n = seq_of(daemon, port)
    text = wait_until(lambda: (b := block(daemon, n)) and "Sent Access-Accept" in b and b, 3.0)
    assert text, daemon.stdout()[-2000:]
    assert 'User-Name = "alice"' in text
    assert "User-Password = ********" in text
    assert "from NAS 'lab' (127.0.0.1, vendor mikrotik)" in text
    assert "subscriber 'alice' found: plan basic, status active" in text
    assert re.search(r"^\(\d+\)   PAP: ", text, re.M)
    assert f"reply attribute Mikrotik-Rate-Limit = {RATE_LIMIT}" in text
    assert re.search(rf'Sent Access-Accept .*\n.*Mikrotik-Rate-Limit = "{re.escape(RATE_LIMIT)}"', text)

    with UdpPeer() as peer:
        raw = peer.exchange(pap(client, "alice", "wrong-" + PASSWORD).RequestPacket(), daemon.auth_port)
        assert raw is not None and raw[0] == pyrad_packet.AccessReject
        n = seq_of(daemon, peer.port)
        text = wait_until(lambda: (b := block(daemon, n)) and "Sent Access-Reject" in b and b, 3.0)
    assert text
    assert re.search(r"reject: PAP: ", text)
    assert f"(after a {REJECT_DELAY:g} s reject delay)" in text

    # The other methods, so that the secret-masking check at the end of the module covers them.
    for method in ("chap", "mschap"):
        assert "Received Access-Accept" in run_radtest(
            radtest, "alice", PASSWORD, daemon.auth_port, SECRET, method
        )
    req = client.CreateAuthPacket(User_Name="alice", message_authenticator=False)
    req["User-Password"] = req.PwCrypt(PASSWORD)
    with UdpPeer() as peer:
        peer.send(req.RequestPacket(), daemon.auth_port)
        assert wait_until(
            lambda: re.search(
                rf"Dropped packet from 127\.0\.0\.1:{peer.port}: missing-message-authenticator",
                daemon.stdout(),
            ),
            3.0,
        )


def test_ipv6_listener_with_its_own_nas(daemon: DaemonProcess, radclient: str) -> None:
    [(host4, _), (host6, port6)] = daemon.bound["auth"]
    [(_, acct6)] = [a for a in daemon.bound["acct"] if a[0] == "::1"]
    assert (host4, host6) == ("127.0.0.1", "::1")
    attrs = f'User-Name = "alice", User-Password = "{PASSWORD}", Message-Authenticator = 0x00\n'
    out = run_radclient(radclient, port6, SECRET6, attrs, host="::1")
    assert "Received Access-Accept" in out, out
    assert re.search(r"^\(\d+\) Received Access-Request Id \d+ from ::1:\d+ ", daemon.stdout(), re.M)
    out = run_radclient(radclient, acct6, SECRET6, "Message-Authenticator = 0x00\n", "status", host="::1")
    assert "Received Accounting-Response" in out, out
    # The IPv4 NAS's secret means nothing on an IPv6 source: the Message-Authenticator fails.
    before = len(daemon.events("packet.dropped", reason="bad-message-authenticator", nas="lab6"))
    run_radclient(radclient, port6, SECRET, attrs, host="::1", timeout=0.3)
    daemon.wait_event("packet.dropped", count=before + 1, reason="bad-message-authenticator", nas="lab6")


def test_reject_delay_holds_the_reject_and_nothing_else(daemon: DaemonProcess, client: Any) -> None:
    reject = pap(client, "alice", "wrong-" + PASSWORD).RequestPacket()
    accept = pap(client, "bob", OTHER_PASSWORD).RequestPacket()
    with UdpPeer() as slow, UdpPeer() as fast:
        started = time.monotonic()
        slow.send(reject, daemon.auth_port)
        answer = fast.exchange(accept, daemon.auth_port)
        accepted_after = time.monotonic() - started
        assert answer is not None and answer[0] == pyrad_packet.AccessAccept
        rejected = slow.receive(timeout=REJECT_DELAY + 2)
        rejected_after = time.monotonic() - started
    assert rejected is not None and rejected[0] == pyrad_packet.AccessReject
    # the event loop's timers count whole milliseconds from a clock read at the start of each
    # loop iteration (libuv under uvloop), so the delay may end up to ~1 ms early by this clock
    assert rejected_after >= REJECT_DELAY - TIMER_GRAIN
    assert accepted_after < REJECT_DELAY / 2, (
        f"the accept waited {accepted_after:.3f} s behind a delayed reject"
    )


def test_retransmissions_are_handled_once(daemon: DaemonProcess, client: Any) -> None:
    # After the reply: the cached bytes, and the handler (and -X) see the request once.
    data = pap(client, "alice", PASSWORD).RequestPacket()
    with UdpPeer() as peer:
        first = peer.exchange(data, daemon.auth_port)
        again = peer.exchange(data, daemon.auth_port)
        assert first is not None and first[0] == pyrad_packet.AccessAccept
        assert again == first
        assert len(received_lines(daemon, peer.port)) == 1

    # While in flight (a reject being delayed): the copy is dropped, one reply comes, once.
    data = pap(client, "alice", "wrong-" + PASSWORD).RequestPacket()
    with UdpPeer() as peer:
        peer.send(data, daemon.auth_port)
        peer.send(data, daemon.auth_port)
        first = peer.receive(timeout=REJECT_DELAY + 2)
        assert first is not None and first[0] == pyrad_packet.AccessReject
        assert peer.receive(timeout=0.2) is None, "a retransmission in flight was answered twice"
        started = time.monotonic()
        assert peer.exchange(data, daemon.auth_port) == first
        assert time.monotonic() - started < REJECT_DELAY, "the cached reject was delayed again"
        assert len(received_lines(daemon, peer.port)) == 1


def test_sighup_reloads_tables_and_config(daemon: DaemonProcess, client: Any, config_file: Path) -> None:
    user, password = f"hup-{os.urandom(3).hex()}", "hup-Pw-61"
    daemon.cli("subscriber", "add", user, "--password", password)
    # The change feed is read hourly here: without SIGHUP the daemon does not know the user.
    assert client.SendPacket(pap(client, user, password)).code == pyrad_packet.AccessReject

    reloads = len(daemon.events("config.reloaded"))
    write_config(config_file, 0.0)
    daemon.signal(signal.SIGHUP)
    daemon.wait_event("config.reloaded", count=reloads + 1)
    assert client.SendPacket(pap(client, user, password)).code == pyrad_packet.AccessAccept
    started = time.monotonic()
    assert client.SendPacket(pap(client, user, "wrong")).code == pyrad_packet.AccessReject
    assert time.monotonic() - started < REJECT_DELAY / 2, "the new reject delay (0) was not applied"

    write_config(config_file, REJECT_DELAY)
    daemon.signal(signal.SIGHUP)
    daemon.wait_event("config.reloaded", count=reloads + 2)
    started = time.monotonic()
    assert client.SendPacket(pap(client, user, "wrong")).code == pyrad_packet.AccessReject
    assert time.monotonic() - started >= REJECT_DELAY


def test_sighup_brings_in_a_pool_not_yet_read_from_the_change_feed(
    daemon: DaemonProcess, client: Any
) -> None:
    """SIGHUP reloads the tables and moves the change-feed position to now, so the changes the
    feed had not yet delivered (a new pool, a reservation in it) must come in with the reload, or
    they would be lost until restart."""
    tag = os.urandom(2).hex()
    user, password, pool = f"hup-pool-{tag}", "hup-Pw-62", f"hup-{tag}"
    daemon.cli("pool", "add", pool, "--range", "10.80.0.0/30")
    daemon.cli("plan", "add", f"hup-plan-{tag}", "--pool", pool)
    daemon.cli("subscriber", "add", user, "--password", password, "--plan", f"hup-plan-{tag}")
    daemon.cli("pool", "reserve", "10.80.0.1")  # a lease edit in the feed: applied, not skipped
    reloads = len(daemon.events("config.reloaded"))
    daemon.signal(signal.SIGHUP)
    daemon.wait_event("config.reloaded", count=reloads + 1)
    reply = client.SendPacket(pap(client, user, password))
    assert reply.code == pyrad_packet.AccessAccept
    assert reply["Framed-IP-Address"][0] == "10.80.0.2"


def test_output_never_holds_a_password_or_the_secret(daemon: DaemonProcess) -> None:
    out = daemon.stdout() + daemon.stderr()
    assert "Received Access-Request" in out and "Sent Access-Reject" in out  # there was traffic
    for secret in (SECRET, PASSWORD, OTHER_PASSWORD, "wrong-" + PASSWORD, "hup-Pw-61"):
        assert secret not in out
        assert secret.encode().hex() not in out


def test_sigterm_finishes_requests_in_flight_then_exits_0(daemon: DaemonProcess, client: Any) -> None:
    """Last in the module: it stops the daemon."""
    with UdpPeer() as peer:
        peer.send(pap(client, "alice", "wrong-" + PASSWORD).RequestPacket(), daemon.auth_port)
        assert wait_until(lambda: received_lines(daemon, peer.port), 3.0)
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        reply = peer.receive(timeout=REJECT_DELAY + 2)  # the delayed reject still goes out
        assert reply is not None and reply[0] == pyrad_packet.AccessReject
        assert daemon.stop() == 0
    assert time.monotonic() - started < REJECT_DELAY + 2.0
    assert daemon.events("server.stopped")
