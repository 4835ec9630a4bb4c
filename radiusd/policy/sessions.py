"""The in-memory session table: open sessions by Acct-Unique-Session-Id, live counts per user.

The table is the accounting state machine's memory (radiusd.policy.accounting_state) and the
Simultaneous-Use counter of the access policy (:meth:`SessionTable.open_sessions`). It is
loaded at start from the open (and recently closed) rows of ``radius_sessions`` and changed
only through a :class:`Change`: one per request, recording the state each session had before
the request touched it, so that a failed commit can be undone.

Changes to one session stack up while their commits are pending. Undoing one also undoes
(and cancels) every later pending change of the same session, whatever order the writer
reports failures in: a later change was computed on top of the failed one (its usage deltas,
its counter baseline), so it must not be written either. A cancelled change writes nothing
and its request gets no reply; the NAS retransmits and the request is computed afresh.

Closed sessions stay in the table for ``closed_ttl`` seconds so that a retransmitted Stop, or
an Interim-Update arriving after the Stop, is recognised (it neither reopens the session nor
counts usage twice), but never more than ``closed_max`` of them, the oldest closed forgotten
first: at 200 session ends a second a day of them would hold millions of records. A NAS
retransmits a Stop within seconds; on PostgreSQL a request for a forgotten session is checked
against the stored row anyway (its revision), so forgetting costs a reread, not a double count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from radiusd.model.sessions import Change, LiveSession


@dataclass(slots=True)
class SessionTable:
    """Sessions by unique id; open ones counted per username and grouped per NAS address."""

    closed_ttl: float = 86_400.0
    closed_max: int = 20_000
    _sessions: dict[str, LiveSession] = field(default_factory=dict)
    _closed: dict[str, None] = field(default_factory=dict)  # closed sessions, oldest closed first
    _by_user: dict[str, int] = field(default_factory=dict)
    _by_nas: dict[str, set[str]] = field(default_factory=dict)
    _pending: dict[str, list[Change]] = field(default_factory=dict)

    # -- reading --------------------------------------------------------------------------

    def get(self, unique_id: str) -> LiveSession | None:
        return self._sessions.get(unique_id)

    def open_sessions(self, username: str) -> int:
        """Live sessions of ``username`` (SessionCounter, for Simultaneous-Use)."""
        return self._by_user.get(username, 0)

    def open_of_nas(self, nas_address: str) -> list[LiveSession]:
        return [self._sessions[u] for u in sorted(self._by_nas.get(nas_address, ()))]

    def open_by_nas(self) -> dict[str, int]:
        """Open sessions per NAS address: the size of each group, no walk over the sessions."""
        return {address: len(ids) for address, ids in self._by_nas.items()}

    def open_all(self) -> Iterator[LiveSession]:
        for ids in self._by_nas.values():
            for uid in ids:
                yield self._sessions[uid]

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def open_count(self) -> int:
        return sum(len(ids) for ids in self._by_nas.values())

    def pending(self, unique_id: str) -> int:
        return len(self._pending.get(unique_id, ()))

    # -- changing -------------------------------------------------------------------------

    def begin(self) -> Change:
        return Change(self)

    def load(self, sessions: Iterable[LiveSession]) -> int:
        """Replace the table with stored sessions (daemon start); returns how many."""
        self._sessions.clear()
        self._closed.clear()
        self._by_user.clear()
        self._by_nas.clear()
        self._pending.clear()
        n = 0
        for s in sessions:
            self._put(s.unique_id, s)
            n += 1
        return n

    def reloaded(self, unique_id: str, stored: LiveSession | None) -> None:
        """Take what the database holds for a session whose last commit's outcome was unknown
        (None: no row, so that commit did not happen)."""
        self._put(unique_id, stored)

    def closed_elsewhere(self, stored: LiveSession) -> bool:
        """Take a closure made outside the daemon (a Disconnect answered with Error-Cause 503,
        RFC 5176 §3.5) into memory; ignored while this daemon has writes pending for it or
        when the stored row is still open. True when the in-memory session was closed."""
        uid = stored.unique_id
        mine = self._sessions.get(uid)
        if stored.is_open or uid in self._pending or mine is None or not mine.is_open:
            return False
        self._put(uid, stored)
        return True

    def prune_closed(self, now: dt.datetime) -> int:
        """Forget closed sessions last updated more than ``closed_ttl`` ago, and the oldest
        closed beyond ``closed_max``; never one with a write pending."""
        cutoff = now - dt.timedelta(seconds=self.closed_ttl)
        excess = len(self._closed) - self.closed_max
        gone = []
        for uid in self._closed:
            if uid in self._pending:
                continue
            if excess > 0 or self._sessions[uid].updated_at < cutoff:
                gone.append(uid)
                excess -= 1
        for uid in gone:
            del self._sessions[uid]
            del self._closed[uid]
        return len(gone)

    def _put(self, uid: str, new: LiveSession | None) -> None:
        old = self._sessions.get(uid)
        if old is not None and old.is_open:
            n = self._by_user[old.username] - 1
            if n:
                self._by_user[old.username] = n
            else:
                del self._by_user[old.username]
            ids = self._by_nas[old.nas_address]
            ids.discard(uid)
            if not ids:
                del self._by_nas[old.nas_address]
        self._closed.pop(uid, None)
        if new is None:
            self._sessions.pop(uid, None)
            return
        self._sessions[uid] = new
        if not new.is_open:
            self._closed[uid] = None
        if new.is_open:
            self._by_user[new.username] = self._by_user.get(new.username, 0) + 1
            self._by_nas.setdefault(new.nas_address, set()).add(uid)
