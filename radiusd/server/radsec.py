"""RadSec: RADIUS over TLS on TCP (RFC 6614, framing and connection rules of RFC 6613).

For NAS in remote POPs or partners' networks, where MD5-protected UDP crosses networks it
should not trust (BlastRADIUS). A connection carries Access, Accounting and Status-Server
requests alike (RFC 6614 §2.1: one port for all); each is handed to the SAME dispatchers the
UDP ports use (Access-Request and Status-Server to the auth one, Accounting-Request to the
accounting one), with the NAS the client certificate names and the fixed shared secret
``radsec`` (RFC 6614 §2.3 step 4), so a request over TLS is answered as one over UDP; the
reply is written back on the connection it came in on.

Framing: a RADIUS packet's Length field says where it ends (RFC 6614 §3.4 (1)): a packet may
arrive in pieces, several in one read. A Length under 20 or over 4096 leaves the stream
unparseable: the connection is closed, as it is after any packet the dispatcher drops as
malformed or unauthentic (RFC 6613 §2.6.4; unknown codes are only dropped).

Connections: TLS runs on the accepted TCP socket with the context current at that moment, so
a SIGHUP that reloads the certificate files affects new connections only.
Limits: ``max_connections`` in all (checked before the handshake), ``max_per_nas`` per NAS
(after it), ``handshake_timeout``, ``idle_timeout`` (no octet received for that long; a NAS
keeps a quiet connection open with Status-Server, RFC 5997). A certificate that names no NAS
is refused: the connection is closed right after the handshake, counted and logged (peer,
fingerprint, subject; no secret exists to leak). Duplicate detection stays that of the
dispatchers, whose key holds the peer's address and port, so it is per connection as RFC
6613 §2.6.1 asks; the entries of a closed connection are forgotten with it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable

from radiusd.config import Settings
from radiusd.logs import get_logger

from .debug import DebugPrinter
from .dispatcher import Dispatcher
from .nas import NasRegistry
from .radsec_conn import RADSEC_SECRET, RadsecConnection, radsec_client
from .radsec_tls import TlsConfigError, server_context
from .stats import Stats

__all__ = ["RADSEC_SECRET", "RadsecConnection", "RadsecServer", "bind_tcp", "radsec_client",
           "reload_radsec", "start_radsec"]  # fmt: skip

log = get_logger("radiusd.radsec")


class RadsecServer:
    """The TLS listeners and their connections; the daemon owns one."""

    def __init__(
        self,
        *,
        context: ssl.SSLContext,
        registry: NasRegistry,
        auth: Dispatcher,
        acct: Dispatcher,
        stats: Stats,
        max_connections: int = 256,
        max_per_nas: int = 4,
        idle_timeout: float = 600.0,
        handshake_timeout: float = 10.0,
        debug: DebugPrinter | None = None,
        alpn: str = "off",
    ) -> None:
        self.context = context
        #: ``radsec_alpn`` (radiusd.server.radsec_alpn): what a ClientHello must offer
        self.alpn = alpn
        self.registry = registry
        self.auth = auth
        self.acct = acct
        self.stats = stats
        self.max_connections = max_connections
        self.max_per_nas = max_per_nas
        self.idle_timeout = idle_timeout
        self.handshake_timeout = handshake_timeout
        self.debug = debug
        self.connections: set[RadsecConnection] = set()
        self.servers: list[asyncio.Server] = []

    async def listen(self, host: str, port: int, reuse_port: bool = False) -> tuple[str, int]:
        """Listen on TCP ``host``:``port`` (0: a free port); returns the address bound."""
        loop = asyncio.get_running_loop()
        sock = bind_tcp(host, port, reuse_port)
        server = await loop.create_server(lambda: RadsecConnection(self), sock=sock)
        self.servers.append(server)
        name = sock.getsockname()
        log.info("radsec.listening", address=f"{name[0]}:{name[1]}")
        return name[0], name[1]

    def set_context(self, context: ssl.SSLContext, alpn: str | None = None) -> None:
        """New certificate files (SIGHUP), and ALPN setting: connections from now on use them."""
        self.context = context
        if alpn is not None:
            self.alpn = alpn

    def recheck(self) -> None:
        """After the NAS list changed: each connection follows its NAS's new record, and one
        whose certificate no longer names a RadSec NAS is closed."""
        for conn in list(self.connections):
            if conn.identity is not None and conn.nas is not None:
                nas = self.registry.by_certificate(conn.identity.fingerprint, list(conn.identity.keys))
                if nas is None:
                    conn.close("nas-removed")
                    continue
                if nas.name != conn.nas.name:  # renamed: the open-connections gauge follows
                    self.stats.radsec_open[conn.nas.name] -= 1
                    if self.stats.radsec_open[conn.nas.name] <= 0:
                        del self.stats.radsec_open[conn.nas.name]
                    self.stats.radsec_open[nas.name] += 1
                conn.nas = radsec_client(nas, conn.peer, radius11=conn.nas.radius11)

    async def close(self) -> None:
        """Stop accepting, close every connection (the dispatchers have drained)."""
        for server in self.servers:
            server.close()
        for conn in list(self.connections):
            conn.close("shutdown")
        for server in self.servers:
            await server.wait_closed()
        self.servers.clear()

    def open_count(self, nas_name: str) -> int:
        return self.stats.radsec_open[nas_name]

    def channel_for(self, nas_name: str, exclude: Iterable[object] = ()) -> RadsecConnection | None:
        """The live connection of NAS ``nas_name`` a Disconnect-/CoA-Request goes down (the one
        that spoke last), ``exclude`` left out (radiusd.coa.stream); None when it has none here."""
        if not self.stats.radsec_open[nas_name]:
            return None
        skip = {id(c) for c in exclude}
        found = [
            c
            for c in self.connections
            if c.alive and c.nas is not None and c.nas.name == nas_name and id(c) not in skip
        ]
        return max(found, key=lambda c: c.activity, default=None)


async def start_radsec(
    settings: Settings,
    registry: NasRegistry,
    auth: Dispatcher,
    acct: Dispatcher,
    stats: Stats,
    debug: DebugPrinter | None,
) -> tuple[RadsecServer, list[tuple[str, int]]]:
    """The daemon's RadSec listeners on ``radsec_bind`` (else ``bind``), ``radsec_port``; the
    server and the addresses bound. :class:`TlsConfigError` for unusable certificate files."""
    s = settings
    server = RadsecServer(
        context=server_context(s.radsec_cert, s.radsec_key, s.radsec_ca, s.radsec_alpn),
        registry=registry,
        auth=auth,
        acct=acct,
        stats=stats,
        max_connections=s.radsec_max_connections,
        max_per_nas=s.radsec_max_per_nas,
        idle_timeout=s.radsec_idle_timeout,
        handshake_timeout=s.radsec_handshake_timeout,
        debug=debug,
        alpn=s.radsec_alpn,
    )
    bound = [
        await server.listen(host, s.radsec_port, reuse_port=s.workers > 1)
        for host in (s.radsec_bind or s.bind)
    ]
    if not registry.radsec_count():
        log.warning("radsec.no-clients", hint="no NAS is marked radsec: every connection will be refused")
    return server, bound


def reload_radsec(server: RadsecServer | None, fresh: Settings) -> None:
    """SIGHUP: the certificate files and limits again, for new connections; on a file that
    cannot be loaded the previous context stays (logged)."""
    if server is None:
        log.warning("radsec.reload", hint="RadSec was off at start: restart the daemon to enable it")
        return
    try:
        server.set_context(
            server_context(fresh.radsec_cert, fresh.radsec_key, fresh.radsec_ca, fresh.radsec_alpn),
            fresh.radsec_alpn,
        )
    except TlsConfigError as exc:
        log.error("radsec.reload-failed", error=str(exc), action="the previous certificates stay in use")
    else:
        log.info("radsec.reloaded")
    server.max_connections, server.max_per_nas = fresh.radsec_max_connections, fresh.radsec_max_per_nas
    server.idle_timeout, server.handshake_timeout = fresh.radsec_idle_timeout, fresh.radsec_handshake_timeout


def bind_tcp(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket (``reuse_port`` under ``serve --workers N``: the kernel spreads
    the connections over the workers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and host != "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(256)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
