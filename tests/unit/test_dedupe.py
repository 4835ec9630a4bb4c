"""The duplicate-detection cache (RFC 5080 §2.2.2) with an explicit clock: lifetimes, the
in-flight marker, bounded memory."""

from __future__ import annotations

from radiusd.server.dedupe import IN_FLIGHT, DedupeCache

KEY = (("127.0.0.1", 40000), 7, b"A" * 16)
REPLY = b"\x02\x07\x00\x14" + b"R" * 16


def test_unseen_in_flight_then_cached() -> None:
    cache = DedupeCache(ttl=30.0)
    assert cache.lookup(KEY, 0.0) is None
    cache.begin(KEY, 0.0)
    assert cache.lookup(KEY, 0.1) == IN_FLIGHT
    cache.finish(KEY, REPLY, 0.2)
    assert cache.lookup(KEY, 0.3) == REPLY
    assert len(cache) == 1


def test_the_key_is_the_whole_triple() -> None:
    cache = DedupeCache()
    cache.begin(KEY, 0.0)
    cache.finish(KEY, REPLY, 0.0)
    (addr, ident, auth) = KEY
    assert cache.lookup(((addr[0], addr[1] + 1), ident, auth), 0.1) is None  # other source port
    assert cache.lookup(((("127.0.0.2", addr[1])), ident, auth), 0.1) is None  # other source address
    assert cache.lookup((addr, ident + 1, auth), 0.1) is None  # other Identifier
    assert cache.lookup((addr, ident, b"B" * 16), 0.1) is None  # other Request Authenticator


def test_entries_expire_ttl_after_the_reply() -> None:
    cache = DedupeCache(ttl=5.0)
    cache.begin(KEY, 0.0)
    cache.finish(KEY, REPLY, 2.0)  # the lifetime counts from the reply
    assert cache.lookup(KEY, 6.9) == REPLY
    assert cache.lookup(KEY, 7.1) is None
    assert len(cache) == 0  # an expired entry found by a lookup is removed


def test_an_in_flight_entry_expires_too() -> None:
    cache = DedupeCache(ttl=1.0)
    cache.begin(KEY, 0.0)
    assert cache.lookup(KEY, 0.5) == IN_FLIGHT
    assert cache.lookup(KEY, 1.5) is None


def test_forget_lets_the_next_copy_through() -> None:
    cache = DedupeCache()
    cache.begin(KEY, 0.0)
    cache.forget(KEY)
    assert cache.lookup(KEY, 0.1) is None
    cache.finish(KEY, REPLY, 0.2)  # a reply for a forgotten request is not cached
    assert cache.lookup(KEY, 0.3) is None
    cache.forget(KEY)  # forgetting twice is harmless


def test_memory_is_bounded_oldest_first_out() -> None:
    cache = DedupeCache(ttl=1000.0, max_entries=3)
    keys = [(("10.0.0.1", 1000 + i), i, b"x" * 16) for i in range(5)]
    for i, key in enumerate(keys):
        cache.begin(key, float(i))
        cache.finish(key, bytes([i]), float(i))
        assert len(cache) <= 3
    assert [cache.lookup(k, 5.0) for k in keys] == [None, None, b"\x02", b"\x03", b"\x04"]


def test_expired_entries_are_swept_while_requests_arrive() -> None:
    cache = DedupeCache(ttl=1.0, max_entries=1_000_000)
    old = [(("10.0.0.1", p), 0, b"o" * 16) for p in range(100)]
    for key in old:
        cache.begin(key, 0.0)
        cache.finish(key, REPLY, 0.0)
    # Much later, new traffic alone (no lookups of the old keys) must clear the old entries.
    for p in range(200):
        cache.begin((("10.0.0.2", p), 0, b"n" * 16), 100.0)
    assert len(cache) == 200


def _accounted(cache: DedupeCache) -> int:
    from radiusd.server.dedupe import ENTRY_OVERHEAD

    return sum(ENTRY_OVERHEAD + len(reply) for _expires, reply in cache._entries.values())


def test_large_replies_are_bounded_by_bytes_not_entries() -> None:
    """Replies of up to 4096 octets (RFC 2865 §3): an entry count alone would let 200,000 of
    them take 800 MB; ``max_bytes`` keeps the newest ones that fit, oldest first out."""
    cache = DedupeCache(ttl=1000.0, max_entries=200_000, max_bytes=1_000_000)
    keys = [(("10.0.0.1", 1000 + i), i & 255, i.to_bytes(16, "big")) for i in range(2000)]
    for i, key in enumerate(keys):
        cache.begin(key, float(i))
        cache.finish(key, bytes([i & 255]) * 4096, float(i))
        assert cache.nbytes <= cache.max_bytes
    assert cache.nbytes == _accounted(cache)
    kept = len(cache)
    assert 200 < kept < 1_000_000 // 4096
    assert all(cache.lookup(k, 2000.0) is None for k in keys[: 2000 - kept])
    assert cache.lookup(keys[-1], 2000.0) == bytes([1999 & 255]) * 4096


def test_byte_count_follows_every_way_out() -> None:
    cache = DedupeCache(ttl=1.0, max_entries=5, max_bytes=10**9)
    keys = [(("10.0.0.1", p), 0, b"k" * 16) for p in range(40)]
    for i, key in enumerate(keys[:8]):  # entry bound evicts
        cache.begin(key, 0.0)
        cache.finish(key, b"x" * (100 * i), 0.0)
    assert len(cache) == 5 and cache.nbytes == _accounted(cache)
    cache.forget(keys[7])  # forgotten
    cache.lookup(keys[6], 5.0)  # expired at lookup
    assert cache.nbytes == _accounted(cache)
    for key in keys[8:40]:  # swept while new requests arrive; some stay in flight
        cache.begin(key, 10.0)
    assert cache.nbytes == _accounted(cache)
    cache.forget(keys[39])
    assert cache.nbytes == _accounted(cache)


def test_real_memory_stays_near_max_bytes() -> None:
    """What ``max_bytes`` promises is what the process pays (the overhead per entry is real)."""
    import os
    import tracemalloc

    budget = 4 * 1024 * 1024
    cache = DedupeCache(ttl=1000.0, max_entries=10**7, max_bytes=budget)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(20_000):  # fresh objects, as from the socket: source tuple, reply bytes
            key = ((f"10.{i % 250}.{i % 199}.{i % 97}", 1024 + i % 60000), i & 255, os.urandom(16))
            cache.begin(key, 0.0)
            cache.finish(key, os.urandom(64 + i % 2000), 0.0)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.nbytes <= budget
    assert used <= budget * 1.15, f"{used} bytes used for a budget of {budget}"
