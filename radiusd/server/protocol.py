"""The asyncio datagram protocol: it only moves datagrams between a socket and the dispatcher."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast

from radiusd.logs import get_logger

from .dispatcher import Dispatcher

log = get_logger("radiusd.server")

#: Default socket receive buffer: absorbs bursts (a NAS reboot sends thousands of Starts). Under
#: sustained overload it is also how long a request can wait unseen in the kernel: the
#: ``receive_buffer`` setting trades one for the other.
RECEIVE_BUFFER = 4 * 1024 * 1024


class RadiusProtocol(asyncio.DatagramProtocol):
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport is not an asyncio.DatagramTransport subclass, but quacks like one
        self.transport = cast(asyncio.DatagramTransport, transport)
        self._send = self.transport.sendto

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.dispatcher.datagram_received(data, addr, self._send)

    def error_received(self, exc: Exception) -> None:
        log.warning("socket.error", error=str(exc))


def bind_udp(
    host: str, port: int, receive_buffer: int = RECEIVE_BUFFER, reuse_port: bool = False
) -> socket.socket:
    """A bound UDP socket with a large receive buffer (port 0 picks a free port).

    ``reuse_port`` (``serve --workers N``): every worker binds the same port and the kernel
    hashes each source address and port to one of them, so a NAS's retransmissions reach the
    worker that holds the reply in its cache. Off otherwise: a second daemon on a taken port
    must fail, not share it silently.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and host not in ("::",):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
