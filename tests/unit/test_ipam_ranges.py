"""Address arithmetic: range parsing, /31 and /32, exclusions, overlap refusal."""

from __future__ import annotations

import pytest

from ipam import Allocator, Pool, PoolError
from ipam.ranges import format_value, parse_range, parse_value


def usable(pool: Pool) -> list[str]:
    out: list[str] = []
    while (c := pool.allocate(f"o{len(out)}", 0.0)) is not None:
        out.append(c.address)
    return out


def test_ipv4_prefix_drops_network_and_broadcast() -> None:
    rng = parse_range("10.0.0.0/29", "ipv4")
    assert rng.size == 6
    assert usable(Pool("p", "ipv4", ["10.0.0.0/29"])) == [f"10.0.0.{i}" for i in range(1, 7)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("10.0.0.0/31", ["10.0.0.0", "10.0.0.1"]),
        ("10.0.0.7/32", ["10.0.0.7"]),
        ("10.0.0.7", ["10.0.0.7"]),
        (
            "10.0.0.250-10.0.1.1",
            [
                "10.0.0.250",
                "10.0.0.251",
                "10.0.0.252",
                "10.0.0.253",
                "10.0.0.254",
                "10.0.0.255",
                "10.0.1.0",
                "10.0.1.1",
            ],
        ),
    ],
)
def test_ipv4_point_to_point_and_literal_ranges_are_fully_usable(spec: str, expected: list[str]) -> None:
    assert usable(Pool("p", "ipv4", [spec])) == expected


def test_exclusions_gateway_and_span() -> None:
    pool = Pool("p", "ipv4", ["10.0.0.0/28"], exclude=["10.0.0.1", "10.0.0.8-10.0.0.10", "10.0.0.12/31"])
    assert usable(pool) == [
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
        "10.0.0.5",
        "10.0.0.6",
        "10.0.0.7",
        "10.0.0.11",
        "10.0.0.14",
    ]
    assert pool.usage().total == 8
    assert pool.lookup("10.0.0.1") is None


def test_exclusion_outside_every_range_is_refused() -> None:
    with pytest.raises(PoolError, match="outside every range"):
        Pool("p", "ipv4", ["10.0.0.0/28"], exclude=["10.0.1.1"])


def test_ipv6_wan_and_pd_are_split_without_enumeration() -> None:
    wan = Pool("wan", "ipv6-wan", ["2001:db8::/32"])  # 2**32 /64s: must not be listed
    assert wan.usage().total == 2**32
    assert [wan.allocate(o, 0.0).address for o in ("a", "b")] == [  # type: ignore[union-attr]
        "2001:db8::/64",
        "2001:db8:0:1::/64",
    ]
    pd = Pool("pd", "ipv6-pd", ["2001:db8:100::/40/56"])
    assert pd.item_prefixlen == 56
    assert pd.usage().total == 2**16
    assert [pd.allocate(o, 0.0).address for o in ("a", "b")] == [  # type: ignore[union-attr]
        "2001:db8:100::/56",
        "2001:db8:100:100::/56",
    ]
    assert pd.lookup("2001:db8:100:1ab::5") == pd.lookup("2001:db8:100:100::/56")


def test_ipv6_exclusion_of_a_prefix_removes_its_items() -> None:
    pool = Pool("pd", "ipv6-pd", ["2001:db8::/48/56"], exclude=["2001:db8::/55"])
    assert pool.usage().total == 256 - 2
    assert pool.allocate("a", 0.0).address == "2001:db8:0:200::/56"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("10.0.0.5/24", "ipv4"),  # host bits set
        ("10.0.0.9-10.0.0.1", "ipv4"),
        ("2001:db8::/48", "ipv4"),
        ("10.0.0.0/24", "ipv6-wan"),
        ("2001:db8::/48/40", "ipv6-pd"),
        ("bogus", "ipv4"),
    ],
)
def test_bad_ranges_are_refused(spec: str, kind: str) -> None:
    with pytest.raises(PoolError):
        parse_range(spec, kind)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(PoolError, match="unknown pool kind"):
        Pool("p", "ipv5", [])


def test_item_length_mismatch_is_refused() -> None:
    pool = Pool("pd", "ipv6-pd", ["2001:db8::/40/56"])
    with pytest.raises(PoolError, match="/56"):
        pool.add_range("2001:db9::/40/60")


def test_overlap_within_a_pool_names_both_ranges() -> None:
    with pytest.raises(PoolError, match=r"10\.0\.0\.128/25.*10\.0\.0\.0/24"):
        Pool("p", "ipv4", ["10.0.0.0/24", "10.0.0.128/25"])


def test_overlap_between_pools_names_both_pools() -> None:
    alloc = Allocator([Pool("a", "ipv4", ["10.0.0.0/24"])])
    with pytest.raises(PoolError, match=r"pool 'b' range 10\.0\.0\.5-10\.0\.0\.6 overlaps pool 'a'"):
        alloc.add_pool(Pool("b", "ipv4", ["10.0.0.5-10.0.0.6"]))
    # the network address is not usable but still part of the declared prefix
    with pytest.raises(PoolError, match="overlaps"):
        alloc.add_pool(Pool("c", "ipv4", ["10.0.0.0/32"]))
    with pytest.raises(PoolError, match="overlaps"):
        alloc.add_range("a", "10.0.0.0/16")
    alloc.add_pool(Pool("wan", "ipv6-wan", ["2001:db8::/48"]))
    with pytest.raises(PoolError, match=r"pool 'pd'.*pool 'wan'"):
        alloc.add_pool(Pool("pd", "ipv6-pd", ["2001:db8::/44/56"]))
    assert sorted(alloc.pools) == ["a", "wan"]


def test_parse_and_format_round_trip() -> None:
    assert parse_value("10.1.2.3") == (4, 0x0A010203, None)
    assert parse_value("2001:db8::/56") == (6, 0x20010DB8 << 96, 56)
    assert format_value(6, 0x20010DB8 << 96, 64) == "2001:db8::/64"
    for bad in ("10.1", "10.0.0.1/33", "2001:db8::/x", "nope"):
        with pytest.raises(PoolError):
            parse_value(bad)
