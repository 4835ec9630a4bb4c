"""The prefix tree's pure rules (ipam.prefixes, ipam.pd_plan): placement, next free prefix or
address, utilisation roll-up, the PD planner's layout and refusals. Hypothesis drives the
allocation and roll-up properties: whatever the sequence, no two allocated prefixes overlap,
every one lies in its container, and a parent's ``used`` is its own plus its children's."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipam.pd_plan import Existing, PlanRefused, plan_pd
from ipam.prefixes import (
    Entry,
    PrefixError,
    next_free_address,
    next_free_prefix,
    parse_prefix,
    parse_purpose,
    place,
    rollup,
)

N = ipaddress.ip_network
AnyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def entries(*specs: tuple[int, str, str, int | None]) -> list[Entry]:
    return [Entry(i, N(p), role, parent) for i, p, role, parent in specs]


def test_parse_prefix_refuses_host_bits_and_bare_addresses() -> None:
    assert parse_prefix(" 100.64.0.0/10 ") == N("100.64.0.0/10")
    with pytest.raises(PrefixError, match="has host bits set"):
        parse_prefix("10.0.0.1/8")
    with pytest.raises(PrefixError, match="needs a length"):
        parse_prefix("10.0.0.0")


def test_parse_purpose() -> None:
    assert parse_purpose("router:core1:ether1") == ("router", "core1", "ether1")
    assert parse_purpose("link:12") == ("link", "12", None)
    for bad in ("core1", "teapot:x", "router:", "subscriber:bob:eth0"):
        with pytest.raises(PrefixError):
            parse_purpose(bad)


def test_place_finds_the_smallest_parent_and_adopts_what_it_contains() -> None:
    tree = entries(
        (1, "10.0.0.0/8", "container", None), (2, "10.1.0.0/24", "pool", 1), (3, "10.2.0.0/24", "pool", 1)
    )
    p = place(tree, N("10.0.0.0/14"), "container")
    assert p.parent is not None and p.parent.id == 1
    assert {e.id for e in p.adopted} == {2, 3}
    with pytest.raises(PrefixError, match="a pool prefix, which holds no prefixes"):
        place(tree, N("10.1.0.0/25"), "reserved")
    with pytest.raises(PrefixError, match="already exists"):
        place(tree, N("10.1.0.0/24"), "container")
    with pytest.raises(PrefixError, match="a pool prefix holds no prefixes"):
        place(tree, N("10.0.0.0/14"), "pool")
    assert place(tree, N("2001:db8::/32"), "container").parent is None  # families never nest


def test_next_free_prefix_aligns_and_skips_what_is_taken() -> None:
    c = N("10.255.0.0/16")
    assert next_free_prefix(c, [], 31) == N("10.255.0.0/31")
    taken = [N("10.255.0.0/31"), ipaddress.ip_address("10.255.0.2")]
    assert next_free_prefix(c, taken, 31) == N("10.255.0.4/31")
    assert next_free_prefix(c, [N("10.255.0.0/25")], 24) == N("10.255.1.0/24")
    assert next_free_prefix(N("10.0.0.0/30"), [N("10.0.0.0/31"), N("10.0.0.2/31")], 31) is None
    with pytest.raises(PrefixError):
        next_free_prefix(c, [], 8)


def test_next_free_address_keeps_network_broadcast_and_anycast() -> None:
    assert next_free_address(N("10.255.255.0/24"), []) == ipaddress.ip_address("10.255.255.1")
    assert next_free_address(N("10.0.0.0/31"), []) == ipaddress.ip_address("10.0.0.0")  # RFC 3021
    assert next_free_address(N("2001:db8::/64"), []) == ipaddress.ip_address("2001:db8::1")
    full = [ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2")]
    assert next_free_address(N("192.0.2.0/30"), full) is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(20, 32), st.booleans()), min_size=1, max_size=60))
def test_allocate_never_overlaps_and_stays_inside(steps: list[tuple[int, bool]]) -> None:
    """Random allocations (prefixes and single addresses) in a /20: never an overlap."""
    container = ipaddress.IPv4Network("10.0.0.0/20")
    taken: list[ipaddress.IPv4Network | ipaddress.IPv4Address] = []
    for length, as_address in steps:
        if as_address:
            got_a = next_free_address(container, taken)
            if got_a is not None:
                assert all(
                    got_a not in t if isinstance(t, ipaddress.IPv4Network) else got_a != t for t in taken
                )
                taken.append(got_a)  # type: ignore[arg-type]
            continue
        got = next_free_prefix(container, taken, length)
        if got is None:  # refused only when no aligned block is free: check by brute force
            blocks = container.subnets(new_prefix=length)
            assert all(any(_hit(b, t) for t in taken) for b in blocks)
            continue
        assert isinstance(got, ipaddress.IPv4Network)  # an IPv4 container gives IPv4 blocks
        assert got.subnet_of(container) and got.prefixlen == length
        assert not any(_hit(got, t) for t in taken)
        taken.append(got)


def _hit(net: ipaddress.IPv4Network, t: ipaddress.IPv4Network | ipaddress.IPv4Address) -> bool:
    return t in net if isinstance(t, ipaddress.IPv4Address) else net.overlaps(t)


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[Entry], dict[int, int]]:
    """A random tree built by placing prefixes of a /16 one by one (as the store does)."""
    out: list[Entry] = []
    for i, (length, offset) in enumerate(
        draw(st.lists(st.tuples(st.integers(16, 28), st.integers(0, 2**16 - 1)), max_size=25)), start=1
    ):
        net = N((int(N("10.0.0.0/16").network_address) + offset, length), strict=False)
        try:
            p = place(out, net, "container")
        except PrefixError:
            continue
        adopted = {e.id for e in p.adopted}
        out = [Entry(e.id, e.prefix, e.role, i) if e.id in adopted else e for e in out]
        out.append(Entry(i, net, "container", p.parent.id if p.parent else None))
    own = {e.id: draw(st.integers(0, 3)) for e in out}
    return out, own


def _subnet_of(a: AnyNetwork, b: AnyNetwork) -> bool:
    """``a.subnet_of(b)`` for networks of either family (False across families)."""
    if isinstance(a, ipaddress.IPv4Network) and isinstance(b, ipaddress.IPv4Network):
        return a.subnet_of(b)
    if isinstance(a, ipaddress.IPv6Network) and isinstance(b, ipaddress.IPv6Network):
        return a.subnet_of(b)
    return False


@settings(max_examples=150, deadline=None)
@given(trees())
def test_rollup_equals_the_sum(tree: tuple[list[Entry], dict[int, int]]) -> None:
    entries_, own = tree
    figures, families = rollup(entries_, own)
    for e in entries_:
        kids = [c for c in entries_ if c.parent_id == e.id]
        assert figures[e.id].used == own[e.id] + sum(figures[c.id].used for c in kids)
        for a in kids:  # siblings never overlap, children lie inside
            assert _subnet_of(a.prefix, e.prefix)
            assert not any(a.prefix.overlaps(b.prefix) for b in kids if b is not a)
    roots = [e for e in entries_ if e.parent_id is None]
    if roots:
        assert families[4].used == sum(own.values())
        assert families[4].size == sum(r.prefix.num_addresses for r in roots)
    else:
        assert families == {}


def test_rollup_by_hand() -> None:
    tree = entries(
        (1, "10.0.0.0/24", "container", None),
        (2, "10.0.0.0/30", "infrastructure", 1),
        (3, "10.0.0.128/25", "pool", 1),
        (4, "2001:db8::/32", "container", None),
    )
    figures, families = rollup(tree, {2: 4, 3: 10, 1: 1})
    assert (figures[1].size, figures[1].allocated, figures[1].used) == (256, 4 + 128 + 1, 15)
    assert families[4].used == 15 and families[6].used == 0 and families[6].size == 2**96


# -- the PD planner -----------------------------------------------------------------------------


def test_pd_plan_layout() -> None:
    plan = plan_pd("2001:db8::/32", "/40", "/56", ["a", "b"])
    assert [(s.block, s.wan, s.delegated, s.wan_prefixes) for s in plan.sites] == [
        (N("2001:db8::/40"), N("2001:db8:ff00::/48"), 65536, 65536),
        (N("2001:db8:100::/40"), N("2001:db8:ff01::/48"), 65536, 65536),
    ]
    assert plan.wan_block == N("2001:db8:ff00::/40") and plan.free_blocks == 253


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2001:db8::/32", "/42", "/56"), "--per-site /42 is not on a nibble boundary"),
        (("2001:db8::/32", "/40", "/58"), "--delegate /58 is not on a nibble boundary"),
        (("2001:db8::/32", "/56", "/48"), "lengths out of order"),
        (("2001:db8::/32", "/40", "/68"), "lengths out of order"),
        (("10.0.0.0/8", "/40", "/56"), "is not IPv6"),
        (("2001:db8::/32", "/52", "/56"), "WAN prefixes would be /72, longer than /64"),
        (("2001::/16", "/36", "/56"), "cuts 2001::/16 into 1048576 blocks"),
        (("2001:db8::/32", "x", "/56"), "is not a prefix length"),
    ],
)
def test_pd_plan_refuses_bad_lengths(args: tuple[str, str, str], message: str) -> None:
    with pytest.raises(PrefixError, match=message):
        plan_pd(*args, ["a"])


def test_pd_plan_refuses_what_does_not_fit_or_overlaps() -> None:
    with pytest.raises(PlanRefused, match="does not fit: 4 new site"):
        plan_pd("2001:db8::/30", "/32", "/56", ["a", "b", "c", "d"])
    pool = Existing(N("2001:db8::/32"), "pool", None, "pool 'old'")
    with pytest.raises(PlanRefused, match="lies inside pool 'old' 2001:db8::/32, not a container"):
        plan_pd("2001:db8::/36", "/40", "/56", ["a"], [pool])
    wan_user = Existing(N("2001:db8:ff00::/48"), "customer", None, "prefix")
    with pytest.raises(PlanRefused, match="its WAN prefix 2001:db8:ff00::/48 overlaps prefix"):
        plan_pd("2001:db8::/32", "/40", "/56", ["a"], [wan_user])


def test_pd_plan_skips_taken_blocks_and_keeps_planned_sites() -> None:
    existing = [
        Existing(N("2001:db8::/32"), "container"),
        Existing(N("2001:db8::/48"), "customer", None, "prefix"),  # block 0 partly used
        Existing(N("2001:db8:100::/40"), "pool", "b", "pool 'pd-b'"),  # b planned before
    ]
    plan = plan_pd("2001:db8::/32", "/40", "/56", ["a", "b"], existing)
    assert [(s.site, str(s.block), s.status) for s in plan.sites] == [
        ("a", "2001:db8:200::/40", "new"),
        ("b", "2001:db8:100::/40", "exists"),
    ]
