"""A model of the lease tables' guarded writes (radiusd.store.lease_ops), in plain Python.

The stateful multi-node test runs several IPAM nodes against this model instead of a database
(thousands of interleavings a second); tests/integration/test_ipam_guard_model.py checks, case
by case on PostgreSQL, that the model and the SQL guards decide alike.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ipam import Lease
from radiusd.policy.directory import SubscriberView
from radiusd.store.lease_ops import LeaseOp, lease_state

IN_USE = ("offered", "leased")


@dataclass(frozen=True)
class Row:
    """A stored lease row: the ``state`` column, owner and expiry (epoch seconds or None)."""

    state: str
    owner: str | None
    expires: float | None


def allowed(guard: str, stored: Row | None, proposed: Row, now: float) -> bool:
    """Whether a row written under ``guard`` replaces ``stored`` at database time ``now``."""
    if stored is None or guard == "force":
        return True
    same = stored.owner == proposed.owner
    if guard == "hold":
        expired = stored.state in IN_USE and stored.expires is not None and stored.expires < now
        return same or stored.state not in (*IN_USE, "reserved") or expired
    held = same and stored.state in (*IN_USE, "released")
    if guard == "release":
        return held
    if guard == "expire":
        return held and stored.expires is not None and stored.expires <= now
    raise ValueError(f"unknown guard {guard!r}")


def row_of(values: dict[str, Any]) -> Row:
    expires = values["expires_at"]
    return Row(values["state"], values["owner"], None if expires is None else expires.timestamp())


@dataclass
class Database:
    """IPv4 lease rows of one pool, by address, written under their guards."""

    pool: str
    now: float = 0.0
    rows: dict[str, Row] = field(default_factory=dict)
    writes: int = 0
    lost: int = 0
    #: writes that took an item from another holder whose claim had not ended: must stay 0
    stolen: list[tuple[str, Row, Row]] = field(default_factory=list)

    def lease(self, address: str) -> Lease:
        r = self.rows[address]
        when = None if r.expires is None else dt.datetime.fromtimestamp(r.expires, dt.UTC)
        state = lease_state(r.state, when)
        return Lease(self.pool, address, state, r.owner, r.expires, reserved=state.value == "reserved")

    def apply(self, op: LeaseOp) -> None:
        """Write an op's rows in order; the lost ones as stored go to ``op.lost``."""
        lost: dict[str, Lease] = {}
        for values in op.v4:
            address = values["address"]
            proposed = row_of(values)
            stored = self.rows.get(address)
            if allowed(values.get("guard") or "force", stored, proposed, self.now):
                if (
                    stored is not None
                    and stored.state in IN_USE
                    and stored.owner != proposed.owner
                    and stored.expires is not None
                    and stored.expires >= self.now
                ):
                    self.stolen.append((address, stored, proposed))
                self.rows[address] = proposed
                lost.pop(address, None)
                self.writes += 1
            else:
                lost[address] = self.lease(address)
                self.lost += 1
        op.lost = lost
        if lost and op.on_lost is not None:
            op.on_lost(lost)


class ModelWriter:
    """The group-commit writer's interface over :class:`Database`: every op commits at once."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def submit(self, op: Any) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if isinstance(op, LeaseOp):
            self.db.apply(op)
        fut.set_result(None)
        return fut


@dataclass
class FakeNas:
    """The NAS of a login, as the IPAM service reads it (id and name)."""

    id: int = 0
    name: str = "bras"


@dataclass
class FakeRequest:
    """A login's request, as the IPAM service reads it (its NAS)."""

    nas: FakeNas = field(default_factory=FakeNas)


def subscriber(name: str) -> SubscriberView:
    """An active subscriber with no plan, pool or static address."""
    return SubscriberView(name, None, "active", None, None, None, None, None, None, None)
