"""Audited Disconnect/CoA: every request is a ``coa_audit`` row before it leaves, completed
with its outcome; a NAK with Error-Cause 503 (Session-Context-Not-Found, RFC 5176 §3.5)
closes our session record. Plugins send through a :class:`CoaService`."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.codec import Code
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

Kind = Literal["disconnect", "coa"]
_CODES = {"disconnect": Code.DISCONNECT_REQUEST, "coa": Code.COA_REQUEST}


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
    ignored when ``client`` is given."""

    def __init__(
        self,
        engine: AsyncEngine | None,
        client: DynamicAuthClient | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        self.engine = engine
        self.client = client or DynamicAuthClient(policy_for(timeout))
        self.closed_sessions: list[int] = []

    async def send(
        self, nas: NasRecord, kind: Kind, session: SessionRef, attributes: Sequence[tuple[str, Any]]
    ) -> CoaResult:
        packet = self.client.build(_CODES[kind], attributes)
        names = [name for name, _ in attributes]
        names.append("Event-Timestamp")
        if nas.require_message_authenticator:
            names.append("Message-Authenticator")
        audit_id = await self._start(nas, kind, session, names)
        try:
            target = target_of(nas, session)
        except ValueError as exc:
            result = CoaResult(Outcome.ERROR, detail=str(exc))
            await self._finish(audit_id, result)
            return result
        try:
            result = await self.client.send(target, packet)
        except BaseException:
            await self._finish(audit_id, CoaResult(Outcome.ERROR, detail="interrupted"))
            raise
        await self._finish(audit_id, result)
        if (
            result.outcome is Outcome.NAK
            and result.error_cause == SESSION_CONTEXT_NOT_FOUND
            and session.id is not None
            and self.engine is not None
            and await close_session(self.engine, session.id)
        ):
            self.closed_sessions.append(session.id)
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
