"""The request path between a datagram and its reply, with no sockets in it.

In order: drop unknown sources before decoding; decode
strictly; drop codes that do not belong on this port; answer retransmissions from the
dedupe cache (RFC 5080 §2.2.2); check the request's authenticity (Message-Authenticator,
RFC 3579 §3.2 and the BlastRADIUS defaults; the Accounting-Request authenticator, RFC 2866
§3); run the handler; encode and send the reply (Access-Reject after the configured delay);
cache it. Every drop is counted by reason; the log gets at most one line a minute per
unknown source, and at most DROP_LOG_BURST lines a minute per known NAS and reason (the
first line of the next minute says how many were left out).

The PAP fast path (:meth:`Dispatcher._plain_pap`) is a shortcut through the same steps
for the request an ISP sees most, a plain PAP Access-Request whose Access-Accept is the
subscriber's plan: from the scanned datagram to the reply bytes without a Packet, a
Request, a handler call or a second encoding of the plan's attributes. It calls the same
primitives (``scan``, ``verify_message_authenticator``, the policy's lookup and PAP check,
``encode_reply_body``, the dedupe cache, the stats) and refuses, before any side effect,
everything else.
"""

from __future__ import annotations

import asyncio
import time
from asyncio import isfuture
from collections.abc import Callable
from typing import Any

from radiusd.codec.attributes_gen import (
    CHAP_CHALLENGE,
    CHAP_PASSWORD,
    EAP_MESSAGE,
    PROXY_STATE,
    USER_NAME,
    USER_PASSWORD,
    VENDOR_SPECIFIC,
)
from radiusd.codec.codes import Code, code_name
from radiusd.codec.crypto import ZERO16, verify_hashed_request
from radiusd.codec.dictionary import Dictionary
from radiusd.codec.errors import MalformedPacket
from radiusd.codec.packet import (
    Packet,
    encode_reply,
    encode_reply_body,
    from_scan,
)
from radiusd.codec.radius11 import encode_reply11, encode_reply11_body
from radiusd.codec.scanning import Scanned, scan, verify_message_authenticator
from radiusd.logs import get_logger
from radiusd.model.request import HandlerResult, NasClient, Request

from .debug import DebugPrinter
from .dedupe import DedupeCache
from .handler import Handler, PlainPapHandler
from .nas import NasRegistry
from .stats import Stats

log = get_logger("radiusd.server")

#: seconds between two log lines for an unknown source; the window of DROP_LOG_BURST
DROP_LOG_INTERVAL = 60.0
#: log lines per DROP_LOG_INTERVAL for drops of one known NAS and reason
DROP_LOG_BURST = 10
#: distinct (NAS, reason) or unknown sources remembered before the memory is reset
DROP_LOG_KEYS = 10_000

Send = Callable[[bytes, Any], None]

# Plain ints: an IntEnum member costs an attribute lookup on every use in the hot path.
_ACCESS_REQUEST = int(Code.ACCESS_REQUEST)
_STATUS_SERVER = int(Code.STATUS_SERVER)
_STATUS_SERVER_BYTE = bytes([_STATUS_SERVER])
_ACCESS_REJECT = int(Code.ACCESS_REJECT)
_ACCESS_ACCEPT = int(Code.ACCESS_ACCEPT)
_ACCESS_REPLIES = frozenset({int(Code.ACCESS_ACCEPT), _ACCESS_REJECT, int(Code.ACCESS_CHALLENGE)})
_KIND: dict[int, str] = {
    Code.ACCESS_REQUEST: "access",
    Code.ACCOUNTING_REQUEST: "accounting",
    Code.STATUS_SERVER: "status",
    Code.COA_REQUEST: "coa",
    Code.DISCONNECT_REQUEST: "disconnect",
}
_RESULT: dict[int, str] = {
    Code.ACCESS_ACCEPT: "accept",
    Code.ACCESS_REJECT: "reject",
    Code.ACCESS_CHALLENGE: "challenge",
    Code.ACCOUNTING_RESPONSE: "ok",
}

#: Attribute types that make an Access-Request something other than plain PAP: the general
#: path decides (CHAP-Password, CHAP-Challenge, Proxy-State to echo, EAP-Message).
_NOT_PLAIN = frozenset({CHAP_PASSWORD, CHAP_CHALLENGE, PROXY_STATE, EAP_MESSAGE})


def sheddable(data: bytes) -> bool:
    """Whether overload may drop this datagram unread: anything but Status-Server, which is
    answered however late, as it is how a NAS tells a live server from a dead one (RFC 5997)
    and costs no database write."""
    return data[:1] != _STATUS_SERVER_BYTE


def plain_pap_types(dictionary: Dictionary) -> bytes:
    """The attribute types a request may carry and still take the PAP fast path: those the
    dictionary defines at the top level, and Vendor-Specific (PAP reads no VSA), minus
    :data:`_NOT_PLAIN`. As bytes, for ``types.translate(None, delete)``: what is left over
    is a type that sends the request to the general path."""
    known = {key[0] for key in dictionary.by_key if len(key) == 1} | {VENDOR_SPECIFIC}
    return bytes(sorted(t for t in known if 0 < t < 256 and t not in _NOT_PLAIN))


class Dispatcher:
    """One per listening port kind (auth or acct); handlers keyed by request code."""

    def __init__(
        self,
        *,
        registry: NasRegistry,
        handlers: dict[int, Handler],
        dictionary: Dictionary,
        stats: Stats | None = None,
        dedupe: DedupeCache | None = None,
        reject_delay: float = 1.0,
        debug: DebugPrinter | None = None,
        clock: Callable[[], float] = time.monotonic,
        fast_path: bool = True,
        admits: Callable[[], bool] | None = None,
    ) -> None:
        self.registry = registry
        self.handlers = handlers
        self.dictionary = dictionary
        self.stats = stats if stats is not None else Stats()
        self.dedupe = dedupe if dedupe is not None else DedupeCache()
        self.reject_delay = reject_delay
        self.debug = debug
        self.clock = clock
        #: asked before decoding each request (Status-Server excepted); False: the request is
        #: shed as "overload" (the accounting port asks the writer: see Writer.admits)
        self.admits = admits
        self._overload_logged = -1e9
        #: the reason of the latest drop by :meth:`_dropped` (a stream transport reads it)
        self.last_drop = ""
        self.accepting = True
        self.in_flight = 0  # requests between begin and reply/abandon (drain() waits for 0)
        self._tasks: set[asyncio.Future[Packet | None]] = set()
        self._unknown_logged: dict[str, float] = {}
        #: (NAS name, reason) -> [start of the window, lines logged in it, drops left out]
        self._drop_logged: dict[tuple[str, str], list[float]] = {}
        access = handlers.get(_ACCESS_REQUEST)
        #: the PAP fast path's handler; None: every request takes the general path
        self.plain_pap: PlainPapHandler | None = (
            access if fast_path and isinstance(access, PlainPapHandler) else None
        )
        self._plain_types = plain_pap_types(dictionary)

    # -- the path of a packet -------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Any, send: Send, nas: NasClient | None = None) -> None:
        """One request from ``addr``; its reply goes to ``send(reply, addr)``. ``nas``: the client
        the transport already knows (a RadSec connection, by its certificate); None: looked up
        by the source address, and a RadSec client's UDP is refused."""
        if not self.accepting:
            self.stats.drop("shutting-down")
            return
        if nas is None:
            nas = self.registry.get(addr[0])
            if nas is None:
                self._drop_unknown(addr)
                return
            if nas.radsec:
                self._dropped(addr, nas, "radsec-only", "this NAS is a RadSec client: UDP refused")
                return
        admits = self.admits
        if admits is not None and not admits() and sheddable(data):
            self.shed()
            return
        try:
            scanned = scan(data)
        except MalformedPacket as exc:
            self._dropped(addr, nas, exc.reason, exc.detail)
            return
        pap = self.plain_pap
        if (
            pap is not None
            and data[0] == _ACCESS_REQUEST
            and self.debug is None
            and self._plain_pap(pap, scanned, addr, nas, send)
        ):
            return
        packet = from_scan(scanned, self.dictionary)  # decode(), without scanning twice
        handler = self.handlers.get(packet.code)
        if handler is None:
            self._dropped(addr, nas, "unexpected-code", f"{code_name(packet.code)} on this port")
            return
        now = self.clock()
        key = (addr, packet.identifier, packet.authenticator)
        cached = self.dedupe.lookup(key, now)
        if cached is not None:
            if cached:
                self.stats.duplicates += 1
                send(cached, addr)
            else:
                self.stats.drop("duplicate-in-flight")
            return
        reason = self._authenticate(packet, data, nas)
        if reason:
            self._dropped(addr, nas, reason)
            return
        trace: list[str] | None = None
        seq = 0
        if self.debug is not None:
            seq = self.debug.packet_in(packet, addr, len(data))
            via = ", over RadSec" if nas.radsec else ""
            trace = [f"  from NAS {nas.name!r} ({nas.address}, vendor {nas.vendor}{via})"]
        req = Request(packet, data, nas, addr, time.time(), trace)
        self.dedupe.begin(key, now)
        self.in_flight += 1
        try:
            result: HandlerResult = handler.handle(req)
        except Exception:  # the boundary that keeps one bad request from stopping the server
            log.exception("handler.failed", nas=nas.name, code=code_name(packet.code))
            self._abandon(key, "handler-error")
            return
        if result is None or isinstance(result, Packet):
            self._complete(req, key, result, send, now, seq)
            return
        # the accounting policy returns a plain future: no ensure_future (its coroutine checks
        # go through an ABC isinstance per request)
        task = result if isfuture(result) else asyncio.ensure_future(result)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, req, key, send, now, seq))

    def _plain_pap(
        self, pap: PlainPapHandler, scanned: Scanned, addr: Any, nas: NasClient, send: Send
    ) -> bool:
        """Answer a plain PAP Access-Request whose accept is cached; False: not answered, and
        nothing done that the general path would not do again (no send, no dedupe entry, no
        counter).

        Why: the general path builds a Packet, a Request and a reply Packet and re-slices
        the plan's attributes, which is most of the Python per login. What it refuses, for
        the general path to decide as always: attribute types outside
        :func:`plain_pap_types` (CHAP-Password and -Challenge, Proxy-State, EAP-Message,
        types the dictionary does not know); no User-Name, User-Password (MS-CHAP has none)
        or Message-Authenticator; whatever :meth:`PlainPapHandler.plain_pap` refuses (pools,
        static addresses, Simultaneous-Use, subscriber attributes, not active, expired,
        slow hashes); retransmissions; a bad Message-Authenticator; a wrong password
        (rejects are logged and delayed by the general path). ``serve -X`` turns it off.
        Over RADIUS/1.1 (RFC 9765) there is no Message-Authenticator to require or check
        (a received one is ignored, §5.2) and the reply carries the request's Token.
        """
        data, offs, types, ma_offset = scanned
        if (not ma_offset and not nas.radius11) or types.translate(None, self._plain_types):
            return False
        k = types.find(USER_NAME)
        j = types.find(USER_PASSWORD)
        if k < 0 or j < 0:
            return False
        o = offs[k]
        found = pap.plain_pap(data[o + 2 : o + data[o + 1]], nas)
        if found is None:
            return False
        now = self.clock()
        identifier = data[1]
        authenticator = data[4:20]
        key = (addr, identifier, authenticator)
        if self.dedupe.lookup(key, now) is not None:
            return False
        radius11 = nas.radius11  # RFC 9765: TLS vouches for the request, no MD5 (§5.2)
        if not radius11 and not verify_message_authenticator(data, nas.secret, None, ma_offset):
            return False
        cred, body = found
        o = offs[j]
        if not pap.pap_matches(cred, data[o + 2 : o + data[o + 1]], nas, authenticator):
            return False
        try:
            if radius11:
                reply = encode_reply11_body(_ACCESS_ACCEPT, authenticator[:4], body)
            else:
                reply = encode_reply_body(_ACCESS_ACCEPT, identifier, authenticator, body, nas.secret)
        except ValueError:  # over 4096 octets: the general path drops it with the reason
            return False
        self.dedupe.begin(key, now)
        send(reply, addr)
        done = self.clock()
        self.dedupe.finish(key, reply, done)
        self.stats.observe("access", "accept", done - now)
        self.stats.answered(nas.name)
        return True

    def _task_done(
        self,
        task: asyncio.Future[Packet | None],
        req: Request,
        key: Any,
        send: Send,
        started: float,
        seq: int,
    ) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            self._abandon(key, "cancelled")
            return
        exc = task.exception()
        if exc is not None:
            # A failed database commit lands here: no reply, the NAS retransmits.
            log.warning("request.failed", nas=req.nas.name, error=f"{type(exc).__name__}: {exc}")
            if req.trace is not None and self.debug is not None:
                self.debug.decisions(seq, [*req.trace, f"  not answered: {type(exc).__name__}: {exc}"])
            self._abandon(key, "handler-error")
            return
        self._complete(req, key, task.result(), send, started, seq)

    def _complete(
        self, req: Request, key: Any, reply: Packet | None, send: Send, started: float, seq: int
    ) -> None:
        pkt = req.packet
        kind = _KIND.get(pkt.code, "other")
        if reply is None:
            if req.trace is not None and self.debug is not None:
                self.debug.decisions(seq, [*req.trace, "  no reply sent"])
            self._abandon(key, req.drop_reason or "no-reply")
            return
        try:
            if req.nas.radius11:  # RFC 9765 §4: the request's Token, no MD5, no Message-Authenticator
                data = encode_reply11(reply, pkt.authenticator[:4])
            else:
                message_auth = reply.code in _ACCESS_REPLIES or pkt.ma_offset != 0
                data = encode_reply(reply, req.nas.secret, pkt.authenticator, message_auth=message_auth)
        except ValueError as exc:  # over 4096 octets: echoed Proxy-States + reply attributes
            log.info("packet.dropped", nas=req.nas.name, reason="reply-too-large", detail=str(exc))
            self._abandon(key, "reply-too-large")
            return
        result = _RESULT.get(reply.code) or code_name(reply.code)
        if reply.code == _ACCESS_REJECT:
            user = _printable(pkt.raw((USER_NAME,)))
            reason = req.reject_reason or "rejected"
            if not req.reject_logged:  # a reject the access policy did not make (and log)
                log.info("access.rejected", nas=req.nas.name, user=user, reason=reason)
            self.stats.rejected(req.nas.name, user, reason)
        if req.trace is not None and self.debug is not None:
            self.debug.decisions(seq, req.trace)
        delay = self.reject_delay if reply.code == _ACCESS_REJECT else 0.0
        if delay > 0:
            loop = asyncio.get_running_loop()
            loop.call_later(
                delay, self._send_now, req, key, reply, data, send, started, seq, kind, result, delay
            )
            return
        self._send_now(req, key, reply, data, send, started, seq, kind, result, 0.0)

    def _send_now(
        self,
        req: Request,
        key: Any,
        reply: Packet,
        data: bytes,
        send: Send,
        started: float,
        seq: int,
        kind: str,
        result: str,
        delay: float,
    ) -> None:
        send(data, req.source)
        now = self.clock()
        self.dedupe.finish(key, data, now)
        self.stats.observe(kind, result, now - started - delay)
        self.stats.answered(req.nas.name)
        if self.debug is not None:
            self.debug.packet_out(seq, reply, req.source, len(data), delay)
        self.in_flight -= 1

    # -- authenticity ---------------------------------------------------------------------

    def _authenticate(self, packet: Packet, data: bytes, nas: NasClient) -> str:
        """'' when the request may be handled, else the drop reason."""
        code = packet.code
        if nas.radius11:
            return _authentic11(packet)
        if code in (_ACCESS_REQUEST, _STATUS_SERVER):
            if packet.ma_offset:
                if not verify_message_authenticator(data, nas.secret, None, packet.ma_offset):
                    return "bad-message-authenticator"
            elif (
                nas.require_message_authenticator
                or code == _STATUS_SERVER
                or packet.raw((EAP_MESSAGE,)) is not None
            ):
                return "missing-message-authenticator"
            return ""
        if code in (Code.ACCOUNTING_REQUEST, Code.COA_REQUEST, Code.DISCONNECT_REQUEST):
            if not verify_hashed_request(data[: (data[2] << 8) | data[3]], nas.secret):
                return "bad-authenticator"
            if packet.ma_offset and not verify_message_authenticator(
                data, nas.secret, ZERO16, packet.ma_offset
            ):
                return "bad-message-authenticator"
            if code == Code.ACCOUNTING_REQUEST and packet.raw((EAP_MESSAGE,)) is not None:
                return "eap-in-accounting"
            return ""
        return "unexpected-code"

    # -- bookkeeping ----------------------------------------------------------------------

    def _dropped(self, addr: Any, nas: NasClient, reason: str, detail: str = "") -> None:
        """Counted always; logged at most DROP_LOG_BURST times a minute per NAS and reason, as
        spoofed traffic from a known address must not fill the log either. The first line of
        the next minute says how many drops of that kind went unlogged (``suppressed``).
        ``serve -X`` shows each one. ``last_drop`` keeps the reason for a stream transport,
        which closes its connection on it (RFC 6613 §2.6.4)."""
        self.last_drop = reason
        self.stats.drop(reason)
        if self.debug is not None:
            self.debug.dropped(addr, reason, detail)
        now = self.clock()
        key = (nas.name, reason)
        window = self._drop_logged.get(key)
        suppressed = 0
        if window is None or now - window[0] > DROP_LOG_INTERVAL:
            if window is None and len(self._drop_logged) >= DROP_LOG_KEYS:
                self._drop_logged.clear()
            suppressed = int(window[2]) if window is not None else 0
            window = self._drop_logged[key] = [now, 0, 0]
        elif window[1] >= DROP_LOG_BURST:
            window[2] += 1
            return
        window[1] += 1
        log.info(
            "packet.dropped",
            source=f"{addr[0]}:{addr[1]}",
            nas=nas.name,
            reason=reason,
            detail=detail,
            suppressed=suppressed,
        )

    def shed(self) -> None:
        """Refuse a request that could not be answered in time, before spending CPU on it: the
        writer is behind (``admits``), or the request already waited too long in the kernel
        (radiusd.server.reader). Under sustained overload, decoding and then refusing costs
        nearly as much as serving, so the daemon would fall behind reading and every admitted
        request would wait longer in the receive queue. Counted always; logged at most once a
        minute."""
        self.stats.drop("overload")
        now = self.clock()
        if now - self._overload_logged > 60.0:
            self._overload_logged = now
            log.warning("server.overload", action="requests shed until the database catches up")

    def _drop_unknown(self, addr: Any) -> None:
        """Counted always, logged at most once a minute per source (a flood must not fill logs)."""
        self.stats.drop("unknown-nas")
        now = self.clock()
        host = addr[0]
        last = self._unknown_logged.get(host)
        if last is None or now - last > DROP_LOG_INTERVAL:
            if len(self._unknown_logged) > DROP_LOG_KEYS:
                self._unknown_logged.clear()
            self._unknown_logged[host] = now
            log.info("packet.dropped", source=f"{host}:{addr[1]}", reason="unknown-nas")
            if self.debug is not None:
                self.debug.dropped(addr, "unknown-nas", "no NAS with this source address")

    def _abandon(self, key: Any, reason: str) -> None:
        self.dedupe.forget(key)
        self.stats.drop(reason)
        self.in_flight -= 1

    async def drain(self, timeout: float = 10.0, poll: float = 0.01) -> bool:  # noqa: ASYNC109  (returns False at timeout, nothing cancelled)
        """Stop taking requests and wait for those in flight (SIGTERM). True when all finished.

        Polls ``in_flight`` rather than keeping an Event in step with it: setting and clearing
        an Event on every request cost more than this loop costs once at shutdown.
        """
        self.accepting = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.in_flight > 0:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(poll)
        return True


def _authentic11(packet: Packet) -> str:
    """The checks of :meth:`Dispatcher._authenticate` that remain over RADIUS/1.1 (RFC 9765):
    none of MD5, as the TLS connection authenticates every packet and no shared secret exists
    (§4.1: no Request Authenticator to verify; §5.2: a Message-Authenticator is ignored, the
    packet is not dropped for it). EAP still never rides in accounting (RFC 3579 §3.1)."""
    code = packet.code
    if code in (_ACCESS_REQUEST, _STATUS_SERVER, Code.COA_REQUEST, Code.DISCONNECT_REQUEST):
        return ""
    if code == Code.ACCOUNTING_REQUEST:
        return "eap-in-accounting" if packet.raw((EAP_MESSAGE,)) is not None else ""
    return "unexpected-code"


def _printable(raw: bytes | None) -> str:
    return raw.decode("utf-8", "replace") if raw is not None else ""
