"""The IPAM domain's rules outside the allocator: pool groups and load_allocator, owner slots,
the threshold in force and the warning rule (ipam.groups, ipam.owners, ipam.utilisation)."""

from __future__ import annotations

import pytest

from ipam import Lease, LeaseState, PoolError
from ipam.groups import PoolConfig, group_of, load_allocator, operator_text, rows_of, threshold_of
from ipam.owners import SLOT_SEP, slot_owner, username_of
from ipam.utilisation import Usage, is_warning

CONFIGS = [
    PoolConfig(1, "home", "ipv4", None, None, "spare", 80.0, None, ["10.0.0.0/29"]),
    PoolConfig(2, "home:pd", "ipv6-pd", None, None, "spare", 80.0, 56, ["2001:db8:100::/48/56"]),
    PoolConfig(3, "spare", "ipv4", None, None, None, None, None, ["10.1.0.0/30"]),
]


def test_load_allocator_holds_the_stored_leases_and_returns_the_orphans() -> None:
    live = Lease("home", "10.0.0.2", LeaseState.LEASED, "alice", 2e9, nas="1")
    orphan = Lease("gone", "192.0.2.9", LeaseState.LEASED, "bob", 2e9)
    alloc, orphans = load_allocator(CONFIGS, [live, orphan])
    assert orphans == [orphan]
    held = alloc.lookup("10.0.0.2")
    assert held is not None and (held.state, held.owner) == (LeaseState.LEASED, "alice")
    # fallbacks point at the same family's row of the fallback pool; spare has no :pd row
    assert alloc.pool("home").fallback == "spare" and alloc.pool("home:pd").fallback is None
    again, _ = load_allocator(CONFIGS, alloc.dump())  # a running allocator's dump rebuilds it alike
    assert again.dump() == alloc.dump()


def test_load_allocator_refuses_overlaps_and_sets_the_region_first() -> None:
    clash = PoolConfig(4, "clash", "ipv4", None, None, None, None, None, ["10.0.0.4/30"])
    with pytest.raises(PoolError, match="overlap"):
        load_allocator([*CONFIGS, clash], [])
    first, _ = load_allocator(CONFIGS[2:], [], region=(0, 2))
    second, _ = load_allocator(CONFIGS[2:], [], region=(1, 2))
    a, b = first.allocate("spare", "x", 0.0), second.allocate("spare", "y", 0.0)
    assert a is not None and b is not None and a.address != b.address  # each node its own region


def test_groups_and_thresholds() -> None:
    configs = {c.name: c for c in CONFIGS}
    assert [c.name for c in rows_of(configs, "home")] == ["home", "home:pd"] and rows_of(configs, "x") == []
    assert group_of("home:pd") == "home" and group_of("home") == "home"
    assert threshold_of(configs["home"], 90.0) == 80.0 and threshold_of(configs["spare"], 90.0) == 90.0
    assert threshold_of(None, None) is None
    assert operator_text("pool 'home:pd' is exhausted") == "pool 'home' (delegated prefixes) is exhausted"


def test_the_warning_rule() -> None:
    assert is_warning(Usage(10, 8, 1, 1), 90.0) and not is_warning(Usage(10, 8, 0, 2), 90.0)
    assert not is_warning(Usage(0, 0, 0, 0), 0.5)  # an empty pool never warns
    assert not is_warning(Usage(10, 10, 0, 0), None)  # no threshold, no warning


def test_owner_slots() -> None:
    alloc, _ = load_allocator(CONFIGS[2:], [])
    pool = alloc.pool("spare")
    assert slot_owner("alice", None, pool) == "alice" and slot_owner("alice", 3, None) == "alice"
    ch = pool.allocate("alice", 0.0)
    assert ch is not None
    pool.commit(ch)
    second = slot_owner("alice", 3, pool)
    assert second == f"alice{SLOT_SEP}2" and username_of(second) == "alice" and username_of(None) is None
    ch2 = pool.allocate(second, 0.0)
    assert ch2 is not None
    pool.commit(ch2)
    assert slot_owner("alice", 2, pool) == "alice"  # every slot taken: the username
