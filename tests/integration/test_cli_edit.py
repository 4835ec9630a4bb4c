"""``set``/``rename`` of every kind of record from the CLI, references checked at the time of the
command, and the removal of an online subscriber, on SQLite and PostgreSQL. Each refusal is one
``radiusd: error:`` line and leaves the database as it was; every change reaches the running
daemon through the change feed."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa

from radiusd.store.changes import changes_since
from radiusd.store.engine import create_engine
from radiusd.store.models import RadiusSession
from tests.integration.test_cli_admin import NAS_SECRET, PASSWORD, Cli


@pytest.fixture
def radiusd(db_url: str, migrated_db: None) -> Cli:
    return Cli(db_url)


def _db(
    url: str, sql: str | None = None, rows: list[dict[str, object]] | None = None
) -> list[tuple[str, str | None]]:
    """Insert session ``rows`` (when given) and return the change feed."""

    async def go() -> list[tuple[str, str | None]]:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                if rows:
                    await conn.execute(sa.insert(RadiusSession), rows)
                return (await changes_since(conn, 0))[1]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_nas_set_and_rename(radiusd: Cli) -> None:
    radiusd.ok("nas", "add", "core-1", "--address", "10.0.0.1", "--secret", NAS_SECRET)
    radiusd.ok("nas", "add", "core-2", "--address", "10.0.0.2", "--secret", NAS_SECRET)
    out = radiusd.ok(
        "nas",
        "set",
        "core-1",
        "--secret",
        "-",
        "--address",
        "10.0.0.9",
        "--vendor",
        "mikrotik",
        "--no-message-authenticator",
        "--coa-port",
        "1700",
        input="n3w-s3cret\n",
    )
    assert "updated NAS 'core-1' (10.0.0.9, mikrotik)" in out
    shown = radiusd.json("nas", "show", "core-1")
    assert (shown["address"], shown["coa_port"], shown["require_message_authenticator"]) == (
        "10.0.0.9",
        1700,
        False,
    )
    before = radiusd.json("nas", "list")
    assert "10.0.0.2" in radiusd.error("nas", "set", "core-1", "--address", "10.0.0.2")
    assert "malformed IP address" in radiusd.error("nas", "set", "core-1", "--address", "10.0.0.300")
    assert "'core-2' already exists" in radiusd.error("nas", "rename", "core-1", "core-2")
    assert "nothing to change" in radiusd.error("nas", "set", "core-1", code=2)
    assert radiusd.json("nas", "list") == before
    radiusd.ok("nas", "rename", "core-1", "edge-1")
    assert [n["name"] for n in radiusd.json("nas", "list")] == ["core-2", "edge-1"]
    radiusd.assert_no_secret(NAS_SECRET, "n3w-s3cret")
    assert ("nas", "edge-1") in _db(radiusd.url)  # the daemon reloads its NAS list


def test_plan_set_rename_and_remove_in_use(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/24")
    radiusd.ok("plan", "add", "gold", "--rate-limit", "10M/10M", "--reply", "Framed-MTU=1500")
    radiusd.ok("plan", "add", "silver")
    plan = radiusd.json(
        "plan",
        "set",
        "gold",
        "--rate-limit",
        "20M/20M",
        "--pool",
        "main",
        "--reply",
        "Session-Timeout=600",
        "--clear",
        "description",
    )
    assert (plan["rate_limit"], plan["pool"], plan["reply_attributes"]) == (
        "20M/20M",
        "main",
        [["Session-Timeout", "600"]],
    )
    before = radiusd.json("plan", "list")
    assert "pool 'nopool' does not exist" in radiusd.error("plan", "set", "gold", "--pool", "nopool")
    assert "'Bogus-Attr' is not in the RADIUS dictionary" in radiusd.error(
        "plan", "set", "gold", "--reply", "Bogus-Attr=1"
    )
    assert "Framed-MTU: 'abc'" in radiusd.error("plan", "set", "gold", "--reply", "Framed-MTU=abc")
    assert radiusd.json("plan", "list") == before
    radiusd.ok("plan", "rename", "gold", "gold-2")
    radiusd.ok("subscriber", "add", "alice", "--password", PASSWORD, "--plan", "gold-2")
    message = radiusd.error("plan", "remove", "gold-2")
    assert "used by 1 subscriber" in message and "--replace" in message
    assert "replacement plan 'nope'" in radiusd.error("plan", "remove", "gold-2", "--replace", "nope")
    assert "1 subscriber(s) moved to plan 'silver'" in radiusd.ok(
        "plan", "remove", "gold-2", "--replace", "silver"
    )
    assert radiusd.json("subscriber", "show", "alice")["plan"] == "silver"
    radiusd.ok("plan", "remove", "silver", "--force")
    assert radiusd.json("subscriber", "show", "alice")["plan"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "add", "p", "--pool", "nopool"], "pool 'nopool' does not exist"),
        (
            ["plan", "add", "p", "--walled-garden-pool", "nopool"],
            "walled-garden pool 'nopool' does not exist",
        ),
        (["plan", "add", "p", "--reply", "Bogus-Attr=1"], "'Bogus-Attr' is not in the RADIUS dictionary"),
        (["plan", "add", "p", "--reply", "Framed-MTU=abc"], "Framed-MTU: 'abc' is not a valid integer value"),
        (["plan", "add", "p", "--reply", "Framed-IP-Address=1.2.3"], "not a valid ipaddr value"),
        (
            ["subscriber", "add", "bob", "--password", "x", "--pool", "nosuchpool"],
            "pool 'nosuchpool' does not",
        ),
        (["pool", "reserve", "10.64.0.5", "--user", "nobodyhere"], "subscriber 'nobodyhere' does not exist"),
    ],
)
def test_references_are_checked(radiusd: Cli, args: list[str], message: str) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/24")
    before = (radiusd.json("plan", "list"), radiusd.json("subscriber", "list"), radiusd.json("pool", "list"))
    assert message in radiusd.error(*args)
    assert (
        radiusd.json("plan", "list"),
        radiusd.json("subscriber", "list"),
        radiusd.json("pool", "list"),
    ) == before


def test_subscriber_set(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/24")
    radiusd.ok("plan", "add", "gold")
    radiusd.ok("subscriber", "add", "alice", "--password", PASSWORD, "--static-ip", "10.64.0.9")
    radiusd.ok("subscriber", "add", "bob", "--password", PASSWORD)
    sub = radiusd.json(
        "subscriber",
        "set",
        "bob",
        "--password",
        "n3w-pw",
        "--pool",
        "main",
        "--static-ip",
        "10.64.0.7",
        "--status",
        "disabled",
        "--simultaneous-use",
        "2",
    )
    assert (sub["pool"], sub["static_ip"], sub["status"], sub["simultaneous_use"]) == (
        "main",
        "10.64.0.7",
        "disabled",
        2,
    )
    before = radiusd.json("subscriber", "list")
    assert "10.64.0.9 is already assigned to 'alice'" in radiusd.error(
        "subscriber", "set", "bob", "--static-ip", "10.64.0.9"
    )
    assert "pool 'nope' does not exist" in radiusd.error("subscriber", "set", "bob", "--pool", "nope")
    assert "unknown plan 'platinum'" in radiusd.error("subscriber", "set", "bob", "--plan", "platinum")
    assert "malformed IPv4" in radiusd.error("subscriber", "set", "bob", "--static-ip", "10.64.0.999")
    assert "subscriber 'carol' does not exist" in radiusd.error(
        "subscriber", "set", "carol", "--status", "active"
    )
    assert radiusd.json("subscriber", "list") == before
    sub = radiusd.json(
        "subscriber", "set", "bob", "--static-ip", "none", "--pool", "none", "--simultaneous-use", "none"
    )
    assert (sub["pool"], sub["static_ip"], sub["simultaneous_use"]) == (None, None, None)
    assert "has no open sessions" in radiusd.ok(
        "subscriber", "set", "bob", "--plan", "gold", "--status", "suspended"
    )
    radiusd.assert_no_secret(PASSWORD, "n3w-pw")


def test_remove_of_an_online_subscriber_is_refused(radiusd: Cli) -> None:
    radiusd.ok("subscriber", "add", "alice", "--password", PASSWORD)
    now = dt.datetime.now(dt.UTC)
    _db(
        radiusd.url,
        rows=[
            {
                "acct_unique_id": "u1",
                "acct_session_id": "sess-1",
                "username": "alice",
                "nas_address": "192.0.2.77",
                "started_at": now,
                "updated_at": now,
                "status": "open",
            }
        ],
    )
    message = radiusd.error("subscriber", "remove", "alice")
    assert "'alice' is online (session sess-1 on 192.0.2.77)" in message and "--disconnect" in message
    message = radiusd.error("subscriber", "remove", "alice", "--disconnect")  # its NAS is not configured
    assert "not removed" in message and "sess-1" in message
    assert radiusd.json("subscriber", "show", "alice")["username"] == "alice"


def test_pool_set(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "main", "--range", "10.64.0.0/24")
    radiusd.ok("pool", "add", "spare", "--range", "10.65.0.0/24")
    radiusd.ok("nas", "add", "r1", "--address", "192.0.2.1", "--secret", NAS_SECRET)
    data = radiusd.json(
        "pool",
        "set",
        "main",
        "--add-range",
        "10.64.1.0/24",
        "--warn-at",
        "75",
        "--fallback",
        "spare",
        "--nas",
        "r1",
        "--gateway",
        "10.64.1.1",
    )
    assert [r["range"] for r in data["ranges"]] == ["10.64.0.0/24", "10.64.1.0/24"]
    assert (data["warning_pct"], data["fallback"], data["nas"], data["reserved"]) == (75.0, "spare", "r1", 1)
    before = radiusd.json("pool", "list")
    for args, message in (
        (["--add-range", "10.65.0.0/25"], "overlaps pool 'spare'"),
        (["--remove-range", "10.99.0.0/24"], "has no range 10.99.0.0/24"),
        (["--remove-range", "10.64.1.0/24"], "1 reservation"),
        (["--fallback", "nopool"], "fallback pool 'nopool' does not exist"),
        (["--nas", "nonas"], "NAS 'nonas' does not exist"),
        (["--gateway", "10.70.0.1"], "not inside any IPv4 range"),
        (["--add-range", "10.66.0.0/24", "--fallback", "main"], "its own fallback"),
    ):
        assert message in radiusd.error("pool", "set", "main", *args), args
    assert radiusd.json("pool", "list") == before
    data = radiusd.json(
        "pool",
        "set",
        "main",
        "--remove-range",
        "10.64.0.0/24",
        "--add-range",
        "10.64.0.0/25",
        "--fallback",
        "none",
        "--warn-at",
        "none",
    )
    assert [r["range"] for r in data["ranges"]] == ["10.64.0.0/25", "10.64.1.0/24"]
    assert (data["fallback"], data["warning_pct"]) == (None, None)
    assert ("pool", "main") in _db(radiusd.url)


def test_inventory_set_and_rename(radiusd: Cli) -> None:
    radiusd.ok("site", "add", "pop-1")
    radiusd.ok("router", "add", "r1", "--address", "192.0.2.1", "--secret", NAS_SECRET, "--site", "pop-1")
    radiusd.ok("sector", "add", "r1", "north")
    radiusd.ok("device", "add", "sw1", "--snmp-community", "-", input="c0mmunity\n")
    radiusd.ok("link", "add", "--from", "r1:e1", "--to", "sw1:1", "--medium", "fibre")
    site = radiusd.json(
        "site", "set", "pop-1", "--kind", "tower", "--latitude", "48.1", "--longitude", "11.5"
    )
    assert (site["kind"], site["latitude"]) == ("tower", 48.1)
    message = radiusd.error("site", "set", "pop-1", "--clear", "coordinates", "--latitude", "1", code=2)
    assert "exclude each other" in message
    radiusd.ok("site", "rename", "pop-1", "pop-a")
    assert radiusd.json("router", "show", "r1")["site"] == "pop-a"
    radiusd.ok("router", "rename", "r1", "r9")
    sector = radiusd.json("sector", "set", "r9", "north", "--rename", "south", "--azimuth", "180")
    assert (sector["name"], sector["azimuth_deg"]) == ("south", 180)
    assert "at least 8 characters" in radiusd.error(
        "device",
        "set",
        "sw1",
        "--snmp-version",
        "v3",
        "--snmp-user",
        "u",
        "--snmp-auth-protocol",
        "sha",
        "--snmp-auth-key",
        "short",
    )
    device = radiusd.json(
        "device", "set", "sw1", "--rename", "sw9", "--snmp-version", "v3", "--snmp-user", "u"
    )
    assert (device["name"], device["snmp_version"], device["snmp_community_set"]) == ("sw9", "v3", False)
    link = radiusd.json("link", "set", "1", "--capacity", "1000", "--medium", "copper")
    assert (link["capacity_mbps"], link["medium"], link["from_name"], link["to_name"]) == (
        1000,
        "copper",
        "r9",
        "sw9",
    )
    assert "link #7 does not exist" in radiusd.error("link", "set", "7", "--capacity", "1")
    radiusd.assert_no_secret(NAS_SECRET, "c0mmunity")
    feed = _db(radiusd.url)
    assert (
        ("nas", "r9") in feed
        and ("inventory", "device:sw1") in feed
        and ("inventory", "device:sw9") in feed
        and ("inventory", "link:1") in feed
    )
