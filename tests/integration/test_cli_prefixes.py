"""``radiusd prefix``, ``address``, ``pd`` and the addressing on ``show`` pages, end to end on
SQLite and PostgreSQL through the CLI. Refusals are one ``radiusd: error:`` line and change
nothing; every listing and showing command takes ``--json``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from tests.integration.test_cli_pools import Cli, on_db


class PrefixCli(Cli):
    def state(self) -> tuple[Any, Any]:  # what the prefix commands can change
        return self.json("prefix", "list"), self.json("pool", "list")


def _seed(c: Cli) -> None:
    c.ok("site", "add", "tower-a", "--kind", "tower")
    c.ok("site", "add", "tower-b", "--kind", "tower")
    c.ok("router", "add", "core1", "--address", "10.0.0.1", "--secret", "core-Secr3t-1")
    c.ok("device", "add", "sw1", "--kind", "switch")
    c.ok("link", "add", "--from", "core1:sfp1", "--to", "sw1:24", "--medium", "fibre")
    c.ok("subscriber", "add", "acme", "--password", "acme-Pw-1")
    c.ok("pool", "add", "cgnat", "--range", "100.64.0.0/16")


def test_tree_allocation_and_show_pages(db_url: str, migrated_db: None) -> None:
    c = PrefixCli(db_url)
    _seed(c)
    assert c.json("prefix", "list")[0]["role"] == "pool"  # the pool's range joined the tree
    assert "added container prefix 100.64.0.0/10" in c.ok(
        "prefix", "add", "100.64.0.0/10", "--description", "CGNAT"
    )
    c.ok("prefix", "add", "10.255.0.0/16", "--description", "infrastructure")
    c.ok("prefix", "add", "10.255.255.0/24", "--role", "infrastructure", "--description", "loopbacks")
    c.ok("prefix", "add", "203.0.113.0/24", "--description", "public")
    link = c.json("link", "list")[0]["id"]
    first = c.json("prefix", "allocate", "--from", "10.255.0.0/16", "--length", "31", "--for", f"link:{link}")
    assert (first["prefix"], first["role"], first["assigned"]) == (
        "10.255.0.0/31",
        "infrastructure",
        f"link:{link}",
    )
    assert "allocated 10.255.0.2/31 for router:core1" in c.ok(
        "prefix", "allocate", "--from", "10.255.0.0/16", "--length", "31", "--for", "router:core1"
    )
    lo = c.json("address", "assign", "--from", "10.255.255.0/24", "--to", "router:core1:lo0")
    assert lo == {**lo, "address": "10.255.255.1", "assigned": "router:core1", "interface": "lo0"}
    assert "assigned 10.255.255.2 to device:sw1" in c.ok(
        "address", "assign", "--from", "10.255.255.0/24", "--to", "device:sw1"
    )
    block = c.json(
        "prefix", "allocate", "--from", "203.0.113.0/24", "--length", "29", "--for", "subscriber:acme"
    )
    assert (block["prefix"], block["role"]) == ("203.0.113.0/29", "customer")

    tree = c.json("prefix", "tree")
    cgnat = next(p for p in tree["prefixes"] if p["prefix"] == "100.64.0.0/10")
    assert [k["prefix"] for k in cgnat["children"]] == ["100.64.0.0/16"]
    assert cgnat["children"][0]["pool"] == "cgnat"
    infra = next(p for p in tree["prefixes"] if p["prefix"] == "10.255.0.0/16")
    assert [k["prefix"] for k in infra["children"]] == ["10.255.0.0/31", "10.255.0.2/31", "10.255.255.0/24"]
    assert infra["used"] == 2 + 2 + 2  # two /31s in use, two addresses
    v4 = tree["families"]["ipv4"]
    assert v4["used"] == sum(p["used"] for p in tree["prefixes"]) == 6 + 8
    text = c.ok("prefix", "tree")
    assert "  10.255.0.0/31" in text and "ipv4:" in text

    shown = c.json("prefix", "show", "10.255.255.0/24")
    assert [a["address"] for a in shown["addresses"]] == ["10.255.255.1", "10.255.255.2"]
    assert "10.255.255.1 router:core1:lo0" in c.ok("prefix", "show", "10.255.255.0/24")
    router = c.json("router", "show", "core1")["addressing"]
    assert router["prefixes"] == [{"prefix": "10.255.0.2/31", "role": "infrastructure", "description": None}]
    assert router["addresses"] == [
        {"address": "10.255.255.1", "interface": "lo0", "prefix": "10.255.255.0/24"}
    ]
    assert "10.255.255.1 on lo0 (from 10.255.255.0/24)" in c.ok("router", "show", "core1")
    assert c.json("device", "show", "sw1")["addressing"]["addresses"][0]["address"] == "10.255.255.2"
    assert c.json("link", "show", str(link))["addressing"]["prefixes"][0]["prefix"] == "10.255.0.0/31"
    assert "203.0.113.0/29 (customer)" in c.ok("subscriber", "show", "acme")

    # routed subnets by `subscriber set`: replaced, recorded in the assignment history
    c.ok(
        "subscriber", "set", "acme", "--routed-subnet", "203.0.113.8/29", "--routed-subnet", "2001:db8:1::/48"
    )
    held = c.json("subscriber", "show", "acme")["addressing"]["prefixes"]
    assert [p["prefix"] for p in held] == ["203.0.113.8/29", "2001:db8:1::/48"]
    history = c.json("lease", "history", "203.0.113.0/29")
    assert [(h["username"], h["ended"] is not None) for h in history] == [("acme", True)]
    assert c.json("lease", "history", "203.0.113.8/29")[0]["ended"] is None

    c.ok("address", "unassign", "10.255.255.2")
    assert "removed prefix 10.255.0.0/16" in c.ok("prefix", "remove", "10.255.0.0/16")
    assert c.json("prefix", "show", "10.255.255.0/24")["parent"] is None  # moved up
    assert [p["prefix"] for p in c.json("prefix", "list", "--role", "customer")] == [
        "203.0.113.8/29",
        "2001:db8:1::/48",
    ]
    assert [p["prefix"] for p in c.json("prefix", "list", "--family", "6")] == ["2001:db8:1::/48"]

    # removing what holds prefixes gives them back (an id reused later must not inherit them)
    c.ok("subscriber", "remove", "acme")
    assert c.json("prefix", "list", "--role", "customer") == []
    assert c.json("lease", "history", "203.0.113.8/29")[0]["ended"] is not None
    c.ok("link", "remove", str(link))
    c.ok("router", "remove", "core1")
    assert [p["prefix"] for p in c.json("prefix", "list", "--role", "infrastructure")] == ["10.255.255.0/24"]
    assert c.json("prefix", "show", "10.255.255.0/24")["addresses"] == []
    c.ok("subscriber", "add", "acme2", "--password", "acme-Pw-2")
    c.ok("router", "add", "core2", "--address", "10.0.0.2", "--secret", "core-Secr3t-2")
    assert c.json("subscriber", "show", "acme2")["addressing"] == {"prefixes": [], "addresses": []}
    assert c.json("router", "show", "core2")["addressing"] == {"prefixes": [], "addresses": []}
    c.ok("pool", "remove", "cgnat")
    assert "100.64.0.0/16" not in [p["prefix"] for p in c.json("prefix", "list")]


def test_refusals_are_one_line_and_change_nothing(db_url: str, migrated_db: None) -> None:
    c = PrefixCli(db_url)
    _seed(c)
    c.ok("prefix", "add", "10.255.0.0/30")
    c.ok("prefix", "allocate", "--from", "10.255.0.0/30", "--length", "31", "--for", "router:core1")
    c.ok("prefix", "allocate", "--from", "10.255.0.0/30", "--length", "31", "--for", "router:core1")
    cases = {
        ("prefix", "add", "10.255.0.0/30"): "10.255.0.0/30 already exists (role container)",
        ("prefix", "add", "10.0.0.1/8"): "bad prefix '10.0.0.1/8': 10.0.0.1/8 has host bits set",
        ("prefix", "add", "100.64.1.0/24"):
            "100.64.1.0/24 is inside 100.64.0.0/16, a pool prefix, which holds no prefixes",
        ("prefix", "add", "10.9.0.0/16", "--for", "router:ghost"): "router 'ghost' does not exist",
        ("prefix", "allocate", "--from", "10.255.0.0/30", "--length", "31", "--for", "router:core1"):
            "no free /31 left in 10.255.0.0/30",
        ("prefix", "allocate", "--from", "10.1.0.0/16", "--length", "31", "--for", "router:core1"):
            "prefix 10.1.0.0/16 does not exist",
        ("prefix", "allocate", "--from", "10.255.0.0/30", "--length", "24", "--for", "router:core1"):
            "cannot take a /24 from 10.255.0.0/30",
        ("prefix", "allocate", "--from", "10.255.0.0/30", "--length", "31", "--for", "cow:x"):
            "bad target 'cow:x': use KIND:NAME with KIND one of link, router, device, subscriber, site",
        ("address", "assign", "--from", "100.64.0.0/16", "--to", "router:core1"):
            "100.64.0.0/16 is a pool's range: the pool hands its addresses out itself",
        ("address", "assign", "--from", "10.255.0.0/30", "--to", "router:core1"):
            "no free address left in 10.255.0.0/30",
        ("prefix", "remove", "100.64.0.0/16"):
            "100.64.0.0/16 is a range of a pool: remove it with 'radiusd pool remove-range'",
        ("prefix", "show", "192.0.2.0/24"): "prefix 192.0.2.0/24 does not exist",
        ("address", "unassign", "10.255.0.1"): "address 10.255.0.1 is not assigned",
        ("subscriber", "set", "ghost", "--routed-subnet", "192.0.2.0/29"):
            "subscriber 'ghost' does not exist",
        ("pd", "plan", "--aggregate", "2001:db8::/32", "--per-site", "/41", "--delegate", "/56"):
            "--per-site /41 is not on a nibble boundary (use a multiple of 4: /40 or /44)",
        ("pd", "plan", "--aggregate", "2001:db8::/32", "--per-site", "/40", "--delegate", "/56",
         "--sites", "x"):
            "site 'x' does not exist (add it with 'radiusd site add')",
        ("pd", "plan", "--aggregate", "2001:db8::/47", "--per-site", "/48", "--delegate", "/56",
         "--apply"):
            "the plan does not fit: 2 new site(s) need as many /48 blocks, 2001:db8::/47 has 1 free "
            "(of 1; the last /48, 2001:db8:1::/48, is kept for WAN /64 prefixes)",
    }  # fmt: skip
    for args, message in cases.items():
        assert c.refused(*args) == message, args
    assert c.refused("prefix", "add", "10.0.0.0/8", "--role", "pool", code=2).startswith(
        "Invalid value for '--role'"
    )


def test_pd_plan_apply_pools_and_growth(db_url: str, migrated_db: None) -> None:
    c = PrefixCli(db_url)
    _seed(c)
    plan = c.json("pd", "plan", "--aggregate", "2001:db8::/32", "--per-site", "/40", "--delegate", "/56")
    assert plan["applied"] is False and [s["site"] for s in plan["sites"]] == ["tower-a", "tower-b"]
    assert c.json("pd", "growth") == []
    c.ok("pool", "add", "tower-a", "--range", "100.70.0.0/24")  # tower-a's CGNAT pool: made dual-stack
    text = c.ok(
        "pd", "plan", "--aggregate", "2001:db8::/32", "--per-site", "/40", "--delegate", "/56", "--apply"
    )
    assert "applied: IPv6 ranges added to pool(s) tower-a, tower-b" in text
    kinds = {r["kind"]: r["range"] for r in c.json("pool", "show", "tower-a")["ranges"]}
    assert kinds == {
        "ipv4": "100.70.0.0/24",
        "ipv6-pd": "2001:db8::/40/56",
        "ipv6-wan": "2001:db8:ff00::/48/64",
    }
    pool = c.json("pool", "show", "tower-b")
    assert sorted(r["range"] for r in pool["ranges"]) == ["2001:db8:100::/40/56", "2001:db8:ff01::/48/64"]
    tree = c.json("prefix", "list", "--site", "tower-b")
    assert {(p["prefix"], p["role"]) for p in tree} == {
        ("2001:db8:100::/40", "pool"),
        ("2001:db8:ff01::/48", "pool"),
    }
    again = c.json("pd", "plan", "--aggregate", "2001:db8::/32", "--per-site", "/40", "--delegate", "/56")
    assert [s["status"] for s in again["sites"]] == ["exists", "exists"]
    message = c.refused(
        "pd", "plan", "--aggregate", "2001:db8:100::/44", "--per-site", "/48", "--delegate", "/56"
    )
    assert (
        message == "aggregate 2001:db8:100::/44 lies inside pool 'tower-b' 2001:db8:100::/40, not a container"
    )

    # delegations of the last 30 days (as the allocator records them): tower-a 2 a day, tower-b 1
    now = dt.datetime.now(dt.UTC)

    async def history(engine: Any) -> None:
        from radiusd.store.models import ServiceIPAssignment

        rows = []
        for site, count, base in (("tower-a", 60, 0x0000), ("tower-b", 30, 0x0100)):
            for i in range(count):
                prefix = f"2001:db8:{base:x}:{i:x}00::/56"
                at = now - dt.timedelta(hours=11 * i % (24 * 29))
                rows.append({"username": f"u{site}{i}", "address": prefix, "family": 6,
                             "pool_name": f"{site}", "assigned_at": at})  # fmt: skip
        old = now - dt.timedelta(days=45)  # outside the window
        rows.append(
            {
                "username": "old",
                "address": "2001:db8:1:ff00::/56",
                "family": 6,
                "pool_name": "tower-b",
                "assigned_at": old,
            }
        )
        async with engine.begin() as conn:
            await conn.execute(sa.insert(ServiceIPAssignment), rows)

    on_db(db_url, history)
    growth = c.json("pd", "growth")
    assert [(g["site"], g["new_last_30_days"], g["per_day"], g["first"]) for g in growth] == [
        ("tower-a", 60, 2.0, True),
        ("tower-b", 30, 1.0, False),
    ]
    assert growth[0]["can_take"] == 65536 and growth[0]["days_left"] == 32768.0
    assert "tower-a" in c.ok("pd", "growth").splitlines()[1]
