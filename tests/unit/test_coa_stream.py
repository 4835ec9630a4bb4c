"""radiusd.coa.stream without sockets: channels in memory, replies built by hand (hashlib).

What the integration test (tests/integration/test_radsec_coa.py) cannot pin down cheaply:
no connection at all, a connection with every Identifier taken, MRC bounding the resends
after closed connections, and Identifiers picked by the channel reaching the wire.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
from collections.abc import Iterable

from radiusd.coa.client import CoaResult, DynamicAuthClient, Outcome, RetransmitPolicy
from radiusd.coa.stream import RADSEC_SECRET, Waiter, send_over
from radiusd.codec import Code

IDENTITY = [("User-Name", "alice"), ("Acct-Session-Id", "81a00001")]


def reply(code: int, request: bytes, attrs: bytes = b"") -> bytes:
    head = struct.pack("!BBH", code, request[1], 20 + len(attrs))
    return head + hashlib.md5(head + request[4:20] + attrs + RADSEC_SECRET).digest() + attrs


class Channel:
    """A connection in memory: ``behaviour`` is ack | close | busy | silent."""

    def __init__(self, name: str, behaviour: str, ident: int = 7, radius11: bool = False) -> None:
        self.label = f"RadSec {name}"
        self.radius11 = radius11  # RFC 9765: replies carry the request's Token, no MD5
        self.behaviour = behaviour
        self.ident = ident
        self.written: list[bytes] = []
        self.waiter: Waiter | None = None

    def reserve(self, waiter: Waiter) -> int | None:
        if self.behaviour == "busy":
            return None
        self.waiter = waiter
        return self.ident

    def release(self, identifier: int) -> None:
        self.waiter = None

    def write_request(self, data: bytes) -> bool:
        self.written.append(data)
        waiter = self.waiter
        assert waiter is not None
        loop = asyncio.get_running_loop()
        if self.behaviour == "ack":
            ack = reply11(Code.DISCONNECT_ACK, data) if self.radius11 else reply(Code.DISCONNECT_ACK, data)
            loop.call_soon(waiter.reply, ack)
        elif self.behaviour == "close":
            loop.call_soon(waiter.lost)
        return True


def reply11(code: int, request: bytes) -> bytes:
    """RFC 9765 §4.1: Reserved-1 zero, the request's Token, 12 zero octets; no authenticator."""
    return struct.pack("!BBH", code, 0, 20) + request[4:8] + bytes(12)


class Routes:
    def __init__(self, *channels: Channel) -> None:
        self.channels = list(channels)

    def channel_for(self, nas_name: str, exclude: Iterable[object] = ()) -> Channel | None:
        skip = [id(c) for c in exclude]
        return next((c for c in self.channels if id(c) not in skip), None)


def client(mrd: float, mrc: int = 5) -> DynamicAuthClient:
    return DynamicAuthClient(RetransmitPolicy(mrd=mrd, mrc=mrc))


async def send(routes: Routes, c: DynamicAuthClient | None = None) -> CoaResult:
    c = c or client(mrd=1.0)
    return await send_over(c, routes, "pop7", c.build(Code.DISCONNECT_REQUEST, IDENTITY))


async def test_no_connection_is_an_error_and_nothing_is_sent() -> None:
    result = await send(Routes())
    assert result.outcome is Outcome.ERROR
    assert result.detail == "NAS pop7 is a RadSec client with no connection to this node"


async def test_the_channel_picks_the_identifier_and_the_secret_is_radsec() -> None:
    ch = Channel("a", "ack", ident=201)
    result = await send(Routes(ch))
    assert result.outcome is Outcome.ACK and result.attempts == 1
    [data] = ch.written
    assert data[1] == 201
    assert data[4:20] == hashlib.md5(data[:4] + b"\0" * 16 + data[20:] + RADSEC_SECRET).digest()


async def test_radius11_carries_the_token_and_no_md5() -> None:
    """RFC 9765 §4: the channel's Token in octets 4-7, Reserved-1 and Reserved-2 zero, no
    Message-Authenticator; the ACK with that Token answers, one with another does not."""
    ch = Channel("a", "ack", ident=0x01020304, radius11=True)
    result = await send(Routes(ch))
    assert result.outcome is Outcome.ACK and result.attempts == 1
    [data] = ch.written
    assert data[1] == 0 and data[4:8] == bytes((1, 2, 3, 4)) and data[8:20] == bytes(12)
    assert b"\x50\x12" not in data[20:22]
    c = client(mrd=0.2)
    request = c.build(Code.DISCONNECT_REQUEST, IDENTITY)
    other = Channel("b", "silent", ident=9, radius11=True)
    pending = asyncio.ensure_future(send_over(c, Routes(other), "pop7", request))
    await asyncio.sleep(0.05)
    stray = reply11(Code.DISCONNECT_ACK, b"\0" * 4 + b"XXXX")  # another Token
    assert other.waiter is not None and not other.waiter.reply(stray)
    assert (await pending).outcome is Outcome.TIMEOUT


async def test_busy_connection_is_skipped_for_another() -> None:
    busy, free = Channel("a", "busy"), Channel("b", "ack")
    result = await send(Routes(busy, free))
    assert result.outcome is Outcome.ACK and not busy.written and len(free.written) == 1


async def test_resent_only_after_a_close_and_at_most_mrc_times() -> None:
    """RFC 6613 §2.6.1: again over a new connection once the first closed; MRC bounds it."""
    chans = [Channel(str(i), "close") for i in range(4)]
    result = await send(Routes(*chans), client(mrd=5.0, mrc=3))
    assert result.outcome is Outcome.TIMEOUT and result.attempts == 3
    assert [len(c.written) for c in chans] == [1, 1, 1, 0]


async def test_silence_is_a_timeout_after_mrd_without_resending() -> None:
    a, b = Channel("a", "silent"), Channel("b", "ack")
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await send(Routes(a, b), client(mrd=0.3))
    assert result.outcome is Outcome.TIMEOUT and result.attempts == 1
    assert loop.time() - started >= 0.29
    assert len(a.written) == 1 and not b.written, "never over another connection while the first is up"
