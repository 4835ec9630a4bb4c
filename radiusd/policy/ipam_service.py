"""The daemon side of IPAM: the in-memory allocator, made durable by the writer.

- Start-up (:meth:`IpamService.load`): pools and every lease row are read from the database
  and fed to :meth:`ipam.Allocator.load`, so after a crash the allocator holds exactly the
  committed state: an address whose Access-Accept was sent is leased (its row was committed
  first), an offer whose commit never happened was never acknowledged.
- Access-Request (:meth:`assign_nowait`, the AddressAssigner seam): allocate in memory (O(1)), put a
  :class:`~radiusd.store.lease_ops.LeaseOp` (lease row upsert + assignment history row) on
  the group-commit writer and await the commit; only then is the Access-Accept built. If the
  transaction fails, the op's ``rolled_back()`` gives the address back (``Allocator.rollback``)
  and no reply is sent (the NAS retransmits). Exhaustion of the pool and its fallbacks: an
  Access-Reject with the reason in the log, never a duplicate; when only the IPv6 side of a
  dual-stack pool is exhausted, the login gets its IPv4 address alone (``ipv6_exhausted =
  "ipv4-only"``, the default: a subscriber keeps connectivity; logged once a minute per pool and
  counted) or is rejected (``"reject"``).
- Accounting (:class:`~radiusd.policy.seams.LeaseHooks`): Start confirms, Interim-Update
  renews (expiry k x Acct-Interim-Interval + grace), Stop releases (sticky hold), Accounting-
  On/Off releases every lease of the NAS. The Framed-IP-Address a NAS reports is
  authoritative: an address the server did not hand out is adopted if free and logged as a
  conflict if not. Hook changes are settled in memory at once (the hooks return operations
  that the accounting handler queues; their commit is not reported back): if their
  transaction fails, the addresses are marked and the sweep writes their in-memory state
  again. Memory may run ahead of the database there, never hand an address out twice: the
  lease row is keyed by address.
- The sweep (:meth:`sweep_once`, every ``sweep_interval``): offers not confirmed within
  ``offer_ttl`` and leases without accounting within k x interval + grace end; sticky holds
  end after ``sticky_ttl``; all written through the writer. Utilisation at or above a pool's
  threshold (else ``utilisation_warning_pct``) is logged when it is crossed.
- Change feed topic ``pool`` (:meth:`apply_changes`): pools are rebuilt from the database
  with the in-memory lease state carried over; ``lease:ADDR`` keys (CLI reserve, unreserve,
  release) are applied to memory and the result written back, so memory stays the authority.

Owner key: the username, one key per Simultaneous-Use slot (:mod:`ipam.owners`). Static
addresses (``subscribers.static_ipv4`` inside a pool) are reserved for their username and
handed out like any pooled address.

Where it sits (decision): this service is policy, not ipam/. It awaits the group-commit writer,
reads lease rows, listens to other nodes and encodes RADIUS attributes, while ipam/ stays pure
and synchronous (no database, no asyncio, no clock). The rules it applies live in ipam/: pool
groups and :func:`ipam.groups.load_allocator`, owner slots, the utilisation rule; the store
only reads and writes rows. The state and its writing are in :mod:`.ipam_base`, the
accounting hooks in :mod:`.ipam_hooks`, the sweep and the feeds in :mod:`.ipam_upkeep`.

A pool scoped to a NAS is used only for that NAS; a login with no pool gets the NAS's pool.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ipam import Change
from ipam.groups import SUFFIX, group_of
from ipam.owners import slot_owner
from radiusd.codec.attributes_gen import DELEGATED_IPV6_PREFIX, FRAMED_IP_ADDRESS, FRAMED_IPV6_PREFIX
from radiusd.logs import get_logger
from radiusd.model.request import Request
from radiusd.model.writes import WriterBusy, WriterClosed
from radiusd.store.lease_ops import LeaseOp

from .directory import PlanView, SubscriberView
from .ipam_hooks import IpamHooks
from .ipam_upkeep import IpamUpkeep
from .seams import Assignment

if TYPE_CHECKING:
    pass


log = get_logger("radiusd.ipam")

#: how many times one login claims another item after losing one to another node before it
#: is dropped unanswered (the NAS retransmits); each loss teaches memory the stored row
MAX_CLAIM_ROUNDS = 32

_ATTR = {"ipv4": FRAMED_IP_ADDRESS, "ipv6-wan": FRAMED_IPV6_PREFIX, "ipv6-pd": DELEGATED_IPV6_PREFIX}


def encode_item(kind: str, text: str) -> bytes:
    """Attribute value of an item: 4 octets (RFC 2865 §5.8) or Reserved, Prefix-Length, Prefix
    (RFC 3162 §2.3, RFC 4818 §3; only the octets the prefix length covers)."""
    if kind == "ipv4":
        return socket.inet_pton(socket.AF_INET, text)  # ~30x faster than ipaddress; text is canonical
    net = ipaddress.IPv6Network(text)
    return bytes((0, net.prefixlen)) + net.network_address.packed[: (net.prefixlen + 7) // 8]


@dataclass(slots=True, eq=False)
class _Claim:
    """One login's items on their way into the database (see :meth:`IpamService.assign_nowait`)."""

    owner: str
    nas: str
    notes: bool
    out: Assignment = field(default_factory=Assignment)
    items: dict[str, Change] = field(default_factory=dict)  # pool row -> claimed change
    pending: dict[str, Change] = field(default_factory=dict)  # pool row -> change being claimed
    skipped: list[str] = field(default_factory=list)
    done: asyncio.Future[None] | None = None
    rounds: int = 0


class IpamService(IpamHooks, IpamUpkeep):
    """AddressAssigner + LeaseHooks over one :class:`ipam.Allocator` (see the module docstring):
    the state, loading and writing in :class:`~.ipam_base.IpamBase`, the hooks in
    :mod:`.ipam_hooks`, the sweep and the feeds in :mod:`.ipam_upkeep`, the assigner here."""

    # -- AddressAssigner ------------------------------------------------------------------

    def wants(self, subscriber: SubscriberView, plan: PlanView | None, pool: str | None) -> bool:
        if not self.configs:
            return False
        if pool is not None or self._nas_pool:
            return True
        return subscriber.static_ip is not None and self.alloc.find(subscriber.static_ip) is not None

    def _owner(self, sub: SubscriberView, plan: PlanView | None, row: str | None) -> str:
        limit = (
            sub.simultaneous_use
            if sub.simultaneous_use is not None
            else (plan.simultaneous_use if plan else None)
        )
        if limit is None or limit <= 1 or row is None:
            return sub.username  # one session allowed: no slot to look up (the common case)
        return slot_owner(sub.username, limit, self.alloc.pool(row))

    def _rows(self, group: str) -> list[str]:
        """The ``ip_pools`` rows of ``group`` that can hand something out (cached per allocator)."""
        if self._rows_of is not self.alloc:
            self._rows_cache.clear()
            self._rows_of = self.alloc
        rows = self._rows_cache.get(group)
        if rows is None:
            rows = [group + s for s in SUFFIX.values() if group + s in self.configs]
            rows = [r for r in rows if self.alloc.pool(r).ranges or self.alloc.pool(r).fallback]
            self._rows_cache[group] = rows
        return rows

    def assign_nowait(
        self,
        request: Request,
        subscriber: SubscriberView,
        plan: PlanView | None,
        pool: str | None,
        *,
        notes: bool = True,
    ) -> tuple[Assignment, asyncio.Future[None] | None]:
        """Allocate from ``pool`` (or the pool of the subscriber's static address, or the NAS's
        pool) at once and queue the lease (the AddressAssigner seam); a reject reason when
        exhausted.

        Returns the assignment and a future resolved once every item of it is claimed in the
        database (None when nothing was written: a reject or an unpooled address). The
        Access-Accept may be sent only once that future has succeeded, and must then be built
        from the assignment as it is at that moment: an item that another node held is
        claimed again with another candidate first (attributes replaced), and exhaustion
        after such a loss turns the assignment into a reject. If a commit fails, the future
        fails and the addresses are back in their pool. ``notes=False`` skips the trace notes."""
        sub = subscriber
        nas = request.nas
        static = self.alloc.find(sub.static_ip) if sub.static_ip else None
        if sub.static_ip and (static is None or not static.contains(sub.static_ip)):
            # outside every pool, or inside a pool's range but excluded from it (a gateway, an
            # address an older import left out): the pool never hands it out, so it is sent as
            # configured, not replaced by a dynamic address
            if notes and static is not None:
                request.note(f"  static {sub.static_ip} excluded from pool {static.name!r}: as configured")
            return self._unpooled(sub), None
        group = group_of(static.name) if static is not None else pool
        if group is None:
            group = self._nas_pool.get(nas.id)
            if group is None:
                return self._unpooled(sub), None
        base = self.configs.get(group)
        if base is None:
            return Assignment(reject_reason=f"pool {group!r} does not exist"), None
        if base.router_id is not None and base.router_id != nas.id:
            reason = f"pool {group!r} is for NAS {base.nas!r} only, not {nas.name!r}"
            return Assignment(reject_reason=reason), None
        rows = self._rows(group)
        if not rows:
            return Assignment(reject_reason=f"pool {group!r} has no ranges"), None
        owner = self._owner(sub, plan, rows[0] if rows[0] == group else None)
        claim = _Claim(owner, str(nas.id), notes)
        if not self._allocate(claim, rows, self.clock()):
            self.exhausted += 1
            return claim.out, None
        self._render(claim)
        claim.done = asyncio.get_running_loop().create_future()
        self._submit(claim)
        return claim.out, claim.done

    def _allocate(self, claim: _Claim, rows: Sequence[str], now: float) -> bool:
        """Allocate an item of each pool row for ``claim`` (into ``claim.pending``); False, with
        the reject reason set and nothing left allocated, when a row is exhausted."""
        added: list[Change] = []
        for row in rows:
            ch = self.alloc.allocate(row, claim.owner, now, nas=claim.nas)
            if ch is None:
                if (added or claim.items) and self._ipv4_only(row, [*claim.items.values(), *added], now):
                    claim.skipped.append(f"{self.configs[row].kind} pool {row!r} exhausted: IPv4 only")
                    continue
                self.alloc.rollback_all(added)
                claim.pending.clear()
                claim.out.attributes.clear()
                claim.out.reject_reason = f"pool {row!r} is exhausted (fallbacks included)"
                return False
            added.append(ch)
            claim.pending[row] = ch
        return True

    def _render(self, claim: _Claim) -> None:
        """The assignment's attributes from every item claimed or being claimed, and the trace
        notes of this round's items."""
        out = claim.out
        out.attributes.clear()
        configs = self.configs
        for ch in (*claim.items.values(), *claim.pending.values()):
            kind = configs[ch.pool].kind
            out.attributes.append((_ATTR[kind], encode_item(kind, ch.address)))
        if claim.notes:  # the items of this round (earlier rounds' are noted already)
            for ch in claim.pending.values():
                kind, state = configs[ch.pool].kind, ch.lease.state
                out.notes.append(f"{kind} {ch.address} from pool {ch.pool!r} ({state} to {claim.owner!r})")
            out.notes.extend(claim.skipped)
            claim.skipped.clear()

    def _submit(self, claim: _Claim) -> None:
        changes = list(claim.pending.values())
        op = self._op(changes, lambda: self.alloc.rollback_all(changes))
        try:
            commit = self.writer.submit(op)
        except (WriterBusy, WriterClosed):
            op.rolled_back()
            raise
        commit.add_done_callback(lambda fut: self._claimed(claim, op, fut))

    def _claimed(self, claim: _Claim, op: LeaseOp, commit: asyncio.Future[None]) -> None:
        """Writer callback of a claim: settle it; claim again what another node held."""
        done = claim.done
        assert done is not None
        failure = WriterClosed("cancelled") if commit.cancelled() else commit.exception()
        if failure is not None:
            if not done.done():  # the writer rolled the changes back through the op
                done.set_exception(failure)
            return
        pending, claim.pending = claim.pending, {}
        gone = self._settle(list(pending.values()), op)
        if not gone:
            claim.items.update(pending)
            self.allocated += 1
            if not done.done():
                done.set_result(None)
            return
        self.claims_lost += len(gone)
        lost_rows = [row for row, ch in pending.items() if ch in gone]
        claim.items.update((row, ch) for row, ch in pending.items() if ch not in gone)
        claim.rounds += 1
        if claim.rounds >= MAX_CLAIM_ROUNDS:
            log.warning("ipam.claim-gave-up", owner=claim.owner, rounds=claim.rounds)
            done.set_exception(WriterBusy(f"no item claimed after {claim.rounds} rounds"))
            return
        if claim.notes:
            claim.out.notes.extend(f"{ch.address} is held by another node: claiming another" for ch in gone)
        if not self._allocate(claim, lost_rows, self.clock()):
            self.exhausted += 1
            done.set_result(None)  # the assignment now carries the reject reason
            return
        self._render(claim)
        try:
            self._submit(claim)
        except (WriterBusy, WriterClosed) as exc:
            done.set_exception(exc)

    def _ipv4_only(self, row: str, allocated: list[Change], now: float) -> bool:
        """Whether a login goes on without ``row`` (an exhausted IPv6 row) with the IPv4 address
        it already has (``ipv6_exhausted = "ipv4-only"``); counted, logged once a minute per pool."""
        configs = self.configs
        if self.settings.ipv6_exhausted != "ipv4-only" or configs[row].kind == "ipv4":
            return False
        if not any(configs[c.pool].kind == "ipv4" for c in allocated):
            return False
        self.ipv6_exhausted += 1
        if now - self._v6_exhausted_logged.get(row, -1e9) >= 60.0:
            self._v6_exhausted_logged[row] = now
            log.warning("ipam.ipv6-exhausted", pool=row, action="IPv4 only", logins=self.ipv6_exhausted)
        return True

    def _unpooled(self, sub: SubscriberView) -> Assignment:
        if sub.static_ip:  # not in any pool: sent as configured
            return Assignment([(FRAMED_IP_ADDRESS, ipaddress.IPv4Address(sub.static_ip).packed)])
        return Assignment()


__all__ = ["IpamService", "encode_item"]
