"""The pure parts of ``radiusd pool``/``radiusd lease`` (input checks, utilisation figures, table
rows) and the refusals that happen before any database is opened."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ipam.edits import check_new_ranges, check_ranges, excluded_addresses, ranges_to_remove
from ipam.errors import PoolError, PoolInputError, UnknownRange
from ipam.report import PoolInfo, RangeInfo
from radiusd.cli.leases import LEASE_FIELDS, ordered
from radiusd.cli.main import cli
from radiusd.cli.pools import check_address, check_gateway, list_rows, pool_object, warn_lines


def rng(kind: str, spec: str, total: int, allocated: int = 0, reserved: int = 0) -> RangeInfo:
    used = allocated + reserved
    pct = round(100.0 * used / total, 2) if total else 0.0
    return RangeInfo(kind, spec, total, allocated, reserved, total - used, pct)


def info(name: str, ranges: list[RangeInfo], warning_pct: float | None = None) -> PoolInfo:
    total = sum(r.total for r in ranges)
    return PoolInfo(name, None, None, warning_pct, tuple(ranges), total, 0, 0, 0, 0, 0.0, False)


def test_check_ranges() -> None:
    check_ranges(["10.0.0.0/24", "10.0.1.5"], ["2001:db8::/48"], ["2001:db8:100::/40/56"])
    with pytest.raises(PoolError, match="overlaps"):
        check_ranges(["10.0.0.0/24", "10.0.0.128/25"], [], [])
    with pytest.raises(PoolError, match="overlaps"):
        check_ranges([], ["2001:db8::/48"], ["2001:db8::/40/56"])
    with pytest.raises(PoolError, match="bad ipv4 range"):
        check_ranges(["10.0.0.0/33"], [], [])
    with pytest.raises(PoolError, match="cannot split"):
        check_ranges([], ["2001:db8::/48/32"], [])


def test_gateway_and_exclusions() -> None:
    check_gateway(None, [])
    check_gateway("10.0.0.1", ["10.0.0.0/24"])
    with pytest.raises(PoolError, match="not inside"):
        check_gateway("10.0.1.1", ["10.0.0.0/24"])
    with pytest.raises(PoolError, match="not an IPv4 address"):
        check_gateway("10.0.0.0/30", ["10.0.0.0/24"])
    assert excluded_addresses(["10.0.0.5-10.0.0.7", "10.0.0.6", "10.0.0.8/31"], "10.0.0.1") == [
        "10.0.0.1", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8", "10.0.0.9",
    ]  # fmt: skip
    with pytest.raises(PoolError, match="covers 65536"):
        excluded_addresses(["10.0.0.0/16"])
    with pytest.raises(PoolError, match="only IPv4"):
        excluded_addresses(["2001:db8::1"])
    with pytest.raises(PoolError, match="bad exclusion"):
        excluded_addresses(["10.0.0.9-10.0.0.1"])


def test_check_address() -> None:
    assert check_address(" 10.0.0.1 ") == "10.0.0.1"
    assert check_address("2001:DB8:0:100::/56") == "2001:db8:0:100::/56"
    for bad in ("10.0.0", "2001:db8::1/56", "x"):
        with pytest.raises(PoolError, match="not an IP address"):
            check_address(bad)


def stored(
    name: str,
    ranges: list[tuple[str, str]],
    reserve: Sequence[str] = (),
    warning_pct: float | None = None,
    default: float | None = None,
) -> dict[str, Any]:
    """``pool show --json`` data of a pool as the store computes it (ranges: (kind, spec))."""
    from ipam.groups import PoolConfig, build_allocator
    from ipam.report import pool_info
    from radiusd.cli.pools import plain

    configs: dict[str, PoolConfig] = {}
    for i, (kind, spec) in enumerate(ranges):
        row = name + {"ipv4": "", "ipv6-wan": ":wan", "ipv6-pd": ":pd"}[kind]
        plen = None if kind == "ipv4" else int(spec.rsplit("/", 1)[1])
        cfg = configs.setdefault(row, PoolConfig(i, row, kind, None, None, None, warning_pct, plen))
        cfg.ranges.append(spec)
    configs.setdefault(name, PoolConfig(99, name, "ipv4", None, None, None, warning_pct, None))
    alloc = build_allocator(configs.values())
    for address in reserve:
        alloc.reserve(address)
    return plain(pool_info(configs, alloc, name, default))


def test_pool_object_per_kind_warning() -> None:
    # a full IPv4 range must warn even though the IPv6 side is nearly empty
    six = [f"10.0.0.{i}" for i in range(1, 7)]
    data = pool_object(
        stored("p", [("ipv4", "10.0.0.0/29"), ("ipv6-wan", "2001:db8::/48/64")], six, None, 90), 90.0
    )
    assert data["warn_at"] == 90.0 and data["warning"] is True and data["percent_used"] == 100.0
    assert [(k["kind"], k["percent_used"], k["warning"]) for k in data["kinds"]] == [
        ("ipv4", 100.0, True), ("ipv6-wan", 0.0, False),
    ]  # fmt: skip
    assert data["ipv4"]["used"] == 6 and data["ipv6_wan"]["total"] == 65536 and data["ipv6_pd"] is None
    assert [r["warning"] for r in data["ranges"]] == [True, False]
    assert warn_lines([data]) == ["warning: pool 'p' ipv4 is 100.0% used (threshold 90%)"]
    own = pool_object(stored("q", [("ipv4", "10.1.0.0/29")], ["10.1.0.1", "10.1.0.2"], 30, 90), 90.0)
    assert (own["warn_at"], own["warning"], own["kinds"][0]["percent_used"]) == (30.0, True, 33.33)
    empty = pool_object(stored("e", []), 0.5)
    assert (empty["kinds"], empty["warning"], empty["ipv4"]) == ([], False, None)


def test_list_rows() -> None:
    pools = [
        pool_object(
            stored(
                "p",
                [("ipv4", "10.0.0.0/29"), ("ipv4", "10.0.1.0/30")],
                [f"10.0.0.{i}" for i in range(1, 7)],
                None,
                50,
            ),
            50.0,
        ),
        pool_object(stored("e", [], default=50), 50.0),
    ]
    rows = list_rows(pools)
    assert [(r["name"], r["kind"], r["ranges"], r["total"], r["used"], r["warning"]) for r in rows] == [
        ("p", "ipv4", ["10.0.0.0/29", "10.0.1.0/30"], 8, "75.0%", "WARNING >= 50%"),
        ("e", "-", [], 0, "0.0%", ""),
    ]


def test_check_new_ranges() -> None:
    pools = [
        info("a", [rng("ipv4", "10.0.0.0/24", 254), rng("ipv6-wan", "2001:db8::/48/64", 65536)]),
        info("b", [rng("ipv6-pd", "2001:db8:100::/40/56", 65536)]),
    ]
    check_new_ranges(pools, "a", [("ipv4", "10.0.1.0/24"), ("ipv6-wan", "2001:db9::/48/64")])
    check_new_ranges(pools, "b", [("ipv6-wan", "2001:dba::/48/60")])  # b has no WAN prefixes yet
    with pytest.raises(PoolError, match=re.escape("range 10.0.0.128/25 overlaps pool 'a' range 10.0.0.0/24")):
        check_new_ranges(pools, "b", [("ipv4", "10.0.0.128/25")])
    with pytest.raises(PoolError, match="overlaps"):
        check_new_ranges(pools, "a", [("ipv4", "10.0.2.0/24"), ("ipv4", "10.0.2.0/25")])
    with pytest.raises(PoolError, match="hands out /64 ipv6-wan prefixes, not /60"):
        check_new_ranges(pools, "a", [("ipv6-wan", "2001:dba::/48/60")])


def test_ranges_to_remove() -> None:
    pool = info(
        "a",
        [rng("ipv4", "10.0.0.0/24", 254, allocated=1), rng("ipv4", "10.0.1.0/24", 254),
         rng("ipv6-pd", "2001:db8:100::/40/56", 65536)],
    )  # fmt: skip
    assert [r.range for r in ranges_to_remove(pool, ["10.0.1.0/24", "2001:db8:100::/40"])] == [
        "10.0.1.0/24", "2001:db8:100::/40/56",
    ]  # fmt: skip
    with pytest.raises(PoolError, match="still has 1 live lease and 0 reservations: release"):
        ranges_to_remove(pool, ["10.0.1.0/24", "10.0.0.0/24"])
    with pytest.raises(UnknownRange, match=re.escape("has no range 10.0.2.0/24")):
        ranges_to_remove(pool, ["10.0.2.0/24"])
    with pytest.raises(PoolInputError):
        check_new_ranges([pool], "a", [("ipv4", "10.0.9.0/33")])


def test_ordered_lease_fields() -> None:
    row = ordered({"state": "leased", "address": "10.0.0.1", "extra": 1}, LEASE_FIELDS)
    assert list(row)[: len(LEASE_FIELDS)] == list(LEASE_FIELDS) and row["extra"] == 1
    assert row["username"] is None


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["pool", "add", "p"], 2, "give at least one --range"),
        (["pool", "add", "p", "--range", "10.0.0.0/24", "--warn-at", "0"], 2, "--warn-at"),
        (["pool", "add", "p", "--range", "10.0.0.0/33"], 1, "bad ipv4 range"),
        (["pool", "add", "p", "--range", "10.0.0.0/24", "--exclude", "10.1.0.0/8"], 1, "covers"),
        (["pool", "add", "p", "--range", "10.0.0.0/24", "--gateway", "10.0.1.1"], 1, "gateway"),
        (["pool", "add-range", "p"], 2, "give at least one"),
        (["pool", "add-range", "p", "--range", "10.0.0.0/24", "--range", "10.0.0.0/25"], 1, "overlaps"),
        (["pool", "remove-range", "p"], 2, "--range"),
        (["pool", "reserve", "10.0.0.256"], 1, "not an IP address"),
        (["pool", "unreserve", "x"], 1, "not an IP address"),
        (["lease", "release", "10.0.0"], 1, "not an IP address"),
        (["lease", "history", "10.0.0.1", "--at", "tomorrow"], 2, "--at"),
    ],
)
def test_refused_before_the_database_is_opened(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    db = tmp_path / "never.sqlite3"
    result = CliRunner().invoke(cli, ["--database", f"sqlite+aiosqlite:///{db}", *args])
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("radiusd: error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert not db.exists()  # nothing written, not even an empty database
