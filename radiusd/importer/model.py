"""What an import carries over, and the report of what it cannot carry over."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from radiusd.model.sessions import LiveSession

from .mask import mask_text

KINDS = ("nas", "plans", "subscribers", "pools", "ranges", "reservations", "leases", "sessions")


@dataclass(frozen=True, slots=True)
class Skipped:
    """One source row (or part of one) that was not carried over, and why."""

    source: str  # table or file name
    row: str  # row id / line number
    subject: str  # user, group, NAS... the row belongs to
    reason: str

    def line(self) -> str:
        return f"{self.source} row {self.row} ({self.subject}): {self.reason}"


@dataclass(slots=True)
class Report:
    """Not-carried-over items and, once written (or dry-run), counts per kind."""

    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def skip(self, source: str, row: object, subject: str, reason: str) -> None:
        """Report a row not carried over; secret-looking values in ``reason`` are masked."""
        self.skipped.append(Skipped(source, str(row), subject, mask_text(reason)))

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        per = self.counts.setdefault(kind, {"created": 0, "updated": 0, "unchanged": 0})
        per[outcome] = per.get(outcome, 0) + n

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": {k: self.counts.get(k, {"created": 0, "updated": 0, "unchanged": 0}) for k in KINDS},
            "not_carried_over": [
                {"source": s.source, "row": s.row, "subject": s.subject, "reason": s.reason}
                for s in self.skipped
            ],
            "notes": list(self.notes),
        }


@dataclass(slots=True)
class NasItem:
    name: str
    address: str
    secret: str
    vendor: str = "generic"
    description: str | None = None
    #: Access-Requests without Message-Authenticator dropped (the default of ``nas add``)
    require_message_authenticator: bool = True


@dataclass(slots=True)
class PlanItem:
    name: str
    description: str | None = None
    pool_name: str | None = None
    simultaneous_use: int | None = None
    session_timeout: int | None = None
    interim_interval: int | None = None
    rate_limit: str | None = None
    reply_attributes: list[list[str]] = field(default_factory=list)


@dataclass(slots=True)
class SubscriberItem:
    username: str
    credential: str
    status: str = "active"
    plan: str | None = None
    pool_name: str | None = None
    static_ipv4: str | None = None
    simultaneous_use: int | None = None
    reply_attributes: list[list[str]] = field(default_factory=list)
    expires_at: dt.datetime | None = None


@dataclass(slots=True)
class PoolItem:
    """An IPv4 pool: the addresses FreeRADIUS listed (ranges are computed by the writer)."""

    name: str
    addresses: list[int] = field(default_factory=list)


@dataclass(slots=True)
class LeaseItem:
    """A live lease (``state`` leased) or a static address reservation (``state`` reserved)."""

    address: str
    pool: str | None  # None: whichever pool contains it (reservations)
    owner: str
    state: str
    expires_at: dt.datetime | None = None
    nas_address: str | None = None
    session_key: str | None = None
    source: str = ""


@dataclass(slots=True)
class ImportData:
    nas: list[NasItem] = field(default_factory=list)
    plans: list[PlanItem] = field(default_factory=list)
    subscribers: list[SubscriberItem] = field(default_factory=list)
    pools: list[PoolItem] = field(default_factory=list)
    leases: list[LeaseItem] = field(default_factory=list)
    #: open accounting sessions, in the daemon's own shape and keyed as it keys them
    #: (Acct-Unique-Session-Id, :func:`radiusd.model.events.unique_session_id`)
    sessions: list[LiveSession] = field(default_factory=list)
