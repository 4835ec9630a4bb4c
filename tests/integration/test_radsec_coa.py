"""Disconnect-Requests (RFC 5176) down a NAS's own RadSec connection (RFC 6614 §2.4: the TLS
client receives Disconnect-Request on the connection it opened, the server sends it on the
connection it accepted; secret ``radsec``, RFC 6614 §2.3).

The NAS is a Python TLS client on the ``ssl`` module (radsec_helpers): it logs a subscriber in
and starts accounting over TLS, then the daemon's API (``POST /radius/sessions/ID/disconnect``)
sends the Disconnect-Request on that connection; the client checks its Request Authenticator
with ``radsec`` by hand (hashlib) and answers ACK, NAK with Error-Cause, a forged reply, or
nothing. Without a connection the request is not sent and the error says why; the CLI, a
process of its own that holds no connection, says so too. The CLI's commands that act on
live sessions (``session disconnect``, ``subscriber suspend``, ``set-plan``, ``remove
--disconnect``) ask the daemon's API for a RadSec NAS's sessions and send the others (a pyrad
UDP stand-in) themselves.

radsecproxy cannot stand between here and a UDP NAS for this: the Debian radsecproxy (1.9)
has no dynamic authorization at all (reverse CoA is still under review upstream), so the TLS
client here is the NAS itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from radiusd.store.engine import create_engine
from radiusd.store.nas import add_nas

from .conftest import HOST, DaemonProcess, wait_until
from .radsec_helpers import (
    CertificateAuthority,
    Issued,
    TlsClient,
    access_request,
    accounting_request,
    free_port,
    radsec_env,
    status_server,
)
from .test_coa_nas import SECRET as UDP_SECRET
from .test_coa_nas import PyradNas, add_session

SECRET = b"radsec"
PASSWORD = "alice-Pw-51x"
COA_TIMEOUT = 2.0
TOKENS: dict[str, str] = {}
DISCONNECT_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK, COA_REQUEST, COA_ACK, COA_NAK = 40, 41, 42, 43, 44, 45
USER_NAME, VENDOR_SPECIFIC, ACCT_SESSION_ID, ERROR_CAUSE = 1, 26, 44, 101


class Pki:
    def __init__(self, root: Path) -> None:
        self.ca = CertificateAuthority(root / "ca")
        self.server = self.ca.issue_daemon()
        self.pop3 = self.ca.issue("pop3.example.net")
        self.pop4 = self.ca.issue("pop4.example.net")


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
        # 127.0.0.3:3799 (UDP) is where a Disconnect would go without RadSec: nothing listens
        d.cli(
            "nas", "add", "pop3", "--address", "127.0.0.3", "--secret", "coa-Secr3t-pop3-xx",
            "--radsec-fingerprint", pki.pop3.fingerprint,
        )  # fmt: skip
        d.cli(
            "nas", "add", "pop4", "--address", "127.0.0.4", "--secret", "coa-Secr3t-pop4-xx",
            "--vendor", "mikrotik", "--radsec-fingerprint", pki.pop4.fingerprint,
        )  # fmt: skip
        d.cli("plan", "add", "gold", "--rate-limit", "10M/20M")
        d.cli("plan", "add", "silver", "--rate-limit", "5M/10M")
        csv = d.workdir / "subs.csv"
        # bob and carol: one session each, for the CLI's plan changes; dave and erin: removed;
        # frank: suspended; gina: removed with a session on each kind of NAS
        users = ("alice", "bob", "carol", "dave", "erin", "frank", "gina")
        csv.write_text("username,password,plan\n" + "".join(f"{u},{PASSWORD},gold\n" for u in users))
        d.cli("subscriber", "import", str(csv))
        TOKENS["admin"] = d.cli("api-token", "create", "noc").stdout.split()[0]

    env = radsec_env(pki.server, pki.ca.path, coa_timeout=str(COA_TIMEOUT))
    d = daemon_factory(url, env=env, seed=seed, args=("--api-bind", f"{HOST}:{api_port}"))
    settle(d, pki)
    yield d


def settle(d: DaemonProcess, pki: Pki) -> None:
    """One Accounting-Start answered before the tests start (see :func:`account`)."""
    with nas(d, pki) as c:
        account(c, d, pki, accounting_request(1, "alice", "rs-settle"), nas_cert=pki.pop3)


def account(c: TlsClient, d: DaemonProcess, pki: Pki, request: bytes, nas_cert: Issued) -> None:
    """Send an Accounting-Request on ``c`` and wait for its Accounting-Response. Under load a
    SQLite commit sometimes fails ("database is locked", writer.commit-failed): no reply, and
    over TCP a NAS does not retransmit on the same connection (RFC 6613 §2.6.1); it may over a
    new one, which this does, up to three times."""
    c.send(request)
    try:
        reply = c.recv_packet()
    except TimeoutError:
        reply = None
    for _ in range(3):
        if reply is not None:
            break
        with nas(d, pki, nas_cert) as again:
            again.send(request)
            try:
                reply = again.recv_packet()
            except TimeoutError:
                reply = None
    assert reply is not None and reply[0] == 5, f"no Accounting-Response:\n{d.stderr()[-2000:]}"


def nas(d: DaemonProcess, pki: Pki, cert: Issued | None = None) -> TlsClient:
    return TlsClient(int(d.bound["radsec"][0][1]), pki.ca.path, cert or pki.pop3)


def login(
    c: TlsClient, d: DaemonProcess, session: str, pki: Pki, cert: Issued | None = None, user: str = "alice"
) -> str:
    """Access-Request and Accounting-Start over TLS; the session's id in radiusd."""
    c.send(access_request(1, user, PASSWORD))
    reply = c.recv_packet()
    assert reply is not None and reply[0] == 2, "Access-Accept"
    account(c, d, pki, accounting_request(2, user, session), cert or pki.pop3)

    def open_id() -> str | None:
        rows = json.loads(d.cli("session", "list", "--online", "--json").stdout)
        return next((str(r["id"]) for r in rows if r["acct_session_id"] == session), None)

    found = wait_until(open_id, 5.0)
    assert found, f"session {session} not recorded"
    return str(found)


def await_request(c: TlsClient) -> bytes | None:
    """The daemon's next request on ``c``: the first API disconnect of a daemon imports the
    plugins, which takes seconds on a loaded machine."""
    c.sock.settimeout(20)
    try:
        return c.recv_packet()
    finally:
        c.sock.settimeout(5)


class ApiCall(threading.Thread):
    """``POST /radius/sessions/ID/disconnect`` in the background, timed."""

    def __init__(self, api_port: int, session_id: str) -> None:
        super().__init__(daemon=True)
        self.url = f"http://{HOST}:{api_port}/radius/sessions/{session_id}/disconnect?wait=15"
        self.response: httpx.Response | None = None
        self.seconds = 0.0

    def run(self) -> None:
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {TOKENS['admin']}"}
        self.response = httpx.post(self.url, headers=headers, timeout=30)
        self.seconds = time.monotonic() - started

    def result(self) -> tuple[int, dict[str, Any]]:
        self.join(30)
        assert self.response is not None, "the API did not answer"
        return self.response.status_code, self.response.json()


def attributes(packet: bytes) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    i = 20
    while i < len(packet):
        t, n = packet[i], packet[i + 1]
        out.setdefault(t, []).append(packet[i + 2 : i + n])
        i += n
    return out


def request_authentic(packet: bytes) -> bool:
    """RFC 5176 §2.3 (as RFC 2866 §3): MD5(Code+ID+Length+16 zero octets+Attributes+secret)."""
    return packet[4:20] == hashlib.md5(packet[:4] + b"\0" * 16 + packet[20:] + SECRET).digest()


def answer(code: int, request: bytes, attrs: bytes = b"", secret: bytes = SECRET) -> bytes:
    """A reply with its Response Authenticator (RFC 5176 §2.3 points to RFC 2865 §3)."""
    head = struct.pack("!BBH", code, request[1], 20 + len(attrs))
    return head + hashlib.md5(head + request[4:20] + attrs + secret).digest() + attrs


def sample(api_port: int, name: str, **labels: str) -> float:
    """One sample of the daemon's /metrics (0 when absent)."""
    text = httpx.get(
        f"http://{HOST}:{api_port}/metrics", headers={"Authorization": f"Bearer {TOKENS['admin']}"}
    ).text
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{inner}}} "):
            return float(line.split()[-1])
    return 0.0


def metric(d: DaemonProcess, api_port: int, **labels: str) -> float:
    return sample(api_port, "radiusd_coa_requests_total", **labels)


def open_connections(api_port: int, nas_name: str) -> float:
    return sample(api_port, "radiusd_radsec_connections", nas=nas_name)


def test_disconnect_goes_down_the_tls_connection(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    with nas(daemon, pki) as c:
        sid = login(c, daemon, "rs-coa-1", pki)
        call = ApiCall(api_port, sid)
        started = time.monotonic()
        call.start()
        request = await_request(c)
        arrived = time.monotonic()
        assert request is not None and request[0] == DISCONNECT_REQUEST
        assert request_authentic(request), "Request Authenticator made with the secret 'radsec'"
        attrs = attributes(request)
        assert attrs[USER_NAME] == [b"alice"] and attrs[ACCT_SESSION_ID] == [b"rs-coa-1"]
        assert request[1] != 0, "ID 0 stays free for Status-Server (RFC 6613 §2.6.5)"
        c.send(answer(DISCONNECT_ACK, request))
        status, body = call.result()
        assert status == 200, body
        assert body["outcome"] == "ack" and body["ok"] and body["attempts"] == 1
        assert "RadSec" in (body["detail"] or ""), body
        print(
            f"\ndisconnect over TLS: API call to verified ACK {call.seconds * 1000:.1f} ms "
            f"(request at the NAS after {(arrived - started) * 1000:.1f} ms)"
        )
        ping = status_server(0)
        c.send(ping)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 2, "the connection carries on"
    assert metric(daemon, api_port, kind="disconnect", outcome="ack", transport="radsec") >= 1


def test_nak_with_error_cause_is_reported(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    with nas(daemon, pki) as c:
        sid = login(c, daemon, "rs-coa-2", pki)
        call = ApiCall(api_port, sid)
        call.start()
        request = await_request(c)
        assert request is not None and request_authentic(request)
        cause = bytes([ERROR_CAUSE, 6]) + (506).to_bytes(4, "big")  # Resources Unavailable
        c.send(answer(DISCONNECT_NAK, request, cause))
        status, body = call.result()
    assert status == 502
    assert body["outcome"] == "nak" and body["error_cause"] == 506 and not body["ok"]
    assert body["error_cause_name"] == "Resources-Unavailable"
    assert metric(daemon, api_port, kind="disconnect", outcome="nak", transport="radsec") >= 1


def test_no_answer_times_out_without_retransmission(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """RFC 6613 §2.6.1: never retransmitted on the same connection; ``coa_timeout`` later it
    is a timeout, and the one request was all the NAS saw."""
    with nas(daemon, pki) as c:
        sid = login(c, daemon, "rs-coa-3", pki)
        call = ApiCall(api_port, sid)
        call.start()
        request = await_request(c)
        assert request is not None and request[0] == DISCONNECT_REQUEST
        status, body = call.result()
        assert status == 502 and body["outcome"] == "timeout" and body["attempts"] == 1, body
        assert COA_TIMEOUT - 0.2 <= call.seconds < COA_TIMEOUT + 3
        c.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            c.sock.recv(1)  # no retransmission arrived
        c.sock.settimeout(5)
        late = answer(DISCONNECT_ACK, request)  # answers nothing outstanding now: discarded
        c.send(late)
        ping = status_server(0)
        c.send(ping)
        reply = c.recv_packet()
        assert reply is not None and reply[0] == 2, "a stray reply leaves it open (RFC 6613 §2.6.4)"
    assert metric(daemon, api_port, kind="disconnect", outcome="timeout", transport="radsec") >= 1


def test_forged_reply_closes_the_connection(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """RFC 6613 §2.6.4: a reply whose Response Authenticator fails closes the connection."""
    with nas(daemon, pki) as c:
        sid = login(c, daemon, "rs-coa-4", pki)
        call = ApiCall(api_port, sid)
        call.start()
        request = await_request(c)
        assert request is not None
        c.send(answer(DISCONNECT_ACK, request, secret=b"coa-Secr3t-pop3-xx"))  # the UDP secret
        assert c.closed_by_server()
        status, body = call.result()
    assert status == 502 and body["outcome"] == "timeout", body
    assert "closed before the answer" in body["detail"] and "bad Response Authenticator" in body["detail"]


def test_a_closed_connection_hands_the_request_to_another(
    daemon: DaemonProcess, pki: Pki, api_port: int
) -> None:
    """RFC 6613 §2.6.1: a request unanswered when its connection closes may go again over
    another connection, with a new Identifier; the one that spoke last is tried first."""
    with nas(daemon, pki) as spare, nas(daemon, pki) as busy:
        sid = login(busy, daemon, "rs-coa-6", pki)
        ping = status_server(0)
        spare.send(ping)
        assert spare.recv_packet() is not None
        busy.send(status_server(0))  # busy spoke last
        assert busy.recv_packet() is not None
        call = ApiCall(api_port, sid)
        call.start()
        busy.sock.settimeout(20)
        try:
            first = busy.recv_packet()
        except TimeoutError:
            call.join(20)
            response = call.response.text if call.response is not None else None
            ports = f"busy {busy.sock.getsockname()[1]}, spare {spare.sock.getsockname()[1]}"
            said = f"no request on the last connection ({ports}); the API said {response}"
            raise AssertionError(said) from None
        assert first is not None and first[0] == DISCONNECT_REQUEST
        busy.close()  # gone without an answer
        second = await_request(spare)
        assert second is not None and second[0] == DISCONNECT_REQUEST and request_authentic(second)
        assert attributes(second)[ACCT_SESSION_ID] == [b"rs-coa-6"]
        spare.send(answer(DISCONNECT_ACK, second))
        status, body = call.result()
    assert status == 200 and body["outcome"] == "ack" and body["attempts"] == 2, body


def test_plan_change_is_a_coa_over_the_connection(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """A plan change on a MikroTik reached over RadSec: CoA-Request with Mikrotik-Rate-Limit
    (vendor 14988, type 8) down the connection, CoA-ACK back."""
    with nas(daemon, pki, pki.pop4) as c:
        login(c, daemon, "rs-coa-7", pki, pki.pop4)
        headers = {"Authorization": f"Bearer {TOKENS['admin']}"}
        done: dict[str, httpx.Response] = {}

        def call() -> None:
            done["r"] = httpx.post(
                f"http://{HOST}:{api_port}/subscribers/alice/set-plan",
                json={"plan": "silver"}, headers=headers, timeout=30,
            )  # fmt: skip

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        request = await_request(c)
        assert request is not None and request[0] == COA_REQUEST and request_authentic(request)
        vsa = attributes(request)[VENDOR_SPECIFIC]
        assert struct.pack("!I", 14988) + bytes([8, 2 + len(b"5M/10M")]) + b"5M/10M" in vsa
        c.send(answer(COA_ACK, request))
        thread.join(30)
    body = done["r"].json()
    assert done["r"].status_code == 200, body
    [session] = [s for s in body["sessions"] if s["acct_session_id"] == "rs-coa-7"]
    assert session["action"] == "change-plan" and session["outcome"] == "ack", session
    assert metric(daemon, api_port, kind="coa", outcome="ack", transport="radsec") >= 1


def test_no_connection_is_a_clear_error(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    with nas(daemon, pki) as c:
        sid = login(c, daemon, "rs-coa-5", pki)
    assert wait_until(lambda: open_connections(api_port, "pop3") == 0, 5), "the daemon saw the close"
    call = ApiCall(api_port, sid)
    call.start()
    status, body = call.result()
    assert status == 502 and body["outcome"] == "error", body
    assert "NAS pop3 is a RadSec client with no connection to this node" in body["detail"]
    assert call.seconds < 2, "nothing was sent over UDP, nothing awaited"
    assert metric(daemon, api_port, kind="disconnect", outcome="error", transport="radsec") >= 1
    # the CLI asks the daemon, which has no connection either: the same error, one line
    out = cli_process(daemon, api_port, "session", "disconnect", sid)
    assert out.returncode == 1, out.stderr
    assert "NAS pop3 is a RadSec client with no connection to this node" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
    assert "coa-Secr3t" not in out.stdout + out.stderr + daemon.stderr()


def cli_process(d: DaemonProcess, api_port: int | None, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a process of its own (no connection of the daemon's in it), from this tree,
    told where the daemon's API is (``RADIUSD_API_URL``) unless ``api_port`` is None."""
    env = dict(d.env)
    if api_port is not None:
        env["RADIUSD_API_URL"] = f"http://{HOST}:{api_port}"
    return subprocess.run(
        [sys.executable, "-c", "from radiusd.cli.main import main; main()", "--database", d.url, *args],
        env=env, cwd=d.workdir, capture_output=True, text=True, timeout=90,
    )  # fmt: skip


def test_cli_disconnect_goes_through_the_daemon(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """``radiusd session disconnect`` for a RadSec NAS's session: the CLI asks the daemon's
    API, the daemon sends the Disconnect-Request down the NAS's TLS connection, the ACK is the
    CLI's result; the one-off API token it made is gone afterwards."""
    with nas(daemon, pki) as c:
        sid = login(c, daemon, "rs-coa-cli", pki)
        done: dict[str, subprocess.CompletedProcess[str]] = {}
        started = time.monotonic()

        def run() -> None:
            done["r"] = cli_process(daemon, api_port, "session", "disconnect", sid)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        c.sock.settimeout(60)  # a fresh interpreter imports the CLI first
        request = c.recv_packet()
        arrived = time.monotonic()
        assert request is not None and request[0] == DISCONNECT_REQUEST, done
        assert request_authentic(request)
        assert attributes(request)[ACCT_SESSION_ID] == [b"rs-coa-cli"]
        c.send(answer(DISCONNECT_ACK, request))
        thread.join(60)
    finished = time.monotonic()
    out = done["r"]
    assert out.returncode == 0, out.stdout + out.stderr
    assert "disconnected (by the daemon, over RadSec" in out.stdout, out.stdout
    assert "through the daemon (RadSec NAS)" in out.stderr
    tokens = json.loads(daemon.cli("api-token", "list", "--json").stdout)
    assert [t["name"] for t in tokens] == ["noc"], "the CLI's one-off token is revoked"
    print(
        f"\nCLI disconnect through the API: request at the NAS {(arrived - started) * 1000:.0f} ms after "
        f"the CLI started, CLI done {(finished - arrived) * 1000:.0f} ms after the ACK"
    )


def test_cli_without_an_api_says_so(daemon: DaemonProcess, pki: Pki) -> None:
    with nas(daemon, pki) as c:
        sid = login(c, daemon, "rs-coa-noapi", pki)
        out = cli_process(daemon, None, "session", "disconnect", sid)
    assert out.returncode == 1
    line = next(x for x in out.stdout.splitlines() if x.startswith(f"session {sid} "))
    assert "RadSec NAS pop3: only the daemon holding the NAS's TLS connection can send it" in line, line
    assert "api_bind" in line and "Traceback" not in out.stdout + out.stderr


def cli_at_nas(
    daemon: DaemonProcess, pki: Pki, api_port: int, cert: Issued, user: str, session: str,
    args: tuple[str, ...], reply: Callable[[bytes], bytes],
) -> tuple[subprocess.CompletedProcess[str], bytes, str, tuple[float, float]]:  # fmt: skip
    """The CLI ``args`` as a process of its own while ``user`` has one session on the NAS of
    ``cert``, whose only path is its RadSec connection; ``reply`` makes the NAS's answer to each
    request the daemon sends down it until the CLI ends. The CLI's result, the first request,
    the session's id, and when that request arrived and the CLI ended (seconds after it started)."""
    with nas(daemon, pki, cert) as c:
        sid = login(c, daemon, session, pki, cert, user=user)
        done: dict[str, subprocess.CompletedProcess[str]] = {}
        thread = threading.Thread(
            target=lambda: done.update(r=cli_process(daemon, api_port, *args)), daemon=True
        )
        started = time.monotonic()
        thread.start()
        c.sock.settimeout(0.2)  # a fresh interpreter imports the CLI first: up to 60 s
        first: bytes | None = None
        while first is None and thread.is_alive() and time.monotonic() < started + 60:
            try:
                first = c.recv_packet()
            except TimeoutError:
                continue
            if first is None:
                break
        arrived = time.monotonic() - started
        if first is None:
            thread.join(60)
            raise AssertionError(f"no request on the NAS's connection; the CLI: {done}")
        c.send(reply(first))
        deadline = time.monotonic() + 60  # a fallback Disconnect-Request may follow
        while thread.is_alive() and time.monotonic() < deadline:
            try:
                request = c.recv_packet()
            except TimeoutError:
                continue
            if request is None:
                break
            c.send(reply(request))
        thread.join(60)
    return done["r"], first, sid, (arrived, time.monotonic() - started)


def cli_plan_change(
    daemon: DaemonProcess, pki: Pki, api_port: int, user: str, session: str, reply: Callable[[bytes], bytes]
) -> tuple[subprocess.CompletedProcess[str], bytes, str]:
    """``radiusd subscriber set-plan USER silver`` while ``user`` has one session on pop4 (a
    MikroTik): the CLI's result, the CoA-Request, and the session's id (see :func:`cli_at_nas`)."""
    args = ("subscriber", "set-plan", user, "silver")
    out, coa, sid, (arrived, ended) = cli_at_nas(daemon, pki, api_port, pki.pop4, user, session, args, reply)
    ms = f"CoA at the NAS {arrived * 1000:.0f} ms after the CLI started"
    print(f"\nCLI plan change through the API ({user}): {ms}, CLI done after {ended * 1000:.0f} ms")
    return out, coa, sid


def test_cli_plan_change_goes_through_the_daemon(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """``radiusd subscriber set-plan`` for a RadSec NAS's session: the CLI asks the daemon's
    ``POST /radius/sessions/ID/coa``, the CoA-Request with the new plan's Mikrotik-Rate-Limit
    (vendor 14988, type 8) goes down the NAS's TLS connection, the CoA-ACK is the CLI's result."""
    sent: list[int] = []

    def ack(request: bytes) -> bytes:
        sent.append(request[0])
        return answer(COA_ACK if request[0] == COA_REQUEST else DISCONNECT_ACK, request)

    before = metric(daemon, api_port, kind="coa", outcome="ack", transport="radsec")
    out, coa, sid = cli_plan_change(daemon, pki, api_port, "bob", "rs-coa-plan-ack", ack)
    assert coa[0] == COA_REQUEST and request_authentic(coa)
    attrs = attributes(coa)
    assert attrs[USER_NAME] == [b"bob"] and attrs[ACCT_SESSION_ID] == [b"rs-coa-plan-ack"]
    assert struct.pack("!I", 14988) + bytes([8, 2 + len(b"5M/10M")]) + b"5M/10M" in attrs[VENDOR_SPECIFIC]
    assert sent == [COA_REQUEST], "one CoA, no disconnect"
    assert out.returncode == 0, out.stdout + out.stderr
    assert "subscriber 'bob' is on plan 'silver'" in out.stdout
    line = next(x for x in out.stdout.splitlines() if x.startswith(f"session {sid} "))
    assert "plan changed (CoA-ACK) (by the daemon, over RadSec" in line, line
    assert f"session {sid} (bob on 127.0.0.4): CoA through the daemon (RadSec NAS)" in out.stderr
    assert metric(daemon, api_port, kind="coa", outcome="ack", transport="radsec") == before + 1
    tokens = json.loads(daemon.cli("api-token", "list", "--json").stdout)
    assert [t["name"] for t in tokens] == ["noc"], "the CLI's one-off token is revoked"


def test_cli_plan_change_refused_falls_back_and_fails(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """The NAS NAKs the CoA: the daemon disconnects the session instead (as the CLI does over
    UDP), down the same connection; that NAK too leaves it connected: exit status 1, the line
    saying both."""
    sent: list[int] = []
    cause = bytes([ERROR_CAUSE, 6]) + (506).to_bytes(4, "big")  # Resources Unavailable

    def nak(request: bytes) -> bytes:
        sent.append(request[0])
        return answer(COA_NAK if request[0] == COA_REQUEST else DISCONNECT_NAK, request, cause)

    out, coa, sid = cli_plan_change(daemon, pki, api_port, "carol", "rs-coa-plan-nak", nak)
    assert coa[0] == COA_REQUEST and attributes(coa)[ACCT_SESSION_ID] == [b"rs-coa-plan-nak"]
    assert sent == [COA_REQUEST, DISCONNECT_REQUEST], "the fallback disconnect went down the connection"
    assert out.returncode == 1, out.stdout + out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith(f"session {sid} "))
    assert "CoA refused: NAK Resources-Unavailable (506); disconnect NAK Resources-Unavailable (506)" in line
    assert "(by the daemon, over RadSec" in line, line
    assert "radiusd: error: 1 of 1 session not acted on" in out.stderr, out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_session_coa_route_checks_its_input(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """``POST /radius/sessions/ID/coa``: a write token, a known plan, a well-formed body."""
    with nas(daemon, pki) as c:
        sid = login(c, daemon, "rs-coa-plan-bad", pki)
    url = f"http://{HOST}:{api_port}/radius/sessions/{sid}/coa"
    admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
    r = httpx.post(url, json={"plan": "platinum"}, headers=admin)
    assert (r.status_code, r.json()) == (422, {"detail": "no plan named 'platinum'"})
    r = httpx.post(url, json={"plan": "silver", "rate": "1M"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "rate"]
    r = httpx.post(url, content=b"{", headers=admin | {"Content-Type": "application/json"})
    assert r.status_code == 422
    r = httpx.post(
        f"http://{HOST}:{api_port}/radius/sessions/999999/coa", json={"plan": "silver"}, headers=admin
    )
    assert (r.status_code, r.json()) == (404, {"detail": "no session '999999'"})
    reader = daemon.cli("api-token", "create", "dash", "--read-only").stdout.split()[0]
    try:
        r = httpx.post(url, json={"plan": "silver"}, headers={"Authorization": f"Bearer {reader}"})
        assert r.status_code == 403
    finally:
        daemon.cli("api-token", "revoke", "dash")
    r = httpx.post(url, json={"plan": "silver"})
    assert r.status_code == 401
    r = httpx.get(f"http://{HOST}:{api_port}/radius/coa/nosuchjob", headers=admin)
    assert r.status_code == 404
    spec = httpx.get(f"http://{HOST}:{api_port}/openapi.json", headers=admin).json()
    route = spec["paths"]["/radius/sessions/{session_id}/coa"]["post"]
    assert {"202", "404", "409", "422", "502"} <= set(route["responses"])
    assert "/radius/coa/{job_id}" in spec["paths"]


def cli_remove(
    daemon: DaemonProcess, pki: Pki, api_port: int, user: str, session: str, reply: Callable[[bytes], bytes]
) -> tuple[subprocess.CompletedProcess[str], bytes, str]:
    """``radiusd subscriber remove USER --disconnect`` while ``user`` has one session on pop3:
    the CLI's result, the Disconnect-Request, and the session's id."""
    args = ("subscriber", "remove", user, "--disconnect")
    out, request, sid, (arrived, ended) = cli_at_nas(
        daemon, pki, api_port, pki.pop3, user, session, args, reply
    )
    print(
        f"\nCLI subscriber remove through the API ({user}): Disconnect-Request at the NAS "
        f"{arrived * 1000:.0f} ms after the CLI started, CLI done after {ended * 1000:.0f} ms"
    )
    return out, request, sid


def test_cli_remove_disconnects_through_the_daemon(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """``radiusd subscriber remove --disconnect`` of a subscriber online on a RadSec NAS: the
    CLI asks the daemon's ``POST /radius/sessions/ID/disconnect``, the Disconnect-Request goes
    down the NAS's TLS connection, and on its ACK the subscriber is removed."""
    sent: list[bytes] = []

    def ack(request: bytes) -> bytes:
        sent.append(request)
        return answer(DISCONNECT_ACK, request)

    before = metric(daemon, api_port, kind="disconnect", outcome="ack", transport="radsec")
    out, request, sid = cli_remove(daemon, pki, api_port, "dave", "rs-coa-remove-ack", ack)
    assert request[0] == DISCONNECT_REQUEST and request_authentic(request)
    attrs = attributes(request)
    assert attrs[USER_NAME] == [b"dave"] and attrs[ACCT_SESSION_ID] == [b"rs-coa-remove-ack"]
    assert len(sent) == 1, "one Disconnect-Request"
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == [
        "session rs-coa-remove-ack (dave on pop3): disconnected",
        "removed subscriber 'dave'",
    ], out.stdout
    assert f"session {sid} (dave on 127.0.0.3): disconnect through the daemon (RadSec NAS)" in out.stderr
    assert "not the daemon" not in out.stdout + out.stderr
    assert daemon.cli("subscriber", "show", "dave", check=False).returncode == 1, "removed"
    assert metric(daemon, api_port, kind="disconnect", outcome="ack", transport="radsec") == before + 1
    tokens = json.loads(daemon.cli("api-token", "list", "--json").stdout)
    assert [t["name"] for t in tokens] == ["noc"], "the CLI's one-off token is revoked"


def test_cli_remove_keeps_a_subscriber_the_nas_keeps(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """The RadSec NAS NAKs the daemon's Disconnect-Request: the subscriber stays, exit status
    1, and the one error line says which session and what the NAS answered."""
    cause = bytes([ERROR_CAUSE, 6]) + (506).to_bytes(4, "big")  # Resources Unavailable

    def nak(request: bytes) -> bytes:
        return answer(DISCONNECT_NAK, request, cause)

    out, request, _sid = cli_remove(daemon, pki, api_port, "erin", "rs-coa-remove-nak", nak)
    assert request[0] == DISCONNECT_REQUEST and attributes(request)[ACCT_SESSION_ID] == [b"rs-coa-remove-nak"]
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout == ""
    assert (
        "radiusd: error: subscriber 'erin' not removed: 1 of 1 session(s) still connected "
        "(session rs-coa-remove-nak on pop3: nak Resources-Unavailable; by the daemon, over RadSec"
    ) in out.stderr, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert daemon.cli("subscriber", "show", "erin").returncode == 0, "kept"


def test_cli_suspend_disconnects_through_the_daemon(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """``radiusd subscriber suspend`` of a subscriber online on a RadSec NAS: stored, then the
    Disconnect-Request goes through the daemon down the NAS's connection (run_disconnects)."""

    def ack(request: bytes) -> bytes:
        return answer(DISCONNECT_ACK, request)

    args = ("subscriber", "suspend", "frank")
    out, request, sid, _times = cli_at_nas(
        daemon, pki, api_port, pki.pop3, "frank", "rs-coa-suspend", args, ack
    )
    assert request[0] == DISCONNECT_REQUEST and request_authentic(request)
    assert attributes(request)[ACCT_SESSION_ID] == [b"rs-coa-suspend"]
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "subscriber 'frank' is suspended", lines
    assert lines[1].startswith(f"session {sid} (frank on pop3): disconnected (by the daemon, over RadSec"), (
        lines
    )
    assert "through the daemon (RadSec NAS)" in out.stderr


def test_cli_remove_sends_each_session_its_own_way(daemon: DaemonProcess, pki: Pki, api_port: int) -> None:
    """A subscriber online on a RadSec NAS and on a UDP NAS (a pyrad stand-in): ``subscriber
    remove --disconnect`` relays the first through the daemon and sends the second over UDP
    itself, as before; both ACK, the subscriber is removed."""
    standin = PyradNas()

    async def udp_session() -> None:
        engine = create_engine(daemon.url)
        try:
            router = await add_nas(engine, "udp1", "127.0.0.1", UDP_SECRET.decode(), coa_port=standin.port)
            await add_session(engine, "gina", router.id)
        finally:
            await engine.dispose()

    def ack(request: bytes) -> bytes:
        return answer(DISCONNECT_ACK, request)

    try:
        asyncio.run(udp_session())
        out, request, _sid = cli_remove(daemon, pki, api_port, "gina", "rs-coa-remove-mixed", ack)
    finally:
        standin.close()
    assert attributes(request)[ACCT_SESSION_ID] == [b"rs-coa-remove-mixed"], "over TLS"
    [udp] = standin.received
    assert udp.code == 40 and udp.authenticator_ok, "a Disconnect-Request over UDP, by the CLI"
    assert udp.attributes["Acct-Session-Id"] == ["81a00001"]
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(out.stdout.splitlines()) == [
        "removed subscriber 'gina'",
        "session 81a00001 (gina on udp1): disconnected",
        "session rs-coa-remove-mixed (gina on pop3): disconnected",
    ], out.stdout
    assert out.stderr.count("through the daemon (RadSec NAS)") == 1, out.stderr
