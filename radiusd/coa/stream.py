"""Disconnect-/CoA-Requests over a connection the NAS opened to us: RadSec (RFC 6614).

A NAS behind NAT in a remote POP cannot be reached on UDP 3799, but its RADIUS/TLS
connection to this daemon can carry dynamic authorization the other way: RFC 6614 §2.4 lists
Disconnect-Request among the packets a RADIUS/TLS client receives on the connection it
initiated and a server sends on the connections it accepted (and Disconnect-ACK/NAK among
what the server receives); §3.4 (3) and (4) say the packet flow mirrors RADIUS/UDP. The
shared secret is the fixed ``radsec`` (RFC 6614 §2.3 step 4), so the Request Authenticator
(RFC 5176 §2.3) and the reply's Response Authenticator are computed with it.

The reply is matched by Identifier on that connection (the channel hands out an Identifier
no other outstanding request of ours on it holds) and verified exactly as a UDP one
(:meth:`DynamicAuthClient.examine_reply`). Timing differs from UDP on purpose: RFC 6613
§2.6.1 forbids retransmitting a request over the same TCP connection, or over another one
while the first is up; so the request is written once and awaited for the whole of the
policy's MRD (the ``--timeout``). Only when the connection closes before the answer does the
request go again, over another live connection of the same NAS (RFC 6613 §2.6.1: permitted
over a new connection, with a new Identifier), up to MRC transmissions in all.

On a connection that negotiated RADIUS/1.1 (RFC 9765) the request carries a 32-bit Token
instead of Identifier and Request Authenticator (§4.1), no MD5 is computed, and the reply is
the one that carries the same Token (§4.2).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from radiusd.codec import Packet, encode_request
from radiusd.codec.radius11 import encode_request11

from .client import CoaResult, DynamicAuthClient, Outcome

#: RFC 6614 §2.3 step 4: the shared secret of every RADIUS/TLS packet
RADSEC_SECRET = b"radsec"


class Waiter(Protocol):
    """The side of an exchange a channel calls back: a reply with our Identifier arrived
    (True: it answered and the Identifier is free again), or the connection is gone."""

    def reply(self, data: bytes) -> bool: ...

    def lost(self) -> None: ...


class DynAuthChannel(Protocol):
    """A live connection from a NAS that can carry a request to it (a RadSec connection)."""

    @property
    def label(self) -> str: ...  # for people: "RadSec 198.51.100.7:40211"

    @property
    def radius11(self) -> bool: ...  # RADIUS/1.1 (RFC 9765): a Token, not an Identifier

    def reserve(self, waiter: Waiter) -> int | None:
        """A free Identifier (RADIUS/1.1: a free 32-bit Token) for a request of ours, bound to
        ``waiter``; None when all are taken or the connection is closing."""
        ...

    def release(self, identifier: int) -> None: ...

    def write_request(self, data: bytes) -> bool:
        """Write one request; False when the connection closed meanwhile."""
        ...


class ChannelRoutes(Protocol):
    """Where the live connections are: the daemon's RadSec server."""

    def channel_for(self, nas_name: str, exclude: Iterable[object] = ()) -> DynAuthChannel | None: ...


class _Exchange:
    """One request on one channel: the verified reply, or the news that the channel closed."""

    def __init__(self, client: DynamicAuthClient, packet: Packet) -> None:
        self.client = client
        self.packet = packet
        self.secret: bytes | None = RADSEC_SECRET  # None: RADIUS/1.1, matched by Token
        self.done: asyncio.Future[Packet | None] = asyncio.get_running_loop().create_future()
        self.ignored = 0
        self.last_ignored = ""

    def reply(self, data: bytes) -> bool:
        reply, why = self.client.examine_reply(data, self.packet, self.secret)
        if reply is None:
            self.ignored += 1
            self.last_ignored = why
            return False
        if not self.done.done():
            self.done.set_result(reply)
        return True

    def lost(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def send_over(
    client: DynamicAuthClient,
    routes: ChannelRoutes,
    nas_name: str,
    packet: Packet,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> CoaResult:
    """Send ``packet`` to ``nas_name`` over one of its live connections and await the answer
    (see the module docstring for the timing); ERROR when it has no connection here."""
    policy = client.policy
    give_up = clock() + policy.mrd
    tried: list[object] = []
    attempts = ignored = 0
    last_ignored = ""
    while True:
        channel = routes.channel_for(nas_name, exclude=tried)
        if channel is None:
            if attempts:
                detail = "the RadSec connection closed before the answer and no other is open"
                if ignored:
                    detail += f"; {ignored} discarded, the last: {last_ignored}"
                return CoaResult(Outcome.TIMEOUT, None, attempts, ignored, detail)
            return CoaResult(Outcome.ERROR, detail=no_connection(nas_name))
        tried.append(channel)
        exchange = _Exchange(client, packet)
        ident = channel.reserve(exchange)
        if ident is None:
            continue  # busy or closing: another connection, if any
        if channel.radius11:  # RFC 9765 §4: a Token instead of Identifier and authenticator
            exchange.secret = None
            data = encode_request11(packet, ident.to_bytes(4, "big"))
        else:
            packet.identifier = ident  # RFC 6613 §2.6.1: a new connection may take a new ID
            data = encode_request(packet, RADSEC_SECRET)
        try:
            if not channel.write_request(data):
                continue
            attempts += 1
            wait = give_up - clock()
            if wait > 0:
                try:
                    await asyncio.wait_for(asyncio.shield(exchange.done), wait)
                except TimeoutError:
                    pass
        finally:
            channel.release(ident)
        ignored += exchange.ignored
        last_ignored = exchange.last_ignored or last_ignored
        if exchange.done.done() and (reply := exchange.done.result()) is not None:
            cause = reply.get("Error-Cause")
            nak = reply.code in (42, 45)  # Disconnect-NAK, CoA-NAK
            return CoaResult(
                Outcome.NAK if nak else Outcome.ACK,
                cause if isinstance(cause, int) else None,
                attempts,
                ignored,
                detail=f"over {channel.label}",
                reply=reply,
            )
        lost = exchange.done.done()  # the connection closed before the answer
        if not lost or clock() >= give_up or (policy.mrc and attempts >= policy.mrc):
            detail = f"over {channel.label}"
            if lost:
                detail += ", which closed before the answer"
            if ignored:
                detail += f"; {ignored} discarded, the last: {last_ignored}"
            return CoaResult(Outcome.TIMEOUT, None, attempts, ignored, detail)


def no_connection(nas_name: str) -> str:
    return f"NAS {nas_name} is a RadSec client with no connection to this node"
