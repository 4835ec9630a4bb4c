"""The dynamic-authorization side of a RadSec connection (radiusd.server.radsec_conn): our
Disconnect-/CoA-Requests of radiusd.coa.stream written down it (RFC 6614 §2.4: the TLS
client receives them on the connection it opened), their ACK/NAK routed back by Identifier
(RADIUS/1.1: by Token, RFC 9765 §4.2) to the request waiting for it, and the NAK for a
client that sends us a CoA- or Disconnect-Request.

A mixin of RadsecConnection, kept apart so each module stays one concern; the attributes
and methods it uses are the connection's, declared below for the type checker."""

from __future__ import annotations

import asyncio
from typing import Any

from radiusd.coa.stream import RADSEC_SECRET, Waiter
from radiusd.codec.crypto import response_authenticator, verify_hashed_request
from radiusd.codec.radius11 import RESERVED_2
from radiusd.logs import get_logger
from radiusd.model.request import NasClient

from .stats import Stats

log = get_logger("radiusd.radsec")

#: CoA-Request -> CoA-NAK, Disconnect-Request -> Disconnect-NAK (RFC 5176 §2.3)
NAK = {43: 45, 40: 42}
#: Disconnect-ACK/NAK, CoA-ACK/NAK: answers to our requests (RFC 5176 §2.3)
DYNAUTH_REPLIES = frozenset({41, 42, 44, 45})
ERROR_CAUSE = 101
UNSUPPORTED_EXTENSION = 406


class DynAuthEnd:
    """radiusd.coa.stream's DynAuthChannel, on a RadSec connection."""

    # the connection's own (radiusd.server.radsec_conn.RadsecConnection)
    nas: NasClient | None
    stats: Stats
    peer: tuple[str, int]
    reason: str
    transport: asyncio.Transport | None
    _activity: int
    _waiting: dict[int, Waiter]
    _next_id: int
    _next_token: int

    def close(self, reason: str) -> None:
        raise NotImplementedError

    def _send(self, data: bytes, _addr: Any) -> None:
        raise NotImplementedError

    def _peer_text(self) -> str:
        raise NotImplementedError

    def _unsupported(self, packet: bytes, nak: int, nas: NasClient) -> None:
        """RFC 6614 §2.4: a CoA- or Disconnect-Request on this connection gets its NAK with
        Error-Cause 406 "Unsupported Extension" (RFC 5176 §3.5): this server sends CoA, it does
        not take it. Unauthentic requests are dropped and close the connection, as others."""
        if not nas.radius11 and not verify_hashed_request(packet, RADSEC_SECRET):
            self.stats.drop("bad-authenticator")
            self.close("dropped:bad-authenticator")
            return
        self.stats.drop("coa-on-radsec")
        body = bytes([ERROR_CAUSE, 6]) + UNSUPPORTED_EXTENSION.to_bytes(4, "big")
        if nas.radius11:  # RFC 9765 §4.1: Reserved-1 zero, the request's Token, no MD5
            head = bytes([nak, 0]) + (20 + len(body)).to_bytes(2, "big")
            auth = packet[4:8] + RESERVED_2
        else:
            head = bytes([nak, packet[1]]) + (20 + len(body)).to_bytes(2, "big")
            auth = response_authenticator(head + packet[4:20] + body, RADSEC_SECRET)
        log.info("radsec.coa-refused", peer=self._peer_text(), nas=nas.name, code=packet[0])
        self._send(head + auth + body, self.peer)

    @property
    def label(self) -> str:
        return f"RadSec {self._peer_text()}"

    @property
    def activity(self) -> int:
        """Larger for a connection that received a packet more recently."""
        return self._activity

    @property
    def radius11(self) -> bool:
        """The connection speaks RADIUS/1.1: our requests carry a Token (radiusd.coa.stream)."""
        return self.nas is not None and self.nas.radius11

    @property
    def alive(self) -> bool:
        t = self.transport
        return self.nas is not None and not self.reason and t is not None and not t.is_closing()

    def reserve(self, waiter: Waiter) -> int | None:
        """A free Identifier for a request of ours (ID 0 left aside, as RFC 6613 §2.6.5 keeps
        it for Status-Server), bound to ``waiter``; None when busy or closing."""
        if not self.alive:
            return None
        if self.radius11:  # a Token no request of ours awaits (RFC 9765 §4.2.1)
            for _ in range(8):
                token = self._next_token
                self._next_token = (token + 1) & 0xFFFFFFFF
                if token not in self._waiting:
                    self._waiting[token] = waiter
                    return token
            return None
        for _ in range(255):
            ident = self._next_id
            self._next_id = ident % 255 + 1
            if ident not in self._waiting:
                self._waiting[ident] = waiter
                return ident
        return None

    def release(self, identifier: int) -> None:
        self._waiting.pop(identifier, None)

    def write_request(self, data: bytes) -> bool:
        if not self.alive or self.nas is None:
            return False
        log.info("radsec.dynauth-sent", peer=self._peer_text(), nas=self.nas.name, code=data[0], id=data[1])
        self._send(data, self.peer)
        return True

    def _dynauth_reply(self, packet: bytes, nas: NasClient) -> None:
        """An ACK/NAK: to the request waiting on its Identifier. One that answers nothing
        outstanding is discarded (RFC 6613 §2.6.4 lets the connection stay open); one whose
        Response Authenticator fails closes it (same section)."""
        key = int.from_bytes(packet[4:8], "big") if nas.radius11 else packet[1]
        waiter = self._waiting.get(key)
        if waiter is None:
            self.stats.drop("radsec-unexpected-reply")
            log.info("radsec.unexpected-reply", peer=self._peer_text(), nas=nas.name, code=packet[0],
                     id=key)  # fmt: skip
            return
        if waiter.reply(packet):
            self._waiting.pop(key, None)
            return
        self.stats.drop("radsec-bad-reply")
        self.close("dropped:bad-reply")

    def _abandon(self) -> None:
        """The connection is going: every request waiting on it hears so."""
        waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            waiter.lost()
