"""RADIUS/1.1 (RFC 9765) on the daemon's RadSec listener, against a client written here from
the RFC text (draft-ietf-radext-radiusv11-09 section numbers): a real TLS connection on the
``ssl`` module offering ALPN, and packets built by hand with no radiusd code and no MD5:
Reserved-1 zero, a 4-octet Token and 12 zero octets instead of the Authenticator (§4.1),
User-Password in the clear (§5.1.1), no Message-Authenticator (§5.2).

Debian's radsecproxy 1.9.2 and FreeRADIUS 3.2 predate RFC 9765 (they send no ALPN;
test_radsec_proxy.py covers that case against the default ``radsec_alpn = "both"``). The one
third-party RADIUS/1.1 client found, pyrad2 3.2 (PyPI), needs Python 3.12: it runs in its own
interpreter (tests/interop/pyrad2_radius11.py) when ``RADIUSD_PYRAD2_PYTHON`` names one that
can import it; that check is opt-in, as the project's interpreter cannot install pyrad2.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import HOST, DaemonProcess, wait_until
from .radsec_helpers import (
    CertificateAuthority,
    TlsClient,
    access_request,
    free_port,
    radsec_env,
    reply_ok,
)

PASSWORD = "alice-Pw-51x"
ALPN_10, ALPN_11 = "radius/1.0", "radius/1.1"
ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT = 1, 2, 3
ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE, STATUS_SERVER = 4, 5, 12
DISCONNECT_REQUEST, DISCONNECT_ACK = 40, 41
USER_NAME, USER_PASSWORD, CHAP_PASSWORD, NAS_IP, VSA, CHAP_CHALLENGE = 1, 2, 3, 4, 26, 60
ACCT_STATUS_TYPE, ACCT_SESSION_ID, MESSAGE_AUTHENTICATOR = 40, 44, 80
MICROSOFT, MS_MPPE_SEND_KEY, MS_MPPE_RECV_KEY, MS_CHAP_CHALLENGE, MS_CHAP2_RESPONSE = 311, 16, 17, 11, 25
# RFC 2759 §9.2 and RFC 3079 §3.5.3 (user "User", password "clientPass")
AUTH_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
SEND_START_KEY = bytes.fromhex("8B7CDC149B993A1BA118CB153F56DCCB")
TOKENS: dict[str, str] = {}


class Pki:
    def __init__(self, root: Path) -> None:
        self.ca = CertificateAuthority(root / "ca")
        self.server = self.ca.issue_daemon()
        self.pop = self.ca.issue("pop11.example.net")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def api_port() -> int:
    return free_port()


def _seeder(pki: Pki) -> Callable[[DaemonProcess], None]:
    def seed(d: DaemonProcess) -> None:
        d.cli(
            "nas", "add", "pop11", "--address", "127.0.0.11", "--secret", "udp-Secr3t-pop11-x",
            "--vendor", "mikrotik",
            "--radsec-fingerprint", pki.pop.fingerprint,
        )  # fmt: skip
        d.cli("plan", "add", "gold", "--rate-limit", "10M/20M")
        csv = d.workdir / "subs.csv"
        csv.write_text(f"username,password,plan\nalice,{PASSWORD},gold\nUser,clientPass,gold\n")
        d.cli("subscriber", "import", str(csv))
        TOKENS["admin"] = d.cli("api-token", "create", "noc").stdout.split()[0]

    return seed


def _url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{(tmp_path_factory.mktemp('db') / 'radiusd.sqlite3').as_posix()}"


@pytest.fixture(scope="module")
def daemon(
    pki: Pki, api_port: int, daemon_factory: Callable[..., DaemonProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DaemonProcess]:  # fmt: skip
    """The default setting (``radsec_alpn = "both"``)."""
    env = radsec_env(pki.server, pki.ca.path, reject_delay="0", coa_timeout="5")
    yield daemon_factory(
        _url(tmp_path_factory), env=env, seed=_seeder(pki), args=("--api-bind", f"{HOST}:{api_port}")
    )


@pytest.fixture(scope="module")
def strict(
    pki: Pki, daemon_factory: Callable[..., DaemonProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    """``radsec_alpn = "1.1"``: RADIUS/1.1 required."""
    env = radsec_env(pki.server, pki.ca.path, reject_delay="0", radsec_alpn="1.1")
    yield daemon_factory(_url(tmp_path_factory), env=env, seed=_seeder(pki))


def connect(d: DaemonProcess, pki: Pki, alpn: tuple[str, ...] = (ALPN_11,)) -> TlsClient:
    return TlsClient(int(d.bound["radsec"][0][1]), pki.ca.path, pki.pop, alpn=alpn)


# -- RADIUS/1.1 packets by hand (RFC 9765 §4.1) -------------------------------------------------


def attr(t: int, value: bytes) -> bytes:
    return bytes([t, len(value) + 2]) + value


def packet11(code: int, token: bytes, attrs: bytes) -> bytes:
    """Code, Reserved-1 = 0, Length, Token, Reserved-2 = 12 zero octets, attributes."""
    return struct.pack("!BBH", code, 0, 20 + len(attrs)) + token + bytes(12) + attrs


def access11(token: bytes, user: str, password: str, extra: bytes = b"") -> bytes:
    """PAP: User-Password is the password itself, no padding, no MD5 (§5.1.1)."""
    attrs = attr(USER_NAME, user.encode()) + attr(USER_PASSWORD, password.encode())
    return packet11(ACCESS_REQUEST, token, attrs + attr(NAS_IP, socket.inet_aton("192.0.2.11")) + extra)


def accounting11(token: bytes, user: str, session: str, status: int) -> bytes:
    attrs = attr(ACCT_STATUS_TYPE, struct.pack("!I", status)) + attr(ACCT_SESSION_ID, session.encode())
    attrs += attr(USER_NAME, user.encode()) + attr(NAS_IP, socket.inet_aton("192.0.2.11"))
    return packet11(ACCOUNTING_REQUEST, token, attrs + attr(8, socket.inet_aton("100.64.0.11")))


def attributes(packet: bytes) -> list[tuple[int, bytes]]:
    out, i = [], 20
    while i < len(packet):
        out.append((packet[i], packet[i + 2 : i + packet[i + 1]]))
        i += packet[i + 1]
    return out


def microsoft(packet: bytes) -> dict[int, bytes]:
    """Microsoft VSAs (RFC 2548) of ``packet``, by vendor type."""
    vsas = [v for t, v in attributes(packet) if t == VSA and int.from_bytes(v[:4]) == MICROSOFT]
    return {v[4]: v[6 : 4 + v[5]] for v in vsas}


def answered(reply: bytes | None, code: int, token: bytes) -> bytes:
    """``reply`` is a RADIUS/1.1 ``code`` for ``token``: Reserved-1 and Reserved-2 zero, no
    Message-Authenticator (§4.1, §4.2.2, §5.2)."""
    assert reply is not None, "no reply"
    assert reply[0] == code, f"code {reply[0]}, expected {code}"
    assert reply[1] == 0, "Reserved-1 is zero"
    assert reply[4:8] == token, "the request's Token is echoed"
    assert reply[8:20] == bytes(12), "Reserved-2 is zero"
    assert MESSAGE_AUTHENTICATOR not in [t for t, _ in attributes(reply)], "no Message-Authenticator"
    return reply


def token() -> bytes:
    return os.urandom(4)


# -- the default setting: both ------------------------------------------------------------------


def test_alpn_negotiates_radius11_and_pap_is_answered(daemon: DaemonProcess, pki: Pki) -> None:
    with connect(daemon, pki, (ALPN_10, ALPN_11)) as c:
        assert c.sock.selected_alpn_protocol() == ALPN_11, "the server prefers 1.1 when both are offered"
        assert c.sock.version() == "TLSv1.3", "RFC 9765 §3.4"
        t1, t2 = token(), token()
        c.send(access11(t1, "alice", PASSWORD) + access11(t2, "alice", "wrong-password"))
        replies = {r[4:8]: r for r in (c.recv_packet(), c.recv_packet()) if r is not None}
        accept = answered(replies.get(t1), ACCESS_ACCEPT, t1)
        answered(replies.get(t2), ACCESS_REJECT, t2)
        assert VSA in [t for t, _ in attributes(accept)], "the plan's rate limit, as over RADIUS/1.0"


def test_status_server_and_accounting(daemon: DaemonProcess, pki: Pki) -> None:
    with connect(daemon, pki) as c:
        t = token()
        c.send(packet11(STATUS_SERVER, t, attr(NAS_IP, socket.inet_aton("192.0.2.11"))))
        answered(c.recv_packet(), ACCESS_ACCEPT, t)  # RFC 5997 §3, no Message-Authenticator needed
        t = token()
        c.send(accounting11(t, "alice", "r11-acct-1", 1))
        answered(c.recv_packet(), ACCOUNTING_RESPONSE, t)

        def row() -> dict[str, Any] | None:
            rows = json.loads(daemon.cli("session", "list", "--json").stdout)
            return next((r for r in rows if r["acct_session_id"] == "r11-acct-1"), None)

        started = wait_until(row, 5.0)
        assert started and started["username"] == "alice"
        t = token()
        c.send(accounting11(t, "alice", "r11-acct-1", 2))
        answered(c.recv_packet(), ACCOUNTING_RESPONSE, t)
        assert wait_until(lambda: (r := row()) is not None and r["status"] != "open", 5.0), row()


def test_message_authenticator_is_ignored(daemon: DaemonProcess, pki: Pki) -> None:
    """§5.2: a Message-Authenticator received over RADIUS/1.1 is discarded, the packet handled
    (here with 16 octets no HMAC could produce)."""
    with connect(daemon, pki) as c:
        t = token()
        c.send(access11(t, "alice", PASSWORD, attr(MESSAGE_AUTHENTICATOR, b"\xa5" * 16)))
        answered(c.recv_packet(), ACCESS_ACCEPT, t)


def test_chap_needs_chap_challenge(daemon: DaemonProcess, pki: Pki) -> None:
    """§5.1.2: with no Request Authenticator, CHAP-Challenge must be sent."""
    import hashlib

    challenge = os.urandom(16)
    chap = bytes([7]) + hashlib.md5(bytes([7]) + PASSWORD.encode() + challenge).digest()
    base = attr(USER_NAME, b"alice") + attr(CHAP_PASSWORD, chap)
    with connect(daemon, pki) as c:
        t = token()
        c.send(packet11(ACCESS_REQUEST, t, base + attr(CHAP_CHALLENGE, challenge)))
        answered(c.recv_packet(), ACCESS_ACCEPT, t)
        t = token()
        c.send(packet11(ACCESS_REQUEST, t, base))
        answered(c.recv_packet(), ACCESS_REJECT, t)


def test_mschapv2_keys_travel_without_salt_encryption(daemon: DaemonProcess, pki: Pki) -> None:
    """§5.1.4: MS-MPPE-Send-Key / -Recv-Key are the keys themselves (RFC 3079 §3.5.3 vector)."""
    ms = attr(MS_CHAP_CHALLENGE, AUTH_CHALLENGE)
    ms_resp = attr(MS_CHAP2_RESPONSE, bytes((0x42, 0)) + PEER_CHALLENGE + bytes(8) + NT_RESPONSE)
    vsas = b"".join(attr(VSA, MICROSOFT.to_bytes(4, "big") + a) for a in (ms, ms_resp))
    with connect(daemon, pki) as c:
        t = token()
        c.send(packet11(ACCESS_REQUEST, t, attr(USER_NAME, b"User") + vsas))
        reply = answered(c.recv_packet(), ACCESS_ACCEPT, t)
    keys = microsoft(reply)
    assert keys[MS_MPPE_SEND_KEY] == SEND_START_KEY
    assert len(keys[MS_MPPE_RECV_KEY]) == 16


def test_radius10_clients_still_work(daemon: DaemonProcess, pki: Pki) -> None:
    """No ALPN, or radius/1.0: classic RadSec, MD5 with the secret ``radsec`` (RFC 6614)."""
    for alpn in ((), (ALPN_10,)):
        with connect(daemon, pki, alpn) as c:
            assert c.sock.selected_alpn_protocol() == (ALPN_10 if alpn else None)
            request = access_request(9, "alice", PASSWORD)
            c.send(request)
            reply = c.recv_packet()
            assert reply is not None and reply[0] == ACCESS_ACCEPT and reply_ok(reply, request), alpn


def test_unknown_alpn_gets_the_alert(daemon: DaemonProcess, pki: Pki) -> None:
    """§3.3: ALPN names offered, none of ours: TLS alert no_application_protocol (120)."""
    with pytest.raises(ssl.SSLError, match="alert no application protocol"):
        connect(daemon, pki, ("h2",))


def test_disconnect_goes_down_a_radius11_connection(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """A Disconnect-Request of the API on a RADIUS/1.1 connection: a Token, no MD5 (§4), and
    the ACK carrying the same Token is accepted."""
    with connect(daemon, pki) as c:
        t = token()
        c.send(accounting11(t, "alice", "r11-coa-1", 1))
        answered(c.recv_packet(), ACCOUNTING_RESPONSE, t)
        rows = wait_until(
            lambda: [
                r
                for r in json.loads(daemon.cli("session", "list", "--online", "--json").stdout)
                if r["acct_session_id"] == "r11-coa-1"
            ],
            5.0,
        )
        assert rows
        result: dict[str, Any] = {}

        def call() -> None:
            url = f"http://{HOST}:{api_port}/radius/sessions/{rows[0]['id']}/disconnect?wait=15"
            r = httpx.post(url, headers={"Authorization": f"Bearer {TOKENS['admin']}"}, timeout=30)
            result.update(status=r.status_code, body=r.json())

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        c.sock.settimeout(20)
        request = c.recv_packet()
        assert request is not None and request[0] == DISCONNECT_REQUEST
        assert request[1] == 0 and request[8:20] == bytes(12), "Reserved-1 and Reserved-2 zero"
        names = [t for t, _ in attributes(request)]
        assert MESSAGE_AUTHENTICATOR not in names and (ACCT_SESSION_ID, b"r11-coa-1") in attributes(request)
        c.send(packet11(DISCONNECT_ACK, request[4:8], b""))
        thread.join(30)
        assert result.get("status") == 200 and result["body"]["outcome"] == "ack", result


@pytest.mark.parametrize(("offer", "version"), [("1.0,1.1", 1), ("1.0", 0)])
def test_pyrad2_interop(daemon: DaemonProcess, pki: Pki, offer: str, version: int) -> None:
    """pyrad2 3.2 offering radius/1.0 and radius/1.1 (RADIUS/1.1 chosen), or radius/1.0 only:
    PAP accepted and rejected, Accounting Start and Stop and Status-Server answered."""
    python = os.environ.get("RADIUSD_PYRAD2_PYTHON")
    if not python:
        why = "RADIUSD_PYRAD2_PYTHON names a Python 3.12+ that can import pyrad2 (.ci/run makes one)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"the third-party RADIUS/1.1 client is missing: {why}")
        pytest.skip(f"opt-in: {why}")
    script = Path(__file__).parents[1] / "interop" / "pyrad2_radius11.py"
    port = str(daemon.bound["radsec"][0][1])
    args = [python, str(script), port, str(pki.ca.path), str(pki.pop.cert), str(pki.pop.key)]
    done = subprocess.run([*args, "alice", PASSWORD, offer], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["version"] == version, out  # pyrad2's RadiusVersion: 1 is RADIUS/1.1
    assert (out["pap"], out["wrong"], out["start"], out["stop"], out["status_server"]) == (2, 3, 5, 5, 2), out


# -- radsec_alpn = "1.1" -----------------------------------------------------------------------


def test_required_radius11_refuses_other_clients(strict: DaemonProcess, pki: Pki) -> None:
    """§3.3 "1.1": no ALPN, or radius/1.0 only: the alert no_application_protocol (120)."""
    for alpn in ((), (ALPN_10,)):
        with pytest.raises(ssl.SSLError, match="alert no application protocol"):
            connect(strict, pki, alpn)
    with connect(strict, pki, (ALPN_10, ALPN_11)) as c:
        assert c.sock.selected_alpn_protocol() == ALPN_11
        t = token()
        c.send(access11(t, "alice", PASSWORD))
        answered(c.recv_packet(), ACCESS_ACCEPT, t)
    assert "alpn-mismatch" in strict.stderr()
