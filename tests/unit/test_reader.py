"""The accounting socket reader (radiusd.server.reader): kernel arrival stamps decide what is
too old to answer; everything else goes to the dispatcher as from the event loop's transport.

Real UDP sockets on loopback; the reader's clock is shifted to make datagrams look old.
"""

from __future__ import annotations

import asyncio
import socket
import time

from radiusd.codec.codes import Code
from radiusd.codec.crypto import verify_response
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.packet import Packet, encode_request
from radiusd.model.request import HandlerResult, NasClient, Request
from radiusd.policy.access import StatusPolicy
from radiusd.server.dedupe import DedupeCache
from radiusd.server.dispatcher import Dispatcher
from radiusd.server.nas import NasRegistry
from radiusd.server.protocol import bind_udp
from radiusd.server.reader import AgingReader

SECRET = b"reader-Secr3t-r1"
DICTIONARY = default_dictionary()


class Answer:
    def __init__(self) -> None:
        self.seen = 0

    def handle(self, req: Request) -> HandlerResult:
        self.seen += 1
        return req.packet.reply(Code.ACCOUNTING_RESPONSE)


def start_request(identifier: int) -> Packet:
    p = Packet(Code.ACCOUNTING_REQUEST, identifier, dictionary=DICTIONARY)
    p.add("Acct-Status-Type", "Start")
    p.add("Acct-Session-Id", f"s{identifier}")
    return p


async def exchange(shift: float, count: int) -> tuple[Answer, Dispatcher, list[bytes], list[Packet]]:
    """Send ``count`` Starts to a reader whose clock runs ``shift`` seconds ahead; collect replies."""
    handler = Answer()
    d = Dispatcher(
        registry=NasRegistry([NasClient(1, "edge", "127.0.0.1", SECRET)]),
        handlers={Code.ACCOUNTING_REQUEST: handler},
        dictionary=DICTIONARY,
        dedupe=DedupeCache(30.0, 100),
    )
    server = bind_udp("127.0.0.1", 0)
    reader = AgingReader(server, d, max_delay=0.5, clock=lambda: time.time() + shift)
    reader.start(asyncio.get_running_loop())
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.setblocking(False)
    packets = [start_request(i) for i in range(count)]
    try:
        for p in packets:
            client.sendto(encode_request(p, SECRET), server.getsockname())
        replies: list[bytes] = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and len(replies) < count:
            await asyncio.sleep(0.01)
            try:
                while True:
                    replies.append(client.recv(4096))
            except BlockingIOError:
                pass
        return handler, d, replies, packets
    finally:
        reader.close()
        client.close()


async def test_fresh_requests_are_read_and_answered_on_the_same_socket() -> None:
    handler, d, replies, packets = await exchange(0.0, 5)
    assert handler.seen == 5 and len(replies) == 5 and not d.stats.drops
    by_id = {p.identifier: p for p in packets}
    for reply in replies:
        assert reply[0] == Code.ACCOUNTING_RESPONSE
        assert verify_response(reply, by_id[reply[1]].authenticator, SECRET)


async def test_requests_that_waited_longer_than_max_delay_are_dropped_unread() -> None:
    handler, d, replies, _ = await exchange(5.0, 5)  # every datagram looks 5 s old
    assert handler.seen == 0 and not replies
    assert d.stats.drops == {"overload": 5}


async def test_status_server_is_answered_however_long_it_waited() -> None:
    d = Dispatcher(
        registry=NasRegistry([NasClient(1, "edge", "127.0.0.1", SECRET)]),
        handlers={Code.STATUS_SERVER: StatusPolicy(Code.ACCOUNTING_RESPONSE)},
        dictionary=DICTIONARY,
    )
    server = bind_udp("127.0.0.1", 0)
    reader = AgingReader(server, d, max_delay=0.5, clock=lambda: time.time() + 5.0)
    reader.start(asyncio.get_running_loop())
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(0)
    try:
        status = Packet(Code.STATUS_SERVER, 9, dictionary=DICTIONARY)
        client.sendto(encode_request(status, SECRET), server.getsockname())
        reply = b""
        for _ in range(100):
            await asyncio.sleep(0.01)
            try:
                reply = client.recv(4096)
                break
            except BlockingIOError:
                continue
        assert reply[:1] == bytes([Code.ACCOUNTING_RESPONSE]) and not d.stats.drops
    finally:
        reader.close()
        client.close()


async def test_the_reader_stops_reading_when_closed() -> None:
    d = Dispatcher(
        registry=NasRegistry([NasClient(1, "edge", "127.0.0.1", SECRET)]),
        handlers={Code.ACCOUNTING_REQUEST: Answer()},
        dictionary=DICTIONARY,
    )
    sock = bind_udp("127.0.0.1", 0)
    reader = AgingReader(sock, d, max_delay=0.5)
    reader.start(asyncio.get_running_loop())
    reader.close()
    assert sock.fileno() == -1
