"""Duplicate detection (RFC 5080 §2.2.2): a retransmission is answered from a cache.

A request is identified by its source address and port, Identifier and Request
Authenticator. While the first copy is being handled a retransmission is dropped; once the
reply is sent, a retransmission gets the same reply bytes and the handler does not run
again. Entries live ``ttl`` seconds; the cache holds at most ``max_entries`` (oldest first
out), so memory stays bounded under a flood of distinct requests. Expired entries are
removed from the old end in small batches every ``EXPIRE_EVERY`` requests (faster than they
arrive, so the cache tracks the live request rate), and any expired entry found by a lookup
is treated as absent.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

IN_FLIGHT = b""  # marker: the request is being handled, no reply yet
EXPIRE_EVERY = 16  # begin() calls between two looks at the oldest entries
EXPIRE_BUDGET = 64  # entries removed at most per look (4x the insert rate)


class DedupeCache:
    def __init__(self, ttl: float = 30.0, max_entries: int = 200_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        # key -> (expires_at, reply bytes or IN_FLIGHT); insertion order == age order
        self._entries: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._until_expire = EXPIRE_EVERY

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: Hashable, now: float) -> bytes | None:
        """None when unseen (or expired); IN_FLIGHT while handled; else the cached reply."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < now:
            del self._entries[key]
            return None
        return entry[1]

    def begin(self, key: Hashable, now: float) -> None:
        """Mark ``key`` in flight (evicting the oldest entries when full or expired)."""
        entries = self._entries
        if len(entries) >= self.max_entries:
            entries.popitem(last=False)
        entries[key] = (now + self.ttl, IN_FLIGHT)
        self._until_expire -= 1
        if not self._until_expire:
            self._until_expire = EXPIRE_EVERY
            self._expire_some(now)

    def finish(self, key: Hashable, reply: bytes, now: float) -> None:
        """Store the reply sent for ``key`` (it stays where it was inserted, by age)."""
        entries = self._entries
        if key in entries:
            entries[key] = (now + self.ttl, reply)

    def forget(self, key: Hashable) -> None:
        """Drop ``key`` (no reply was sent: the next retransmission is handled afresh)."""
        self._entries.pop(key, None)

    def _expire_some(self, now: float, budget: int = EXPIRE_BUDGET) -> None:
        entries = self._entries
        for _ in range(budget):
            if not entries:
                return
            key, (expires, _reply) = next(iter(entries.items()))
            if expires >= now:
                return
            del entries[key]
