"""One RadSec connection (radiusd.server.radsec): TLS on memory BIOs over a TCP transport,
the certificate mapped to a NAS, RADIUS packets framed by their Length field and handed to the
dispatchers, replies written back on the connection.

The other direction too: Disconnect-/CoA-Requests of radiusd.coa.stream written down the
connection (RFC 6614 §2.4), their ACK/NAK routed back to the request waiting for it: the
mixin of radiusd.server.radsec_dynauth. RADIUS/1.1 (RFC 9765) is negotiated in the ClientHello
(radiusd.server.radsec_alpn) and marks the connection's NasClient."""

from __future__ import annotations

import asyncio
import itertools
import os
import ssl
from dataclasses import replace
from typing import Any, Protocol, cast

from radiusd.coa.stream import RADSEC_SECRET, Waiter
from radiusd.codec.radius11 import ALPN_11
from radiusd.logs import get_logger
from radiusd.model.request import NasClient

from .debug import DebugPrinter
from .dispatcher import Dispatcher
from .nas import NasRegistry
from .radsec_alpn import ALERT_NO_APPLICATION_PROTOCOL, MAX_HELLO, NeedMore, acceptable, offered
from .radsec_dynauth import DYNAUTH_REPLIES, NAK, DynAuthEnd
from .radsec_tls import PeerIdentity, peer_identity
from .stats import Stats


class RadsecHost(Protocol):
    """What a connection needs of the listener that accepted it (radiusd.server.radsec's
    RadsecServer): its limits, context, dispatchers and the set of open connections."""

    context: ssl.SSLContext
    registry: NasRegistry
    auth: Dispatcher
    acct: Dispatcher
    stats: Stats
    max_connections: int
    max_per_nas: int
    idle_timeout: float
    handshake_timeout: float
    debug: DebugPrinter | None
    connections: set[RadsecConnection]
    alpn: str

    def open_count(self, nas_name: str) -> int: ...


log = get_logger("radiusd.radsec")

__all__ = ["RADSEC_SECRET", "RadsecConnection", "radsec_client"]

MIN_LENGTH, MAX_LENGTH = 20, 4096
_ACCOUNTING_REQUEST = 4
#: orders connections by when they last received a packet: the loop's clock (uvloop's is in
#: milliseconds) cannot tell two round trips in the same millisecond apart
_ACTIVITY = itertools.count(1)
#: dispatcher drop reasons after which the connection stays open (RFC 6613 §2.6.4: "invalid
#: code" may keep it); any other drop closes it
_KEEP_OPEN = frozenset({"unexpected-code"})


def radsec_client(nas: NasClient, peer: tuple[str, int], *, radius11: bool = False) -> NasClient:
    """The NAS as a RadSec connection speaks for it: the fixed secret ``radsec`` (RFC 6614
    §2.3), and no Message-Authenticator demanded of Access-Requests, as TLS already protects
    their integrity (the BlastRADIUS forgery needs an MD5 the attacker can see and alter).
    A NAS stored as a subnet takes the peer's address, as a UDP one would. ``radius11``: the
    connection negotiated RADIUS/1.1 (RFC 9765), where the secret is never used."""
    address = peer[0] if nas.is_subnet else nas.address
    return replace(
        nas, secret=RADSEC_SECRET, require_message_authenticator=False, address=address,
        network=nas.address if nas.is_subnet else None, radius11=radius11,
    )  # fmt: skip


class RadsecConnection(DynAuthEnd, asyncio.Protocol):
    """One TCP connection: TLS handshake, certificate to NAS, then packets in and replies out.

    TLS runs here on memory BIOs (``SSLContext.wrap_bio``) over the plain TCP transport, not
    through ``loop.start_tls``: the limits apply before the handshake, its failures and
    timeouts are counted, the context is the one current at accept time (SIGHUP), and it
    works the same on uvloop (whose server-side start_tls never completed a handshake here)
    and on asyncio."""

    def __init__(self, server: RadsecHost) -> None:
        self.server = server
        self.stats = server.stats
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.nas: NasClient | None = None
        self.identity: PeerIdentity | None = None
        self.reason = ""  # why it closed, once it closes from our side
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls: ssl.SSLObject | None = None
        self._buffer = b""
        self._last_seen = 0.0
        self._activity = 0  # _ACTIVITY when a packet last arrived
        self._timer: asyncio.TimerHandle | None = None
        self._counted = False  # in server.connections (the total limit)
        #: identifier -> dedupe key of the latest request with it, forgotten at close
        self._keys: dict[int, tuple[Any, int, bytes]] = {}
        self._loop = asyncio.get_running_loop()
        #: replies to send together at the end of the current read (None: send at once)
        self._held: list[bytes] | None = None
        #: our Disconnect-/CoA-Requests awaiting their answer, by Identifier (RADIUS/1.1: Token)
        self._waiting: dict[int, Waiter] = {}
        self._next_id = 1
        #: RADIUS/1.1: the Token of our next request, a 32-bit counter from a random start
        #: (RFC 9765 §4.2.1)
        self._next_token = int.from_bytes(os.urandom(4), "big")
        #: the ClientHello read so far, while ALPN is still to be checked (radsec_alpn)
        self._hello: bytes | None = None

    # -- set-up -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw = cast(asyncio.Transport, transport)  # uvloop's transports quack like asyncio's
        self.transport = raw
        peer = raw.get_extra_info("peername") or ("", 0)
        self.peer = (str(peer[0]), int(peer[1]))
        server = self.server
        if len(server.connections) >= server.max_connections:
            self._refuse("connection-limit")
            return
        server.connections.add(self)
        self._counted = True
        self._tls = server.context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        if server.alpn != "off":
            self._hello = b""
        self._timer = self._loop.call_later(server.handshake_timeout, self._handshake_expired)

    def _handshake_expired(self) -> None:
        self._timer = None
        if self.nas is None and self.transport is not None and not self.transport.is_closing():
            self._refuse("handshake-timeout")

    def _handshake(self) -> bool:
        """Advance the handshake with what arrived; True once it is done and the peer is a NAS."""
        tls = self._tls
        assert tls is not None
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return False
        except (ssl.SSLError, OSError) as exc:
            self._flush()  # the alert, if OpenSSL made one
            self._refuse("handshake-failed", detail=_short(exc))
            return False
        self._flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return self._established(tls)

    def _established(self, tls: ssl.SSLObject) -> bool:
        server = self.server
        identity = peer_identity(tls)
        nas = None
        if identity is not None:
            nas = server.registry.by_certificate(identity.fingerprint, list(identity.keys))
        if nas is None or identity is None:
            self._refuse(
                "unknown-certificate",
                fingerprint=identity.fingerprint if identity else "",
                subject=identity.subject if identity else "",
            )
            return False
        if server.open_count(nas.name) >= server.max_per_nas:
            self._refuse("nas-connection-limit", nas=nas.name)
            return False
        alpn = tls.selected_alpn_protocol() or ""
        version = tls.version() or ""
        radius11 = alpn == ALPN_11
        if server.alpn == "1.1" and not radius11:  # a ClientHello too large to read got here
            self._refuse("alpn-required", nas=nas.name, alpn=alpn or "(none)")
            return False
        if radius11 and version != "TLSv1.3":  # RFC 9765 §3.4: RADIUS/1.1 requires TLS 1.3
            self._refuse("radius11-needs-tls13", nas=nas.name, tls=version)
            return False
        self.identity = identity
        self.nas = radsec_client(nas, self.peer, radius11=radius11)
        self.stats.radsec_open[nas.name] += 1
        self.stats.radsec_accepted += 1
        if radius11:
            self.stats.radsec_radius11 += 1
        log.info(
            "radsec.connected", peer=self._peer_text(), nas=nas.name, tls=version, alpn=alpn,
            fingerprint=identity.fingerprint,
        )  # fmt: skip
        if server.debug is not None:
            proto = f", ALPN {alpn}" if alpn else ""
            server.debug.note(
                f"RadSec connection from {self._peer_text()}: NAS {nas.name!r} ({nas.address}), "
                f"{version}{proto}, certificate {identity.subject or '(no subject)'} "
                f"sha256 {identity.fingerprint}"
            )
        self._last_seen = self._loop.time()
        self._timer = self._loop.call_later(server.idle_timeout, self._idle_check)
        return True

    def _refuse(self, reason: str, **fields: str) -> None:
        """Close a connection that never reached a NAS; counted and logged (never a secret)."""
        self.stats.radsec_refused[reason] += 1
        self.reason = reason
        log.info("radsec.refused", peer=self._peer_text(), reason=reason, **fields)
        if self.server.debug is not None:
            extra = "".join(f", {k} {v}" for k, v in fields.items() if v)
            self.server.debug.note(f"RadSec connection from {self._peer_text()} refused: {reason}{extra}")
        if reason in ("unknown-certificate", "nas-connection-limit"):
            self._close_notify()
        if self.transport is not None:
            self.transport.close()  # after what is queued (an alert, a close_notify)
        self._release()

    # -- octets -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        tls = self._tls
        if tls is None or self.reason:
            return
        if self._hello is not None:
            data = self._client_hello(data)
            if not data:
                return
        self._incoming.write(data)
        if self.nas is None and not self._handshake():
            return
        chunks = []
        peer_done = False
        while True:
            try:
                chunk = tls.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # the peer's close_notify
                self._flush()
                self.close("peer-closed")
                return
            except ssl.SSLError as exc:
                log.info("radsec.tls-error", peer=self._peer_text(), error=_short(exc))
                self.close("tls-error")
                return
            if not chunk:  # the peer's close_notify: SSLObject.read returns b"" for it
                peer_done = True
                break
            chunks.append(chunk)
        self._flush()  # TLS 1.3 post-handshake messages, key updates
        if chunks:
            self._last_seen = self._loop.time()
            self._activity = next(_ACTIVITY)
            self._frames(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if peer_done:  # answered with ours, so the peer's TLS shutdown need not time out
            self.close("peer-closed")

    def _client_hello(self, data: bytes) -> bytes:
        """Hold the first flight until the ClientHello is whole, then check its ALPN names
        against ``radsec_alpn`` (radiusd.server.radsec_alpn); what OpenSSL may read, or b""
        (more to come, or refused with the no_application_protocol alert)."""
        buf = self._hello + data if self._hello else data
        try:
            names = offered(buf)
        except NeedMore:
            if len(buf) < MAX_HELLO:
                self._hello = buf
                return b""
            names = None  # OpenSSL judges it; "1.1" is enforced after the handshake
            self._hello = None
            return buf
        self._hello = None
        if not acceptable(self.server.alpn, names):
            if self.transport is not None:
                self.transport.write(ALERT_NO_APPLICATION_PROTOCOL)
            offer = ",".join(names) if names else "(none)"
            self._refuse("alpn-mismatch", alpn=offer, setting=self.server.alpn)
            return b""
        return buf

    def _flush(self) -> None:
        out = self._outgoing.read()
        if out and self.transport is not None:
            self.transport.write(out)

    def _close_notify(self) -> None:
        if self._tls is not None:
            try:
                self._tls.unwrap()
            except (ssl.SSLError, OSError):
                pass  # SSLWantReadError: the close_notify is queued, the peer's is not awaited
            self._flush()

    # -- packets ------------------------------------------------------------------------

    def _frames(self, data: bytes) -> None:
        nas = self.nas
        transport = self.transport
        assert nas is not None and transport is not None
        buf = self._buffer + data if self._buffer else data
        size = len(buf)
        self._held = []  # replies made while this read is parsed leave in one TLS record
        try:
            self._parse(buf, size, nas, transport)
        finally:
            held, self._held = self._held, None
            if held:
                self._write(b"".join(held))

    def _parse(self, buf: bytes, size: int, nas: NasClient, transport: asyncio.Transport) -> None:
        i = 0
        while size - i >= 4:
            length = (buf[i + 2] << 8) | buf[i + 3]
            if length < MIN_LENGTH or length > MAX_LENGTH:
                self.stats.drop("radsec-bad-length")
                log.info("radsec.bad-length", peer=self._peer_text(), nas=nas.name, length=length)
                self.close("bad-length")
                return
            if size - i < length:
                break
            packet = buf[i : i + length] if i or length != size else buf
            i += length
            self._packet(packet, nas)
            if transport.is_closing():
                return
        self._buffer = buf[i:] if i < size else b""

    def _packet(self, packet: bytes, nas: NasClient) -> None:
        code = packet[0]
        if code in DYNAUTH_REPLIES:
            self._dynauth_reply(packet, nas)
            return
        nak = NAK.get(code)
        if nak is not None:
            self._unsupported(packet, nak, nas)
            return
        # Access-Request and Status-Server (answered with Access-Accept, RFC 5997 §3) to the auth
        # side; anything else but Accounting-Request is dropped there as an unexpected code
        dispatcher = self.server.acct if code == _ACCOUNTING_REQUEST else self.server.auth
        # by Identifier; RADIUS/1.1 has none (Reserved-1), the Token's low octet stands in
        self._keys[packet[7] if nas.radius11 else packet[1]] = (self.peer, packet[1], packet[4:20])
        dispatcher.last_drop = ""
        dispatcher.datagram_received(packet, self.peer, self._send, nas)
        reason = dispatcher.last_drop
        if reason and reason not in _KEEP_OPEN:
            self.close(f"dropped:{reason}")

    def _send(self, data: bytes, _addr: Any) -> None:
        """Where the dispatchers send replies: this connection, if it is still open (RFC 6613
        §2.6.1: a reply to a closed connection's request is discarded)."""
        held = self._held
        if held is not None:
            held.append(data)
        else:
            self._write(data)

    def _write(self, data: bytes) -> None:
        transport = self.transport
        tls = self._tls
        if transport is not None and tls is not None and not transport.is_closing() and not self.reason:
            tls.write(data)
            transport.write(self._outgoing.read())

    # -- flow control and timers --------------------------------------------------------

    def pause_writing(self) -> None:
        """The peer does not read its replies: stop reading its requests meanwhile."""
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _idle_check(self) -> None:
        loop = self._loop
        left = self._last_seen + self.server.idle_timeout - loop.time()
        if left > 0:
            self._timer = loop.call_later(left, self._idle_check)
            return
        self._timer = None
        self.close("idle-timeout")

    # -- tear-down ----------------------------------------------------------------------

    def close(self, reason: str) -> None:
        """Close from our side (counted by ``reason``), with a TLS close_notify."""
        if self.transport is None or self.transport.is_closing() or self.reason:
            return
        if self._held:  # replies to the requests before the one that closes it
            held, self._held = self._held, []
            self._write(b"".join(held))
        self.reason = reason
        if self.nas is not None:
            log.info("radsec.closed", peer=self._peer_text(), nas=self.nas.name, reason=reason)
        if reason != "tls-error":
            self._close_notify()
        self.transport.close()
        self._abandon()

    def eof_received(self) -> bool:
        return False  # the peer half-closed: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._abandon()
        if self.nas is not None:
            self.stats.radsec_closed[self.reason.split(":")[0] or "peer-closed"] += 1
            name = self.nas.name
            self.stats.radsec_open[name] -= 1
            if self.stats.radsec_open[name] <= 0:
                del self.stats.radsec_open[name]
            if not self.reason:
                log.info("radsec.closed", peer=self._peer_text(), nas=name, reason="peer-closed")
            for key in self._keys.values():  # RFC 6613 §2.6.1: its cached replies go with it
                self.server.auth.dedupe.forget(key)
                self.server.acct.dedupe.forget(key)
            self.nas = None
        elif not self.reason and self._tls is not None:
            self.stats.radsec_refused["handshake-failed"] += 1  # the peer gave up mid-handshake
            log.info(
                "radsec.refused", peer=self._peer_text(), reason="handshake-failed", detail="closed by peer"
            )
        self.reason = self.reason or "closed"
        self._release()

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._counted:
            self._counted = False
            self.server.connections.discard(self)
        self._buffer = b""

    def _peer_text(self) -> str:
        host, port = self.peer
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _short(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
