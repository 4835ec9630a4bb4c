"""The dispatcher's PAP fast path (Dispatcher._plain_pap) against the general path.

Two dispatchers share one dictionary and one directory: one with the fast path, one built
with ``fast_path=False``. Every request of the matrix goes to both; the replies must be the
same bytes (Message-Authenticator first, Response Authenticator valid), the drops and
counters the same, and the policy's ``handle`` must run exactly when the request is one the
fast path refuses.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from radiusd.codec.codes import Code
from radiusd.codec.crypto import verify_response
from radiusd.codec.dictionary import Dictionary, default_dictionary
from radiusd.codec.packet import Packet, encode_request
from radiusd.codec.scanning import verify_message_authenticator
from radiusd.model.credentials import make_credential
from radiusd.model.request import HandlerResult, NasClient, Request
from radiusd.policy.access import AccessPolicy
from radiusd.policy.directory import Directory, PlanView, SubscriberView
from radiusd.policy.seams import Assignment
from radiusd.server.debug import DebugPrinter
from radiusd.server.dedupe import DedupeCache
from radiusd.server.dispatcher import Dispatcher, plain_pap_types
from radiusd.server.handler import PlainPapHandler
from radiusd.server.nas import NasRegistry
from radiusd.store.records import PlanRecord, SubscriberRecord

SECRET = b"fast-Secr3t-f1"
PASSWORD = "alice-Fast-Pw-3"
GENERIC = NasClient(1, "edge", "127.0.0.1", SECRET)
MIKROTIK = NasClient(2, "mt", "127.0.0.2", SECRET, vendor="mikrotik")
CISCO = NasClient(3, "asr", "127.0.0.3", SECRET, vendor="cisco")
LEGACY = NasClient(4, "old", "127.0.0.4", SECRET, require_message_authenticator=False)
CHAP_PASSWORD = 3
PROXY_STATE = 33
EAP_MESSAGE = 79
MESSAGE_AUTHENTICATOR = 80


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return default_dictionary()


def sub(username: str, password: str = PASSWORD, kind: str = "cleartext", **kw: Any) -> SubscriberRecord:
    stored = make_credential(password, kind, iterations=2000).storage_string()
    return SubscriberRecord(id=len(username), username=username, credential=stored, **kw)


@pytest.fixture(scope="module")
def directory(dictionary: Dictionary) -> Directory:
    d = Directory(dictionary)
    d.set_plans(
        [
            PlanRecord(
                id=1,
                name="gold",
                rate_limit="10M/20M",
                session_timeout=3600,
                interim_interval=300,
                reply_attributes=(("Cisco-AVPair", "ip:addr-pool=gold"),),
            ),
            PlanRecord(id=2, name="garden", walled_garden_pool="wg", rate_limit="1M/1M"),
            PlanRecord(id=3, name="single", simultaneous_use=1),
            PlanRecord(id=4, name="pooled", pool="p1", interim_interval=60),
        ]
    )
    d.set_subscribers(
        [
            sub("alice", plan="gold"),
            sub("long", password="a-password-of-more-than-16", plan="gold"),
            sub("nt-user", kind="nt-hash", plan="gold"),
            sub("hashed", kind="pbkdf2-sha256", plan="gold"),
            sub("later", plan="gold", expires_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC)),
            sub("old", plan="gold", expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
            sub("dave", status="disabled", plan="gold"),
            sub("erin", status="suspended", plan="gold"),
            sub("gina", status="suspended", plan="garden"),
            sub("static", plan="gold", static_ip="100.64.0.9"),
            sub("v6", plan="gold", delegated_ipv6_prefix="2001:db8:1::/56"),
            sub("pool-sub", plan="gold", pool="p2"),
            sub("pool-plan", plan="pooled"),
            sub("solo", plan="single"),
            sub("twice", plan="gold", simultaneous_use=2),
            sub("custom", plan="gold", reply_attributes=(("Reply-Message", "hi there"),)),
            sub("no-plan"),
            sub("ghost-plan", plan="missing"),
            SubscriberRecord(id=99, username="broken", credential="nonsense:xyz", plan="gold"),
        ]
    )
    return d


class CountingPolicy(AccessPolicy):
    """The real policy, counting the requests that reach the general path."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.handled = 0

    def handle(self, req: Request) -> HandlerResult:
        self.handled += 1
        return super().handle(req)


@dataclass
class Side:
    dispatcher: Dispatcher
    policy: CountingPolicy
    wire: list[bytes] = field(default_factory=list)

    def send(self, data: bytes, addr: Any) -> None:
        self.wire.append(data)


def make_side(directory: Directory, dictionary: Dictionary, *, fast_path: bool, **kw: Any) -> Side:
    assigner = kw.pop("assigner", None)
    policy = CountingPolicy(directory, dictionary, assigner=assigner)
    dispatcher = Dispatcher(
        registry=NasRegistry([GENERIC, MIKROTIK, CISCO, LEGACY]),
        handlers={Code.ACCESS_REQUEST: policy},
        dictionary=dictionary,
        dedupe=DedupeCache(30.0, 1000),
        reject_delay=0.0,
        fast_path=fast_path,
        **kw,
    )
    return Side(dispatcher, policy)


async def exchange(side: Side, data: bytes, nas: NasClient) -> bytes | None:
    """The reply the side sends for ``data`` (None: dropped), once nothing is in flight."""
    before = len(side.wire)
    side.dispatcher.datagram_received(data, (nas.address, 40000), side.send)
    for _ in range(2000):  # slow hashes run in a thread
        if side.dispatcher.in_flight == 0:
            break
        await asyncio.sleep(0.001)
    assert len(side.wire) - before <= 1
    return side.wire[-1] if len(side.wire) > before else None


Build = Callable[[Packet], object]


def datagram(
    dictionary: Dictionary,
    user: str | None = "alice",
    password: str | None = PASSWORD,
    *,
    nas: NasClient = GENERIC,
    build: Build | None = None,
    message_auth: bool = True,
    code: int = Code.ACCESS_REQUEST,
) -> bytes:
    p = Packet(code, 7, os.urandom(16), dictionary=dictionary)
    if user is not None:
        p.add("User-Name", user)
    if password is not None:
        p.set_user_password(password.encode(), nas.secret)
    p.add("NAS-IP-Address", "127.0.0.1")
    p.add("NAS-Port", 12)
    p.add("Service-Type", "Framed-User")
    p.add("Framed-Protocol", "PPP")
    p.add("Calling-Station-Id", "02:00:00:00:00:01")
    if build is not None:
        build(p)
    return encode_request(p, nas.secret, message_auth=message_auth)


def unknown_type(dictionary: Dictionary) -> int:
    known = {key[0] for key in dictionary.by_key if len(key) == 1}
    return next(t for t in range(1, 241) if t not in known and t != 26)


def raw(t: int, v: bytes) -> Build:
    return lambda p: p.add_raw(t, v)


def add(name: str, value: Any) -> Build:
    return lambda p: p.add(name, value)


# (case id, request keyword arguments, whether the fast path answers it)
FAST: list[tuple[str, dict[str, Any]]] = [
    ("plain", {}),
    ("mikrotik NAS: its VSAs only", {"nas": MIKROTIK}),
    ("cisco NAS: its VSAs only", {"nas": CISCO}),
    ("NT-hash credential", {"user": "nt-user"}),
    ("User-Password of 32 octets", {"user": "long", "password": "a-password-of-more-than-16"}),
    ("expiry in the future", {"user": "later"}),
    ("a known VSA", {"build": add("Mikrotik-Realm", "isp")}),
    ("a VSA of an unknown vendor", {"build": raw(26, b"\x00\x01\x86\x9f\x01\x05abc")}),
    ("a malformed VSA", {"build": raw(26, b"\x00\x00")}),
    ("two User-Names (the first counts)", {"build": add("User-Name", "bob")}),
    ("legacy NAS that sends M-A anyway", {"nas": LEGACY}),
]

GENERAL: list[tuple[str, dict[str, Any]]] = [
    ("wrong password", {"password": "not-it"}),
    ("unknown user", {"user": "nobody"}),
    ("no User-Name", {"user": None}),
    ("no User-Password (no credentials)", {"password": None}),
    ("disabled", {"user": "dave"}),
    ("suspended", {"user": "erin"}),
    ("suspended into a walled garden", {"user": "gina"}),
    ("expired", {"user": "old"}),
    ("static IPv4", {"user": "static"}),
    ("delegated IPv6 prefix", {"user": "v6"}),
    ("subscriber pool", {"user": "pool-sub"}),
    ("plan pool", {"user": "pool-plan"}),
    ("plan Simultaneous-Use", {"user": "solo"}),
    ("subscriber Simultaneous-Use", {"user": "twice"}),
    ("subscriber reply attributes", {"user": "custom"}),
    ("no plan", {"user": "no-plan"}),
    ("plan not loaded", {"user": "ghost-plan"}),
    ("unreadable credential", {"user": "broken"}),
    ("slow hash (PBKDF2 in a thread)", {"user": "hashed"}),
    ("Proxy-State", {"build": lambda p: (p.add_raw(PROXY_STATE, b"\x01\x02"), p.add_raw(PROXY_STATE, b"x"))}),
    ("CHAP and User-Password", {"build": raw(CHAP_PASSWORD, bytes(17))}),
    ("CHAP", {"password": None, "build": lambda p: p.add_raw(CHAP_PASSWORD, bytes(17))}),
    ("EAP-Message", {"build": raw(EAP_MESSAGE, b"\x02\x01\x00\x06\x01a")}),
    ("malformed User-Password", {"password": None, "build": raw(2, b"0123456789")}),
    ("legacy NAS without M-A", {"nas": LEGACY, "message_auth": False}),
]

DROPPED: list[tuple[str, dict[str, Any]]] = [
    ("missing M-A", {"message_auth": False}),
    ("Status-Server", {"code": Code.STATUS_SERVER, "password": None}),
]


def check_reply(data: bytes, request: bytes, nas: NasClient) -> None:
    assert verify_response(data, request[4:20], nas.secret)
    assert data[20] == MESSAGE_AUTHENTICATOR and data[21] == 18
    assert verify_message_authenticator(data, nas.secret, request[4:20])


@pytest.mark.parametrize(("case", "kw"), FAST, ids=[c for c, _ in FAST])
async def test_fast_path_reply_is_the_general_reply(
    case: str, kw: dict[str, Any], directory: Directory, dictionary: Dictionary
) -> None:
    # A clock that stands still: both sides record a latency of 0, so the histograms below
    # compare the bookkeeping, not two timings (with the real clock, one side above the first
    # bucket's 0.5 ms on a busy machine failed the comparison).
    fast = make_side(directory, dictionary, fast_path=True, clock=lambda: 1000.0)
    general = make_side(directory, dictionary, fast_path=False, clock=lambda: 1000.0)
    nas = kw.get("nas", GENERIC)
    data = datagram(dictionary, **kw)
    got, want = await exchange(fast, data, nas), await exchange(general, data, nas)
    assert want is not None and want[0] == Code.ACCESS_ACCEPT
    assert got == want
    check_reply(got, data, nas)
    assert fast.policy.handled == 0 and general.policy.handled == 1
    assert fast.dispatcher.stats.requests == general.dispatcher.stats.requests == {("access", "accept"): 1}
    assert fast.dispatcher.stats.latency_counts == general.dispatcher.stats.latency_counts


@pytest.mark.parametrize(("case", "kw"), GENERAL, ids=[c for c, _ in GENERAL])
async def test_everything_else_takes_the_general_path(
    case: str, kw: dict[str, Any], directory: Directory, dictionary: Dictionary
) -> None:
    fast = make_side(directory, dictionary, fast_path=True)
    general = make_side(directory, dictionary, fast_path=False)
    nas = kw.get("nas", GENERIC)
    data = datagram(dictionary, **kw)
    got, want = await exchange(fast, data, nas), await exchange(general, data, nas)
    assert fast.policy.handled == 1 and general.policy.handled == 1
    assert want is not None and got == want
    check_reply(got, data, nas)
    assert fast.dispatcher.stats.requests == general.dispatcher.stats.requests
    assert fast.dispatcher.stats.drops == general.dispatcher.stats.drops


@pytest.mark.parametrize(("case", "kw"), DROPPED, ids=[c for c, _ in DROPPED])
async def test_drops_are_the_general_paths(
    case: str, kw: dict[str, Any], directory: Directory, dictionary: Dictionary
) -> None:
    fast = make_side(directory, dictionary, fast_path=True)
    general = make_side(directory, dictionary, fast_path=False)
    data = datagram(dictionary, **kw)
    assert await exchange(fast, data, GENERIC) is None
    assert await exchange(general, data, GENERIC) is None
    assert fast.dispatcher.stats.drops == general.dispatcher.stats.drops
    assert sum(fast.dispatcher.stats.drops.values()) == 1


async def test_bad_inputs_are_dropped_with_the_general_reasons(
    directory: Directory, dictionary: Dictionary
) -> None:
    good = datagram(dictionary)
    tampered = bytearray(good)
    tampered[-1] ^= 1  # the last attribute's value: the Message-Authenticator no longer matches
    wrong_secret = datagram(dictionary, nas=NasClient(9, "x", "127.0.0.1", b"another-secret"))
    cases = [
        bytes(tampered),
        wrong_secret,
        good[:19],  # too short
        good[:4] + good[4:30],  # Length beyond the datagram
        good[:20] + b"\x01\x00" + good[22:],  # attribute of length 0
        b"",
    ]
    fast = make_side(directory, dictionary, fast_path=True)
    general = make_side(directory, dictionary, fast_path=False)
    for data in cases:
        assert await exchange(fast, data, GENERIC) is None
        assert await exchange(general, data, GENERIC) is None
    assert fast.dispatcher.stats.drops == general.dispatcher.stats.drops
    assert sum(fast.dispatcher.stats.drops.values()) == len(cases)
    assert fast.policy.handled == 0


async def test_unknown_attribute_types_take_the_general_path(
    directory: Directory, dictionary: Dictionary
) -> None:
    t = unknown_type(dictionary)
    assert t not in plain_pap_types(dictionary)
    assert set(plain_pap_types(dictionary)) >= {1, 2, 4, 5, 6, 7, 26, 31, 80}
    assert not set(plain_pap_types(dictionary)) & {CHAP_PASSWORD, 60, PROXY_STATE, EAP_MESSAGE}
    fast = make_side(directory, dictionary, fast_path=True)
    general = make_side(directory, dictionary, fast_path=False)
    data = datagram(dictionary, build=raw(t, b"whatever"))
    got, want = await exchange(fast, data, GENERIC), await exchange(general, data, GENERIC)
    assert got is not None and got == want and fast.policy.handled == 1


async def test_padding_after_length_is_ignored(directory: Directory, dictionary: Dictionary) -> None:
    fast = make_side(directory, dictionary, fast_path=True)
    general = make_side(directory, dictionary, fast_path=False)
    data = datagram(dictionary) + bytes(7)
    got, want = await exchange(fast, data, GENERIC), await exchange(general, data, GENERIC)
    assert got is not None and got == want and fast.policy.handled == 0


async def test_retransmission_gets_the_cached_reply(directory: Directory, dictionary: Dictionary) -> None:
    fast = make_side(directory, dictionary, fast_path=True)
    data = datagram(dictionary)
    first = await exchange(fast, data, GENERIC)
    again = await exchange(fast, data, GENERIC)
    assert first is not None and again == first
    assert fast.policy.handled == 0
    assert fast.dispatcher.stats.duplicates == 1
    assert fast.dispatcher.stats.requests == {("access", "accept"): 1}
    assert len(fast.dispatcher.dedupe) == 1 and fast.dispatcher.in_flight == 0


class NasPoolAssigner:
    """An assigner that wants every login (as IPAM does with a NAS-wide pool)."""

    def __init__(self) -> None:
        self.asked = 0

    def wants(self, subscriber: SubscriberView, plan: PlanView | None, pool: str | None) -> bool:
        self.asked += 1
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
        return Assignment(attributes=[(8, bytes((100, 64, 1, 2)))]), None


async def test_an_assigner_that_wants_the_login_takes_it(
    directory: Directory, dictionary: Dictionary
) -> None:
    assigner = NasPoolAssigner()
    fast = make_side(directory, dictionary, fast_path=True, assigner=assigner)
    general = make_side(directory, dictionary, fast_path=False, assigner=NasPoolAssigner())
    data = datagram(dictionary)
    got, want = await exchange(fast, data, GENERIC), await exchange(general, data, GENERIC)
    assert got is not None and got == want and b"\x08\x06\x64\x40\x01\x02" in got
    assert fast.policy.handled == 1 and assigner.asked >= 1


async def test_debug_mode_takes_the_general_path(directory: Directory, dictionary: Dictionary) -> None:
    out = io.StringIO()
    fast = make_side(directory, dictionary, fast_path=True, debug=DebugPrinter(out))
    data = datagram(dictionary)
    assert await exchange(fast, data, GENERIC) is not None
    assert fast.policy.handled == 1
    assert "alice" in out.getvalue()


def test_the_access_policy_serves_the_fast_path(directory: Directory, dictionary: Dictionary) -> None:
    policy = AccessPolicy(directory, dictionary)
    assert isinstance(policy, PlainPapHandler)
    found = policy.plain_pap(b"alice", MIKROTIK)
    assert found is not None
    assert found[1] == directory.plans["gold"].reply.encoded_for("mikrotik").body
    assert policy.plain_pap(b"erin", GENERIC) is None
    assert all(policy.plain_pap(u.encode(), GENERIC) is None for u in ("static", "solo", "custom", "hashed"))
    off = make_side(directory, dictionary, fast_path=False)
    assert off.dispatcher.plain_pap is None


def request11(token: bytes, user: bytes, password: bytes, extra: bytes = b"") -> bytes:
    """A RADIUS/1.1 Access-Request (RFC 9765 §4.1, §5.1.1), built by hand: Token, zeros, the
    password in the clear."""
    attrs = bytes([1, len(user) + 2]) + user + bytes([2, len(password) + 2]) + password + extra
    return bytes([Code.ACCESS_REQUEST, 0]) + (20 + len(attrs)).to_bytes(2, "big") + token + bytes(12) + attrs


@pytest.mark.parametrize(
    ("password", "extra", "fast"),
    [
        (PASSWORD.encode(), b"", True),
        (PASSWORD.encode(), bytes([MESSAGE_AUTHENTICATOR, 18]) + b"\xa5" * 16, True),  # §5.2: ignored
        (b"wrong-password", b"", False),
    ],
)
async def test_radius11_takes_the_fast_path_with_the_same_reply(
    directory: Directory, dictionary: Dictionary, password: bytes, extra: bytes, fast: bool
) -> None:
    """Over RADIUS/1.1 the fast path answers without MD5 what the general path answers: the
    same bytes (the Token echoed, Reserved zero, no Message-Authenticator)."""
    from dataclasses import replace

    nas11 = replace(GENERIC, secret=b"radsec", radius11=True)
    fast_side = make_side(directory, dictionary, fast_path=True)
    slow_side = make_side(directory, dictionary, fast_path=False)
    token = os.urandom(4)
    data = request11(token, b"alice", password, extra)
    replies = []
    for side in (fast_side, slow_side):
        side.dispatcher.datagram_received(data, ("198.51.100.9", 40000), side.send, nas11)
        for _ in range(200):
            if side.dispatcher.in_flight == 0:
                break
            await asyncio.sleep(0.001)
        [reply] = side.wire
        replies.append(reply)
    assert replies[0] == replies[1]
    assert replies[0][0] == (Code.ACCESS_ACCEPT if fast else Code.ACCESS_REJECT)
    assert replies[0][1] == 0 and replies[0][4:8] == token and replies[0][8:20] == bytes(12)
    assert fast_side.policy.handled == (0 if fast else 1) and slow_side.policy.handled == 1
