"""Audited Disconnect/CoA: every request is a ``coa_audit`` row before it leaves, completed
with its outcome; a NAK with Error-Cause 503 (Session-Context-Not-Found, RFC 5176 §3.5)
closes our session record. Plugins send through a :class:`CoaService`.

A NAS marked radsec is reached over its RadSec connection to this process (radiusd.coa.stream)
when the service knows the daemon's connections (``radsec``); without one, over UDP to its
stored address with its UDP secret only when ``udp_fallback`` allows it, else the request is
not sent and the result says why (docs/radsec.md, "CoA and Disconnect over RadSec")."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.codec import Code, Packet
from radiusd.store.engine import begin_write
from radiusd.store.models import CoaAudit, utcnow
from radiusd.store.records import NasRecord

from .client import (
    SESSION_CONTEXT_NOT_FOUND,
    CoaResult,
    DynamicAuthClient,
    NasTarget,
    Outcome,
    RetransmitPolicy,
)
from .sessions import SessionRef, close_session
from .stream import ChannelRoutes, no_connection, send_over

Kind = Literal["disconnect", "coa"]
_CODES = {"disconnect": Code.DISCONNECT_REQUEST, "coa": Code.COA_REQUEST}
#: ``(kind, transport, outcome)`` after each request: the daemon's counters
Observer = Callable[[str, str, str], None]


def coa_address(nas: NasRecord, session: SessionRef | None = None) -> str:
    """Where a CoA for ``session`` goes: the NAS's address, or for a NAS that is a subnet
    (``10.0.0.0/24``) the address inside it that the session came from; ValueError (with
    the reason) when a subnet NAS has no such address to send to."""
    if "/" not in nas.address:
        return nas.address
    source = session.nas_address if session is not None else None
    try:
        inside = source is not None and ipaddress.ip_address(source) in ipaddress.ip_network(nas.address)
    except ValueError:
        inside = False
    if not inside:
        raise ValueError(
            f"NAS {nas.name!r} is the subnet {nas.address}: a CoA goes to the address a session "
            "came from, and this session has none inside it"
        )
    assert source is not None
    return source


def target_of(nas: NasRecord, session: SessionRef | None = None) -> NasTarget:
    """A NAS record's CoA address (see :func:`coa_address`), port, secret and
    Message-Authenticator wish."""
    return NasTarget(
        address=coa_address(nas, session),
        secret=nas.secret.encode(),
        port=nas.coa_port,
        message_authenticator=nas.require_message_authenticator,
    )


def policy_for(timeout: float | None) -> RetransmitPolicy:
    """Retransmissions that give up after ``timeout`` seconds: None is RFC 5080's defaults
    (up to 30 s), 0 sends once and does not wait for an answer (the result is a timeout)."""
    default = RetransmitPolicy()
    if timeout is None:
        return default
    if timeout <= 0:
        return RetransmitPolicy(mrc=1, mrd=0.0)
    irt = min(default.irt, max(timeout / 3, 0.1))
    return RetransmitPolicy(irt=irt, mrc=0, mrt=max(irt, min(default.mrt, timeout / 2)), mrd=timeout)


class CoaService:
    """Sends through a :class:`DynamicAuthClient` and keeps the audit trail in ``engine``
    (``engine`` None: no audit and no session closing, for tests without a database).

    ``timeout`` bounds how long one request waits for its NAS (see :func:`policy_for`);
    ignored when ``client`` is given. ``radsec``: the daemon's live RadSec connections (None
    outside the daemon: a CLI process holds none); ``udp_fallback``: a RadSec NAS with no
    connection here is tried over UDP instead of failing; ``observe``: told of every result."""

    def __init__(
        self,
        engine: AsyncEngine | None,
        client: DynamicAuthClient | None = None,
        *,
        timeout: float | None = None,
        radsec: ChannelRoutes | None = None,
        udp_fallback: bool = False,
        observe: Observer | None = None,
    ) -> None:
        self.engine = engine
        self.client = client or DynamicAuthClient(policy_for(timeout))
        self.radsec = radsec
        self.udp_fallback = udp_fallback
        self.observe = observe
        self.closed_sessions: list[int] = []

    async def send(
        self, nas: NasRecord, kind: Kind, session: SessionRef, attributes: Sequence[tuple[str, Any]]
    ) -> CoaResult:
        packet = self.client.build(_CODES[kind], attributes)
        names = [name for name, _ in attributes]
        names.append("Event-Timestamp")
        over_tls = nas.radsec and self.radsec is not None and self.radsec.channel_for(nas.name) is not None
        if nas.require_message_authenticator and not over_tls:
            names.append("Message-Authenticator")
        audit_id = await self._start(nas, kind, session, names)
        # a RadSec NAS the request could not reach counts under radsec, unless UDP was tried
        transport = "radsec" if over_tls or (nas.radsec and not self.udp_fallback) else "udp"
        try:
            if over_tls:
                assert self.radsec is not None
                result = await send_over(self.client, self.radsec, nas.name, packet)
            else:
                result = await self._udp(nas, session, packet)
        except BaseException:
            await self._finish(audit_id, CoaResult(Outcome.ERROR, detail="interrupted"))
            raise
        await self._finish(audit_id, result)
        if self.observe is not None:
            self.observe(kind, transport, str(result.outcome))
        if (
            result.outcome is Outcome.NAK
            and result.error_cause == SESSION_CONTEXT_NOT_FOUND
            and session.id is not None
            and self.engine is not None
            and await close_session(self.engine, session.id)
        ):
            self.closed_sessions.append(session.id)
        return result

    async def _udp(self, nas: NasRecord, session: SessionRef, packet: Packet) -> CoaResult:
        """Over UDP to the NAS's stored address; for a RadSec NAS only with ``udp_fallback``."""
        if nas.radsec and not self.udp_fallback:
            hint = "" if self.radsec is not None else " (this process is not the daemon: use its API)"
            return CoaResult(Outcome.ERROR, detail=no_connection(nas.name) + hint)
        try:
            target = target_of(nas, session)
        except ValueError as exc:
            return CoaResult(Outcome.ERROR, detail=str(exc))
        result = await self.client.send(target, packet)
        if nas.radsec:
            note = f"over UDP to {target.address}:{target.port}: no RadSec connection to this node"
            detail = f"{note}; {result.detail}" if result.detail else note
            result = CoaResult(result.outcome, result.error_cause, result.attempts, result.ignored,
                               detail, reply=result.reply)  # fmt: skip
        return result

    async def _start(self, nas: NasRecord, kind: Kind, session: SessionRef, names: list[str]) -> int | None:
        if self.engine is None:
            return None
        async with begin_write(self.engine) as conn:
            result = await conn.execute(
                sa.insert(CoaAudit)
                .values(
                    router_id=nas.id,
                    kind=kind,
                    session_id=session.id,
                    username=session.username,
                    attributes=names,
                    outcome="pending",
                    attempts=0,
                    created_at=utcnow(),
                )
                .returning(CoaAudit.id)
            )
            return int(result.scalar_one())

    async def _finish(self, audit_id: int | None, result: CoaResult) -> None:
        if self.engine is None or audit_id is None:
            return
        async with begin_write(self.engine) as conn:
            await conn.execute(
                sa.update(CoaAudit)
                .where(CoaAudit.id == audit_id)
                .values(
                    outcome=str(result.outcome),
                    error_cause=result.error_cause,
                    attempts=result.attempts,
                    finished_at=utcnow(),
                )
            )
