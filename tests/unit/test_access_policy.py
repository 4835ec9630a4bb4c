"""The Access-Request policy without sockets or a database (radiusd.policy.access).

Subscribers and plans are store records loaded into a Directory, as the daemon loads them;
each request is encoded and decoded with our codec so the policy sees what the dispatcher
would hand it. MS-CHAPv2 uses the RFC 2759 §9.2 / RFC 3079 §3.5.3 vectors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
from collections.abc import Awaitable
from typing import Any

import pytest

from radiusd.codec import mschap
from radiusd.codec.codes import Code
from radiusd.codec.crypto import recover_user_password, salt_decrypt
from radiusd.codec.dictionary import Dictionary, default_dictionary
from radiusd.codec.packet import Packet, decode, encode_request
from radiusd.model.credentials import make_credential
from radiusd.model.request import NasClient, Request
from radiusd.policy.access import AccessPolicy, StatusPolicy
from radiusd.policy.directory import Directory, PlanView, SubscriberView
from radiusd.policy.seams import Assignment
from radiusd.store.records import PlanRecord, SubscriberRecord

SECRET = b"policy-Secr3t-p5"
PASSWORD = "alice-Pol-Pw-8"
RATE_LIMIT = "10M/20M"
GENERIC = NasClient(1, "edge", "127.0.0.1", SECRET)
MIKROTIK = NasClient(2, "mt", "127.0.0.2", SECRET, vendor="mikrotik")
CISCO = NasClient(3, "asr", "127.0.0.3", SECRET, vendor="cisco")
MICROSOFT = 311
PROXY_STATE = 33


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return default_dictionary()


def sub(username: str, password: str = PASSWORD, kind: str = "cleartext", **kw: Any) -> SubscriberRecord:
    # 2,000 PBKDF2 rounds: above the "expensive" threshold (verified in a thread), still fast.
    stored = make_credential(password, kind, iterations=2000).storage_string()
    return SubscriberRecord(id=len(username), username=username, credential=stored, **kw)


@pytest.fixture
def directory(dictionary: Dictionary) -> Directory:
    d = Directory(dictionary)
    d.set_plans(
        [
            PlanRecord(id=1, name="gold", rate_limit=RATE_LIMIT, session_timeout=3600, interim_interval=300),
            PlanRecord(id=2, name="garden", walled_garden_pool="wg", rate_limit="1M/1M"),
            PlanRecord(id=3, name="single", simultaneous_use=1),
        ]
    )
    d.set_subscribers(
        [
            sub("alice", plan="gold"),
            sub("nt-user", kind="nt-hash", plan="gold"),
            sub("hashed", kind="pbkdf2-sha256", plan="gold"),
            sub("dave", status="disabled", plan="gold"),
            sub("erin", status="suspended", plan="gold"),
            sub("gina", status="suspended", plan="garden"),
            sub("old", plan="gold", expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
            sub("static", static_ip="100.64.0.9"),
            sub("solo", plan="single"),
            sub("User", password="clientPass", plan="gold"),
            sub("custom", reply_attributes=(("Reply-Message", "hi there"), ("Cisco-AVPair", "ip:x=1"))),
        ]
    )
    return d


@pytest.fixture
def policy(directory: Directory, dictionary: Dictionary) -> AccessPolicy:
    return AccessPolicy(directory, dictionary)


def request(
    dictionary: Dictionary,
    user: str | None = "alice",
    password: str | None = PASSWORD,
    *,
    nas: NasClient = GENERIC,
    attrs: list[tuple[str, Any]] | None = None,
    raw: list[tuple[int, bytes]] | None = None,
    trace: bool = True,
) -> Request:
    p = Packet(Code.ACCESS_REQUEST, 17, os.urandom(16), dictionary=dictionary)
    if user is not None:
        p.add("User-Name", user)
    if password is not None:
        p.set_user_password(password.encode(), nas.secret)
    for name, value in attrs or []:
        p.add(name, value)
    for t, v in raw or []:
        p.add_raw(t, v)
    data = encode_request(p, nas.secret, message_auth=True)
    return Request(decode(data, dictionary), data, nas, ("127.0.0.1", 5000), 0.0, [] if trace else None)


def decide(policy: AccessPolicy, req: Request) -> Packet:
    result = policy.handle(req)
    assert isinstance(result, Packet), f"expected an immediate decision, got {result!r}"
    return result


async def decide_async(policy: AccessPolicy, req: Request) -> Packet:
    result = policy.handle(req)
    assert isinstance(result, Awaitable), f"expected an awaitable, got {result!r}"
    reply = await result
    assert isinstance(reply, Packet)
    return reply


def ms_vsas(reply: Packet) -> dict[int, bytes]:
    return {vt: v for vid, vt, v, _ in reply.vendor_attributes() if vid == MICROSOFT}


# -- PAP and the accept ---------------------------------------------------------------------


def test_pap_accept_carries_the_plan(policy: AccessPolicy, dictionary: Dictionary) -> None:
    req = request(dictionary)
    reply = decide(policy, req)
    assert reply.code == Code.ACCESS_ACCEPT and reply.identifier == 17
    assert reply.get("Session-Timeout") == 3600
    assert reply.get("Acct-Interim-Interval") == 300
    assert reply.get("Mikrotik-Rate-Limit") is None  # a generic NAS gets no vendor rate attribute
    assert req.reject_reason == ""
    assert req.trace is not None and any("PAP" in line for line in req.trace)
    assert req.trace[-1].strip() == "accept"


def test_decisions_without_a_trace_cost_nothing_extra(policy: AccessPolicy, dictionary: Dictionary) -> None:
    req = request(dictionary, trace=False)
    assert decide(policy, req).code == Code.ACCESS_ACCEPT
    req = request(dictionary, password="wrong", trace=False)
    assert decide(policy, req).code == Code.ACCESS_REJECT
    assert req.reject_reason.startswith("PAP: ")


@pytest.mark.parametrize(
    ("user", "password", "reason"),
    [
        ("alice", "not-" + PASSWORD, "PAP: wrong password"),
        ("nobody", PASSWORD, "unknown user 'nobody'"),
        ("dave", PASSWORD, "subscriber is disabled"),
        ("erin", PASSWORD, "subscriber is suspended"),
        ("erin", "wrong", "PAP: wrong password"),  # a suspended user's password is still checked first
        ("old", PASSWORD, "subscriber expired at 2020-01-01T00:00:00+00:00"),
    ],
)
def test_rejects_with_reasons(
    policy: AccessPolicy, dictionary: Dictionary, user: str, password: str, reason: str
) -> None:
    req = request(dictionary, user, password)
    reply = decide(policy, req)
    assert reply.code == Code.ACCESS_REJECT
    assert req.reject_reason == reason
    assert req.trace is not None and req.trace[-1] == f"  reject: {reason}"
    assert reply.get("Session-Timeout") is None and reply.get("Mikrotik-Rate-Limit") is None
    assert PASSWORD not in reason


def test_requests_without_usable_credentials_are_rejected(
    policy: AccessPolicy, dictionary: Dictionary
) -> None:
    req = request(dictionary, user=None)
    assert decide(policy, req).code == Code.ACCESS_REJECT and "no User-Name" in req.reject_reason
    req = request(dictionary, password=None)
    assert decide(policy, req).code == Code.ACCESS_REJECT and "no credentials" in req.reject_reason
    chap = os.urandom(17)
    req = request(dictionary, raw=[(3, chap)])  # User-Password and CHAP-Password together
    assert decide(policy, req).code == Code.ACCESS_REJECT and "both" in req.reject_reason


def test_suspended_with_a_walled_garden_plan_is_accepted(
    policy: AccessPolicy, dictionary: Dictionary
) -> None:
    req = request(dictionary, "gina")
    reply = decide(policy, req)
    assert reply.code == Code.ACCESS_ACCEPT
    assert req.trace is not None and any("walled-garden pool 'wg'" in line for line in req.trace)


def test_nt_hash_credential_serves_pap(policy: AccessPolicy, dictionary: Dictionary) -> None:
    assert decide(policy, request(dictionary, "nt-user")).code == Code.ACCESS_ACCEPT
    assert decide(policy, request(dictionary, "nt-user", "wrong")).code == Code.ACCESS_REJECT


async def test_salted_hash_is_verified_off_the_loop(policy: AccessPolicy, dictionary: Dictionary) -> None:
    reply = await decide_async(policy, request(dictionary, "hashed"))
    assert reply.code == Code.ACCESS_ACCEPT and reply.get("Session-Timeout") == 3600
    req = request(dictionary, "hashed", "wrong")
    assert (await decide_async(policy, req)).code == Code.ACCESS_REJECT
    assert req.reject_reason.startswith("PAP: ")


def test_vendor_attributes_follow_the_nas_vendor(policy: AccessPolicy, dictionary: Dictionary) -> None:
    cisco = ["subscriber:sub-qos-policy-in=RATE-10M-IN", "subscriber:sub-qos-policy-out=RATE-20M-OUT"]
    for nas, expected, avpairs in ((GENERIC, None, []), (MIKROTIK, RATE_LIMIT, []), (CISCO, None, cisco)):
        reply = decide(policy, request(dictionary, nas=nas))
        assert reply.get("Mikrotik-Rate-Limit") == expected, nas.vendor
        assert reply.get_all("Cisco-AVPair") == avpairs, nas.vendor
        assert reply.get("Session-Timeout") == 3600  # standard attributes go to everyone


def test_subscriber_reply_attributes_and_static_address(policy: AccessPolicy, dictionary: Dictionary) -> None:
    reply = decide(policy, request(dictionary, "custom"))
    assert reply.get("Reply-Message") == "hi there"
    assert reply.get("Cisco-AVPair") == "ip:x=1"
    assert decide(policy, request(dictionary, "custom", nas=MIKROTIK)).get("Cisco-AVPair") is None
    reply = decide(policy, request(dictionary, "static"))
    assert str(reply.get("Framed-IP-Address")) == "100.64.0.9"


def test_proxy_state_is_copied_in_order(policy: AccessPolicy, dictionary: Dictionary) -> None:
    states = [b"one", b"two", b"three"]
    for password, code in ((PASSWORD, Code.ACCESS_ACCEPT), ("wrong", Code.ACCESS_REJECT)):
        reply = decide(policy, request(dictionary, password=password, raw=[(PROXY_STATE, s) for s in states]))
        assert reply.code == code
        assert [v for t, v in reply.attributes if t == PROXY_STATE] == states


class Sessions:
    def __init__(self, live: int) -> None:
        self.live = live
        self.asked: list[str] = []

    def open_sessions(self, username: str) -> int:
        self.asked.append(username)
        return self.live


@pytest.mark.parametrize(("live", "code"), [(0, Code.ACCESS_ACCEPT), (1, Code.ACCESS_REJECT)])
def test_simultaneous_use(directory: Directory, dictionary: Dictionary, live: int, code: int) -> None:
    sessions = Sessions(live)
    policy = AccessPolicy(directory, dictionary, sessions=sessions)
    req = request(dictionary, "solo")
    assert decide(policy, req).code == code
    assert sessions.asked == ["solo"]
    if code == Code.ACCESS_REJECT:
        assert req.reject_reason == "Simultaneous-Use limit 1 reached (1 sessions open)"
    decide(policy, request(dictionary, "alice"))  # no limit: not asked
    assert sessions.asked == ["solo"]


class Assigner:
    def __init__(self, reject: str = "") -> None:
        self.reject = reject
        self.pools: list[str | None] = []

    def wants(self, subscriber: SubscriberView, plan: PlanView | None, pool: str | None) -> bool:
        return True

    def assign_nowait(
        self,
        request: Request,
        subscriber: SubscriberView,
        plan: PlanView | None,
        pool: str | None,
        *,
        notes: bool = True,
    ) -> tuple[Assignment, asyncio.Future[None] | None]:
        """A reject at once; an address with a commit that completes on the next loop turn."""
        self.pools.append(pool)
        if self.reject:
            return Assignment(reject_reason=self.reject), None
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[None] = loop.create_future()
        loop.call_soon(committed.set_result, None)
        return Assignment(attributes=[(8, bytes((100, 64, 1, 2)))], notes=["address 100.64.1.2"]), committed


async def test_address_assignment_is_awaited_before_the_accept(
    directory: Directory, dictionary: Dictionary
) -> None:
    assigner = Assigner()
    policy = AccessPolicy(directory, dictionary, assigner=assigner)
    req = request(dictionary, "gina")  # suspended: the walled-garden pool
    reply = await decide_async(policy, req)
    assert reply.code == Code.ACCESS_ACCEPT and (8, bytes((100, 64, 1, 2))) in reply.attributes
    assert assigner.pools == ["wg"]
    assert req.trace is not None and "  address 100.64.1.2" in req.trace

    policy = AccessPolicy(directory, dictionary, assigner=Assigner(reject="pool 'wg' is exhausted"))
    req = request(dictionary, "gina")
    reply = decide(policy, req)  # nothing to commit: the reject goes at once, as IPAM's does
    assert reply.code == Code.ACCESS_REJECT and req.reject_reason == "pool 'wg' is exhausted"


# -- CHAP ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_challenge", [True, False])
def test_chap(policy: AccessPolicy, dictionary: Dictionary, with_challenge: bool) -> None:
    def chap_request(password: str, ident: int = 5) -> Request:
        p = Packet(Code.ACCESS_REQUEST, 3, os.urandom(16), dictionary=dictionary)
        p.add("User-Name", "alice")
        # RFC 2865 §2.2: the challenge is CHAP-Challenge, else the Request Authenticator.
        challenge = os.urandom(16) if with_challenge else p.authenticator
        p.add_raw(3, bytes((ident,)) + hashlib.md5(bytes((ident,)) + password.encode() + challenge).digest())
        if with_challenge:
            p.add_raw(60, challenge)
        data = encode_request(p, SECRET, message_auth=True)
        return Request(decode(data, dictionary), data, GENERIC, ("127.0.0.1", 1), 0.0, [])

    assert decide(policy, chap_request(PASSWORD)).code == Code.ACCESS_ACCEPT
    req = chap_request("wrong")
    assert decide(policy, req).code == Code.ACCESS_REJECT and req.reject_reason.startswith("CHAP: ")


def test_chap_needs_the_cleartext(policy: AccessPolicy, dictionary: Dictionary) -> None:
    req = request(dictionary, "nt-user", password=None, raw=[(3, os.urandom(17))])
    assert decide(policy, req).code == Code.ACCESS_REJECT
    assert req.reject_reason.startswith("CHAP: ") and "wrong password" not in req.reject_reason
    req = request(dictionary, password=None, raw=[(3, os.urandom(10))])
    assert decide(policy, req).code == Code.ACCESS_REJECT and "17 expected" in req.reject_reason


# -- MS-CHAP ------------------------------------------------------------------------------------------


def ms(vtype: int, value: bytes) -> tuple[int, bytes]:
    return 26, MICROSOFT.to_bytes(4, "big") + bytes((vtype, len(value) + 2)) + value


def test_mschap1(policy: AccessPolicy, dictionary: Dictionary) -> None:
    nt_hash = mschap.nt_password_hash(PASSWORD)
    challenge = os.urandom(8)
    response = bytes((9, 1)) + bytes(24) + mschap.mschap1_nt_response(challenge, nt_hash)
    req = request(dictionary, password=None, raw=[ms(11, challenge), ms(1, response)])
    reply = decide(policy, req)
    assert reply.code == Code.ACCESS_ACCEPT
    keys = recover_user_password(ms_vsas(reply)[12], SECRET, req.packet.authenticator)
    assert keys[8:24] == mschap.hash_nt_password_hash(nt_hash)  # RFC 2548 §2.4.1 NT-Key

    wrong = bytes((9, 1)) + bytes(24) + mschap.mschap1_nt_response(challenge, mschap.nt_password_hash("x"))
    req = request(dictionary, password=None, raw=[ms(11, challenge), ms(1, wrong)])
    reply = decide(policy, req)
    assert reply.code == Code.ACCESS_REJECT and req.reject_reason.startswith("MS-CHAPv1: ")
    error = ms_vsas(reply)[2]
    assert error[0] == 9 and b"E=691" in error


# RFC 2759 §9.2 and RFC 3079 §3.5.3
AUTH_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
AUTH_RESPONSE = b"S=407A5589115FD0D6209F510FE9C04566932CDA56"
SEND_START_KEY = bytes.fromhex("8B7CDC149B993A1BA118CB153F56DCCB")


def test_mschap2_rfc_vector(policy: AccessPolicy, dictionary: Dictionary) -> None:
    response = bytes((0x21, 0)) + PEER_CHALLENGE + bytes(8) + NT_RESPONSE
    req = request(dictionary, "User", None, raw=[ms(11, AUTH_CHALLENGE), ms(25, response)])
    reply = decide(policy, req)
    assert reply.code == Code.ACCESS_ACCEPT
    vsas = ms_vsas(reply)
    assert vsas[26] == b"\x21" + AUTH_RESPONSE
    assert salt_decrypt(vsas[16], SECRET, req.packet.authenticator) == SEND_START_KEY
    recv = salt_decrypt(vsas[17], SECRET, req.packet.authenticator)
    assert len(recv) == 16 and recv != SEND_START_KEY
    assert reply.get("Session-Timeout") == 3600


def test_mschap2_wrong_response_is_rejected_with_ms_chap_error(
    policy: AccessPolicy, dictionary: Dictionary
) -> None:
    # The vector's NT-Response, sent for alice: another password and another name in the hash.
    response = bytes((0x22, 0)) + PEER_CHALLENGE + bytes(8) + NT_RESPONSE
    req = request(dictionary, "alice", None, raw=[ms(11, AUTH_CHALLENGE), ms(25, response)])
    reply = decide(policy, req)
    assert reply.code == Code.ACCESS_REJECT and req.reject_reason.startswith("MS-CHAPv2: ")
    vsas = ms_vsas(reply)
    assert 26 not in vsas and 16 not in vsas and 17 not in vsas
    assert vsas[2][0] == 0x22 and b"E=691" in vsas[2] and b"C=" in vsas[2]  # RFC 2759 §6


def test_mschap2_with_a_pap_only_credential(policy: AccessPolicy, dictionary: Dictionary) -> None:
    response = bytes((1, 0)) + PEER_CHALLENGE + bytes(8) + NT_RESPONSE
    req = request(dictionary, "hashed", None, raw=[ms(11, AUTH_CHALLENGE), ms(25, response)])
    assert decide(policy, req).code == Code.ACCESS_REJECT
    assert req.reject_reason.startswith("MS-CHAPv2: ") and "wrong password" not in req.reject_reason


def test_status_policy_answers_with_its_code(dictionary: Dictionary) -> None:
    req = request(dictionary, password=None)
    for code in (Code.ACCESS_ACCEPT, Code.ACCOUNTING_RESPONSE):
        reply = StatusPolicy(code).handle(req)
        assert isinstance(reply, Packet) and reply.code == code and reply.identifier == 17


# -- the authentication log -----------------------------------------------------------------


def test_auth_log_lines_without_the_password(directory: Directory, dictionary: Dictionary) -> None:
    from structlog.testing import capture_logs

    port = [("NAS-Port", 7), ("Calling-Station-Id", "aa-bb-cc")]
    default = AccessPolicy(directory, dictionary)  # rejects logged, accepts not
    with capture_logs() as logs:
        decide(default, request(dictionary, attrs=port))
        decide(default, request(dictionary, password="bad-" + PASSWORD, attrs=port))
    assert [e["event"] for e in logs] == ["auth.reject"]
    line = logs[0]
    assert (line["user"], line["nas"], line["nas_port"], line["calling_station"]) == (
        "alice", "edge", 7, "aa-bb-cc",
    )  # fmt: skip
    assert line["reason"] == "PAP: wrong password" and line["log_level"] == "info"

    both = AccessPolicy(directory, dictionary, log_accepts=True, log_rejects=True)
    assert both.plain_pap(b"alice", GENERIC) is None  # accepts are logged: no fast path
    with capture_logs() as logs:
        decide(both, request(dictionary, attrs=port))
        decide(both, request(dictionary, "nobody", attrs=port))
    assert [(e["event"], e["user"]) for e in logs] == [("auth.accept", "alice"), ("auth.reject", "nobody")]
    assert all(PASSWORD not in repr(e) and "bad-" not in repr(e) for e in logs)

    quiet = AccessPolicy(directory, dictionary, log_accepts=False, log_rejects=False)
    with capture_logs() as logs:
        decide(quiet, request(dictionary, password="bad"))
    assert logs == []


@pytest.mark.parametrize(
    ("eap", "failure"),
    [
        # EAP-Response/Identity "alice", Identifier 0x2a, split over two EAP-Message attributes
        ([b"\x02\x2a\x00\x0a\x01ali", b"ce"], b"\x04\x2a\x00\x04"),
        ([b""], b"\x04\x00\x00\x04"),  # EAP-Start (RFC 3579 §2.1): no Identifier to answer
    ],
    ids=["response", "eap-start"],
)
def test_eap_is_rejected_with_an_eap_failure(
    policy: AccessPolicy, dictionary: Dictionary, eap: list[bytes], failure: bytes
) -> None:
    """RFC 3579 §2.6.3: an Access-Reject carries EAP-Failure (RFC 3748 §4.2), one EAP-Message;
    a right PAP password next to EAP-Message does not make it an accept (§3.3 Note 1)."""
    req = request(dictionary, raw=[(79, part) for part in eap])
    reply = decide(policy, req)
    assert reply.code == Code.ACCESS_REJECT
    assert reply.raw_all("EAP-Message") == [failure]
    assert req.reject_reason == "EAP is not enabled (no [eap] section)"
