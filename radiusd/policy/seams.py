"""What the access policy asks of the rest of the daemon, as protocols.

The policy never imports the store or the allocator: IPAM (address assignment) and the
session table (Simultaneous-Use) plug in here, so the policy is testable with plain
objects and without sockets or a database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from radiusd.model.request import Request

from .directory import PlanView, SubscriberView

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection

    from radiusd.model.events import AcctEvent
    from radiusd.model.writes import Operation


@dataclass(slots=True)
class Assignment:
    """Attributes to add to the Access-Accept (Framed-IP-Address, prefixes), or a reason to reject."""

    attributes: list[tuple[int, bytes]] = field(default_factory=list)
    reject_reason: str = ""
    notes: list[str] = field(default_factory=list)


class AddressAssigner(Protocol):
    def wants(self, subscriber: SubscriberView, plan: PlanView | None, pool: str | None) -> bool:
        """True when this login needs an address from a pool (decided without waiting)."""

    def assign_nowait(
        self,
        request: Request,
        subscriber: SubscriberView,
        plan: PlanView | None,
        pool: str | None,
        *,
        notes: bool = True,
    ) -> tuple[Assignment, asyncio.Future[None] | None]:
        """Allocate at once and queue the lease: the assignment and the future of its commit
        (None: nothing to write, reply at once). The Accept waits for that future, so the lease
        is committed before the reply is sent; no coroutine or task per login."""


class SessionCounter(Protocol):
    def open_sessions(self, username: str) -> int:
        """Live sessions of ``username`` right now (for Simultaneous-Use)."""


class NoSessions:
    """Session counter used until accounting is wired: nobody has a live session."""

    def open_sessions(self, username: str) -> int:
        return 0


class LeaseHooks(Protocol):
    """What accounting tells IPAM: confirm, renew, release leases.

    Each hook returns writer operations that go into the same batch as the accounting write
    (radiusd.model.writes.Operation); an empty list when there is nothing to persist. Hooks
    are called again for a retransmitted request, so they must be idempotent.
    """

    def on_start(self, event: AcctEvent) -> list[Operation]: ...

    def on_interim(self, event: AcctEvent) -> list[Operation]: ...

    def on_stop(self, event: AcctEvent) -> list[Operation]: ...

    def on_nas_reset(
        self,
        nas_id: str,
        event: AcctEvent,
        sessions: Collection[str] | None = None,
        spared: Collection[str] = (),
        since: dt.datetime | None = None,
    ) -> list[Operation]:
        """Accounting-On/Off from NAS ``nas_id`` (its address): release all its leases but
        those of the ``spared`` sessions (started after the NAS sent it, at ``since``: in the
        database, those of sessions started since); with ``sessions`` (the NAS was matched by
        a subnet entry that other NASes share), only those of the sessions named, and in the
        database those of that address's sessions started before ``since``."""
        ...


class NoLeaseHooks:
    """Lease hooks used until IPAM is wired: nothing to confirm or release."""

    def on_start(self, event: AcctEvent) -> list[Operation]:
        return []

    def on_interim(self, event: AcctEvent) -> list[Operation]:
        return []

    def on_stop(self, event: AcctEvent) -> list[Operation]:
        return []

    def on_nas_reset(
        self,
        nas_id: str,
        event: AcctEvent,
        sessions: Collection[str] | None = None,
        spared: Collection[str] = (),
        since: dt.datetime | None = None,
    ) -> list[Operation]:
        return []
