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

    def __init__(self, name: str, behaviour: str, ident: int = 7) -> None:
        self.label = f"RadSec {name}"
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
            loop.call_soon(waiter.reply, reply(Code.DISCONNECT_ACK, data))
        elif self.behaviour == "close":
            loop.call_soon(waiter.lost)
        return True


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
