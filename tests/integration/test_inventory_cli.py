"""``radiusd site|router|sector|device|link`` against SQLite and PostgreSQL (click's CliRunner).

Refusals are one ``radiusd: error: ...`` line, exit 1 (data) or 2 (usage), nothing on stdout and
no change to the inventory; secrets appear in no output.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result

from radiusd.cli.main import cli
from tests.conftest import _run

SECRETS = ("radius-s3cret", "api-pa55word", "c0mmunity-x", "auth-key-123", "priv-key-456")


class Cli:
    def __init__(self, url: str) -> None:
        self.url = url
        self.outputs: list[str] = []

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, ["--database", self.url, *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.outputs.append(result.stdout + result.stderr)
        return result

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def state(self) -> list[Any]:
        """Every row of every table, read straight from the database.

        Stricter than the five ``list --json`` outputs it replaces (columns the lists leave out,
        tables outside the inventory), and one connection instead of five CLI runs twice per
        refusal (17 s of the module's 25 s).
        """
        state: list[Any] = _run(_dump(self.url))
        return state

    def refused(self, *args: str, code: int = 1) -> str:
        before = self.state()
        result = self.run(*args)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("radiusd: error: "), result.stderr
        assert self.state() == before, args
        return lines[0].removeprefix("radiusd: error: ")


async def _dump(url: str) -> list[Any]:
    from radiusd.store.engine import create_engine
    from radiusd.store.schema import metadata

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [
                (table.name, (await conn.execute(sa.select(table).order_by(*table.primary_key))).all())
                for table in metadata.sorted_tables
            ]
    finally:
        await engine.dispose()


def _seed(c: Cli) -> None:
    c.ok("site", "add", "pop-north", "--kind", "pop", "--latitude", "52.5", "--longitude", "13.4")
    c.ok("site", "add", "tower-7", "--kind", "tower", "--address", "Hill Rd")
    c.ok(
        "router", "add", "core1", "--address", "10.0.0.1", "--secret", SECRETS[0], "--site", "pop-north",
        "--vendor", "mikrotik", "--management-address", "192.0.2.1", "--api-user", "admin",
        "--api-password", SECRETS[1], "--api-port", "8729", "--api-tls",
    )  # fmt: skip
    c.ok("nas", "add", "edge2", "--address", "10.0.0.2", "--secret", "edge-secret")
    c.ok("device", "add", "sw1", "--kind", "switch", "--site", "pop-north", "--snmp-community", SECRETS[2])
    c.ok(
        "device", "add", "olt1", "--kind", "olt", "--site", "tower-7", "--snmp-version", "v3",
        "--snmp-user", "mon", "--snmp-auth-protocol", "sha", "--snmp-auth-key", SECRETS[3],
        "--snmp-priv-protocol", "aes", "--snmp-priv-key", SECRETS[4],
    )  # fmt: skip
    c.ok("sector", "add", "core1", "north", "--frequency", "5500", "--azimuth", "0", "--beamwidth", "90")
    c.ok("link", "add", "--from", "core1:sfp1", "--to", "sw1:24", "--medium", "fibre", "--capacity", "10000")


def test_inventory_round_trip(db_url: str, migrated_db: None) -> None:
    c = Cli(db_url)
    _seed(c)
    nas = c.json("nas", "list")
    routers = c.json("router", "list")
    assert [n["name"] for n in nas] == [r["name"] for r in routers] == ["core1", "edge2"]
    assert [n["address"] for n in nas] == [r["address"] for r in routers]
    core = c.json("router", "show", "core1")
    assert (core["site"], core["vendor"], core["api_username"], core["api_port"], core["api_tls"]) == (
        "pop-north", "mikrotik", "admin", 8729, True,
    )  # fmt: skip
    assert core["api_password_set"] is True
    assert c.json("nas", "show", "core1")["id"] == core["id"]
    shown = c.ok("router", "show", "core1")
    assert "secret:" in shown and "********" in shown

    c.ok("router", "set", "edge2", "--site", "tower-7")
    assert [r["name"] for r in c.json("router", "list", "--site", "tower-7")] == ["edge2"]
    assert c.json("sector", "show", "core1", "north")["azimuth_deg"] == 0
    links = c.json("link", "list")
    assert [
        (x["from_name"], x["from_port"], x["to_name"], x["to_port"], x["capacity_mbps"]) for x in links
    ] == [("core1", "sfp1", "sw1", "24", 10000)]
    assert "core1:sfp1" in c.ok("link", "list")
    assert c.json("device", "show", "olt1")["snmp_auth_protocol"] == "sha"

    # take it apart in the only order allowed
    link_id = str(links[0]["id"])
    c.ok("link", "remove", link_id)
    c.ok("sector", "remove", "core1", "north")
    c.ok("router", "remove", "core1")
    assert [n["name"] for n in c.json("nas", "list")] == ["edge2"]
    c.ok("device", "remove", "sw1")
    c.ok("site", "remove", "pop-north")
    assert [s["name"] for s in c.json("site", "list")] == ["tower-7"]

    everything = "\n".join(c.outputs)
    for secret in SECRETS:
        assert secret not in everything


def test_refusals_are_one_line_and_change_nothing(db_url: str, migrated_db: None) -> None:
    c = Cli(db_url)
    _seed(c)
    assert (
        c.refused("site", "remove", "pop-north")
        == "site 'pop-north' still has router(s) core1; device(s) sw1"
    )
    assert c.refused("router", "remove", "core1").startswith("router 'core1' still has link(s) #")
    assert c.refused("device", "remove", "sw1").startswith("device 'sw1' still has link(s) #")
    assert c.refused("site", "add", "pop-north") == "site 'pop-north' already exists"
    assert (
        c.refused("router", "add", "core1", "--address", "10.0.0.9", "--secret", "s")
        == "NAS 'core1' already exists"
    )
    assert c.refused("router", "add", "r9", "--address", "10.0.0.9", "--secret", "s", "--site", "moon") == (
        "site 'moon' does not exist"
    )
    assert c.refused("device", "add", "sw1") == "device 'sw1' already exists"
    assert c.refused("sector", "add", "core1", "north") == "router 'core1' already has a sector 'north'"
    assert c.refused("link", "add", "--from", "core1:sfp2", "--to", "ghost", "--medium", "copper") == (
        "link end 'ghost': no router or device of that name"
    )
    assert "already used by link" in c.refused(
        "link", "add", "--from", "olt1:pon1", "--to", "sw1:24", "--medium", "copper"
    )
    assert "SNMPv3 needs a user" in c.refused("device", "add", "x", "--snmp-version", "v3")
    assert c.refused("link", "show", "999") == "link #999 does not exist"
    assert c.refused("router", "show", "ghost") == "router 'ghost' does not exist"
    # usage errors: exit 2
    c.refused("link", "add", "--from", "core1", "--to", "sw1", "--medium", "pigeon", code=2)
    c.refused("sector", "add", "core1", "east", "--azimuth", "360", code=2)
    c.refused("router", "add", "r9", "--address", "10.0.0.9", code=2)
    c.refused("router", "set", "core1", code=2)
    # a name that is both a router and a device must be qualified
    c.ok("device", "add", "edge2", "--kind", "ups")
    assert "is both a router and a device" in c.refused(
        "link", "add", "--from", "edge2", "--to", "sw1:1", "--medium", "copper"
    )
    added = c.json("link", "add", "--from", "device:edge2:ac", "--to", "router:edge2", "--medium", "copper")
    assert (added["from_kind"], added["to_kind"]) == ("device", "router")


def test_router_api_is_tls_unless_plain_is_asked_for_by_name(db_url: str, migrated_db: None) -> None:
    """API-SSL by default; a pinned fingerprint (colons accepted) or CA file; the plain API only
    with --insecure-plain-api, which warns; --no-api-tls alone is refused."""
    c = Cli(db_url)
    pin = ":".join(["AB"] * 32)
    c.ok(
        "router", "add", "r1", "--address", "10.0.1.1", "--secret", "s3cret-r1", "--vendor", "mikrotik",
        "--api-user", "admin", "--api-password", "api-Pw-1", "--api-fingerprint", pin,
    )  # fmt: skip
    r1 = c.json("router", "show", "r1")
    assert (r1["api_tls"], r1["api_insecure_plain"], r1["api_fingerprint"]) == (True, False, "ab" * 32)
    refused = c.run("router", "set", "r1", "--no-api-tls")
    assert refused.exit_code != 0 and "--insecure-plain-api" in refused.stderr
    bad = c.run("router", "set", "r1", "--api-fingerprint", "not-a-sha256")
    assert bad.exit_code != 0 and "SHA-256" in bad.stderr and "Traceback" not in bad.stderr
    plain = c.run("router", "set", "r1", "--insecure-plain-api")
    assert plain.exit_code == 0 and "warning" in plain.stderr and "in clear" in plain.stderr
    r1 = c.json("router", "show", "r1")
    assert (r1["api_tls"], r1["api_insecure_plain"], r1["api_fingerprint"]) == (False, True, None)
    c.ok("router", "set", "r1", "--api-tls")
    assert c.json("router", "show", "r1")["api_insecure_plain"] is False
    added = c.run(
        "router", "add", "r2", "--address", "10.0.1.2", "--secret", "s3cret-r2",
        "--api-user", "admin", "--api-password", "api-Pw-2", "--insecure-plain-api",
    )  # fmt: skip
    assert added.exit_code == 0 and "in clear" in added.stderr
    both = c.run(
        "router", "add", "r3", "--address", "10.0.1.3", "--secret", "s3cret-r3", "--api-user", "admin",
        "--api-password", "api-Pw-3", "--insecure-plain-api", "--api-fingerprint", "ab" * 32,
    )  # fmt: skip
    assert both.exit_code != 0 and "plain API" in both.stderr
