"""The accounting side of the IPAM service (:class:`~radiusd.policy.seams.LeaseHooks`).

Accounting-Start confirms the offered item (or adopts one the NAS chose), Interim-Update
renews it for k x Acct-Interim-Interval + grace, Stop releases it (sticky hold), Accounting-
On/Off releases every item of the NAS (on PostgreSQL also those another node wrote that this
node's memory does not hold: read and released in the same transaction,
radiusd.store.nas_reset). The Framed-IP-Address a NAS reports is authoritative:
an address the server did not hand out is adopted if free and logged as a conflict if not.
Changes are settled in memory at once and returned as writer operations for the accounting
handler to queue (see :mod:`radiusd.policy.ipam_service`). A mixin of
:class:`~radiusd.policy.ipam_service.IpamService`, whose state it uses.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ipam import AdoptStatus, Change, LeaseError, PoolError
from ipam.lease import LIVE
from ipam.owners import username_of
from radiusd.logs import get_logger
from radiusd.store.nas_reset import NasLeasesOp

from .ipam_base import IpamBase

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection

    from ipam import Lease
    from radiusd.model.events import AcctEvent
    from radiusd.model.writes import Operation
    from radiusd.store.lease_ops import LeaseOp

log = get_logger("radiusd.ipam")


class IpamHooks(IpamBase):
    """LeaseHooks of :class:`~radiusd.policy.ipam_service.IpamService`."""

    def _expiry(self, ev: AcctEvent, now: float) -> float:
        s = self.settings
        interval = ev.interim_interval or s.default_interim_interval
        return now + s.interim_grace_factor * interval + s.interim_grace

    @staticmethod
    def _items(ev: AcctEvent) -> list[str]:
        return [a for a in (ev.framed_ip, ev.framed_ipv6_prefix, ev.delegated_ipv6_prefix) if a]

    def _confirm(self, ev: AcctEvent) -> list[Operation]:
        if not ev.username or not self.alloc.has_pools():  # (no pool: nothing to confirm or adopt)
            return []
        now = self.clock()
        expires = self._expiry(ev, now)
        nas = None if ev.router_id is None else str(ev.router_id)
        session = ev.unique_id or None
        changes: list[Change] = []
        slot = ev.username  # the owner key of this session's items (a Simultaneous-Use slot)
        for address in self._items(ev):
            try:
                current = self.alloc.lookup(address)
            except PoolError:
                continue
            if current is None:
                continue  # not managed here
            owner = current.owner
            if current.state in LIVE and owner is not None and username_of(owner) == ev.username:
                slot = owner
                try:
                    changes.append(self.alloc.confirm(address, owner, now, expires, nas=nas, session=session))
                except LeaseError:
                    pass
                continue
            adoption = self.alloc.adopt(address, ev.username, now, expires, nas=nas, session=session)
            if adoption.status is AdoptStatus.CONFLICT:
                self.conflicts += 1
                holder = adoption.holder
                log.warning(
                    "ipam.conflict",
                    address=address,
                    user=ev.username,
                    nas=ev.nas_address,
                    holder=username_of(holder.owner) if holder else None,
                    holder_state=str(holder.state) if holder else None,
                )
                continue
            if adoption.replaced is not None:
                changes.append(adoption.replaced)
            if adoption.change is not None:
                changes.append(adoption.change)
                if adoption.status is AdoptStatus.ADOPTED:
                    log.info("ipam.adopted", address=address, user=ev.username, nas=ev.nas_address)
        changes += self._unreported(ev, slot, now, expires, nas, session)
        return self._eager(changes)

    def _unreported(
        self, ev: AcctEvent, owner: str, now: float, expires: float, nas: str | None, session: str | None
    ) -> list[Change]:
        """The items the Access-Accept gave ``owner`` of a kind the NAS does not report (a BNG
        that leaves Framed-IPv6-Prefix or Delegated-IPv6-Prefix out of accounting): confirmed
        or renewed with the session, or they would expire after ``offer_ttl`` while it is up.
        A NAS that reports an item of that kind has chosen its own: the others are left alone."""
        reported = {
            kind
            for kind, value in (("ipv4", ev.framed_ip), ("ipv6-wan", ev.framed_ipv6_prefix),
                                ("ipv6-pd", ev.delegated_ipv6_prefix))
            if value
        }  # fmt: skip
        out: list[Change] = []
        for lease in self.alloc.by_owner(owner):
            cfg = self.configs.get(lease.pool)
            if cfg is None or cfg.kind in reported or lease.state not in LIVE or lease.owner != owner:
                continue
            try:
                out.append(self.alloc.confirm(lease.address, owner, now, expires, nas=nas, session=session))
            except LeaseError:
                continue
        return out

    def on_start(self, event: AcctEvent) -> list[Operation]:
        """Accounting-Start: the offered address becomes leased (or is adopted)."""
        return self._confirm(event)

    def on_interim(self, event: AcctEvent) -> list[Operation]:
        """Interim-Update: the lease is renewed for k x interval + grace (or adopted)."""
        return self._confirm(event)

    def on_stop(self, event: AcctEvent) -> list[Operation]:
        """Accounting-Stop: the lease ends (sticky hold for its holder); a late or repeated
        Stop for an address now held by someone else changes nothing."""
        if not self.alloc.has_pools():  # the accounting of a NAS that hands out its own addresses
            return []
        now = self.clock()
        changes: list[Change] = []
        for address in self._items(event):
            try:
                current = self.alloc.lookup(address)
            except PoolError:
                continue
            if current is None or current.owner is None or username_of(current.owner) != event.username:
                continue
            ch = self.alloc.release(address, current.owner, now)
            if ch is not None:
                changes.append(ch)
        # a session the sweep closed may be alive at another node, which renewed its lease
        return self._eager(changes, "expire" if event.swept else "release")

    def on_nas_reset(
        self,
        nas_id: str,
        event: AcctEvent,
        sessions: Collection[str] | None = None,
        spared: Collection[str] = (),
        since: dt.datetime | None = None,
    ) -> list[Operation]:
        """Accounting-On/Off: every lease of that NAS ends, but those of the ``spared``
        sessions (its new life: started after the NAS sent the reset, at ``since``; in the
        database, the rows of sessions started since). With ``sessions`` (a subnet entry
        shared by several NASes: its items are recorded under the entry, not the address)
        only those of the sessions this node closes, and in the database those of the
        sessions open from that address and started before ``since``: the other NASes'
        leases live on."""
        if event.router_id is None:
            return []
        changes = self.alloc.release_all_for_nas(str(event.router_id), self.clock(), sessions, spared)
        if changes:
            log.info("ipam.nas-reset", nas=nas_id, released=len(changes))
        ops = self._eager(changes)
        shared = self.engine is not None and self.engine.dialect.name == "postgresql"  # (None: tests)
        if shared and self.alloc.has_pools():  # other nodes' rows
            only = None if sessions is None else event.nas_address
            ops.append(NasLeasesOp(event.router_id, partial(self._release_stored, nas_id), only, since))
        return ops

    def _release_stored(self, nas_id: str, rows: list[Lease]) -> LeaseOp | None:
        """Inside the transaction of an Accounting-On/Off: the NAS's rows still offered or
        leased in the database. Those this node's memory holds live as stored (taken after the
        reset it handled: the reset released every other) stay; the others, written by another
        node, are taken into memory and released under the ``release`` guard."""
        now = self.clock()
        changes: list[Change] = []
        for row in rows:
            if row.pool not in self.configs:
                continue
            try:
                current = self.alloc.lookup(row.address)
            except PoolError:
                continue
            same = current is not None and (current.owner, current.session) == (row.owner, row.session)
            if same and current is not None and current.state in LIVE:
                continue
            if row.owner is None or not self.alloc.apply(row):  # (a change of it pending here)
                continue
            ch = self.alloc.release(row.address, row.owner, now)
            if ch is not None:
                changes.append(ch)
        if not changes:
            return None
        log.info("ipam.nas-reset", nas=nas_id, released=len(changes), source="database")
        return self._eager_op(changes)
