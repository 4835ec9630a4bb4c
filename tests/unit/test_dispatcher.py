"""The request path without sockets: datagrams in, datagrams out (radiusd.server.dispatcher).

Requests are built with our codec, handlers are plain objects that count their calls, and
``send`` records what would go on the wire.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

import pytest

from radiusd.codec.codes import Code
from radiusd.codec.crypto import verify_response
from radiusd.codec.dictionary import Dictionary, default_dictionary
from radiusd.codec.packet import Packet, decode, encode_request
from radiusd.codec.scanning import verify_message_authenticator
from radiusd.model.request import HandlerResult, NasClient, Request
from radiusd.policy.access import StatusPolicy
from radiusd.server.debug import DebugPrinter
from radiusd.server.dedupe import DedupeCache
from radiusd.server.dispatcher import Dispatcher
from radiusd.server.nas import NasRegistry

SECRET = b"unit-Secr3t-d1"
LEGACY_SECRET = b"legacy-Secr3t-d2"
NAS = NasClient(1, "edge", "127.0.0.1", SECRET)
LEGACY = NasClient(2, "legacy", "127.0.0.3", LEGACY_SECRET, require_message_authenticator=False)
SOURCE = ("127.0.0.1", 40000)
LEGACY_SOURCE = ("127.0.0.3", 40000)
PROXY_STATE = 33
MESSAGE_AUTHENTICATOR = 80


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return default_dictionary()


class Recorder:
    """A handler: answers with ``code`` (or what ``respond`` returns) and counts its calls."""

    def __init__(
        self, code: int = Code.ACCESS_ACCEPT, respond: Callable[[Request], HandlerResult] | None = None
    ):
        self.code = code
        self.respond = respond
        self.requests: list[Request] = []

    def handle(self, req: Request) -> HandlerResult:
        self.requests.append(req)
        if self.respond is not None:
            return self.respond(req)
        reply = req.packet.reply(self.code)
        reply.add("Reply-Message", "hello")
        return reply


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def __call__(self, data: bytes, addr: Any) -> None:
        self.sent.append((data, addr))


def make(
    dictionary: Dictionary, handlers: dict[int, Any], *, reject_delay: float = 0.0, **kw: Any
) -> Dispatcher:
    return Dispatcher(
        registry=NasRegistry([NAS, LEGACY]),
        handlers=handlers,
        dictionary=dictionary,
        dedupe=DedupeCache(30.0, 1000),
        reject_delay=reject_delay,
        **kw,
    )


def access_request(
    dictionary: Dictionary,
    user: str = "alice",
    *,
    secret: bytes = SECRET,
    message_auth: bool = True,
    identifier: int = 1,
    proxy_states: tuple[bytes, ...] = (),
    eap: bool = False,
) -> tuple[bytes, bytes]:
    """(datagram, request authenticator)."""
    p = Packet(Code.ACCESS_REQUEST, identifier, dictionary=dictionary)
    p.add("User-Name", user)
    p.set_user_password(b"pw", secret)
    for state in proxy_states:
        p.add_raw(PROXY_STATE, state)
    if eap:
        p.add_raw(79, b"\x02\x01\x00\x06\x01a")
    data = encode_request(p, secret, message_auth=message_auth)
    return data, p.authenticator


def check_reply(data: bytes, request_auth: bytes, secret: bytes = SECRET) -> Packet:
    """A valid reply: Response Authenticator, and Message-Authenticator first and valid."""
    assert verify_response(data, request_auth, secret)
    assert data[20] == MESSAGE_AUTHENTICATOR and data[21] == 18
    assert verify_message_authenticator(data, secret, request_auth)
    return decode(data)


# -- what is dropped before a handler runs ------------------------------------------------------


def test_unknown_source_is_dropped_before_decoding(dictionary: Dictionary) -> None:
    handler, wire = Recorder(), Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: handler})
    d.datagram_received(b"\x00garbage", ("192.0.2.9", 1812), wire)  # not even a packet
    data, _ = access_request(dictionary)
    d.datagram_received(data, ("127.0.0.2", 40000), wire)  # a good packet from a stranger
    assert d.stats.drops == {"unknown-nas": 2}
    assert not handler.requests and not wire.sent


def test_malformed_packet_from_a_known_nas_is_dropped(dictionary: Dictionary) -> None:
    handler, wire = Recorder(), Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: handler})
    data, _ = access_request(dictionary)
    d.datagram_received(data[:2] + (len(data) + 10).to_bytes(2, "big") + data[4:], SOURCE, wire)
    assert not handler.requests and not wire.sent
    assert sum(d.stats.drops.values()) == 1 and "unknown-nas" not in d.stats.drops


def test_a_code_without_handler_is_dropped(dictionary: Dictionary) -> None:
    wire = Wire()
    d = make(dictionary, {Code.ACCOUNTING_REQUEST: Recorder(Code.ACCOUNTING_RESPONSE)})
    d.datagram_received(access_request(dictionary)[0], SOURCE, wire)
    assert d.stats.drops == {"unexpected-code": 1} and not wire.sent


def test_message_authenticator_rules(dictionary: Dictionary) -> None:
    handler, wire = Recorder(), Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: handler})
    # Required by default (BlastRADIUS): missing -> dropped.
    d.datagram_received(access_request(dictionary, message_auth=False)[0], SOURCE, wire)
    # Present but wrong (a flipped bit in its value) -> dropped.
    bad = bytearray(access_request(dictionary, identifier=2)[0])
    off = bad.index(bytes((MESSAGE_AUTHENTICATOR, 18)), 20) + 2
    bad[off] ^= 1
    d.datagram_received(bytes(bad), SOURCE, wire)
    # Computed with another secret -> dropped.
    d.datagram_received(access_request(dictionary, secret=b"other", identifier=3)[0], SOURCE, wire)
    # A NAS marked as not sending one: answered without, but EAP always needs it (RFC 3579).
    d.datagram_received(
        access_request(dictionary, secret=LEGACY_SECRET, message_auth=False, eap=True, identifier=4)[0],
        LEGACY_SOURCE,
        wire,
    )
    assert d.stats.drops == {"missing-message-authenticator": 2, "bad-message-authenticator": 2}
    assert not handler.requests and not wire.sent

    data, auth = access_request(dictionary, secret=LEGACY_SECRET, message_auth=False, identifier=5)
    d.datagram_received(data, LEGACY_SOURCE, wire)
    assert len(handler.requests) == 1
    ((reply, addr),) = wire.sent
    assert addr == LEGACY_SOURCE
    check_reply(reply, auth, LEGACY_SECRET)  # the reply carries one anyway


def test_status_server_needs_message_authenticator_even_from_a_legacy_nas(dictionary: Dictionary) -> None:
    wire = Wire()
    d = make(dictionary, {Code.STATUS_SERVER: StatusPolicy(Code.ACCESS_ACCEPT)})
    p = Packet(Code.STATUS_SERVER, 9, dictionary=dictionary)
    p.add("NAS-Identifier", "x")
    data = encode_request(p, LEGACY_SECRET)  # Status-Server always gets one (RFC 5997 §2)...
    off = data.index(bytes((MESSAGE_AUTHENTICATOR, 18)), 20)
    stripped = data[:off] + data[off + 18 :]  # ...so take it out again
    stripped = stripped[:2] + len(stripped).to_bytes(2, "big") + stripped[4:]
    d.datagram_received(stripped, LEGACY_SOURCE, wire)
    assert d.stats.drops == {"missing-message-authenticator": 1} and not wire.sent
    d.datagram_received(data, LEGACY_SOURCE, wire)
    reply = check_reply(wire.sent[0][0], p.authenticator, LEGACY_SECRET)
    assert reply.code == Code.ACCESS_ACCEPT and reply.identifier == 9


def test_status_server_on_the_accounting_port(dictionary: Dictionary) -> None:
    wire = Wire()
    d = make(dictionary, {Code.STATUS_SERVER: StatusPolicy(Code.ACCOUNTING_RESPONSE)})
    p = Packet(Code.STATUS_SERVER, 3, dictionary=dictionary)
    data = encode_request(p, SECRET)
    d.datagram_received(data, SOURCE, wire)
    reply = check_reply(wire.sent[0][0], p.authenticator)
    assert reply.code == Code.ACCOUNTING_RESPONSE


def test_accounting_request_authenticator_is_checked(dictionary: Dictionary) -> None:
    handler, wire = Recorder(Code.ACCOUNTING_RESPONSE), Wire()
    d = make(dictionary, {Code.ACCOUNTING_REQUEST: handler})
    p = Packet(Code.ACCOUNTING_REQUEST, 5, dictionary=dictionary)
    p.add("Acct-Status-Type", "Start")
    p.add("Acct-Session-Id", "s1")
    d.datagram_received(encode_request(p, b"wrong-secret"), SOURCE, wire)
    assert d.stats.drops == {"bad-authenticator": 1} and not handler.requests
    data = encode_request(p, SECRET)
    d.datagram_received(data, SOURCE, wire)
    assert len(handler.requests) == 1
    ((reply, _),) = wire.sent
    assert verify_response(reply, p.authenticator, SECRET)
    assert reply[0] == Code.ACCOUNTING_RESPONSE
    assert MESSAGE_AUTHENTICATOR not in [t for t, _ in decode(reply).attributes]  # none asked for


def test_accounting_is_shed_before_decoding_while_the_writer_cannot_keep_up(dictionary: Dictionary) -> None:
    """Overload (the database cannot keep up): while ``admits`` says no, requests cost a counter, not a parse;
    Status-Server is still answered (it is how a NAS tells a live server from a dead one)."""
    handler, wire = Recorder(Code.ACCOUNTING_RESPONSE), Wire()
    admitting = [False]
    d = make(
        dictionary,
        {Code.ACCOUNTING_REQUEST: handler, Code.STATUS_SERVER: StatusPolicy(Code.ACCOUNTING_RESPONSE)},
        admits=lambda: admitting[0],
    )
    p = Packet(Code.ACCOUNTING_REQUEST, 5, dictionary=dictionary)
    p.add("Acct-Status-Type", "Start")
    p.add("Acct-Session-Id", "s1")
    data = encode_request(p, SECRET)
    d.datagram_received(data, SOURCE, wire)
    d.datagram_received(b"\x04garbage", SOURCE, wire)  # not even decoded: no "malformed" drop
    assert d.stats.drops == {"overload": 2} and not handler.requests and not wire.sent
    status = Packet(Code.STATUS_SERVER, 6, dictionary=dictionary)
    d.datagram_received(encode_request(status, SECRET), SOURCE, wire)
    assert len(wire.sent) == 1 and wire.sent[0][0][0] == Code.ACCOUNTING_RESPONSE
    admitting[0] = True
    d.datagram_received(data, SOURCE, wire)  # the NAS's retransmission, once the writer caught up
    assert len(handler.requests) == 1 and len(wire.sent) == 2
    assert verify_response(wire.sent[1][0], p.authenticator, SECRET)


# -- replies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [Code.ACCESS_ACCEPT, Code.ACCESS_REJECT])
def test_access_replies_start_with_message_authenticator_and_echo_proxy_state(
    dictionary: Dictionary, code: int
) -> None:
    handler, wire = Recorder(code), Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: handler})
    states = (b"first", b"\x00second", b"third")
    data, auth = access_request(dictionary, proxy_states=states, identifier=77)
    d.datagram_received(data, SOURCE, wire)
    ((raw, addr),) = wire.sent
    assert addr == SOURCE
    reply = check_reply(raw, auth)
    assert reply.code == code and reply.identifier == 77
    assert [v for t, v in reply.attributes if t == PROXY_STATE] == list(states)
    result = "accept" if code == Code.ACCESS_ACCEPT else "reject"
    assert d.stats.requests[("access", result)] == 1
    assert d.in_flight == 0


def test_handler_sees_the_request_and_its_nas(dictionary: Dictionary) -> None:
    handler, wire = Recorder(), Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: handler})
    data, _ = access_request(dictionary, "bob")
    d.datagram_received(data, SOURCE, wire)
    (req,) = handler.requests
    assert req.nas is NAS and req.source == SOURCE and req.raw == data
    assert req.packet.get("User-Name") == "bob"
    assert req.trace is None  # no debug printer: no trace is built


# -- retransmissions (RFC 5080 §2.2.2) --------------------------------------------------------------


def test_retransmission_after_the_reply_gets_the_cached_bytes(dictionary: Dictionary) -> None:
    handler, wire = Recorder(), Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: handler})
    data, _ = access_request(dictionary)
    d.datagram_received(data, SOURCE, wire)
    d.datagram_received(data, SOURCE, wire)
    assert len(handler.requests) == 1
    assert len(wire.sent) == 2 and wire.sent[0] == wire.sent[1]
    assert d.stats.duplicates == 1
    # Same bytes from another source port, or a new Identifier: a new request.
    d.datagram_received(data, (SOURCE[0], SOURCE[1] + 1), wire)
    d.datagram_received(access_request(dictionary, identifier=2)[0], SOURCE, wire)
    assert len(handler.requests) == 3


async def test_retransmission_in_flight_is_dropped(dictionary: Dictionary) -> None:
    release = asyncio.Event()

    async def slow(req: Request) -> Packet:
        await release.wait()
        return req.packet.reply(Code.ACCESS_ACCEPT)

    handler, wire = Recorder(respond=slow), Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: handler})
    data, auth = access_request(dictionary)
    d.datagram_received(data, SOURCE, wire)
    d.datagram_received(data, SOURCE, wire)
    assert d.stats.drops == {"duplicate-in-flight": 1}
    assert d.in_flight == 1 and not wire.sent
    release.set()
    assert await d.drain(timeout=2.0)
    ((raw, _),) = wire.sent
    check_reply(raw, auth)
    d.accepting = True
    d.datagram_received(data, SOURCE, wire)
    assert wire.sent[1][0] == raw and len(handler.requests) == 1


@pytest.mark.parametrize("outcome", ["raise", "none", "none-with-reason"])
def test_no_reply_means_the_next_copy_is_handled_afresh(dictionary: Dictionary, outcome: str) -> None:
    def respond(req: Request) -> HandlerResult:
        if outcome == "raise":
            raise RuntimeError("boom")
        if outcome == "none-with-reason":
            req.drop_reason = "commit-in-doubt"
        return None

    handler, wire = Recorder(respond=respond), Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: handler})
    data, _ = access_request(dictionary)
    d.datagram_received(data, SOURCE, wire)
    d.datagram_received(data, SOURCE, wire)
    assert len(handler.requests) == 2 and not wire.sent
    reason = {"raise": "handler-error", "none": "no-reply", "none-with-reason": "commit-in-doubt"}[outcome]
    assert d.stats.drops == {reason: 2}  # the handler's reason, counted in /metrics
    assert d.in_flight == 0


async def test_a_failed_async_handler_sends_nothing_and_allows_a_retry(dictionary: Dictionary) -> None:
    calls = 0

    async def flaky(req: Request) -> Packet:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise ConnectionError("commit failed")  # e.g. the database went away
        return req.packet.reply(Code.ACCESS_ACCEPT)

    wire = Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: Recorder(respond=flaky)})
    data, auth = access_request(dictionary)
    d.datagram_received(data, SOURCE, wire)
    assert await d.drain(timeout=2.0)
    assert not wire.sent and d.stats.drops == {"handler-error": 1}
    d.accepting = True
    d.datagram_received(data, SOURCE, wire)  # the NAS retransmits
    assert await d.drain(timeout=2.0)
    check_reply(wire.sent[0][0], auth)


# -- the reject delay and shutting down ------------------------------------------------------------


async def test_reject_delay_holds_rejects_only(dictionary: Dictionary) -> None:
    def respond(req: Request) -> Packet:
        code = Code.ACCESS_REJECT if req.packet.get("User-Name") == "mallory" else Code.ACCESS_ACCEPT
        return req.packet.reply(code)

    wire = Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: Recorder(respond=respond)}, reject_delay=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    rejected, _ = access_request(dictionary, "mallory", identifier=1)
    d.datagram_received(rejected, SOURCE, wire)
    assert not wire.sent and d.in_flight == 1
    # A retransmission during the delay is a duplicate in flight, not a second reject.
    d.datagram_received(rejected, SOURCE, wire)
    assert d.stats.drops == {"duplicate-in-flight": 1}
    d.datagram_received(access_request(dictionary, "alice", identifier=2)[0], SOURCE, wire)
    assert [raw[0] for raw, _ in wire.sent] == [Code.ACCESS_ACCEPT]  # not held behind the reject
    assert await d.drain(timeout=2.0)  # drain waits for the delayed reject
    assert loop.time() - started >= 0.2
    assert [raw[0] for raw, _ in wire.sent] == [Code.ACCESS_ACCEPT, Code.ACCESS_REJECT]


async def test_nothing_is_taken_after_drain(dictionary: Dictionary) -> None:
    handler, wire = Recorder(), Wire()
    d = make(dictionary, {Code.ACCESS_REQUEST: handler})
    assert await d.drain(timeout=1.0)
    d.datagram_received(access_request(dictionary)[0], SOURCE, wire)
    assert d.stats.drops == {"shutting-down": 1}
    assert not handler.requests and not wire.sent


async def test_drain_gives_up_at_its_timeout(dictionary: Dictionary) -> None:
    never = asyncio.Event()

    async def stuck(req: Request) -> Packet:
        await never.wait()
        return req.packet.reply(Code.ACCESS_ACCEPT)

    d = make(dictionary, {Code.ACCESS_REQUEST: Recorder(respond=stuck)})
    d.datagram_received(access_request(dictionary)[0], SOURCE, Wire())
    assert not await d.drain(timeout=0.05)
    never.set()
    assert await d.drain(timeout=1.0)


# -- serve -X --------------------------------------------------------------------------------------------


def test_debug_printer_shows_packets_and_masks_secrets(dictionary: Dictionary) -> None:
    out = io.StringIO()
    wire = Wire()

    def respond(req: Request) -> Packet:
        req.note("  decided: accept")
        reply = req.packet.reply(Code.ACCESS_ACCEPT)
        reply.add("Reply-Message", "welcome")
        return reply

    d = make(dictionary, {Code.ACCESS_REQUEST: Recorder(respond=respond)}, debug=DebugPrinter(out))
    p = Packet(Code.ACCESS_REQUEST, 42, dictionary=dictionary)
    p.add("User-Name", "alice")
    p.set_user_password(b"hunter2-Pw", SECRET)
    d.datagram_received(encode_request(p, SECRET, message_auth=True), SOURCE, wire)
    d.datagram_received(access_request(dictionary, message_auth=False)[0], SOURCE, wire)
    text = out.getvalue()
    assert "(1) Received Access-Request Id 42 from 127.0.0.1:40000" in text
    assert '(1)   User-Name = "alice"' in text
    assert "(1)   User-Password = ********" in text
    assert "(1)   from NAS 'edge' (127.0.0.1, vendor generic)" in text
    assert "(1)   decided: accept" in text
    assert "(1) Sent Access-Accept Id 42 to 127.0.0.1:40000" in text
    assert '(1)   Reply-Message = "welcome"' in text
    assert "(2) Dropped packet from 127.0.0.1:40000: missing-message-authenticator" in text
    for secret in (b"hunter2-Pw", SECRET):
        assert secret.decode() not in text and secret.hex() not in text


def test_drops_from_a_known_nas_are_rate_limited_per_reason(dictionary: Dictionary) -> None:
    """Spoofed traffic from a known NAS address must not write one log line per packet: a few
    lines per NAS and reason a minute; the first of the next minute says how many were left out."""
    from structlog.testing import capture_logs

    from radiusd.server.dispatcher import DROP_LOG_BURST

    now = [1000.0]
    d = make(dictionary, {Code.ACCESS_REQUEST: Recorder()}, clock=lambda: now[0])
    wire = Wire()
    forged, _ = access_request(dictionary, secret=b"not-the-secret")  # bad Message-Authenticator
    legacy, _ = access_request(dictionary, secret=LEGACY_SECRET, message_auth=False, eap=True)
    with capture_logs() as logs:
        for _ in range(500):
            d.datagram_received(forged, SOURCE, wire)
            d.datagram_received(b"\x01\x02\x00", SOURCE, wire)  # malformed
            d.datagram_received(legacy, LEGACY_SOURCE, wire)  # EAP without Message-Authenticator
        now[0] += 61.0
        d.datagram_received(forged, SOURCE, wire)
    dropped = [e for e in logs if e["event"] == "packet.dropped"]
    assert sum(d.stats.drops.values()) == 1501 and not wire.sent
    assert len(dropped) == 3 * DROP_LOG_BURST + 1
    per_kind: dict[tuple[str, str], int] = {}
    for e in dropped[:-1]:
        per_kind[(e["nas"], e["reason"])] = per_kind.get((e["nas"], e["reason"]), 0) + 1
        assert e["suppressed"] == 0
    assert per_kind[("edge", "bad-message-authenticator")] == DROP_LOG_BURST
    assert per_kind[("legacy", "missing-message-authenticator")] == DROP_LOG_BURST
    assert len(per_kind) == 3
    last = dropped[-1]
    assert last["reason"] == "bad-message-authenticator" and last["suppressed"] == 500 - DROP_LOG_BURST
