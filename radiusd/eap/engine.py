"""EAP conversations over RADIUS (RFC 3579): one state machine per authentication, keyed by
the State attribute, from the peer's Identity to the EAP-Success or EAP-Failure.

- A conversation starts with an EAP-Response/Identity and no State (RFC 3579 §2.1); the
  default method is offered and the peer may Nak to another allowed one (RFC 3748 §5.3.1).
- Each Access-Challenge carries the next EAP-Request and the conversation's State; a
  response whose Identifier is not the last request's is stale and gets no answer
  (RFC 3748 §4.1). A State we do not hold (unknown, finished, expired) gets an
  Access-Reject with an EAP-Failure.
- At most ``max_conversations`` at once; one idle for ``timeout`` seconds (the peer walked
  away halfway) is forgotten, and its TLS state with it.
- Incoming fragments (RFC 5216 §2.1.5: L and M bits) are held until the TLS message is whole:
  at most 64 kB per message (radiusd.eap.tls.MAX_MESSAGE) and ``max_buffered`` octets over
  all conversations; a fragment past either bound rejects its conversation (EAP-Failure), so
  a fragment storm costs bounded memory.
- TLS steps (handshakes: the private-key operation costs milliseconds) run on a bounded
  thread pool, so a storm of handshakes does not stall PAP and accounting on the event loop;
  when the pool is full the request is dropped (``eap-busy``) and the NAS retransmits.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from radiusd.logs import get_logger
from radiusd.model.credentials import Credential
from radiusd.policy.hash_pool import HashPool

from . import packet as eap
from .methods import EapTlsMethod, Md5Method, Method, MethodContext, Step, TlsBased
from .placement import ThreadPlacement
from .settings import EapSettings
from .tls import FLAG_M, TlsContexts
from .tunnels import PeapMethod, TtlsMethod

log = get_logger("radiusd.eap")
_S = TypeVar("_S", Step, Step | None)

METHODS: dict[int, type[Method]] = {
    eap.PEAP: PeapMethod,
    eap.TTLS: TtlsMethod,
    eap.TLS: EapTlsMethod,
    eap.MD5_CHALLENGE: Md5Method,
}
#: the drop reason of a request whose TLS step found the pool full
BUSY = "eap-busy"
#: octets of EAP and 802.1X framing around the TLS data in one frame of Framed-MTU
FRAMING = 14
#: TLS octets per EAP packet at most, whatever Framed-MTU says (a RADIUS packet stays < 1500)
MAX_FRAGMENT = 1386


@dataclass(slots=True)
class Outcome:
    """``challenge``, ``accept`` (``username``: the inner identity, ``msk``), ``reject`` or
    ``drop`` (no reply); ``attributes`` are the reply's EAP-Message(s) and State."""

    kind: str
    attributes: list[tuple[int, bytes]] = field(default_factory=list)
    reason: str = ""
    username: str = ""
    msk: bytes | None = None
    method: str = ""
    notes: list[str] = field(default_factory=list)


class EapService(Protocol):
    """What the access policy, /metrics and SIGHUP use: :class:`EapEngine` in the daemon's
    process, or radiusd.eap.process.EapProcess relaying to a process of its own."""

    settings: EapSettings
    counts: dict[str, int]
    handshakes: dict[tuple[str, str, bool], int]
    buffered: int

    @property
    def in_flight(self) -> int: ...

    def handle(
        self,
        attributes: list[tuple[int, bytes]],
        credential: Callable[[str], Credential | None],
        known: Callable[[str], bool],
        framed_mtu: int | None = None,
        nas: str | None = None,
        trace: bool = True,
    ) -> Outcome | asyncio.Future[Outcome]: ...

    def reload(self, settings: EapSettings) -> None: ...

    def sweep(self) -> None: ...

    def close(self) -> None: ...


@dataclass(slots=True, eq=False)
class Conversation:
    state: bytes
    outer: str
    ctx: MethodContext
    method: Method
    identifier: int
    last: float
    allowed: tuple[int, ...] = ()  # the methods this conversation may use (per NAS)
    started: bool = False  # the peer answered the method (a Nak is no longer allowed)
    busy: bool = False
    counted: bool = False  # its TLS handshake is in EapEngine.handshakes
    buffered: int = 0  # octets of incoming fragments it holds (in EapEngine.buffered)


class EapEngine:
    """The conversations of one daemon process."""

    def __init__(
        self,
        settings: EapSettings,
        pool: HashPool | None = None,
        clock: Callable[[], float] = time.monotonic,
        inline: bool = False,
    ) -> None:
        """``inline``: TLS steps run on the calling thread and :meth:`handle` always answers
        at once (the EAP process, whose thread has nothing else to do)."""
        self.settings = settings
        self.inline = inline
        files = settings.tls_files()
        self.tls = TlsContexts(files) if files is not None else None
        if files is not None:
            _warn_if_readable(files.key)
        self.pool = pool if pool is not None else HashPool(settings.workers, settings.queue_max, name="eap")
        #: keeps the pool's threads on ``tls_cpus`` (the EAP process places itself instead)
        self.placement = ThreadPlacement(settings.tls_cpus)
        self.clock = clock
        self.conversations: OrderedDict[bytes, Conversation] = OrderedDict()
        #: octets of incoming fragments held by all conversations (at most max_buffered)
        self.buffered = 0
        #: conversations started, accepted (the method proved an identity), rejected (an
        #: EAP-Failure, with or without a conversation), expired; steps dropped (pool full)
        self.counts = {"started": 0, "accepted": 0, "rejected": 0, "expired": 0, "busy": 0}
        #: TLS handshakes done, by (method name, TLS version, resumed)
        self.handshakes: dict[tuple[str, str, bool], int] = {}

    @property
    def in_flight(self) -> int:
        return len(self.conversations)

    def reload(self, settings: EapSettings) -> None:
        """New settings and certificate files (SIGHUP); conversations under way keep their TLS.
        Raises (and keeps the old ones) when a file is missing or does not load."""
        files = settings.tls_files()
        if files is not None and self.tls is not None:
            self.tls.reload(files)
        elif files is not None:
            self.tls = TlsContexts(files)
        self.settings = settings
        self.placement.cpus = settings.tls_cpus

    # -- entry ----------------------------------------------------------------------------

    def handle(
        self,
        attributes: list[tuple[int, bytes]],
        credential: Callable[[str], Credential | None],
        known: Callable[[str], bool],
        framed_mtu: int | None = None,
        nas: str | None = None,
        trace: bool = True,
    ) -> Outcome | asyncio.Future[Outcome]:
        """One peer response; ``trace`` False (``serve`` without -X) leaves out the notes,
        whose formatting is a good part of a round trip's Python."""
        raw = eap.join_eap_messages(attributes) or b""
        fail_id = raw[1] if len(raw) > 1 else 0
        try:
            pkt = eap.decode(raw)
        except eap.EapError as exc:
            return self._reject(None, fail_id, f"malformed EAP-Message: {exc}")
        notes = [f"  EAP in: {pkt.describe()}"] if trace else []
        if pkt.code != eap.RESPONSE:
            return self._reject(None, fail_id, "EAP packet from the peer is not a Response", notes)
        self._expire()
        state = next((v for t, v in attributes if t == eap.STATE), None)
        if state is None:
            return self._begin(pkt, credential, known, framed_mtu, notes, nas)
        conv = self.conversations.get(state)
        if conv is None:
            return self._reject(None, pkt.identifier, "unknown or expired EAP conversation (State)", notes)
        if conv.busy or pkt.identifier != conv.identifier:
            notes.append(f"  stale EAP response (Identifier {pkt.identifier}, expected {conv.identifier})")
            return Outcome("drop", reason="stale EAP response", notes=notes)
        conv.last = self.clock()
        self.conversations.move_to_end(state)
        if pkt.type == eap.NAK and not conv.started:
            return self._nak(conv, pkt, notes)
        refusal = self._refusal(conv, pkt)
        if refusal:
            return self._reject(conv, pkt.identifier, refusal, notes)
        conv.started = True
        method = conv.method
        if not method.heavy_step(pkt.data):
            return self._outcome(
                conv, pkt.identifier, self._step(conv, method.process, pkt.identifier, pkt.data), notes, trace
            )
        return self._heavy(conv, pkt, notes, trace)

    def _heavy(
        self, conv: Conversation, pkt: eap.EapPacket, notes: list[str], trace: bool
    ) -> Outcome | asyncio.Future[Outcome]:
        """A TLS step: on this thread (``inline``), or on the pool with the outcome later."""
        method = conv.method
        if self.inline:  # the EAP process: nothing else waits for this thread
            early = self._step(conv, method.prepare, pkt.identifier, pkt.data)
            step = early if early is not None else self._step(conv, _finish_blocking, method)
            return self._outcome(conv, pkt.identifier, step, notes, trace)
        if self.pool.pending >= self.pool.max_pending:  # before prepare: a retransmission starts afresh
            self.pool.submit(method.blocking)  # refused: counted and warned about by the pool
            self.counts["busy"] += 1
            return Outcome("drop", reason=BUSY, notes=[*notes, "  not answered: the EAP TLS pool is full"])
        early = self._step(conv, method.prepare, pkt.identifier, pkt.data)
        if early is not None:
            return self._outcome(conv, pkt.identifier, early, notes, trace)
        future = self.pool.submit(self.placement.wrap(method.blocking))
        assert future is not None  # room was checked above, and nothing ran since
        conv.busy = True
        out: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()

        def done(f: asyncio.Future[object]) -> None:  # a callback, not a task: cheaper per step
            conv.busy = False
            if out.cancelled():
                return
            if f.cancelled():
                out.cancel()
            elif (exc := f.exception()) is not None:
                out.set_exception(exc)
            else:
                step = self._step(conv, method.finish, f.result())
                out.set_result(self._outcome(conv, pkt.identifier, step, notes, trace))

        future.add_done_callback(done)
        return out

    # -- steps ----------------------------------------------------------------------------

    def _refusal(self, conv: Conversation, pkt: eap.EapPacket) -> str:
        """Why this response ends its conversation before the method sees it ('' if not): a
        method other than the conversation's, or a fragment (M bit: RFC 5216 §2.1.5, more to
        come) that would take the octets held by all conversations past ``max_buffered``."""
        method = conv.method
        if pkt.type != method.type:
            return f"the peer answered {eap.METHOD_NAMES.get(pkt.type, pkt.type)} to {method.name}"
        data = pkt.data
        if data and data[0] & FLAG_M and isinstance(method, TlsBased):
            limit = self.settings.max_buffered
            if self.buffered - conv.buffered + method.buffered + len(data) > limit:
                return f"EAP fragments held by all conversations would exceed {limit} octets (max_buffered)"
        return ""

    def _begin(
        self,
        pkt: eap.EapPacket,
        credential: Callable[[str], Credential | None],
        known: Callable[[str], bool],
        framed_mtu: int | None,
        notes: list[str],
        nas: str | None = None,
    ) -> Outcome:
        if pkt.type != eap.IDENTITY:
            return self._reject(
                None, pkt.identifier, "an EAP conversation must begin with an Identity response", notes
            )
        if len(self.conversations) >= self.settings.max_conversations:
            return self._reject(
                None,
                pkt.identifier,
                f"{len(self.conversations)} EAP conversations under way (max_conversations)",
                notes,
            )
        outer = pkt.data.decode("utf-8", "replace")
        fragment = self.settings.fragment_size
        if framed_mtu:  # the access point says what fits in its frames (RFC 3579 §2.4)
            fragment = max(64, min(MAX_FRAGMENT, framed_mtu - FRAMING))
        ctx = MethodContext(credential, known, self.tls, fragment)
        state = os.urandom(16)
        allowed = self.settings.methods if nas is None else self.settings.methods_for_nas(nas)
        first = self.settings.default_method if self.settings.default_method in allowed else allowed[0]
        method = METHODS[first](ctx, outer)
        conv = Conversation(state, outer, ctx, method, pkt.identifier, self.clock(), allowed)
        self.conversations[state] = conv
        self.counts["started"] += 1
        notes.append(f"  EAP: outer identity {outer!r}, offering {method.name}")
        return self._outcome(conv, pkt.identifier, method.start(), notes)

    def _nak(self, conv: Conversation, pkt: eap.EapPacket, notes: list[str]) -> Outcome:
        wanted = eap.nak_types(pkt.data)
        names = ", ".join(eap.METHOD_NAMES.get(t, str(t)) for t in wanted) or "none"
        choice = next((t for t in wanted if t in conv.allowed and t in METHODS), None)
        if choice is None:
            return self._reject(
                conv,
                pkt.identifier,
                f"the peer refused {conv.method.name} and wants {names}: not allowed",
                notes,
            )
        conv.method = METHODS[choice](conv.ctx, conv.outer)
        notes.append(f"  EAP: the peer asks for {names}: switching to {conv.method.name}")
        return self._outcome(conv, pkt.identifier, conv.method.start(), notes)

    @staticmethod
    def _step(conv: Conversation, part: Callable[..., _S], *args: object) -> _S | Step:
        """One peer response (or part of one) through the method; its errors as a failure."""
        try:
            return part(*args)
        except eap.EapError as exc:
            return Step("failure", reason=f"{conv.method.name}: {exc}")
        except Exception:  # a bug must not leave the peer hanging: reject, and say where
            log.exception("eap.method-failed", method=conv.method.name)
            return Step("failure", reason=f"{conv.method.name}: internal error (see the log)")

    def _outcome(
        self, conv: Conversation, identifier: int, step: Step, notes: list[str], trace: bool = True
    ) -> Outcome:
        if trace:
            notes += (f"  {n}" for n in conv.ctx.notes)
        conv.ctx.notes.clear()
        method = conv.method
        held = method.buffered
        if held != conv.buffered:
            self.buffered += held - conv.buffered
            conv.buffered = held
        if method.handshake is not None and not conv.counted:
            conv.counted = True
            key = (method.name, *method.handshake)
            self.handshakes[key] = self.handshakes.get(key, 0) + 1
        if step.kind == "request":
            conv.identifier = (identifier + 1) & 0xFF
            req = eap.EapPacket(eap.REQUEST, conv.identifier, conv.method.type, step.data)
            if trace:
                notes.append(f"  EAP out: {req.describe()}")
            return Outcome(
                "challenge", [*eap.split_eap_message(req.encode()), (eap.STATE, conv.state)], notes=notes
            )
        if step.kind == "success":
            self._forget(conv.state)
            self.counts["accepted"] += 1
            notes.append(f"  EAP: {conv.method.name} succeeded for {step.username!r}")
            return Outcome(
                "accept",
                eap.split_eap_message(eap.success(identifier)),
                username=step.username,
                msk=step.msk,
                method=conv.method.name,
                notes=notes,
            )
        return self._reject(conv, identifier, step.reason, notes)

    def _reject(
        self, conv: Conversation | None, identifier: int, reason: str, notes: list[str] | None = None
    ) -> Outcome:
        if conv is not None:
            self._forget(conv.state)
        self.counts["rejected"] += 1
        return Outcome(
            "reject",
            eap.split_eap_message(eap.failure(identifier)),
            reason=reason,
            method=conv.method.name if conv is not None else "",
            notes=notes or [],
        )

    def _forget(self, state: bytes) -> None:
        conv = self.conversations.pop(state, None)
        if conv is not None:
            self.buffered -= conv.buffered
            conv.buffered = 0

    def _expire(self) -> None:
        """Forget conversations idle beyond ``timeout`` (oldest first: the dict is in use order)."""
        cutoff = self.clock() - self.settings.timeout
        convs = self.conversations
        while convs:
            state, conv = next(iter(convs.items()))
            if conv.last > cutoff or conv.busy:
                break
            self._forget(state)
            self.counts["expired"] += 1

    def sweep(self) -> None:
        """Forget the conversations idle beyond ``timeout`` now (``/metrics`` calls it, so that
        its gauges do not wait for the next EAP packet to drop them)."""
        self._expire()

    def close(self) -> None:
        self.pool.close()
        self.conversations.clear()
        self.buffered = 0


def _finish_blocking(method: Method) -> Step:
    return method.finish(method.blocking())


def _warn_if_readable(key: str) -> None:
    """A private key others may read is logged at start (the daemon still starts: the
    operator's deployment may rely on a group, as with ssl-cert on Debian)."""
    try:
        mode = os.stat(key).st_mode
    except OSError:
        return
    if mode & 0o007:
        log.warning("eap.key-readable", file=key, mode=oct(mode & 0o777), hint="chmod 600 it")
