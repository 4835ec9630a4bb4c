"""Issue 3 end to end: ``radiusd serve`` on SQLite and on PostgreSQL, real clients over loopback.

FreeRADIUS ``radtest``/``radclient`` and pyrad log subscribers in with PAP, CHAP, MS-CHAPv1 and
MS-CHAPv2 (RFC 2759 / RFC 3079 vectors); rejects; the BlastRADIUS defaults (Message-Authenticator
required and first in every reply); unknown NAS sources; wrong secrets; retransmissions answered
from the cache; Status-Server on both ports; CLI edits taking effect in the running daemon.

One daemon per backend serves the whole module (seeded through the CLI before it starts).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from pyrad import packet as pyrad_packet
from pyrad.client import Timeout

from radiusd.codec import mschap
from radiusd.codec.crypto import salt_decrypt

from .conftest import (
    DaemonProcess,
    UdpPeer,
    pyrad_client,
    raw_attributes,
    run_radclient,
    run_radtest,
    wait_until,
)

SECRET = "edge-Secr3t-q7"
LEGACY_SECRET = "legacy-Secr3t-w9"
RATE_LIMIT = "10M/20M"
SESSION_TIMEOUT = 3600
INTERIM = 300
PASSWORDS = {
    "alice": "alice-Pw-51x",
    "dave": "dave-Pw-22k",  # disabled
    "erin": "erin-Pw-84z",  # suspended
    "frank": "frank-Pw-37m",  # suspended while the daemon runs
    "User": "clientPass",  # RFC 2759 §9.2 / RFC 3079 §3.5.3
}
STATUS = {"dave": "disabled", "erin": "suspended"}

MESSAGE_AUTHENTICATOR = 80
PROXY_STATE = 33
VENDOR_SPECIFIC = 26
MICROSOFT = 311


def seed(d: DaemonProcess) -> None:
    # a MikroTik NAS: the plan's rate limit reaches it as Mikrotik-Rate-Limit (a generic one gets none)
    d.cli("nas", "add", "edge", "--address", "127.0.0.1", "--secret", SECRET, "--vendor", "mikrotik")
    d.cli(
        "nas", "add", "legacy", "--address", "127.0.0.3", "--secret", LEGACY_SECRET,
        "--no-message-authenticator",
    )  # fmt: skip
    d.cli(
        "plan", "add", "gold", "--rate-limit", RATE_LIMIT,
        "--session-timeout", str(SESSION_TIMEOUT), "--interim-interval", str(INTERIM),
    )  # fmt: skip
    rows = ["username,password,plan,status"]
    rows += [f"{u},{p},gold,{STATUS.get(u, 'active')}" for u, p in PASSWORDS.items()]
    csv = d.workdir / "subscribers.csv"
    csv.write_text("\n".join(rows) + "\n")
    d.cli("subscriber", "import", str(csv))


@pytest.fixture(scope="module")
def daemon_seed() -> Callable[[DaemonProcess], None]:
    return seed


@pytest.fixture
def client(daemon: DaemonProcess, pyrad_dictionary: Any) -> Any:
    return pyrad_client(daemon, pyrad_dictionary, SECRET)


def pap_request(client: Any, user: str, password: str, **attrs: Any) -> Any:
    req = client.CreateAuthPacket(User_Name=user, NAS_Identifier="itest", **attrs)
    req["User-Password"] = req.PwCrypt(password)
    return req


def radclient_pap(user: str, password: str) -> str:
    return f'User-Name = "{user}", User-Password = "{password}", Message-Authenticator = 0x00\n'


def assert_message_authenticator_first(raw: bytes, request_authenticator: bytes, secret: str) -> None:
    """RFC 3579 §3.2 checked by hand: Message-Authenticator first, HMAC-MD5 over the reply with the
    Request Authenticator in place and the attribute zeroed; and the Response Authenticator."""
    attrs = raw_attributes(raw)
    assert attrs[0][0] == MESSAGE_AUTHENTICATOR, (
        f"first attribute is {attrs[0][0]}, not Message-Authenticator"
    )
    assert [t for t, _ in attrs].count(MESSAGE_AUTHENTICATOR) == 1
    zeroed = raw[:4] + request_authenticator + raw[20:22] + bytes(16) + raw[38:]
    assert hmac.new(secret.encode(), zeroed, hashlib.md5).digest() == raw[22:38]
    expected = hashlib.md5(raw[:4] + request_authenticator + raw[20:] + secret.encode()).digest()
    assert raw[4:20] == expected


def assert_no_reply(peer: UdpPeer, daemon: DaemonProcess, client: Any) -> None:
    """Nothing came back to ``peer``: checked after a control request from the known NAS was
    answered, so the daemon has handled everything sent before it (one loop, in order)."""
    reply = client.SendPacket(pap_request(client, "alice", PASSWORDS["alice"]))
    assert reply.code == pyrad_packet.AccessAccept
    assert peer.pending() is None, "the daemon answered a request it must drop"


def vsa(vendor: int, vtype: int, value: bytes) -> bytes:
    return vendor.to_bytes(4, "big") + bytes((vtype, len(value) + 2)) + value


def ms_attrs(raw: bytes) -> dict[int, list[bytes]]:
    """Microsoft VSAs of a raw reply, by vendor type (walked here, one sub-attribute per VSA)."""
    out: dict[int, list[bytes]] = {}
    for t, v in raw_attributes(raw):
        if t == VENDOR_SPECIFIC and int.from_bytes(v[:4], "big") == MICROSOFT:
            out.setdefault(v[4], []).append(v[6 : 4 + v[5]])
    return out


# -- PAP, CHAP, MS-CHAPv1 with FreeRADIUS's tools -----------------------------------------------


def test_radtest_pap_accept_carries_the_plan(daemon: DaemonProcess, radtest: str) -> None:
    out = run_radtest(radtest, "alice", PASSWORDS["alice"], daemon.auth_port, SECRET)
    assert "Received Access-Accept" in out, out
    assert f'Mikrotik-Rate-Limit = "{RATE_LIMIT}"' in out
    assert f"Session-Timeout = {SESSION_TIMEOUT}" in out
    assert f"Acct-Interim-Interval = {INTERIM}" in out


@pytest.mark.parametrize("method", ["pap", "chap", "mschap"])
def test_radtest_methods_accept_right_and_reject_wrong_password(
    daemon: DaemonProcess, radtest: str, method: str
) -> None:
    out = run_radtest(radtest, "alice", PASSWORDS["alice"], daemon.auth_port, SECRET, method)
    assert "Received Access-Accept" in out, out
    assert f'Mikrotik-Rate-Limit = "{RATE_LIMIT}"' in out
    if method == "mschap":
        assert "MS-CHAP-MPPE-Keys = 0x" in out  # RFC 2548 §2.4.1, for MPPE after MS-CHAPv1
    out = run_radtest(radtest, "alice", "not-" + PASSWORDS["alice"], daemon.auth_port, SECRET, method)
    assert "Received Access-Reject" in out, out
    assert "Mikrotik-Rate-Limit" not in out


@pytest.mark.parametrize(
    ("user", "password", "reason"),
    [
        pytest.param("alice", "wrong-Pw", r"^PAP: ", id="wrong-password"),
        pytest.param("nobody", "whatever", r"^unknown user 'nobody'$", id="unknown-user"),
        pytest.param("dave", PASSWORDS["dave"], r"^subscriber is disabled$", id="disabled"),
        pytest.param("erin", PASSWORDS["erin"], r"^subscriber is suspended$", id="suspended"),
    ],
)
def test_radclient_rejects_with_a_logged_reason(
    daemon: DaemonProcess, radclient: str, user: str, password: str, reason: str
) -> None:
    before = len(daemon.events("auth.reject", user=user))
    out = run_radclient(radclient, daemon.auth_port, SECRET, radclient_pap(user, password))
    assert "Received Access-Reject" in out, out
    assert "Session-Timeout" not in out
    events = daemon.wait_event("auth.reject", count=before + 1, user=user)
    assert re.search(reason, events[-1]["reason"]), events[-1]
    assert password not in daemon.stderr()


@pytest.mark.parametrize("password", [None, PASSWORDS["alice"]], ids=["eap", "eap-and-pap"])
def test_eap_request_is_rejected_with_an_eap_failure(
    daemon: DaemonProcess, radclient: str, password: str | None
) -> None:
    """EAP without an [eap] section: the Access-Reject carries EAP-Failure (RFC 3579 §2.6.3; RFC 3748
    §4.2: code 4, the Response's Identifier), even when a right PAP password rides along."""
    before = len(daemon.events("auth.reject", user="alice"))
    pap = f', User-Password = "{password}"' if password else ""
    identity = "0x022a000a01616c696365"  # EAP-Response/Identity "alice", Identifier 0x2a
    attrs = f'User-Name = "alice"{pap}, EAP-Message = {identity}, Message-Authenticator = 0x00\n'
    out = run_radclient(radclient, daemon.auth_port, SECRET, attrs)
    assert "Received Access-Reject" in out, out
    assert re.search(r"EAP-Message = 0x042a0004\b", out), out
    events = daemon.wait_event("auth.reject", count=before + 1, user="alice")
    assert events[-1]["reason"] == "EAP is not enabled (no [eap] section)"


# -- pyrad: the exact reply bytes ------------------------------------------------------------------


def test_pyrad_pap_accept_and_reject_start_with_message_authenticator(
    daemon: DaemonProcess, client: Any
) -> None:
    req = pap_request(client, "alice", PASSWORDS["alice"])
    reply = client.SendPacket(req)
    assert reply.code == pyrad_packet.AccessAccept
    assert reply["Mikrotik-Rate-Limit"] == [RATE_LIMIT]
    assert reply["Session-Timeout"] == [SESSION_TIMEOUT]
    assert reply["Acct-Interim-Interval"] == [INTERIM]
    assert_message_authenticator_first(reply.raw_packet, req.authenticator, SECRET)

    req = pap_request(client, "alice", "wrong-" + PASSWORDS["alice"])
    reply = client.SendPacket(req)
    assert reply.code == pyrad_packet.AccessReject
    assert_message_authenticator_first(reply.raw_packet, req.authenticator, SECRET)
    assert "Session-Timeout" not in reply


def test_proxy_state_is_echoed_in_order(daemon: DaemonProcess, client: Any) -> None:
    states = [b"proxy-one", b"\x00\x01binary", b"proxy-three"]
    for password, code in (
        (PASSWORDS["alice"], pyrad_packet.AccessAccept),
        ("wrong", pyrad_packet.AccessReject),
    ):
        req = pap_request(client, "alice", password, Proxy_State=states)
        reply = client.SendPacket(req)
        assert reply.code == code
        echoed = [v for t, v in raw_attributes(reply.raw_packet) if t == PROXY_STATE]
        assert echoed == states


# -- MS-CHAPv2 with pyrad ---------------------------------------------------------------------------

# RFC 2759 §9.2 and RFC 3079 §3.5.3
AUTH_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
AUTH_RESPONSE = b"S=407A5589115FD0D6209F510FE9C04566932CDA56"
MASTER_KEY = bytes.fromhex("FDECE3717A8C838CB388E527AE3CDD31")
SEND_START_KEY = bytes.fromhex("8B7CDC149B993A1BA118CB153F56DCCB")


def rfc3079_start_key(master: bytes, magic: bytes) -> bytes:
    """GetAsymmetricStartKey (RFC 3079 §3.4), written here from the RFC text."""
    return hashlib.sha1(master + bytes(40) + magic + b"\xf2" * 40).digest()[:16]


MAGIC2 = b"On the client side, this is the send key; on the server side, it is the receive key."


def mschap2_request(client: Any, user: str, ident: int, challenge: bytes, peer: bytes, nt: bytes) -> Any:
    req = client.CreateAuthPacket(User_Name=user, NAS_Identifier="itest")
    req["MS-CHAP-Challenge"] = challenge
    req["MS-CHAP2-Response"] = bytes((ident, 0)) + peer + bytes(8) + nt
    return req


def test_mschapv2_rfc2759_vector(daemon: DaemonProcess, client: Any) -> None:
    req = mschap2_request(client, "User", 0x42, AUTH_CHALLENGE, PEER_CHALLENGE, NT_RESPONSE)
    reply = client.SendPacket(req)
    assert reply.code == pyrad_packet.AccessAccept
    raw = reply.raw_packet
    assert_message_authenticator_first(raw, req.authenticator, SECRET)
    ms = ms_attrs(raw)
    assert ms[26] == [bytes((0x42,)) + AUTH_RESPONSE]  # MS-CHAP2-Success: Ident || "S=..."
    send_key = salt_decrypt(ms[16][0], SECRET.encode(), req.authenticator)
    recv_key = salt_decrypt(ms[17][0], SECRET.encode(), req.authenticator)
    assert send_key == SEND_START_KEY
    assert recv_key == rfc3079_start_key(MASTER_KEY, MAGIC2)
    assert ms[16][0][0] & 0x80 and ms[17][0][0] & 0x80  # salts with the high bit set (RFC 2548)
    assert ms[16][0][:2] != ms[17][0][:2]  # each key its own salt
    assert reply["Mikrotik-Rate-Limit"] == [RATE_LIMIT]


def test_mschapv2_fresh_challenge_and_wrong_password(daemon: DaemonProcess, client: Any) -> None:
    nt_hash = mschap.nt_password_hash(PASSWORDS["alice"])
    challenge, peer = os.urandom(16), os.urandom(16)
    nt = mschap.generate_nt_response(challenge, peer, b"alice", nt_hash)
    req = mschap2_request(client, "alice", 7, challenge, peer, nt)
    reply = client.SendPacket(req)
    assert reply.code == pyrad_packet.AccessAccept
    expected = mschap.generate_authenticator_response(nt_hash, nt, peer, challenge, b"alice")
    assert ms_attrs(reply.raw_packet)[26] == [b"\x07" + expected.encode()]

    wrong = mschap.generate_nt_response(challenge, peer, b"alice", mschap.nt_password_hash("wrong"))
    req = mschap2_request(client, "alice", 8, challenge, peer, wrong)
    reply = client.SendPacket(req)
    assert reply.code == pyrad_packet.AccessReject
    assert_message_authenticator_first(reply.raw_packet, req.authenticator, SECRET)
    ms = ms_attrs(reply.raw_packet)
    assert 26 not in ms and 16 not in ms
    assert ms[2][0][:1] == b"\x08" and b"E=691" in ms[2][0]  # MS-CHAP-Error (RFC 2759 §6)


# -- Status-Server (RFC 5997) -----------------------------------------------------------------------


def test_status_server_on_both_ports(daemon: DaemonProcess, client: Any, radclient: str) -> None:
    for port, code in ((daemon.auth_port, "Access-Accept"), (daemon.acct_port, "Accounting-Response")):
        out = run_radclient(radclient, port, SECRET, "Message-Authenticator = 0x00\n", command="status")
        assert f"Received {code}" in out, out

    req = client.CreateAuthPacket(code=pyrad_packet.StatusServer, NAS_Identifier="itest")
    reply = client.SendPacket(req)
    assert reply.code == pyrad_packet.AccessAccept
    assert_message_authenticator_first(reply.raw_packet, req.authenticator, SECRET)

    req = client.CreateAcctPacket(
        code=pyrad_packet.StatusServer, NAS_Identifier="itest", message_authenticator=True
    )
    reply = client.SendPacket(req)
    assert reply.code == pyrad_packet.AccountingResponse
    assert_message_authenticator_first(reply.raw_packet, req.authenticator, SECRET)


def test_status_server_without_message_authenticator_is_dropped(daemon: DaemonProcess, client: Any) -> None:
    before = len(daemon.events("packet.dropped", reason="missing-message-authenticator"))
    req = client.CreateAuthPacket(code=pyrad_packet.StatusServer, message_authenticator=False)
    req["NAS-Identifier"] = "itest"
    with UdpPeer() as peer:
        peer.send(req.RequestPacket(), daemon.auth_port)
        daemon.wait_event("packet.dropped", count=before + 1, reason="missing-message-authenticator")
        assert_no_reply(peer, daemon, client)


# -- who may talk to us -------------------------------------------------------------------------------


def test_unknown_nas_source_gets_no_reply(daemon: DaemonProcess, client: Any, pyrad_dictionary: Any) -> None:
    stranger = pyrad_client(daemon, pyrad_dictionary, SECRET, source="127.0.0.2")
    req = pap_request(stranger, "alice", PASSWORDS["alice"])
    with UdpPeer("127.0.0.2") as peer:
        peer.send(req.RequestPacket(), daemon.auth_port)
        daemon.wait_event("packet.dropped", reason="unknown-nas", source=f"127.0.0.2:{peer.port}")
        assert_no_reply(peer, daemon, client)


def test_message_authenticator_required_unless_the_nas_is_marked(
    daemon: DaemonProcess, client: Any, pyrad_dictionary: Any
) -> None:
    before = len(daemon.events("packet.dropped", reason="missing-message-authenticator", nas="edge"))
    req = client.CreateAuthPacket(User_Name="alice", message_authenticator=False)
    req["User-Password"] = req.PwCrypt(PASSWORDS["alice"])
    data = req.RequestPacket()
    assert MESSAGE_AUTHENTICATOR not in [t for t, _ in raw_attributes(data)]
    with UdpPeer() as peer:
        peer.send(data, daemon.auth_port)
        daemon.wait_event(
            "packet.dropped", count=before + 1, reason="missing-message-authenticator", nas="edge"
        )
        assert_no_reply(peer, daemon, client)

    legacy = pyrad_client(daemon, pyrad_dictionary, LEGACY_SECRET, source="127.0.0.3")
    req = legacy.CreateAuthPacket(User_Name="alice", message_authenticator=False)
    req["User-Password"] = req.PwCrypt(PASSWORDS["alice"])
    reply = legacy.SendPacket(req)
    assert reply.code == pyrad_packet.AccessAccept
    assert_message_authenticator_first(reply.raw_packet, req.authenticator, LEGACY_SECRET)


def test_wrong_message_authenticator_is_dropped(daemon: DaemonProcess, client: Any) -> None:
    before = len(daemon.events("packet.dropped", reason="bad-message-authenticator", nas="edge"))
    data = bytearray(pap_request(client, "alice", PASSWORDS["alice"]).RequestPacket())
    off = next(i for i in range(20, len(data)) if data[i] == MESSAGE_AUTHENTICATOR and data[i + 1] == 18)
    data[off + 2] ^= 0x01
    with UdpPeer() as peer:
        peer.send(bytes(data), daemon.auth_port)
        daemon.wait_event("packet.dropped", count=before + 1, reason="bad-message-authenticator", nas="edge")
        assert_no_reply(peer, daemon, client)


def test_wrong_secret(daemon: DaemonProcess, client: Any, pyrad_dictionary: Any) -> None:
    # With Message-Authenticator (always, from a NAS that must send it): the HMAC fails, dropped.
    before = len(daemon.events("packet.dropped", reason="bad-message-authenticator", nas="edge"))
    wrong = pyrad_client(daemon, pyrad_dictionary, "not-" + SECRET)
    with UdpPeer() as peer:
        peer.send(pap_request(wrong, "alice", PASSWORDS["alice"]).RequestPacket(), daemon.auth_port)
        daemon.wait_event("packet.dropped", count=before + 1, reason="bad-message-authenticator", nas="edge")
        assert_no_reply(peer, daemon, client)

    # Without one, from the NAS allowed to omit it: nothing proves the secret wrong but the
    # password, which decodes to garbage: Access-Reject, signed with the configured secret.
    before = len(daemon.events("auth.reject", user="alice", nas="legacy"))
    wrong_legacy = pyrad_client(daemon, pyrad_dictionary, "not-" + LEGACY_SECRET, source="127.0.0.3")
    req = wrong_legacy.CreateAuthPacket(User_Name="alice", message_authenticator=False)
    req["User-Password"] = req.PwCrypt(PASSWORDS["alice"])
    with UdpPeer("127.0.0.3") as peer:
        raw = peer.exchange(req.RequestPacket(), daemon.auth_port)
    assert raw is not None and raw[0] == pyrad_packet.AccessReject
    assert_message_authenticator_first(raw, req.authenticator, LEGACY_SECRET)
    event = daemon.wait_event("auth.reject", count=before + 1, user="alice", nas="legacy")[-1]
    assert event["reason"].startswith("PAP: ")


# -- retransmissions (RFC 5080 §2.2.2) -----------------------------------------------------------------


def test_retransmission_gets_the_same_bytes_and_the_handler_runs_once(
    daemon: DaemonProcess, client: Any
) -> None:
    user = f"ghost-{os.urandom(3).hex()}"  # unknown: each handled copy logs one auth.reject
    data = pap_request(client, user, "pw").RequestPacket()
    with UdpPeer() as peer:
        first = peer.exchange(data, daemon.auth_port)
        again = peer.exchange(data, daemon.auth_port)
        assert first is not None and first[0] == pyrad_packet.AccessReject
        assert again == first
        # The same datagram from another source port is another request: handled afresh.
        with UdpPeer() as other:
            third = other.exchange(data, daemon.auth_port)
        assert third is not None and third[0] == pyrad_packet.AccessReject
        daemon.wait_event("auth.reject", count=2, user=user)
        assert_no_reply(peer, daemon, client)  # settle: everything sent so far has been handled
    assert len(daemon.events("auth.reject", user=user)) == 2

    accept = pap_request(client, "alice", PASSWORDS["alice"]).RequestPacket()
    with UdpPeer() as peer:
        first = peer.exchange(accept, daemon.auth_port)
        assert first is not None and first[0] == pyrad_packet.AccessAccept
        assert peer.exchange(accept, daemon.auth_port) == first


# -- CLI edits reach the running daemon ------------------------------------------------------------------

LIVE_DEADLINE = 2.5  # seconds; the change feed is polled every second
ACCEPT, REJECT = int(pyrad_packet.AccessAccept), int(pyrad_packet.AccessReject)


def test_cli_changes_take_effect_without_restart(
    daemon: DaemonProcess, client: Any, pyrad_dictionary: Any
) -> None:
    """Edits made while the daemon runs are served within LIVE_DEADLINE, no restart. Edits are
    made in two rounds (each waits for the next poll of the change feed, whatever it holds)."""
    secret = "late-Secr3t-z1"
    late = pyrad_client(daemon, pyrad_dictionary, secret, source="127.0.0.4", timeout=0.2)
    newbie = f"newbie-{os.urandom(3).hex()}"

    def code(c: Any, user: str, password: str) -> int | None:
        try:
            return int(c.SendPacket(pap_request(c, user, password)).code)
        except Timeout:  # no answer: a source that is not a known NAS
            return None

    def state() -> tuple[int | None, ...]:
        return (
            code(client, newbie, "newbie-Pw-1"),
            code(client, "frank", PASSWORDS["frank"]),
            code(late, "alice", PASSWORDS["alice"]),
        )

    def becomes(expected: tuple[int | None, ...]) -> float:
        started = time.monotonic()
        reached = wait_until(lambda: state() == expected, LIVE_DEADLINE + 1, interval=0.05)
        assert reached, f"still {state()} instead of {expected}"
        return time.monotonic() - started

    assert state() == (REJECT, ACCEPT, None)
    daemon.cli("nas", "add", "late", "--address", "127.0.0.4", "--secret", secret, as_script=True)
    daemon.cli("subscriber", "add", newbie, "--password", "newbie-Pw-1", "--plan", "gold")
    daemon.cli("subscriber", "suspend", "frank")
    assert becomes((ACCEPT, REJECT, ACCEPT)) < LIVE_DEADLINE

    daemon.cli("subscriber", "resume", "frank")
    daemon.cli("subscriber", "remove", newbie)
    daemon.cli("nas", "remove", "late")
    assert becomes((REJECT, ACCEPT, None)) < LIVE_DEADLINE
