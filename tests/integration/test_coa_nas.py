"""Disconnect/CoA (RFC 5176) against a NAS stand-in on loopback built on pyrad, not our codec.

The stand-in decodes each request with pyrad, checks its Request Authenticator (RFC 5176
§3.3 via pyrad's VerifyCoARequest) and Message-Authenticator with pyrad, and answers with
pyrad's ACK/NAK encoding; our client must verify pyrad's Response Authenticator and
Message-Authenticator. Retransmission timing runs on a fake clock (RFC 5080 §2.2.1).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from pyrad import packet as pp
from pyrad.dictionary import Dictionary as PyradDictionary
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.coa.client import CoaResult, DynamicAuthClient, NasTarget, Outcome, RetransmitPolicy
from radiusd.coa.service import CoaService
from radiusd.coa.sessions import SessionRef, open_sessions_of
from radiusd.codec import Code
from radiusd.store.changes import changes_since
from radiusd.store.models import CoaAudit, RadiusAccounting, RadiusSession, utcnow
from radiusd.store.nas import add_nas, get_nas

SECRET = b"coa-s3cret-Kq"

PYRAD_DICT = """
ATTRIBUTE User-Name 1 string
ATTRIBUTE NAS-IP-Address 4 ipaddr
ATTRIBUTE Framed-IP-Address 8 ipaddr
ATTRIBUTE Acct-Session-Id 44 string
ATTRIBUTE Event-Timestamp 55 date
ATTRIBUTE Message-Authenticator 80 octets
ATTRIBUTE NAS-Port-Id 87 string
ATTRIBUTE Error-Cause 101 integer
VENDOR Cisco 9
ATTRIBUTE Cisco-AVPair 1 string Cisco
VENDOR Mikrotik 14988
ATTRIBUTE Mikrotik-Rate-Limit 8 string Mikrotik
"""


def pyrad_dictionary() -> PyradDictionary:
    return PyradDictionary(io.StringIO(PYRAD_DICT))


@dataclass
class Received:
    data: bytes
    code: int
    identifier: int
    attributes: dict[str, list[Any]]
    authenticator_ok: bool
    message_authenticator: bool | None  # None: absent


# A reply plan: given the decoded request and how many times this identifier was seen,
# the datagrams to send back (pyrad-encoded). Empty list: stay silent.
Responder = Callable[[pp.CoAPacket, int], list[bytes]]


def ack(request: pp.CoAPacket, _: int) -> list[bytes]:
    reply = request.CreateReply()
    reply.add_message_authenticator()
    return [reply.ReplyPacket()]


def nak(cause: int, *, with_ma: bool = True) -> Responder:
    def respond(request: pp.CoAPacket, _: int) -> list[bytes]:
        reply = request.CreateReply()
        reply.code = pp.DisconnectNAK if request.code == pp.DisconnectRequest else pp.CoANAK
        reply["Error-Cause"] = cause
        if with_ma:
            reply.add_message_authenticator()
        return [reply.ReplyPacket()]

    return respond


def silent(request: pp.CoAPacket, _: int) -> list[bytes]:
    return []


@dataclass
class PyradNas:
    """A Dynamic Authorization Server on 127.0.0.1 (its own thread), answering with pyrad."""

    responder: Responder = ack
    secret: bytes = SECRET
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dict = pyrad_dictionary()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._seen: dict[int, int] = {}
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            request = pp.CoAPacket(packet=data, secret=self.secret, dict=self.dict)
            ma = bool(request.verify_message_authenticator()) if request.message_authenticator else None
            attrs = {str(k): list(request[k]) for k in request.keys() if isinstance(k, str)}  # noqa: SIM118 (pyrad keys() gives names)
            self.received.append(
                Received(data, request.code, request.id, attrs, request.VerifyCoARequest(), ma)
            )
            self._seen[request.id] = self._seen.get(request.id, 0) + 1
            for datagram in self.responder(request, self._seen[request.id]):
                self.sock.sendto(datagram, addr)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def target(self, message_authenticator: bool = True) -> NasTarget:
        return NasTarget("127.0.0.1", self.secret, self.port, message_authenticator)


@pytest.fixture
def nas_standin() -> Iterator[PyradNas]:
    nas = PyradNas()
    yield nas
    nas.close()


class FakeClock:
    """Monotonic time that moves only when the client sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0.03)  # real time for a loopback reply to arrive


IDENTITY = [("User-Name", "alice"), ("Acct-Session-Id", "81a00001"), ("Framed-IP-Address", "100.64.0.7")]


# -- the wire: authenticators both ways ---------------------------------------------------------


@pytest.mark.parametrize("with_ma", [True, False])
async def test_disconnect_ack_authenticators_both_ways(nas_standin: PyradNas, with_ma: bool) -> None:
    client = DynamicAuthClient()
    result = await client.request(nas_standin.target(with_ma), Code.DISCONNECT_REQUEST, IDENTITY)
    assert result.outcome is Outcome.ACK and result.attempts == 1 and result.ignored == 0
    [got] = nas_standin.received
    assert got.code == pp.DisconnectRequest
    assert got.authenticator_ok  # pyrad agrees with our RFC 5176 §3.3 Request Authenticator
    assert got.message_authenticator is (True if with_ma else None)
    assert got.attributes["User-Name"] == ["alice"]
    assert got.attributes["Acct-Session-Id"] == ["81a00001"]
    assert got.attributes["Framed-IP-Address"] == ["100.64.0.7"]
    assert abs(got.attributes["Event-Timestamp"][0] - time.time()) < 5
    assert result.reply is not None and result.reply.code == Code.DISCONNECT_ACK


async def test_coa_nak_carries_error_cause(nas_standin: PyradNas) -> None:
    nas_standin.responder = nak(404)
    client = DynamicAuthClient()
    attrs = [*IDENTITY, ("Mikrotik-Rate-Limit", "10M/20M")]
    result = await client.request(nas_standin.target(), Code.COA_REQUEST, attrs)
    assert result.outcome is Outcome.NAK and result.error_cause == 404
    assert result.error_cause_name == "Invalid-Request"
    assert result.describe() == "NAK Invalid-Request (404)"
    assert nas_standin.received[0].attributes["Mikrotik-Rate-Limit"] == ["10M/20M"]
    assert nas_standin.received[0].authenticator_ok


def _forged(request: pp.CoAPacket, secret: bytes = b"not-the-secret") -> bytes:
    fake = pp.CoAPacket(pp.DisconnectACK, request.id, secret, request.authenticator, dict=request.dict)
    return bytes(fake.ReplyPacket())


async def test_forged_and_stray_replies_are_ignored(nas_standin: PyradNas) -> None:
    def respond(request: pp.CoAPacket, seen: int) -> list[bytes]:
        forged = _forged(request)  # right id, wrong secret: bad Response Authenticator
        wrong_id = request.CreateReply()
        wrong_id.id = (request.id + 1) % 256
        wrong_code = request.CreateReply()
        wrong_code.code = pp.CoAACK  # a CoA-ACK cannot answer a Disconnect-Request
        bad_ma = request.CreateReply()
        bad_ma.add_message_authenticator()
        raw = bytearray(bad_ma.ReplyPacket())
        # pyrad puts Message-Authenticator first: flip its value, then re-sign the packet
        raw[22] ^= 0xFF
        raw[4:20] = hashlib.md5(bytes(raw[:4]) + request.authenticator + bytes(raw[20:]) + SECRET).digest()
        return [
            forged,
            wrong_id.ReplyPacket(),
            wrong_code.ReplyPacket(),
            bytes(raw),
            b"\x29junk",
            *ack(request, seen),
        ]

    nas_standin.responder = respond
    result = await DynamicAuthClient().request(nas_standin.target(), Code.DISCONNECT_REQUEST, IDENTITY)
    assert result.outcome is Outcome.ACK
    assert result.ignored == 5


async def test_forged_ack_alone_is_a_timeout(nas_standin: PyradNas) -> None:
    nas_standin.responder = lambda request, seen: [_forged(request)]
    clock = FakeClock()
    client = DynamicAuthClient(clock=clock, sleep=clock.sleep, rand=lambda: 0.0)
    result = await client.request(nas_standin.target(), Code.DISCONNECT_REQUEST, IDENTITY)
    assert result.outcome is Outcome.TIMEOUT
    assert result.ignored == result.attempts == len(nas_standin.received)


# -- retransmission (RFC 5080 §2.2.1) on a fake clock --------------------------------------------


@pytest.mark.parametrize(
    ("r", "expected_sleeps"),
    [
        # RT = IRT(1+r), then 2RT + r*RT, capped at MRT(1+r); the exchange ends at MRD = 30 s.
        (0.1, [2.2, 4.62, 9.702, 30 - (2.2 + 4.62 + 9.702)]),
        (-0.1, [1.8, 3.42, 6.498, 12.3462, 30 - (1.8 + 3.42 + 6.498 + 12.3462)]),
        (0.0, [2.0, 4.0, 8.0, 16.0]),
    ],
)
async def test_retransmission_schedule_on_fake_clock(
    nas_standin: PyradNas, r: float, expected_sleeps: list[float]
) -> None:
    nas_standin.responder = silent
    clock = FakeClock()
    client = DynamicAuthClient(clock=clock, sleep=clock.sleep, rand=lambda: r)
    start = clock.now
    result = await client.request(nas_standin.target(), Code.DISCONNECT_REQUEST, IDENTITY)
    assert result.outcome is Outcome.TIMEOUT
    assert clock.sleeps == pytest.approx(expected_sleeps)
    assert result.attempts == len(expected_sleeps)
    assert clock.now - start == pytest.approx(min(30.0, sum(expected_sleeps)))
    await asyncio.sleep(0.05)
    sent = nas_standin.received
    assert len(sent) == result.attempts
    # a retransmission is the same datagram: same Identifier, same Event-Timestamp (RFC 5176 §6.3)
    assert len({s.data for s in sent}) == 1


async def test_mrc_bounds_the_transmissions(nas_standin: PyradNas) -> None:
    nas_standin.responder = silent
    clock = FakeClock()
    policy = RetransmitPolicy(mrd=1000.0)
    client = DynamicAuthClient(policy, clock=clock, sleep=clock.sleep, rand=lambda: 0.0)
    result = await client.request(nas_standin.target(), Code.COA_REQUEST, IDENTITY)
    assert result.outcome is Outcome.TIMEOUT and result.attempts == 5  # MRC
    assert clock.sleeps == [2.0, 4.0, 8.0, 16.0, 16.0]  # MRT caps RT; a wait follows the last send
    await asyncio.sleep(0.05)
    assert len(nas_standin.received) == 5


async def test_jitter_stays_within_ten_percent(nas_standin: PyradNas) -> None:
    nas_standin.responder = silent
    for _ in range(5):
        clock = FakeClock()
        client = DynamicAuthClient(RetransmitPolicy(mrd=1000.0), clock=clock, sleep=clock.sleep)
        await client.request(nas_standin.target(), Code.DISCONNECT_REQUEST, IDENTITY)
        prev = None
        for rt in clock.sleeps:
            if prev is None:
                assert 1.8 <= rt <= 2.2
            else:
                nominal = 2 * prev
                if nominal * 1.1 > 16.0 * 1.1 and nominal * 0.9 > 16.0:
                    assert 14.4 <= rt <= 17.6
                else:
                    assert 1.9 * prev <= rt <= 2.1 * prev or 14.4 <= rt <= 17.6
            prev = rt


async def test_answer_to_a_retransmission_is_accepted(nas_standin: PyradNas) -> None:
    nas_standin.responder = lambda request, seen: ack(request, seen) if seen >= 3 else []
    clock = FakeClock()
    client = DynamicAuthClient(clock=clock, sleep=clock.sleep, rand=lambda: 0.0)
    result = await client.request(nas_standin.target(), Code.DISCONNECT_REQUEST, IDENTITY)
    assert result.outcome is Outcome.ACK and result.attempts == 3


# -- audit and Error-Cause 503 ------------------------------------------------------------------


async def add_session(engine: AsyncEngine, username: str, router_id: int, n: int = 1) -> int:
    now = utcnow()
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.insert(RadiusSession)
            .values(
                acct_unique_id=f"uid-{username}-{n}",
                acct_session_id=f"81a0000{n}",
                username=username,
                router_id=router_id,
                nas_address="127.0.0.1",
                nas_port_id=f"ether1-{n}",
                framed_ip=f"100.64.0.{n}",
                started_at=now,
                updated_at=now,
                session_time=60,
                input_octets=1000,
                output_octets=2000,
                input_base=5,
                output_base=7,
                status="open",
            )
            .returning(RadiusSession.id)
        )
        return int(result.scalar_one())


async def test_nak_503_closes_the_session_and_everything_is_audited(
    store_engine: AsyncEngine, nas_standin: PyradNas
) -> None:
    nas = await add_nas(store_engine, "r1", "127.0.0.1", SECRET.decode(), coa_port=nas_standin.port)
    sid = await add_session(store_engine, "alice", nas.id)
    keep = await add_session(store_engine, "alice", nas.id, 2)
    nas_standin.responder = nak(503)
    service = CoaService(store_engine)
    [ref, other] = await open_sessions_of(store_engine, "alice")
    assert ref.id == sid
    result = await service.send(await get_nas(store_engine, "r1"), "disconnect", ref, IDENTITY)
    assert result.outcome is Outcome.NAK and result.error_cause == 503
    assert service.closed_sessions == [sid]

    nas_standin.responder = nak(506)  # Resources-Unavailable: reported, session stays open
    result = await service.send(nas, "coa", other, [*IDENTITY, ("Mikrotik-Rate-Limit", "1M/1M")])
    assert result.error_cause == 506 and service.closed_sessions == [sid]

    async with store_engine.connect() as conn:
        rows = {r.id: r for r in await conn.execute(sa.select(RadiusSession))}
        assert rows[sid].status == "closed" and rows[sid].terminate_cause == "Lost-Service"
        assert rows[sid].stopped_at is not None
        assert rows[keep].status == "open"
        acct = (await conn.execute(sa.select(RadiusAccounting))).one()
        assert acct.acct_unique_id == "uid-alice-1" and acct.input_octets == 1005
        _, changes = await changes_since(conn, 0)
        assert ("session", "uid-alice-1") in changes
        audit = (await conn.execute(sa.select(CoaAudit).order_by(CoaAudit.id))).all()
    assert [(a.kind, a.outcome, a.error_cause, a.attempts, a.session_id) for a in audit] == [
        ("disconnect", "nak", 503, 1, sid),
        ("coa", "nak", 506, 1, keep),
    ]
    assert audit[0].router_id == nas.id and audit[0].username == "alice"
    assert audit[0].attributes == [
        "User-Name", "Acct-Session-Id", "Framed-IP-Address", "Event-Timestamp", "Message-Authenticator",
    ]  # fmt: skip
    assert "Mikrotik-Rate-Limit" in audit[1].attributes
    assert all(a.finished_at is not None and a.finished_at >= a.created_at for a in audit)
    assert SECRET.decode() not in repr(audit)


async def test_timeout_is_audited(store_engine: AsyncEngine, nas_standin: PyradNas) -> None:
    nas = await add_nas(store_engine, "r1", "127.0.0.1", SECRET.decode(), coa_port=nas_standin.port)
    sid = await add_session(store_engine, "bob", nas.id)
    nas_standin.responder = silent
    clock = FakeClock()
    client = DynamicAuthClient(clock=clock, sleep=clock.sleep, rand=lambda: 0.0)
    ref = SessionRef("bob", sid, "81a00001")
    result: CoaResult = await CoaService(store_engine, client).send(nas, "disconnect", ref, IDENTITY)
    assert result.outcome is Outcome.TIMEOUT
    async with store_engine.connect() as conn:
        audit = (await conn.execute(sa.select(CoaAudit))).one()
        status = (await conn.execute(sa.select(RadiusSession.status))).scalar_one()
    assert (audit.outcome, audit.attempts, audit.error_cause) == ("timeout", 4, None)
    assert status == "open"


# -- Message-Authenticator in replies (RFC 5176 §3.3, RFC 3579 §3.2) ----------------------------


def ack_without_ma(request: pp.CoAPacket, _: int) -> list[bytes]:
    return [request.CreateReply().ReplyPacket()]


async def test_reply_without_message_authenticator_is_discarded_when_the_request_had_one(
    nas_standin: PyradNas,
) -> None:
    """A NAS (or a forger who knows only the Response Authenticator scheme) answering without
    Message-Authenticator is not believed: the exchange runs to its end, as with silence."""
    nas_standin.responder = ack_without_ma
    clock = FakeClock()
    client = DynamicAuthClient(clock=clock, sleep=clock.sleep, rand=lambda: 0.0)
    result = await client.request(nas_standin.target(True), Code.DISCONNECT_REQUEST, IDENTITY)
    assert nas_standin.received[0].message_authenticator is True
    assert result.outcome is Outcome.TIMEOUT
    assert result.ignored == result.attempts == len(nas_standin.received) > 1
    assert "no Message-Authenticator" in result.detail


async def test_the_valid_reply_after_one_without_message_authenticator_is_taken(
    nas_standin: PyradNas,
) -> None:
    def respond(request: pp.CoAPacket, seen: int) -> list[bytes]:
        return [*nak(503, with_ma=False)(request, seen), *ack(request, seen)]

    nas_standin.responder = respond
    result = await DynamicAuthClient().request(nas_standin.target(True), Code.DISCONNECT_REQUEST, IDENTITY)
    assert result.outcome is Outcome.ACK and result.ignored == 1


async def test_reply_without_message_authenticator_is_fine_when_the_request_had_none(
    nas_standin: PyradNas,
) -> None:
    nas_standin.responder = ack_without_ma
    result = await DynamicAuthClient().request(nas_standin.target(False), Code.COA_REQUEST, IDENTITY)
    assert nas_standin.received[0].message_authenticator is None
    assert result.outcome is Outcome.ACK and result.ignored == 0


# -- a RadSec NAS with no TLS connection to this process (docs/radsec.md) -----------------------


async def test_radsec_nas_without_connection_fails_or_falls_back_to_udp(
    store_engine: AsyncEngine, nas_standin: PyradNas
) -> None:
    """A RadSec NAS's requests go down its TLS connection; this process holds none, so the
    request is not sent (a clear error, audited) unless ``udp_fallback`` allows UDP to its
    stored address with its UDP secret, which the pyrad NAS then verifies."""
    fingerprint = "ab" * 32
    nas = await add_nas(
        store_engine, "pop9", "127.0.0.1", SECRET.decode(), coa_port=nas_standin.port,
        radsec=True, radsec_fingerprint=fingerprint,
    )  # fmt: skip
    sid = await add_session(store_engine, "carol", nas.id)
    ref = SessionRef("carol", sid, "81a00001")
    seen: list[tuple[str, str, str]] = []

    result = await CoaService(store_engine, observe=lambda *k: seen.append(k)).send(
        nas, "disconnect", ref, IDENTITY
    )
    assert result.outcome is Outcome.ERROR and not nas_standin.received
    assert "NAS pop9 is a RadSec client with no connection to this node" in result.describe()
    assert seen == [("disconnect", "radsec", "error")]

    fallback = CoaService(store_engine, udp_fallback=True, observe=lambda *k: seen.append(k))
    result = await fallback.send(nas, "disconnect", ref, IDENTITY)
    assert result.outcome is Outcome.ACK, result
    assert "over UDP" in result.detail and "no RadSec connection to this node" in result.detail
    [got] = nas_standin.received
    assert got.authenticator_ok, "signed with the NAS's UDP secret, not 'radsec'"
    assert seen[-1] == ("disconnect", "udp", "ack")
    async with store_engine.connect() as conn:
        outcomes = sorted((await conn.execute(sa.select(CoaAudit.outcome))).scalars())
    assert outcomes == ["ack", "error"]
