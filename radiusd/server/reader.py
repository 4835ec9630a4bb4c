"""A datagram reader that knows how long each request waited in the kernel before it was read.

Why: under sustained overload the socket's receive queue (``receive_buffer``, 4 MB by
default) fills, and every request then waits there for seconds before the daemon sees it.
Answering a request its NAS has given up on, or has already retransmitted, is wasted work
that makes the next one later still. The kernel stamps each datagram on arrival
(``SO_TIMESTAMPNS``, socket(7)); this reader reads the stamp with the datagram and drops,
unparsed, every request that has already waited longer than ``max_delay`` (counted as
``overload``; the NAS retransmits, RFC 5080 §2.2.1). Dropping costs about two microseconds,
so the queue drains to requests young enough to be answered in time, and the ones admitted
keep a bounded latency however long the overload lasts.

Used for the accounting sockets, where each request costs a database write. The
authentication sockets stay on the event loop's own datagram transport (uvloop's reads are
cheaper, and the PAP fast path is measured in microseconds); see RadiusProtocol.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from radiusd.logs import get_logger

from .dispatcher import Dispatcher, sheddable

log = get_logger("radiusd.server")

#: socket(7): SO_TIMESTAMPNS (Linux 2.6.22+) gives a struct timespec, CLOCK_REALTIME
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
#: RADIUS packets are at most 4096 octets (RFC 2865 §3); a larger datagram is read truncated and
#: the decoder drops it by its Length field, as it would the whole one
_READ_SIZE = 8192
#: datagrams read per readiness callback before yielding to the rest of the event loop
BURST = 256


class AgingReader:
    """Reads one UDP socket with ``loop.add_reader``, dropping requests older than ``max_delay``."""

    def __init__(
        self,
        sock: socket.socket,
        dispatcher: Dispatcher,
        max_delay: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sock = sock
        self.dispatcher = dispatcher
        self.max_delay = max_delay
        self.clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError as exc:  # not Linux: no stamps, so nothing is shed for its age
            log.warning("socket.no-arrival-timestamps", error=str(exc))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        loop.add_reader(self.sock.fileno(), self._readable)

    def close(self) -> None:
        if self._loop is not None and self.sock.fileno() >= 0:
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _readable(self) -> None:
        recvmsg = self.sock.recvmsg
        received = self.dispatcher.datagram_received
        send = self.send
        clock = self.clock
        max_delay = self.max_delay
        unpack = _TIMESPEC.unpack_from
        for _ in range(BURST):
            try:
                data, ancillary, _flags, addr = recvmsg(_READ_SIZE, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable reported for an earlier send
                log.warning("socket.error", error=str(exc))
                return
            if ancillary:
                sec, nsec = unpack(ancillary[0][2])
                if clock() - (sec + nsec * 1e-9) > max_delay and sheddable(data):
                    self.dispatcher.shed()
                    continue
            received(data, addr, send)

    def send(self, data: bytes, addr: Any) -> None:
        """Send a reply now; a full send buffer loses it (counted), the NAS retransmits."""
        try:
            self.sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            self.dispatcher.stats.drop("send-buffer-full")
        except OSError as exc:
            log.warning("socket.send-failed", error=str(exc))
