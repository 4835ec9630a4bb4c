"""Lease lifecycle of one pool and of the Allocator: each operation and its edges."""

from __future__ import annotations

import pytest

from ipam import AdoptStatus, Allocator, Change, Lease, LeaseError, LeaseState, Pool, PoolError

S = LeaseState


def settle(alloc: Allocator | Pool, change: Change | None) -> Change:
    assert change is not None
    alloc.commit(change)
    return change


def small(**kw: float) -> Allocator:
    return Allocator([Pool("p", "ipv4", ["10.0.0.0/29"], offer_ttl=10, sticky_ttl=100, **kw)])  # type: ignore[arg-type]


def test_offer_confirm_renew_release_cycle() -> None:
    a = small()
    c = settle(a, a.allocate("p", "alice", 0, nas="nas1", session="s1"))
    assert (c.before.state, c.lease.state, c.lease.owner, c.lease.expires) == (S.FREE, S.OFFERED, "alice", 10)
    c = settle(a, a.confirm(c.address, "alice", 1, 301, session="s1"))
    assert (c.lease.state, c.lease.expires, c.lease.nas) == (S.LEASED, 301, "nas1")
    c = settle(a, a.renew(c.address, "alice", 200, 500))
    assert c.lease.expires == 500
    c = settle(a, a.release(c.address, "alice", 300))
    assert (c.lease.state, c.lease.owner, c.lease.expires) == (S.RELEASED, "alice", 400)
    assert a.release(c.address, "alice", 301) is None  # retransmitted Stop: nothing to do
    assert a.pool("p").usage().held == 1


def test_confirm_and_renew_refuse_items_not_live_for_the_owner() -> None:
    a = small()
    c = settle(a, a.allocate("p", "alice", 0))
    with pytest.raises(LeaseError, match="bob"):
        a.confirm(c.address, "bob", 1, 100)
    with pytest.raises(LeaseError):
        a.renew("10.0.0.6", "alice", 1, 100)
    with pytest.raises(PoolError, match="not in any pool"):
        a.confirm("192.0.2.1", "alice", 1, 100)
    assert a.release(c.address, "bob", 1) is None  # a late Stop of someone else changes nothing
    assert a.lookup(c.address).state is S.OFFERED  # type: ignore[union-attr]


def test_idempotent_reoffer_returns_the_same_item() -> None:
    a = small()
    first = settle(a, a.allocate("p", "alice", 0))
    again = settle(a, a.allocate("p", "alice", 5))
    assert again.address == first.address and again.lease.expires == 15  # offer hold extended
    settle(a, a.confirm(first.address, "alice", 6, 600))
    leased = settle(a, a.allocate("p", "alice", 7))
    assert (leased.address, leased.lease.state, leased.lease.expires) == (first.address, S.LEASED, 600)
    assert a.pool("p").usage().allocated == 1


def test_sticky_release_then_same_item_back() -> None:
    a = small()
    addr = settle(a, a.allocate("p", "alice", 0)).address
    settle(a, a.release(addr, "alice", 1))
    others = [settle(a, a.allocate("p", f"u{i}", 2)).address for i in range(5)]
    assert addr not in others  # the held item is the last resort
    assert settle(a, a.allocate("p", "alice", 3)).address == addr


def test_sticky_survives_the_hold_expiry_while_nobody_took_it() -> None:
    a = small()
    addr = settle(a, a.allocate("p", "alice", 0)).address
    settle(a, a.release(addr, "alice", 1))
    expired = a.expire(200)
    assert [(c.address, c.lease.state, c.lease.owner) for c in expired] == [(addr, S.FREE, "alice")]
    a.commit_all(expired)
    assert settle(a, a.allocate("p", "alice", 201)).address == addr


def test_held_items_go_to_others_only_when_nothing_else_is_free() -> None:
    a = small()
    first = [settle(a, a.allocate("p", f"u{i}", 0)).address for i in range(6)]
    for i, addr in enumerate(first):
        settle(a, a.release(addr, f"u{i}", 1))
    got = [settle(a, a.allocate("p", f"new{i}", 2)).address for i in range(6)]
    assert got == first  # oldest hold first
    assert a.allocate("p", "late", 2) is None


def test_exhaustion_returns_none_never_a_duplicate() -> None:
    a = small()
    got = {settle(a, a.allocate("p", f"u{i}", 0)).address for i in range(6)}
    assert len(got) == 6
    assert a.allocate("p", "u99", 0) is None
    assert a.pool("p").usage().percent_used == 100.0


def test_fallback_pool_when_exhausted_and_idempotence_across_the_chain() -> None:
    a = Allocator(
        [
            Pool("main", "ipv4", ["10.0.0.0/31"], fallback="spare"),
            Pool("spare", "ipv4", ["10.0.1.0/31"]),
        ]
    )
    got = [settle(a, a.allocate("main", f"u{i}", 0)).address for i in range(4)]
    assert got == ["10.0.0.0", "10.0.0.1", "10.0.1.0", "10.0.1.1"]
    assert a.allocate("main", "u9", 0) is None
    settle(a, a.release("10.0.0.0", "u0", 1))  # main has room again ...
    assert settle(a, a.allocate("main", "u3", 2)).address == "10.0.1.1"  # ... but u3 keeps its item
    with pytest.raises(PoolError, match="no pool"):
        Allocator([Pool("x", "ipv4", ["10.9.0.0/31"], fallback="nope")]).allocate("x", "a", 0)


def test_fallback_cycles_and_kind_mismatch_are_refused() -> None:
    a = Allocator(
        [
            Pool("x", "ipv4", ["10.0.0.0/31"], fallback="y"),
            Pool("y", "ipv4", ["10.0.1.0/31"], fallback="x"),
            Pool("z", "ipv4", ["10.0.2.0/31"], fallback="w"),
            Pool("w", "ipv6-wan", ["2001:db8::/48"]),
        ]
    )
    with pytest.raises(PoolError, match="cycle"):
        a.allocate("x", "o", 0)
    with pytest.raises(PoolError, match="is not ipv4"):
        a.allocate("z", "o", 0)


def test_rollback_restores_the_item_and_nobody_gets_it_meanwhile() -> None:
    a = small()
    c = a.allocate("p", "alice", 0)  # pending: the writer has not committed yet
    assert c is not None
    assert a.expire(1000) == []  # pending items are not expired
    assert a.allocate("p", "bob", 0).address != c.address  # type: ignore[union-attr]
    assert a.rollback(c)
    assert a.lookup(c.address).state is S.FREE  # type: ignore[union-attr]
    assert a.by_owner("alice") == []
    # the rolled-back item is handed out again (never-used ones first, then the free queue)
    got = [settle(a, a.allocate("p", f"u{i}", 1)).address for i in range(5)]
    assert got[-1] == c.address and a.allocate("p", "last", 1) is None
    with pytest.raises(LeaseError, match="already"):
        a.rollback(c)


def test_rollback_of_a_batch_in_reverse_order() -> None:
    a = small()
    c = settle(a, a.allocate("p", "alice", 0))
    settle(a, a.confirm(c.address, "alice", 1, 100))
    batch = [a.renew(c.address, "alice", 50, 150), a.release(c.address, "alice", 60)]
    a.rollback_all([x for x in batch if x is not None])
    lease = a.lookup(c.address)
    assert lease is not None and (lease.state, lease.expires) == (S.LEASED, 100)


def test_rollback_superseded_by_a_later_change_is_a_no_op() -> None:
    a = small()
    c1 = a.allocate("p", "alice", 0)
    c2 = a.allocate("p", "alice", 1)  # retransmission while the first is in flight
    assert c1 is not None and c2 is not None
    assert a.rollback(c1) is False
    a.commit(c2)
    assert a.lookup(c1.address).state is S.OFFERED  # type: ignore[union-attr]


def test_expire_offers_and_leases() -> None:
    a = small()
    offered = settle(a, a.allocate("p", "o", 0)).address  # expires at 10
    leased = settle(a, a.allocate("p", "l", 0)).address
    settle(a, a.confirm(leased, "l", 1, 50))
    settle(a, a.renew(leased, "l", 40, 80))  # the stale heap entry at 50 must be ignored
    assert a.next_deadline() == 10
    out = a.expire(60)
    assert [(c.address, c.before.state, c.lease.state) for c in out] == [(offered, S.OFFERED, S.RELEASED)]
    a.commit_all(out)
    out = a.expire(80)
    assert [(c.address, c.before.state, c.lease.state) for c in out] == [(leased, S.LEASED, S.RELEASED)]
    a.commit_all(out)
    assert a.pool("p").usage().allocated == 0


def test_zero_sticky_ttl_frees_at_once() -> None:
    a = Allocator([Pool("p", "ipv4", ["10.0.0.0/30"], sticky_ttl=0)])
    c = settle(a, a.allocate("p", "alice", 0))
    assert settle(a, a.release(c.address, "alice", 1)).lease.state is S.FREE


def test_release_all_for_nas() -> None:
    a = small()
    x = settle(a, a.allocate("p", "x", 0, nas="n1")).address
    y = settle(a, a.allocate("p", "y", 0, nas="n2")).address
    z = settle(a, a.allocate("p", "z", 0, nas="n1")).address
    settle(a, a.confirm(z, "z", 1, 100))
    out = a.release_all_for_nas("n1", 5)
    assert sorted(c.address for c in out) == sorted([x, z])
    assert all(c.lease.state is S.RELEASED for c in out)
    a.commit_all(out)
    assert a.release_all_for_nas("n1", 6) == []
    assert a.lookup(y).state is S.OFFERED  # type: ignore[union-attr]


def test_release_all_for_nas_of_named_sessions() -> None:
    """A NAS entry shared by several NASes: a reset ends only the items of the sessions named."""
    a = small()
    x = settle(a, a.allocate("p", "x", 0, nas="n1", session="s-x")).address
    y = settle(a, a.allocate("p", "y", 0, nas="n1", session="s-y")).address
    z = settle(a, a.allocate("p", "z", 0, nas="n1")).address  # no session yet: whose, unknown
    out = a.release_all_for_nas("n1", 5, {"s-x", "s-gone"})
    assert [c.address for c in out] == [x]
    a.commit_all(out)
    assert a.lookup(y).state is S.OFFERED and a.lookup(z).state is S.OFFERED  # type: ignore[union-attr]
    assert a.release_all_for_nas("n1", 6, set()) == []


def test_adopt_outcomes() -> None:
    a = small()
    own = settle(a, a.allocate("p", "alice", 0)).address
    r = a.adopt(own, "alice", 1, 100, nas="n1", session="s")
    assert r.status is AdoptStatus.OWN and r.change is not None and r.change.lease.state is S.LEASED
    settle(a, r.change)
    r = a.adopt(own, "bob", 1, 100)
    assert r.status is AdoptStatus.CONFLICT and r.change is None and r.holder.owner == "alice"  # type: ignore[union-attr]
    r = a.adopt("10.0.0.5", "bob", 1, 100, nas="n1")  # never used, beyond the cursor
    assert r.status is AdoptStatus.ADOPTED
    settle(a, r.change)
    assert a.adopt("10.0.0.0", "bob", 1, 100).status is AdoptStatus.UNMANAGED  # network address
    assert a.adopt("192.0.2.1", "bob", 1, 100).status is AdoptStatus.UNMANAGED
    # the cursor skips the adopted address
    got = {settle(a, a.allocate("p", f"u{i}", 2)).address for i in range(4)}
    assert "10.0.0.5" not in got and a.allocate("p", "u9", 2) is None


def test_adopt_takes_a_sticky_hold_but_not_a_reservation() -> None:
    a = small()
    addr = settle(a, a.allocate("p", "alice", 0)).address
    settle(a, a.release(addr, "alice", 1))
    r = a.adopt(addr, "bob", 2, 100)
    assert r.status is AdoptStatus.ADOPTED
    settle(a, r.change)
    settle(a, a.reserve("10.0.0.6"))
    assert a.adopt("10.0.0.6", "bob", 2, 100).status is AdoptStatus.CONFLICT


def test_reservations() -> None:
    a = small()
    settle(a, a.reserve("10.0.0.1"))  # operator: never handed out
    settle(a, a.reserve("10.0.0.6", "alice"))  # alice's static address
    got = {settle(a, a.allocate("p", f"u{i}", 0)).address for i in range(4)}
    assert got == {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}
    assert a.allocate("p", "u9", 0) is None
    assert a.pool("p").usage() == (6, 4, 2, 0, 0)
    c = settle(a, a.allocate("p", "alice", 0))
    assert (c.address, c.lease.reserved) == ("10.0.0.6", True)
    assert settle(a, a.release("10.0.0.6", "alice", 1)).lease.state is S.RESERVED
    with pytest.raises(PoolError, match="reserved for alice"):
        a.reserve("10.0.0.6", "bob")
    with pytest.raises(PoolError, match="offered for u0"):
        a.reserve("10.0.0.2")
    with pytest.raises(PoolError, match="for the operator"):
        a.reserve("10.0.0.1", "alice")
    with pytest.raises(PoolError, match="not in any pool"):
        a.reserve("10.1.0.1")
    c = settle(a, a.unreserve("10.0.0.6"))
    assert (c.lease.state, c.lease.owner, c.lease.reserved) == (S.FREE, "alice", False)
    assert a.unreserve("10.0.0.6") is None
    assert settle(a, a.allocate("p", "alice", 2)).address == "10.0.0.6"  # still sticky


def test_one_static_item_per_owner_and_pool() -> None:
    a = small()
    settle(a, a.reserve("10.0.0.2", "alice"))
    with pytest.raises(PoolError, match=r"already has static 10\.0\.0\.2"):
        a.reserve("10.0.0.3", "alice")


def test_reserve_an_item_in_use_by_the_same_owner() -> None:
    a = small()
    addr = settle(a, a.allocate("p", "alice", 0)).address
    c = settle(a, a.reserve(addr, "alice"))
    assert (c.lease.state, c.lease.reserved) == (S.OFFERED, True)
    assert a.expire(100)[0].lease.state is S.RESERVED


def test_lookups() -> None:
    a = Allocator([small().pool("p"), Pool("pd", "ipv6-pd", ["2001:db8::/40/56"])])
    v4 = settle(a, a.allocate("p", "alice", 0)).address
    v6 = settle(a, a.allocate("pd", "alice", 0)).address
    assert [x.address for x in a.by_owner("alice")] == [v4, v6]
    assert a.lookup("2001:db8::1") == a.lookup(v6)
    assert a.lookup("2001:db8:0:100::/56").state is S.FREE  # type: ignore[union-attr]
    assert a.lookup("2001:db9::") is None
    assert a.find("10.0.0.3").name == "p"  # type: ignore[union-attr]


def test_utilisation_per_pool_and_range_and_threshold() -> None:
    a = Allocator([Pool("p", "ipv4", ["10.0.0.0/30", "10.0.1.0/30"]), Pool("q", "ipv4", ["10.0.2.0/24"])])
    for i in range(3):
        settle(a, a.allocate("p", f"u{i}", 0))
    settle(a, a.release("10.0.0.1", "u0", 1))
    u = a.pool("p").usage()
    assert (u.total, u.allocated, u.reserved, u.free, u.held) == (4, 2, 0, 2, 1)
    assert u.percent_used == 50.0
    assert a.pool("p").range_usage() == {"10.0.0.0/30": (2, 1, 0, 1, 1), "10.0.1.0/30": (2, 1, 0, 1, 0)}
    assert [name for name, _ in a.over_threshold(50)] == ["p"]
    assert a.over_threshold(51) == []


def test_remove_range_refused_with_live_leases() -> None:
    a = Allocator([Pool("p", "ipv4", ["10.0.0.0/30", "10.0.1.0/30"])])
    settle(a, a.allocate("p", "alice", 0))
    with pytest.raises(PoolError, match=r"10\.0\.0\.0/30 still has 1 live"):
        a.remove_range("p", "10.0.0.0/30")
    settle(a, a.release("10.0.0.1", "alice", 1))
    a.remove_range("p", "10.0.0.0/30")
    assert a.lookup("10.0.0.1") is None and a.by_owner("alice") == []
    assert settle(a, a.allocate("p", "alice", 2)).address == "10.0.1.1"
    with pytest.raises(PoolError, match="still has 1 allocated"):
        a.remove_pool("p")
    with pytest.raises(PoolError, match="no range"):
        a.remove_range("p", "10.9.0.0/30")


def test_load_rebuilds_the_exact_state() -> None:
    def build() -> Allocator:
        return Allocator(
            [
                Pool("p", "ipv4", ["10.0.0.0/28"], exclude=["10.0.0.1"], offer_ttl=10, sticky_ttl=100),
                Pool("pd", "ipv6-pd", ["2001:db8::/40/56"]),
            ]
        )

    a = build()
    for i in range(8):
        settle(a, a.allocate("p", f"u{i}", 0, nas="n1", session=f"s{i}"))
        settle(a, a.allocate("pd", f"u{i}", 0))
    for i in range(3):
        settle(a, a.confirm(a.pool("p").live(f"u{i}").address, f"u{i}", 1, 500))  # type: ignore[union-attr]
    for i in (3, 4):
        settle(a, a.release(a.by_owner(f"u{i}")[0].address, f"u{i}", 2))
    settle(a, a.reserve("10.0.0.14", "static"))
    settle(a, a.reserve("10.0.0.13"))
    a.commit_all(a.expire(103))
    rows = a.dump()

    b = build()
    assert b.load(rows) == []
    assert b.dump() == rows
    assert b.usage() == a.usage()
    # both hand out the same next items and expire the same things
    for alloc in (a, b):
        alloc.commit_all(alloc.expire(1000))
    assert b.dump() == a.dump()
    assert [settle(b, b.allocate("p", f"n{i}", 1001)).address for i in range(5)] == [
        settle(a, a.allocate("p", f"n{i}", 1001)).address for i in range(5)
    ]

    orphans = build().load([*rows, rows[0]._replace(address="192.0.2.9")])
    assert [o.address for o in orphans] == ["192.0.2.9"]
    with pytest.raises(PoolError, match="twice"):
        build().load([rows[0], rows[0]])


def test_adopt_ends_the_owners_unused_offer() -> None:
    a = small()
    offered = settle(a, a.allocate("p", "alice", 0)).address
    r = a.adopt("10.0.0.6", "alice", 1, 100)
    assert r.status is AdoptStatus.ADOPTED and r.replaced is not None
    assert (r.replaced.address, r.replaced.lease.state) == (offered, S.RELEASED)
    settle(a, r.change)
    settle(a, r.replaced)
    assert settle(a, a.allocate("p", "alice", 2)).address == "10.0.0.6"


def test_prefer_starts_each_node_in_its_own_region_and_runs_on_past_it() -> None:
    nodes = [Pool("p", "ipv4", ["10.0.0.0/29"], offer_ttl=30) for _ in range(3)]  # .1-.6
    for rank, pool in enumerate(nodes):
        pool.prefer(rank, 3)
    firsts = [p.allocate("first", 0.0).lease.address for p in nodes]  # type: ignore[union-attr]
    assert firsts == ["10.0.0.1", "10.0.0.3", "10.0.0.5"]
    last = nodes[2]
    got = [last.allocate(f"u{i}", 0.0) for i in range(6)]
    wrapped = ["10.0.0.6", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]  # on past its region
    assert [c.lease.address for c in got[:5] if c] == wrapped
    assert got[5] is None  # every item handed out once, none twice
    with pytest.raises(PoolError):
        last.prefer(3, 3)


def test_apply_takes_another_nodes_row_unless_a_change_is_pending() -> None:
    pool = Pool("p", "ipv4", ["10.0.0.0/30"], offer_ttl=30)
    assert pool.apply(Lease("p", "10.0.0.1", LeaseState.LEASED, "bob", 500.0, "3", "s1"))
    ch = pool.allocate("alice", 0.0)
    assert ch is not None and ch.lease.address == "10.0.0.2"  # bob's address is in use
    assert not pool.apply(Lease("p", "10.0.0.2", LeaseState.OFFERED, "carol", 500.0))  # alice's is pending
    pool.commit(ch)
    assert pool.apply(Lease("p", "10.0.0.2", LeaseState.OFFERED, "carol", 500.0))
    assert pool.live("carol") is not None and pool.live("alice") is None
    assert pool.allocate("dave", 0.0) is None


def test_refusal_shows_an_address_given_as_an_int_as_text() -> None:
    import ipaddress

    pool = Pool("p", "ipv4", ["10.30.0.0/29"], exclude=["10.30.0.5"])
    with pytest.raises(PoolError, match=r"^10\.30\.0\.5 is not an allocatable item"):
        pool.reserve(int(ipaddress.IPv4Address("10.30.0.5")), "sam")
    with pytest.raises(LeaseError, match=r"cannot renew 10\.30\.0\.2 for sam"):
        pool.renew(int(ipaddress.IPv4Address("10.30.0.2")), "sam", 0.0, None)
