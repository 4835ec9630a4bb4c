"""Duplicate detection (RFC 5080 §2.2.2): a retransmission is answered from a cache.

A request is identified by its source address and port, Identifier and Request
Authenticator. While the first copy is being handled a retransmission is dropped; once the
reply is sent, a retransmission gets the same reply bytes and the handler does not run
again. Entries live ``ttl`` seconds. Memory is bounded twice, oldest first out: by
``max_bytes`` (each entry counts its reply's length plus :data:`ENTRY_OVERHEAD`, what the
key, the tuples and the dictionary slot cost, measured with tracemalloc) and by
``max_entries``. Replies run from 20 octets to 4096, so a count alone does not bound the
memory: 200,000 replies of 4 KB would be 800 MB. Expired entries are removed from the old
end in small batches every ``EXPIRE_EVERY`` requests (faster than they arrive, so the cache
tracks the live request rate), and any expired entry found by a lookup is treated as absent.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

IN_FLIGHT = b""  # marker: the request is being handled, no reply yet
EXPIRE_EVERY = 16  # begin() calls between two looks at the oldest entries
EXPIRE_BUDGET = 64  # entries removed at most per look (4x the insert rate)
#: bytes an entry costs besides its reply's octets: the key (address tuple, address string,
#: port, authenticator), the entry tuple and its float, the reply's object header and the
#: OrderedDict's slot and link (about 440 bytes measured on CPython 3.11, 64-bit)
ENTRY_OVERHEAD = 440
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class DedupeCache:
    __slots__ = ("_entries", "_until_expire", "max_bytes", "max_entries", "nbytes", "ttl")

    def __init__(
        self, ttl: float = 30.0, max_entries: int = 200_000, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        #: what the entries cost, counted as the class docstring says
        self.nbytes = 0
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
            self.nbytes -= ENTRY_OVERHEAD + len(entry[1])
            return None
        return entry[1]

    def begin(self, key: Hashable, now: float) -> None:
        """Mark ``key`` in flight (evicting the oldest entries when full or expired); called
        only after :meth:`lookup` returned None for it."""
        entries = self._entries
        if len(entries) >= self.max_entries or self.nbytes + ENTRY_OVERHEAD > self.max_bytes:
            self._evict(self.max_entries - 1, self.max_bytes - ENTRY_OVERHEAD)
        entries[key] = (now + self.ttl, IN_FLIGHT)  # a new key: lookup() said None
        self.nbytes += ENTRY_OVERHEAD
        self._until_expire -= 1
        if not self._until_expire:
            self._until_expire = EXPIRE_EVERY
            self._expire_some(now)

    def finish(self, key: Hashable, reply: bytes, now: float) -> None:
        """Store the reply sent for ``key`` (it stays where it was inserted, by age); once per
        :meth:`begin`, so the entry still holds IN_FLIGHT."""
        entries = self._entries
        if key in entries:
            entries[key] = (now + self.ttl, reply)
            self.nbytes += len(reply)
            if self.nbytes > self.max_bytes:
                self._evict(self.max_entries, self.max_bytes)

    def forget(self, key: Hashable) -> None:
        """Drop ``key`` (no reply was sent: the next retransmission is handled afresh)."""
        old = self._entries.pop(key, None)
        if old is not None:
            self.nbytes -= ENTRY_OVERHEAD + len(old[1])

    def _evict(self, max_entries: int, max_bytes: int) -> None:
        """Drop the oldest entries until at most ``max_entries`` and ``max_bytes`` are left."""
        entries = self._entries
        while entries and (len(entries) > max_entries or self.nbytes > max_bytes):
            _key, (_expires, reply) = entries.popitem(last=False)
            self.nbytes -= ENTRY_OVERHEAD + len(reply)

    def _expire_some(self, now: float, budget: int = EXPIRE_BUDGET) -> None:
        entries = self._entries
        for _ in range(budget):
            if not entries:
                return
            key, (expires, reply) = next(iter(entries.items()))
            if expires >= now:
                return
            del entries[key]
            self.nbytes -= ENTRY_OVERHEAD + len(reply)
