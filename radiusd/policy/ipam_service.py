"""The daemon side of IPAM: the in-memory allocator, made durable by the writer.

- Start-up (:meth:`IpamService.load`): pools and every lease row are read from the database
  and fed to :meth:`ipam.Allocator.load`, so after a crash the allocator holds exactly the
  committed state: an address whose Access-Accept was sent is leased (its row was committed
  first), an offer whose commit never happened was never acknowledged.
- Access-Request (:meth:`assign`, the AddressAssigner seam): allocate in memory (O(1)), put a
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

Owner key (decision): the username. A subscriber allowed several simultaneous sessions
(Simultaneous-Use > 1) gets one owner key per slot: the username for the first, then
``username<US>2``, ``username<US>3``... (US = ``\\x1f``, which no username contains), the first
slot without a live lease being used. Each slot is sticky on its own; accounting maps a slot
back to its username. Static addresses (``subscribers.static_ipv4`` inside a pool) are
reserved for their username and handed out like any pooled address.

A pool scoped to a NAS is used only for that NAS; a login with no pool gets the NAS's pool.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ipam import AdoptStatus, Allocator, Change, Lease, LeaseError, LeaseState, PoolError
from ipam.lease import LIVE
from ipam.utilisation import is_warning
from radiusd.clock import ClockWatch
from radiusd.codec.attributes_gen import DELEGATED_IPV6_PREFIX, FRAMED_IP_ADDRESS, FRAMED_IPV6_PREFIX
from radiusd.config import Settings
from radiusd.logs import get_logger
from radiusd.model.request import Request
from radiusd.model.writes import WriterBusy, WriterClosed
from radiusd.store.lease_feed import LeaseFeed, LeaseReadOp, asyncpg_dsn
from radiusd.store.lease_ops import LeaseOp
from radiusd.store.pools import (
    SLOT_SEP,
    SUFFIX,
    PoolConfig,
    build_allocator,
    group_of,
    lease_row,
    load_configs,
    load_lease_rows,
    load_leases,
    username_of,
)

from .directory import Directory, PlanView, SubscriberView
from .seams import Assignment

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from radiusd.model.events import AcctEvent
    from radiusd.model.writes import Operation
    from radiusd.store.writer import Writer

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


class IpamService:
    """AddressAssigner + LeaseHooks over one :class:`ipam.Allocator` (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        writer: Writer,
        settings: Settings,
        directory: Directory | None = None,
        *,
        clock: Callable[[], float] = time.time,
        node: str | None = None,
        watch: ClockWatch | None = None,
    ) -> None:
        self.engine = engine
        self.writer = writer
        self.settings = settings
        self.directory = directory
        self.clock = clock
        #: wall-clock steps, noticed by the sweep (a step is not time passing: see radiusd.clock)
        self.watch = watch if watch is not None else ClockWatch.for_clock(settings.sweep_interval, clock)
        self.alloc = Allocator()
        self.region = (0, 1)  # this node's rank among the live nodes, and their number
        self.configs: dict[str, PoolConfig] = {}
        self._nas_pool: dict[int, str] = {}  # router id -> its NAS-scoped pool (operator name)
        self._dirty: set[str] = set()  # addresses whose row must be written again (hook failed)
        self._warned: set[str] = set()
        self._rows_cache: dict[str, list[str]] = {}  # group -> its usable pool rows, for _rows_of
        self._rows_of: Allocator | None = None
        #: this node's name in lease announcements to the other nodes (PostgreSQL)
        self.node = node or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        # figures for metrics and tests
        self.allocated = 0
        self.exhausted = 0
        self.ipv6_exhausted = 0  # logins given IPv4 only: their pool's IPv6 side was exhausted
        self._v6_exhausted_logged: dict[str, float] = {}
        self.conflicts = 0
        self.claims_lost = 0  # items another node held when this one claimed them (claimed again)
        # other nodes' writes on their way into memory (see run_feed)
        self.feed: LeaseFeed | None = None
        self._sync_items: set[str] = set()
        self._sync_since: dt.datetime | None = None
        self._syncing = False

    # -- loading --------------------------------------------------------------------------

    def _build(self, configs: dict[str, PoolConfig]) -> Allocator:
        alloc = build_allocator(
            configs.values(), offer_ttl=self.settings.offer_ttl, sticky_ttl=self.settings.sticky_ttl
        )
        alloc.prefer(*self.region)
        return alloc

    def prefer(self, rank: int, count: int) -> None:
        """This node is number ``rank`` of ``count`` live nodes: begin handing out never-used
        items in a region of every range of its own (nodes then rarely reach for the same
        item at once; the database's guard makes it harmless when they do)."""
        if (rank, count) == self.region:
            return
        self.alloc.prefer(rank, count)
        self.region = (rank, count)
        log.info("ipam.region", rank=rank, nodes=count)

    def _set_configs(self, configs: dict[str, PoolConfig]) -> None:
        self.configs = configs
        self._nas_pool = {
            c.router_id: c.group for c in configs.values() if c.router_id is not None and c.kind == "ipv4"
        }

    async def load(self) -> None:
        """Build the allocator from the pool tables and every lease row (start-up)."""
        async with self.engine.connect() as conn:
            configs = await load_configs(conn)
            rows = await load_leases(conn)
        alloc = self._build(configs)
        orphans = alloc.load(rows)
        self.alloc = alloc
        self._set_configs(configs)
        for row in orphans:
            log.warning("ipam.orphan-lease", address=row.address, state=str(row.state), owner=row.owner)
        usage = alloc.usage()
        log.info(
            "ipam.loaded",
            pools=len(configs),
            leases=sum(1 for r in rows if r.state in LIVE),
            allocated=sum(u.allocated for u in usage.values()),
        )

    async def start(self) -> None:
        """Load, then reserve the static addresses of subscribers (the writer must run)."""
        await self.load()
        await self.reserve_statics()

    async def reserve_statics(self) -> int:
        """Reserve every subscriber's static IPv4 address that lies in a pool; returns how many
        reservations changed. A static address held by someone else is logged as a conflict."""
        if self.directory is None:
            return 0
        changes: list[Change] = []
        for sub in self.directory.subscribers.values():
            ip = sub.static_ip
            if not ip or self.alloc.find(ip) is None:
                continue
            current = self.alloc.lookup(ip)
            if current is not None and current.reserved and current.owner == sub.username:
                continue
            try:
                changes.append(self.alloc.reserve(ip, sub.username))
            except PoolError as exc:
                self.conflicts += 1
                log.warning("ipam.static-conflict", user=sub.username, address=ip, error=str(exc))
        await self._write_settled(changes)
        return len(changes)

    # -- writing --------------------------------------------------------------------------

    def _op(
        self, changes: Sequence[Change], undo: Callable[[], None] | None, end: str = "release"
    ) -> LeaseOp:
        """The writer operation of ``changes``: an item taken into use (or reserved) is written
        under the ``hold`` guard, one that ends under ``end`` (``release`` or ``expire``)."""
        when = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        configs = self.configs
        v4: list[dict[str, Any]] = []
        v6: list[dict[str, Any]] = []
        started: list[dict[str, Any]] = []
        ended: list[dict[str, Any]] = []
        for ch in changes:
            lease, before = ch.lease, ch.before
            cfg = configs[lease.pool]
            which, row = lease_row(lease, cfg, when)
            held = lease.state in LIVE or LeaseState.RESERVED in (lease.state, before.state)
            row["guard"] = "hold" if held else end
            (v4 if which == "v4" else v6).append(row)
            live, was_live = lease.state in LIVE, before.state in LIVE
            same_holder = was_live and before.owner == lease.owner
            if was_live and not (live and same_holder):
                ended.append({"a": lease.address, "t": when})
            if live and not same_holder and lease.owner is not None:
                started.append(
                    {
                        "username": username_of(lease.owner),
                        "subscriber_id": None,
                        "address": lease.address,
                        "family": 4 if which == "v4" else 6,
                        "pool_name": cfg.group,
                        "router_id": row["router_id"],
                        "session_key": lease.session,
                        "assigned_at": when,
                        "released_at": None,
                    }
                )
        return LeaseOp(v4, v6, started, ended, undo, node=self.node)

    def _settle(self, changes: Sequence[Change], op: LeaseOp) -> list[Change]:
        """Settle committed ``changes``: those whose row another node holds (``op.lost``) are
        rolled back and the stored rows taken into memory; returns the lost changes."""
        lost = op.lost
        if not lost:
            self.alloc.commit_all(changes)
            return []
        gone = [ch for ch in changes if ch.address in lost]
        self.alloc.commit_all(ch for ch in changes if ch.address not in lost)
        self.alloc.rollback_all(gone)
        self.take_rows(lost.values())
        return gone

    def take_rows_of(self, rows: dict[str, Lease]) -> None:
        self.take_rows(rows.values())

    def take_rows(self, rows: Iterable[Lease]) -> None:
        """Take stored rows (written by another node) into memory."""
        for row in rows:
            if row.pool in self.configs:
                self.alloc.apply(row)

    async def _write_settled(self, changes: list[Change], end: str = "release") -> bool:
        """Write ``changes`` and settle them: commit after the transaction, rollback if it failed
        (or if another node held the row: see :meth:`_settle`)."""
        if not changes:
            return True
        op = self._op(changes, lambda: self.alloc.rollback_all(changes), end)
        try:
            await self.writer.submit(op)
        except (WriterBusy, WriterClosed):
            op.rolled_back()
            return False
        except Exception as exc:  # rolled back by the writer (op.rolled_back)
            log.warning("ipam.write-failed", changes=len(changes), error=f"{type(exc).__name__}: {exc}"[:300])
            return False
        for ch in self._settle(changes, op):
            log.info("ipam.held-elsewhere", address=ch.address, wanted=str(ch.lease.state))
        return True

    def _eager(self, changes: list[Change], end: str = "release") -> list[Operation]:
        """Operations for hook changes, settled in memory now (see the module docstring). A
        row another node holds is not written; the stored row is taken into memory when the
        transaction reads it (and a NAS that reports it is logged as a conflict)."""
        if not changes:
            return []
        for ch in changes:
            self.alloc.commit(ch)
        addresses = [ch.address for ch in changes]
        op = self._op(changes, lambda: self._dirty.update(addresses), end)
        op.on_lost = self._hook_lost
        return [op]

    def _hook_lost(self, rows: dict[str, Lease]) -> None:
        for row in rows.values():
            self.conflicts += 1
            log.warning(
                "ipam.conflict",
                address=row.address,
                holder=username_of(row.owner),
                holder_state=str(row.state),
                source="database",
            )
        self.take_rows(rows.values())

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
            return sub.username
        pool = self.alloc.pool(row)
        for slot in range(1, limit + 1):
            owner = sub.username if slot == 1 else f"{sub.username}{SLOT_SEP}{slot}"
            if pool.live(owner) is None:
                return owner
        return sub.username

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

    async def assign(
        self, request: Request, subscriber: SubscriberView, plan: PlanView | None, pool: str | None
    ) -> Assignment:
        """Allocate from ``pool`` (or the pool of the subscriber's static address, or the NAS's
        pool) and return once the lease is committed; a reject reason when exhausted."""
        out, claimed = self.assign_nowait(request, subscriber, plan, pool)
        if claimed is not None:
            await claimed  # a failed commit raises here (no reply); rolled_back() returned the addresses
        return out

    def assign_nowait(
        self,
        request: Request,
        subscriber: SubscriberView,
        plan: PlanView | None,
        pool: str | None,
        *,
        notes: bool = True,
    ) -> tuple[Assignment, asyncio.Future[None] | None]:
        """:meth:`assign` without a coroutine: allocate and queue the lease at once.

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
        if sub.static_ip and static is None:
            return self._unpooled(sub), None  # a static address outside every pool: sent as configured
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

    # -- LeaseHooks -----------------------------------------------------------------------

    def _expiry(self, ev: AcctEvent, now: float) -> float:
        s = self.settings
        interval = ev.interim_interval or s.default_interim_interval
        return now + s.interim_grace_factor * interval + s.interim_grace

    @staticmethod
    def _items(ev: AcctEvent) -> list[str]:
        return [a for a in (ev.framed_ip, ev.framed_ipv6_prefix, ev.delegated_ipv6_prefix) if a]

    def _confirm(self, ev: AcctEvent) -> list[Operation]:
        if not ev.username:
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

    def on_nas_reset(self, nas_id: str, event: AcctEvent) -> list[Operation]:
        """Accounting-On/Off: every lease of that NAS ends."""
        if event.router_id is None:
            return []
        changes = self.alloc.release_all_for_nas(str(event.router_id), self.clock())
        if changes:
            log.info("ipam.nas-reset", nas=nas_id, released=len(changes))
        return self._eager(changes)

    # -- sweep ----------------------------------------------------------------------------

    async def sweep_once(self) -> int:
        """Expire what is due, re-write addresses whose hook write failed, warn on utilisation.
        A step of the wall clock since the last sweep moves every expiry with it first, so
        that nothing expires because of the step."""
        step = self.watch.look()
        if step:
            self.alloc.shift(step)
            log.warning("clock.jump", seconds=round(step, 1), action="lease expiries moved with it")
        changes = self.alloc.expire(self.clock())
        if changes and await self._write_settled(changes, end="expire"):
            log.info("ipam.expired", changes=len(changes))
        if self._dirty:
            await self._resync()
        self.check_utilisation()
        return len(changes)

    async def _resync(self) -> None:
        addresses, self._dirty = self._dirty, set()
        await self._write_current(addresses, dirty_on_failure=True)

    async def _write_current(self, addresses: Iterable[str], *, dirty_on_failure: bool) -> None:
        when = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        v4: list[dict[str, Any]] = []
        v6: list[dict[str, Any]] = []
        done: list[str] = []
        for address in addresses:
            lease = self.alloc.lookup(address)
            if lease is None or lease.pool not in self.configs:
                continue
            which, row = lease_row(lease, self.configs[lease.pool], when)
            row["guard"] = "hold" if lease.state in LIVE or lease.state is LeaseState.RESERVED else "release"
            (v4 if which == "v4" else v6).append(row)
            done.append(address)
        if not done:
            return
        undo = (lambda: self._dirty.update(done)) if dirty_on_failure else None
        op = LeaseOp(v4, v6, undo=undo, node=self.node)
        op.on_lost = self.take_rows_of
        try:
            await self.writer.submit(op)
        except Exception as exc:
            if dirty_on_failure:
                self._dirty.update(done)
            log.warning("ipam.resync-failed", addresses=len(done), error=f"{type(exc).__name__}: {exc}"[:300])

    def check_utilisation(self) -> list[str]:
        """Log pools at or above their warning threshold (once per crossing); their names."""
        default = self.settings.utilisation_warning_pct
        over: list[str] = []
        for name, usage in self.alloc.usage().items():
            cfg = self.configs.get(name)
            threshold = cfg.warning_pct if cfg is not None and cfg.warning_pct is not None else default
            if is_warning(usage, threshold):
                over.append(name)
                if name not in self._warned:
                    self._warned.add(name)
                    log.warning(
                        "ipam.utilisation-high",
                        pool=group_of(name),  # the operator's pool, with the family apart
                        kind=cfg.kind if cfg is not None else None,
                        percent_used=round(usage.percent_used, 1),
                        threshold=threshold,
                        allocated=usage.allocated,
                        reserved=usage.reserved,
                        total=usage.total,
                    )
            elif name in self._warned:
                self._warned.discard(name)
                log.info(
                    "ipam.utilisation-ok",
                    pool=group_of(name),
                    kind=cfg.kind if cfg is not None else None,
                    percent_used=round(usage.percent_used, 1),
                )
        return over

    async def run_sweeper(self, interval: float | None = None) -> None:
        every = interval if interval is not None else self.settings.sweep_interval
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep_once()
            except Exception:  # keep sweeping; the next round retries
                log.exception("ipam.sweep-error")

    # -- other nodes' writes ----------------------------------------------------------------

    async def run_feed(self) -> None:
        """Take other nodes' lease writes into memory as they are announced (PostgreSQL only;
        returns at once on SQLite, which serves one node)."""
        if self.engine.dialect.name != "postgresql":
            return
        self.feed = LeaseFeed(
            asyncpg_dsn(self.engine.url),
            self.node,
            self._written_elsewhere,
            self._catch_up,
            poll_interval=self.settings.lease_feed_poll,
        )
        await self.feed.run()

    def _written_elsewhere(self, items: list[str]) -> None:
        self._sync_items.update(items)
        self._sync()

    def _catch_up(self, since: dt.datetime) -> None:
        self._read_since(since)
        self._sync()

    def _read_since(self, since: dt.datetime) -> None:
        """Ask the next read for every row changed at or after ``since`` (the earliest asked)."""
        if self._sync_since is None or since < self._sync_since:
            self._sync_since = since

    def _sync(self) -> None:
        """Read what other nodes wrote, one read through the writer at a time."""
        if self._syncing or not (self._sync_items or self._sync_since):
            return
        items, self._sync_items = self._sync_items, set()
        since, self._sync_since = self._sync_since, None
        op = LeaseReadOp(items, since)
        try:
            read = self.writer.submit(op)
        except (WriterBusy, WriterClosed):
            self._sync_later(items, since)
            return
        self._syncing = True

        def done(fut: asyncio.Future[None]) -> None:
            self._syncing = False
            if fut.cancelled() or fut.exception() is not None:
                self._sync_later(items, since)
                return
            self.take_rows(op.rows.values())
            self._sync()

        read.add_done_callback(done)

    def _sync_later(self, items: set[str], since: dt.datetime | None) -> None:
        self._sync_items |= items
        if since is not None:
            self._read_since(since)
        asyncio.get_running_loop().call_later(0.5, self._sync)

    # -- change feed ----------------------------------------------------------------------

    async def apply_changes(self, keys: Sequence[str | None]) -> None:
        """Change feed topic ``pool``: rebuild pools (lease state carried over from memory),
        then apply CLI lease edits (``lease:ADDR``) and write the result back."""
        lease_keys = [k[6:] for k in keys if k is not None and k.startswith("lease:")]
        if len(lease_keys) != len(keys):
            await self.reload_pools()
        if lease_keys:
            await self._apply_lease_edits(lease_keys)

    async def reload_pools(self) -> None:
        """Rebuild the pools from the database, keeping every in-memory lease (memory is the
        authority while the daemon runs). A change still pending in the old pools settles
        there: at worst an address stays offered until its offer expires, never twice."""
        async with self.engine.connect() as conn:
            configs = await load_configs(conn)
        try:
            alloc = self._build(configs)
        except PoolError as exc:
            log.error("ipam.reload-refused", error=str(exc))
            return
        orphans = alloc.load(self.alloc.dump())
        for row in orphans:
            if row.state in LIVE or row.state is LeaseState.RESERVED:
                log.warning("ipam.orphan-lease", address=row.address, state=str(row.state), owner=row.owner)
        self.alloc = alloc
        self._set_configs(configs)
        log.info("ipam.pools-reloaded", pools=len(configs))
        await self.reserve_statics()

    async def _apply_lease_edits(self, addresses: list[str]) -> None:
        now = self.clock()
        changes: list[Change] = []
        stored = await load_lease_rows(self.engine, addresses)
        for address, row in stored.items():
            current = self.alloc.lookup(address)
            if current is None:
                continue
            try:
                if row.state is LeaseState.RESERVED:
                    if not (current.reserved and current.owner == row.owner):
                        changes.append(self.alloc.reserve(address, row.owner))
                elif current.state is LeaseState.RESERVED:
                    ch = self.alloc.unreserve(address)
                    changes += [ch] if ch is not None else []
                elif row.state not in LIVE and current.state in LIVE and current.owner is not None:
                    ch = self.alloc.release(address, current.owner, now)
                    changes += [ch] if ch is not None else []
            except PoolError as exc:
                log.warning("ipam.lease-edit-refused", address=address, error=str(exc))
        await self._write_settled(changes)
        await self._write_current(addresses, dirty_on_failure=True)  # memory is the authority


__all__ = ["IpamService", "encode_item"]
