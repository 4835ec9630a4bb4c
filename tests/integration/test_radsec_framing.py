"""RadSec (RFC 6614) against ``radiusd serve`` with a Python TLS client on the ``ssl`` module.

Framing by the Length field (a packet split across TCP segments, two packets in one segment,
a Length over 4096 or under 20 closing the connection), Access and Accounting on one
connection, Status-Server as watchdog (RFC 5997), mutual TLS and the certificate-to-NAS
mapping (fingerprint, subject; unknown certificates and a foreign CA refused), the UDP of a
RadSec NAS refused, the idle timeout, the connection limits, the metrics. Packets are built by
hand in radsec_helpers (hashlib/hmac), replies checked the same way. SQLite only: nothing
here depends on the database (test_radsec_proxy runs both backends).
"""

from __future__ import annotations

import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import HOST, DaemonProcess, UdpPeer, wait_until
from .radsec_helpers import (
    CertificateAuthority,
    Issued,
    TlsClient,
    access_request,
    accounting_request,
    coa_request,
    free_port,
    radsec_env,
    reply_ok,
    status_server,
)

UDP_SECRET = "udp-Secr3t-for-edge-9"
PASSWORD = "alice-Pw-51x"
IDLE = 2.0
TOKENS: dict[str, str] = {}


class Pki:
    def __init__(self, root: Path) -> None:
        self.ca = CertificateAuthority(root / "ca")
        self.server = self.ca.issue_daemon()
        self.pop1 = self.ca.issue("pop1.example.net")  # mapped by fingerprint
        self.pop2 = self.ca.issue("pop2.example.net", dns=("pop2.example.net",))  # mapped by subject
        self.stranger = self.ca.issue("stranger.example.net")  # right CA, no NAS
        self.foreign_ca = CertificateAuthority(root / "foreign", "foreign CA")
        self.foreign = self.foreign_ca.issue("pop1.example.net")
        self.server_ca = root / "server-ca.pem"  # the daemon's radsec_ca, rewritten by the SIGHUP test
        self.server_ca.write_bytes(self.ca.path.read_bytes())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def api_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def daemon(
    pki: Pki,
    api_port: int,
    daemon_factory: Callable[..., DaemonProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DaemonProcess]:
    url = f"sqlite+aiosqlite:///{(tmp_path_factory.mktemp('db') / 'radiusd.sqlite3').as_posix()}"

    def seed(d: DaemonProcess) -> None:
        d.cli("nas", "add", "edge", "--address", HOST, "--secret", UDP_SECRET)
        d.cli(
            "nas", "add", "pop1", "--address", "127.0.0.2", "--secret", "coa-Secr3t-pop1-xx",
            "--vendor", "mikrotik", "--radsec-fingerprint", pki.pop1.fingerprint,
        )  # fmt: skip
        d.cli(
            "nas", "add", "pop2", "--address", "192.0.2.0/24", "--secret", "coa-Secr3t-pop2-xx",
            "--radsec-subject", "pop2.example.net",
        )  # fmt: skip
        d.cli("plan", "add", "gold", "--rate-limit", "10M/20M")
        csv = d.workdir / "subs.csv"
        csv.write_text(f"username,password,plan\nalice,{PASSWORD},gold\n")
        d.cli("subscriber", "import", str(csv))
        TOKENS["metrics"] = d.cli("api-token", "create", "metrics", "--read-only").stdout.split()[0]

    env = radsec_env(
        pki.server, pki.server_ca, radsec_idle_timeout=str(IDLE), radsec_handshake_timeout="1.5",
        radsec_max_connections="5", radsec_max_per_nas="3",
    )  # fmt: skip
    yield daemon_factory(url, env=env, seed=seed, args=("--api-bind", f"{HOST}:{api_port}"))


def port(d: DaemonProcess) -> int:
    return int(d.bound["radsec"][0][1])


def client(d: DaemonProcess, pki: Pki, cert: Issued | None, timeout: float = 5.0) -> TlsClient:
    return TlsClient(port(d), pki.ca.path, cert, timeout=timeout)


def metrics(d: DaemonProcess, api_port: int) -> str:
    token = TOKENS["metrics"]
    return httpx.get(f"http://{HOST}:{api_port}/metrics", headers={"Authorization": f"Bearer {token}"}).text


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name + (f"{{{inner}}}" if labels else "")) + r" ([0-9.e+]+)"
    m = re.search(pattern, text)
    return float(m.group(1)) if m else 0.0


def open_of(d: DaemonProcess, api_port: int, nas: str) -> float:
    return metric(metrics(d, api_port), "radiusd_radsec_connections", nas=nas)


# -- requests answered as over UDP ------------------------------------------------------------


def test_access_accounting_and_status_on_one_connection(daemon: DaemonProcess, pki: Pki) -> None:
    with client(daemon, pki, pki.pop1) as c:
        req = access_request(1, "alice", PASSWORD)
        c.send(req)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 2, "Access-Accept"
        assert reply_ok(reply, req), "Response Authenticator with the secret 'radsec' (RFC 6614 §2.3)"
        bad = access_request(2, "alice", "wrong-password")
        c.send(bad)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 3 and reply_ok(reply, bad), "Access-Reject"
        acct = accounting_request(3, "alice", "radsec-session-1")
        c.send(acct)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 5 and reply_ok(reply, acct), "Accounting-Response"
        ping = status_server(0)  # RFC 6613 §2.6.5: ID 0 kept for Status-Server
        c.send(ping)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 2 and reply_ok(reply, ping), "Status-Server: Access-Accept"
    # the session is recorded against the NAS the certificate named
    shown = daemon.cli("session", "list", "--json").stdout
    assert "radsec-session-1" in shown and "pop1" in shown


def test_duplicates_are_detected_per_connection(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """RFC 6613 §2.6.1: a retransmission on the same connection is answered from the reply
    cache; the same octets on a new connection are a new request (the old cache went with it)."""
    acct = accounting_request(33, "alice", "radsec-dup-1", status=3)  # Interim-Update
    before = metric(metrics(daemon, api_port), "radiusd_duplicates_total")
    with client(daemon, pki, pki.pop1) as c:
        c.send(acct)
        first = c.recv_packet()
        c.send(acct)
        second = c.recv_packet()
        assert first is not None and first == second and reply_ok(first, acct)
    assert metric(metrics(daemon, api_port), "radiusd_duplicates_total") == before + 1
    with client(daemon, pki, pki.pop1) as c:
        c.send(acct)
        again = c.recv_packet()
        assert again is not None and again[0] == 5
    assert metric(metrics(daemon, api_port), "radiusd_duplicates_total") == before + 1


def test_coa_request_from_the_client_gets_a_nak(daemon: DaemonProcess, pki: Pki) -> None:
    """RFC 6614 §2.4: CoA is not taken on this port: CoA-NAK, Error-Cause 406, connection kept."""
    with client(daemon, pki, pki.pop1) as c:
        coa = coa_request(21, "radsec-session-1")
        c.send(coa)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 45 and reply_ok(reply, coa), "CoA-NAK"
        assert reply[20:] == bytes([101, 6]) + (406).to_bytes(4, "big"), "Error-Cause = Unsupported-Extension"
        ping = status_server(0)
        c.send(ping)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 2, "the connection stays open"


def test_udp_secret_is_not_the_tls_secret(daemon: DaemonProcess, pki: Pki) -> None:
    """A request made with another secret is unauthentic on TLS: dropped, connection closed."""
    with client(daemon, pki, pki.pop1) as c:
        c.send(accounting_request(7, "alice", "s-x", secret=UDP_SECRET.encode()))
        assert c.closed_by_server(), "RFC 6613 §2.6.4: a bad authenticator closes the connection"


def test_packet_split_across_segments(daemon: DaemonProcess, pki: Pki) -> None:
    with client(daemon, pki, pki.pop1) as c:
        req = access_request(9, "alice", PASSWORD)
        for piece in (req[:3], req[3:21], req[21:40], req[40:]):  # the Length field itself split
            c.send(piece)
            time.sleep(0.05)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 2 and reply_ok(reply, req)


def test_two_packets_in_one_segment(daemon: DaemonProcess, pki: Pki) -> None:
    with client(daemon, pki, pki.pop1) as c:
        first, second = access_request(10, "alice", PASSWORD), status_server(0)
        third = accounting_request(11, "alice", "radsec-session-2")
        c.send(first + second + third[:30])  # two whole packets and the start of a third
        c.send(third[30:])
        replies = {r[1]: r for r in (c.recv_packet(), c.recv_packet(), c.recv_packet()) if r is not None}
        assert set(replies) == {10, 0, 11}
        assert replies[10][0] == 2 and reply_ok(replies[10], first)
        assert replies[0][0] == 2 and reply_ok(replies[0], second)
        assert replies[11][0] == 5 and reply_ok(replies[11], third)


@pytest.mark.parametrize("length", [4097, 19, 0])
def test_bad_length_closes_the_connection(daemon: DaemonProcess, pki: Pki, length: int) -> None:
    before = daemon.events("radsec.closed", reason="bad-length")
    with client(daemon, pki, pki.pop1) as c:
        c.send(bytes([1, 1]) + length.to_bytes(2, "big") + bytes(16))
        assert c.closed_by_server()
    daemon.wait_event("radsec.closed", count=len(before) + 1, reason="bad-length")


def test_subject_mapping_and_subnet_nas(daemon: DaemonProcess, pki: Pki) -> None:
    """pop2 is known by its DNS name; stored as a subnet, it takes the peer's address."""
    with client(daemon, pki, pki.pop2) as c:
        req = access_request(1, "alice", PASSWORD)
        c.send(req)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 2 and reply_ok(reply, req)
    assert daemon.events("radsec.connected", nas="pop2")


def test_connections_follow_nas_changes(daemon: DaemonProcess, pki: Pki) -> None:
    """A NAS taken off RadSec loses its open connections (within the change poll); back on
    RadSec, its certificate is accepted again."""
    with client(daemon, pki, pki.pop2) as c:
        c.send(status_server(0))
        assert c.recv_packet() is not None
        daemon.cli("nas", "set", "pop2", "--no-radsec")
        assert c.closed_by_server(timeout=5)
    daemon.wait_event("radsec.closed", nas="pop2", reason="nas-removed")
    daemon.cli("nas", "set", "pop2", "--radsec")

    def served() -> bool:
        with client(daemon, pki, pki.pop2) as c:
            c.send(status_server(0))
            return c.recv_packet() is not None

    assert wait_until(served, 5, 0.3)


# -- who may connect --------------------------------------------------------------------------


def test_certificate_of_no_nas_is_refused(daemon: DaemonProcess, pki: Pki) -> None:
    with client(daemon, pki, pki.stranger) as c:
        c.send(access_request(1, "alice", PASSWORD))
        assert c.closed_by_server()
    event = daemon.wait_event("radsec.refused", reason="unknown-certificate")[-1]
    assert event["fingerprint"] == pki.stranger.fingerprint and "stranger" in event["subject"]
    assert "radsec" not in {str(v) for v in event.values()}, "no secret in the log line"


def test_foreign_ca_and_no_certificate_are_refused(daemon: DaemonProcess, pki: Pki) -> None:
    for cert in (pki.foreign, None):
        try:
            c = client(daemon, pki, cert)
        except (OSError, ConnectionError):
            continue  # refused in the handshake (TLS 1.2), as it should
        with c:  # TLS 1.3: the server's alert arrives after the client finished
            try:
                c.send(access_request(1, "alice", PASSWORD))
            except OSError:
                continue
            assert c.closed_by_server()
    assert len(daemon.wait_event("radsec.refused", count=2, reason="handshake-failed")) >= 2


def test_udp_from_a_radsec_nas_is_refused(daemon: DaemonProcess) -> None:
    with UdpPeer("127.0.0.2") as udp:
        udp.sock.settimeout(0.5)
        udp.sock.sendto(access_request(1, "alice", PASSWORD, secret=b"coa-Secr3t-pop1-xx"), daemon.auth_addr)
        with pytest.raises(TimeoutError):
            udp.sock.recv(4096)


def test_handshake_timeout(daemon: DaemonProcess) -> None:
    with socket.create_connection((HOST, port(daemon))) as raw:
        raw.settimeout(5)
        started = time.monotonic()
        assert raw.recv(100) == b""  # closed by the server, nothing sent
        assert 1.0 < time.monotonic() - started < 4.5
    daemon.wait_event("radsec.refused", reason="handshake-timeout")


def test_idle_timeout(daemon: DaemonProcess, pki: Pki) -> None:
    with client(daemon, pki, pki.pop1, timeout=10) as c:
        c.send(status_server(0))
        assert c.recv_packet() is not None
        started = time.monotonic()
        assert c.closed_by_server(timeout=IDLE * 4)
        assert IDLE * 0.8 < time.monotonic() - started < IDLE * 3
    daemon.wait_event("radsec.closed", reason="idle-timeout")


def test_connection_limits(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """At most 3 per NAS and 5 in all (this module's settings)."""
    assert wait_until(
        lambda: metric(metrics(daemon, api_port), "radiusd_radsec_connections", nas="pop1") == 0, 5
    )
    held = [client(daemon, pki, pki.pop1) for _ in range(3)]
    try:
        for i, c in enumerate(held):  # each answered: mapped, counted
            c.send(status_server(0))
            assert c.recv_packet() is not None, f"connection {i}"
        with client(daemon, pki, pki.pop1) as fourth:
            fourth.send(status_server(0))
            assert fourth.closed_by_server(), "a 4th connection of pop1 is over max_per_nas"
        held += [client(daemon, pki, pki.pop2) for _ in range(2)]
        for c in held[3:]:
            c.send(status_server(0))
            assert c.recv_packet() is not None
        sixth = socket.create_connection((HOST, port(daemon)))
        sixth.settimeout(5)
        assert sixth.recv(100) == b"", "a 6th connection is over max_connections (closed before TLS)"
        sixth.close()
        text = metrics(daemon, api_port)
        assert metric(text, "radiusd_radsec_connections", nas="pop1") == 3
        assert metric(text, "radiusd_radsec_connections", nas="pop2") == 2
        assert metric(text, "radiusd_radsec_refused_total", reason="nas-connection-limit") >= 1
        assert metric(text, "radiusd_radsec_refused_total", reason="connection-limit") >= 1
    finally:
        for c in held:
            c.close()
    assert wait_until(
        lambda: metric(metrics(daemon, api_port), "radiusd_radsec_connections", nas="pop1") == 0, 5
    )


def test_metrics_count_connections_and_drops(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """Each kind of event moves its own counter (this test makes one of each)."""
    names = [
        ("radiusd_radsec_accepted_total", {}),
        ("radiusd_radsec_refused_total", {"reason": "unknown-certificate"}),
        ("radiusd_radsec_closed_total", {"reason": "bad-length"}),
        ("radiusd_radsec_closed_total", {"reason": "peer-closed"}),
        ("radiusd_drops_total", {"reason": "radsec-bad-length"}),
        ("radiusd_drops_total", {"reason": "radsec-only"}),
        ("radiusd_requests_total", {"type": "access", "result": "accept"}),
    ]

    def values() -> list[float]:
        text = metrics(daemon, api_port)
        return [metric(text, name, **labels) for name, labels in names]

    before = values()
    with client(daemon, pki, pki.pop1) as c:  # accepted, one accept, closed by the peer
        req = access_request(40, "alice", PASSWORD)
        c.send(req)
        assert c.recv_packet() is not None
    with client(daemon, pki, pki.pop1) as c:  # accepted, closed for a bad Length
        c.send(bytes([1, 1, 0x20, 0]) + bytes(16))
        assert c.closed_by_server()
    with client(daemon, pki, pki.stranger) as c:
        c.send(req)
        assert c.closed_by_server()
    with UdpPeer("127.0.0.2") as udp:
        udp.sock.sendto(access_request(1, "alice", PASSWORD, secret=b"coa-Secr3t-pop1-xx"), daemon.auth_addr)
    expected = [b + d for b, d in zip(before, [2, 1, 1, 1, 1, 1, 1], strict=True)]
    assert wait_until(lambda: values() == expected, 5), (before, values())


def test_sighup_reloads_the_certificate_files(daemon: DaemonProcess, pki: Pki) -> None:
    """New connections use the files as they are at the reload; a file that cannot be loaded
    leaves the previous ones in use."""
    original = pki.server_ca.read_bytes()

    def accepted() -> bool:
        try:
            with client(daemon, pki, pki.pop1) as c:
                c.send(status_server(0))
                return c.recv_packet() is not None
        except OSError:
            return False

    def reload(event: str) -> None:
        count = len(daemon.events(event))
        daemon.signal(signal.SIGHUP)
        daemon.wait_event(event, timeout=10, count=count + 1)

    try:
        with client(daemon, pki, pki.pop1) as kept:  # an established connection keeps its context
            pki.server_ca.write_bytes(pki.foreign_ca.path.read_bytes())
            reload("radsec.reloaded")
            assert not accepted(), "pop1's CA is no longer trusted"
            kept.send(status_server(0))
            assert kept.recv_packet() is not None
        pki.server_ca.write_text("not a certificate")
        reload("radsec.reload-failed")
        assert not accepted(), "the previous (foreign-only) CA stays in use"
    finally:
        pki.server_ca.write_bytes(original)
    reload("radsec.reloaded")
    assert accepted()


def test_debug_view_shows_peer_and_nas(
    pki: Pki, daemon: DaemonProcess, daemon_factory: Callable[..., DaemonProcess]
) -> None:
    """``serve -X``: the connection's peer, the NAS its certificate named, and each packet.
    Last in the module: the module's daemon makes way (SQLite serves one daemon)."""
    env = {k: v for k, v in daemon.env.items() if k.startswith("RADIUSD_RADSEC")}
    assert daemon.stop() == 0
    d = daemon_factory(daemon.url, env=env, args=("-X",))
    try:
        with client(d, pki, pki.pop1) as c:
            local_port = c.sock.getsockname()[1]
            req = access_request(5, "alice", PASSWORD)
            c.send(req)
            reply = c.recv_packet()
            assert reply is not None and reply[0] == 2
        with client(d, pki, pki.stranger) as c:
            c.send(req)
            assert c.closed_by_server()
        out = wait_until(lambda: "refused: unknown-certificate" in d.stdout() and d.stdout(), 5)
        assert out, d.stdout()
        assert f"RadSec connection from 127.0.0.1:{local_port}: NAS 'pop1' (127.0.0.2)" in out
        assert pki.pop1.fingerprint in out and "CN=pop1.example.net" in out
        assert f"Received Access-Request Id 5 from 127.0.0.1:{local_port}" in out
        assert "from NAS 'pop1' (127.0.0.2, vendor mikrotik, over RadSec)" in out
        assert "coa-Secr3t" not in out and PASSWORD not in out
    finally:
        d.stop()
