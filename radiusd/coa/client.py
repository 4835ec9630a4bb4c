"""Disconnect-/CoA-Request client (RFC 5176) over UDP, with RFC 5080 §2.2.1 retransmission.

One request, one connected UDP socket: the kernel only hands us datagrams from the NAS's
address and port, and the Identifier space is never shared between requests. A reply is
accepted only when its code answers the request's code (RFC 5176 §3), its Identifier matches,
its Response Authenticator verifies against our Request Authenticator (RFC 5176 §3.5 refers
to RFC 2865 §3) and any Message-Authenticator verifies (RFC 5176 §3.4, RFC 3579 §3.2). When
the request carried Message-Authenticator the reply must carry one too (RFC 5176 §3.3 applies
RFC 3579 §3.2: a packet that should have one and does not is discarded); an
Event-Timestamp, when present, must be within the replay window (RFC 5176 §6.3). Anything
else is a stray or a forgery: counted and ignored, the request keeps waiting.

Retransmissions reuse the same datagram (same Identifier and Event-Timestamp, RFC 5176
§6.3). Timing follows RFC 5080 §2.2.1: RT = IRT + RAND*IRT, then RT = 2*RTprev +
RAND*RTprev, capped at MRT + RAND*MRT, RAND uniform in [-0.1, +0.1]; the exchange fails after
MRC transmissions (and the wait that follows the last) or MRD seconds after the first.
The clock, the sleep and the random source are injectable so tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from radiusd.codec import Code, MalformedPacket, Packet, decode, encode_request, verify_message_authenticator
from radiusd.codec.codes import REPLY_TO, code_name
from radiusd.codec.crypto import verify_response
from radiusd.codec.dictionary import Dictionary, default_dictionary

DEFAULT_COA_PORT = 3799  # RFC 5176 §3
EVENT_TIMESTAMP_WINDOW = 300.0  # RFC 5176 §6.3: "a default time window of 300 seconds"
SESSION_CONTEXT_NOT_FOUND = 503  # RFC 5176 §3.5

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Outcome(StrEnum):
    ACK = "ack"
    NAK = "nak"
    TIMEOUT = "timeout"
    ERROR = "error"  # the request could not be sent at all (no route, bad address)


@dataclass(frozen=True, slots=True)
class NasTarget:
    """Where and how to send: the NAS's CoA address and port, its secret, whether it wants
    Message-Authenticator in requests. ``secret`` is never part of repr()."""

    address: str
    secret: bytes = field(repr=False)
    port: int = DEFAULT_COA_PORT
    message_authenticator: bool = True


@dataclass(frozen=True, slots=True)
class RetransmitPolicy:
    """RFC 5080 §2.2.1 variables (defaults: IRT 2 s, MRC 5, MRT 16 s, MRD 30 s, RAND ±0.1)."""

    irt: float = 2.0
    mrc: int = 5
    mrt: float = 16.0
    mrd: float = 30.0
    rand: float = 0.1

    def next_rt(self, previous: float | None, r: float) -> float:
        """The next RT given the previous one (None for the first transmission) and RAND=r."""
        rt = self.irt + r * self.irt if previous is None else 2 * previous + r * previous
        if self.mrt and rt > self.mrt:
            rt = self.mrt + r * self.mrt
        return rt


@dataclass(frozen=True, slots=True)
class CoaResult:
    """How one request ended: ACK, NAK (with its Error-Cause, RFC 5176 §3.5) or timeout."""

    outcome: Outcome
    error_cause: int | None = None
    attempts: int = 0
    ignored: int = 0  # datagrams dropped as stray or forged while waiting
    detail: str = ""
    reply: Packet | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACK

    @property
    def error_cause_name(self) -> str | None:
        if self.error_cause is None:
            return None
        d = default_dictionary().by_name["error-cause"]
        return d.value_names.get(self.error_cause, str(self.error_cause))

    def describe(self) -> str:
        """One line for people: ``ACK``, ``NAK Session-Context-Not-Found (503)``, ``no answer ...``."""
        if self.outcome is Outcome.ACK:
            return "ACK"
        if self.outcome is Outcome.NAK:
            if self.error_cause is None:
                return "NAK"
            return f"NAK {self.error_cause_name} ({self.error_cause})"
        if self.outcome is Outcome.TIMEOUT:
            return f"no answer after {self.attempts} attempts"
        return f"not sent: {self.detail}"


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes], None]) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.on_datagram(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable on a connected socket: the NAS may come back; keep retrying.
        pass


async def _real_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _rand(policy: RetransmitPolicy) -> Callable[[], float]:
    rng = random.Random()
    return lambda: rng.uniform(-policy.rand, policy.rand)


class DynamicAuthClient:
    """Sends Disconnect-/CoA-Requests and waits for a verified reply (RFC 5176 §3)."""

    def __init__(
        self,
        policy: RetransmitPolicy | None = None,
        *,
        dictionary: Dictionary | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = _real_sleep,
        rand: Callable[[], float] | None = None,
        wallclock: Clock = time.time,
        timestamp_window: float = EVENT_TIMESTAMP_WINDOW,
    ) -> None:
        self.policy = policy or RetransmitPolicy()
        self.dictionary = dictionary or default_dictionary()
        self.clock = clock
        self.sleep = sleep
        self.rand = rand or _rand(self.policy)
        self.wallclock = wallclock
        self.timestamp_window = timestamp_window

    def build(
        self, code: int, attributes: Sequence[tuple[str, Any]], identifier: int | None = None
    ) -> Packet:
        """The request packet: ``attributes`` in order, then Event-Timestamp (RFC 5176 §6.3)."""
        if code not in (Code.DISCONNECT_REQUEST, Code.COA_REQUEST):
            raise ValueError(f"{code_name(code)} is not a Disconnect- or CoA-Request")
        ident = secrets.randbelow(256) if identifier is None else identifier
        packet = Packet(code, ident, dictionary=self.dictionary)
        for name, value in attributes:
            packet.add(name, value)
        if "Event-Timestamp" not in packet:
            packet.add("Event-Timestamp", int(self.wallclock()))
        return packet

    def check_reply(
        self, data: bytes, request: Packet, secret: bytes, *, message_auth: bool = False
    ) -> Packet | None:
        """The decoded reply when ``data`` answers ``request`` and verifies; None otherwise.
        ``message_auth``: the request carried Message-Authenticator, so the reply must too."""
        reply, _why = self.examine_reply(data, request, secret, message_auth=message_auth)
        return reply

    def examine_reply(
        self, data: bytes, request: Packet, secret: bytes | None, *, message_auth: bool = False
    ) -> tuple[Packet | None, str]:
        """(reply, "") when ``data`` answers ``request`` and verifies, else (None, why not).
        ``secret`` None: RADIUS/1.1 (RFC 9765 §4.2): the reply carries the request's Token,
        and TLS, not MD5, vouches for it (a Message-Authenticator is ignored, §5.2)."""
        try:
            reply = decode(data, self.dictionary)
        except MalformedPacket:
            return None, "malformed"
        if request.code not in REPLY_TO.get(reply.code, ()):
            return None, f"{code_name(reply.code)} does not answer {code_name(request.code)}"
        if secret is None:
            if data[4:8] != request.authenticator[:4]:
                return None, "another Token"
            return self._fresh(reply)
        if reply.identifier != request.identifier:
            return None, "another Identifier"
        if not verify_response(data, request.authenticator, secret):
            return None, "bad Response Authenticator"
        verified = verify_message_authenticator(data, secret, request.authenticator)
        if verified is False:
            return None, "bad Message-Authenticator"
        if verified is None and message_auth:
            return None, "no Message-Authenticator (the request carried one)"
        return self._fresh(reply)

    def _fresh(self, reply: Packet) -> tuple[Packet | None, str]:
        stamp = reply.get("Event-Timestamp")
        if isinstance(stamp, int) and abs(self.wallclock() - stamp) > self.timestamp_window:
            return None, "Event-Timestamp outside the replay window"
        return reply, ""

    async def request(self, target: NasTarget, code: int, attributes: Sequence[tuple[str, Any]]) -> CoaResult:
        """Send one Disconnect- or CoA-Request and wait for its ACK or NAK (or time out)."""
        packet = self.build(code, attributes)
        return await self.send(target, packet)

    async def send(self, target: NasTarget, packet: Packet) -> CoaResult:
        """Encode ``packet`` (RFC 5176 §2.3 authenticator, §3.4 Message-Authenticator) and run
        the exchange."""
        data = encode_request(packet, target.secret, message_auth=target.message_authenticator)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Packet] = loop.create_future()
        ignored = 0
        last_ignored = ""

        def on_datagram(datagram: bytes) -> None:
            nonlocal ignored, last_ignored
            if answer.done():
                return
            reply, why = self.examine_reply(
                datagram, packet, target.secret, message_auth=target.message_authenticator
            )
            if reply is None:
                ignored += 1
                last_ignored = why
                return
            answer.set_result(reply)

        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Endpoint(on_datagram), remote_addr=(target.address, target.port)
            )
        except OSError as exc:
            return CoaResult(
                Outcome.ERROR, detail=f"cannot send to {target.address}:{target.port}: {exc.strerror or exc}"
            )
        policy = self.policy
        try:
            start = self.clock()
            give_up = start + policy.mrd
            attempts = 0
            rt: float | None = None
            while True:
                transport.sendto(data)
                attempts += 1
                rt = policy.next_rt(rt, self.rand())
                wait = min(rt, give_up - self.clock())
                if wait > 0:
                    await self._wait(answer, wait)
                if answer.done():
                    reply = answer.result()
                    cause = reply.get("Error-Cause")
                    nak = reply.code in (Code.DISCONNECT_NAK, Code.COA_NAK)
                    return CoaResult(
                        Outcome.NAK if nak else Outcome.ACK,
                        cause if isinstance(cause, int) else None,
                        attempts,
                        ignored,
                        reply=reply,
                    )
                if (policy.mrc and attempts >= policy.mrc) or self.clock() >= give_up:
                    detail = f"{ignored} discarded, the last: {last_ignored}" if ignored else ""
                    return CoaResult(Outcome.TIMEOUT, None, attempts, ignored, detail)
        finally:
            transport.close()

    async def _wait(self, answer: asyncio.Future[Packet], seconds: float) -> None:
        sleeper: asyncio.Future[Any] = asyncio.ensure_future(self.sleep(seconds))
        waiting: set[asyncio.Future[Any]] = {answer, sleeper}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()  # a cancelled, never-awaited task is fine
