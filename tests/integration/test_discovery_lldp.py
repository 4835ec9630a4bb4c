"""``radiusd discover lldp`` against real LLDP: lldpd in network namespaces joined by veth
pairs, LLDP-MIB served by snmpd through lldpd's AgentX sub-agent (tests/integration/lldp_lab.py).

Topology: router ``r1`` (SNMP v2c, the discovery community) with ``ether2`` to switch ``sw1``
(``port1``, SNMPv3 authPriv SHA/AES) and ``ether3`` to access point ``ap1`` (``eth0``,
SNMP v2c). LLDP-MIB: IEEE 802.1AB-2005 Annex F; lldpd sends chassis subtype macAddress and
port subtype macAddress with the interface name as port description, which is the name used.
Runs over SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from radiusd.cli.main import cli
from radiusd.store.engine import create_engine
from tests.conftest import _run
from tests.integration.lldp_lab import COMMUNITY, V3_AUTH, V3_PRIV, V3_USER, Lab, require_tools

pytestmark = pytest.mark.usefixtures("migrated_db")


def _lab() -> Lab:
    require_tools()
    lab = Lab()
    try:
        for name in ("r1", "sw1", "ap1"):
            lab.node(name)
        lab.link("r1", "ether2", "sw1", "port1")
        lab.link("r1", "ether3", "ap1", "eth0")
        lab.start()
    except BaseException:
        lab.close()
        raise
    return lab


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with _lab() as made:
        yield made


class Cli:
    def __init__(self, url: str, community_file: Path) -> None:
        self.url, self.community_file = url, community_file

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--database", self.url, *args])

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result.output

    def discover(self, *extra: str, code: int = 0) -> dict[str, Any]:
        result = self.run(
            "discover", "lldp", "--json", "--router-community-file", str(self.community_file), *extra
        )
        assert result.exit_code == code, result.output
        data: dict[str, Any] = json.loads(result.output)
        return data

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        async def go() -> list[tuple[Any, ...]]:
            engine = create_engine(self.url)
            try:
                async with engine.connect() as conn:
                    return [tuple(r) for r in (await conn.execute(sa.text(sql))).all()]
            finally:
                await engine.dispose()

        result: list[tuple[Any, ...]] = _run(go())
        return result


@pytest.fixture
def radiusd(db_url: str, tmp_path: Path) -> Cli:
    secret = tmp_path / "community"
    secret.write_text(COMMUNITY + "\n")
    secret.chmod(0o600)
    return Cli(db_url, secret)


def _inventory(c: Cli, lab: Lab, *, with_ap: bool = True) -> None:
    r1, sw1, ap1 = lab.nodes["r1"], lab.nodes["sw1"], lab.nodes["ap1"]
    c.ok("site", "add", "pop1")
    c.ok("router", "add", "r1", "--address", r1.mgmt, "--secret", "s3cret-r1-xyz", "--site", "pop1")
    c.ok(
        "device",
        "add",
        "sw1",
        "--kind",
        "switch",
        "--site",
        "pop1",
        "--address",
        sw1.mgmt,
        "--snmp-version",
        "v3",
        "--snmp-user",
        V3_USER,
        "--snmp-auth-protocol",
        "sha",
        "--snmp-auth-key",
        V3_AUTH,
        "--snmp-priv-protocol",
        "aes",
        "--snmp-priv-key",
        V3_PRIV,
    )
    if with_ap:
        c.ok(
            "device",
            "add",
            "ap1",
            "--kind",
            "access-point",
            "--site",
            "pop1",
            "--address",
            ap1.mgmt,
            "--snmp-community",
            COMMUNITY,
        )


def _links(data: dict[str, Any]) -> set[frozenset[str]]:
    return {
        frozenset({f"{x['a_name']}:{x['a_port']}", f"{x['b_name']}:{x['b_port']}"}) for x in data["new_links"]
    }


R1_SW1 = frozenset({"r1:ether2", "sw1:port1"})
R1_AP1 = frozenset({"r1:ether3", "ap1:eth0"})


def test_proposes_the_two_links_then_applies_them_once(radiusd: Cli, lab: Lab) -> None:
    _inventory(radiusd, lab)
    started = time.monotonic()
    first = radiusd.discover()
    elapsed = time.monotonic() - started
    assert first["errors"] == [] and first["skipped"] == []
    assert len(first["polled"]) == 3
    assert _links(first) == {R1_SW1, R1_AP1}  # each seen from both ends, proposed once
    assert first["new_devices"] == [] and first["unmatched"] == [] and first["stale_links"] == []
    assert radiusd.rows("SELECT count(*) FROM device_connections") == [(0,)]  # no --apply: nothing written
    assert elapsed < 15, f"discovery of three agents took {elapsed:.1f}s"

    applied = radiusd.discover("--apply")
    assert len(applied["applied"]["links"]) == 2 and applied["applied"]["skipped"] == []
    rows = radiusd.rows("SELECT source, discovered_at IS NOT NULL, medium FROM device_connections")
    assert sorted(rows) == [("lldp", True, "copper")] * 2

    again = radiusd.discover("--apply")  # idempotent: the same topology changes nothing
    assert again["new_links"] == [] and again["new_devices"] == [] and again["stale_links"] == []
    assert len(again["seen_links"]) == 2
    assert again["applied"] == {"devices": [], "links": [], "removed_links": [], "skipped": []}
    listed = radiusd.ok("link", "list")
    assert "ether2" in listed and "port1" in listed and "eth0" in listed


def test_an_unknown_neighbour_becomes_a_device_matched_by_chassis_next_time(radiusd: Cli, lab: Lab) -> None:
    _inventory(radiusd, lab, with_ap=False)
    first = radiusd.discover("--apply")
    assert [d["name"] for d in first["new_devices"]] == ["ap1"]
    proposed = first["new_devices"][0]
    assert proposed["address"] == lab.nodes["ap1"].mgmt and proposed["site"] == "pop1"
    assert proposed["seen_by"] == "router:r1:ether3"
    assert [u["sys_name"] for u in first["unmatched"]] == ["ap1"]
    assert _links(first) == {R1_SW1, R1_AP1}
    rows = radiusd.rows("SELECT name, source, chassis_id, address FROM managed_devices WHERE name = 'ap1'")
    assert rows == [("ap1", "lldp", proposed["chassis_id"], lab.nodes["ap1"].mgmt)]
    # the next run knows it by its chassis ID and proposes nothing
    again = radiusd.discover()
    assert again["new_devices"] == [] and again["unmatched"] == [] and again["new_links"] == []
    assert len(again["seen_links"]) == 2
    # the router's own JSON never carries the community or the v3 keys
    assert COMMUNITY not in json.dumps(again) and V3_AUTH not in json.dumps(again)


def test_site_filter_and_a_silent_agent(radiusd: Cli, lab: Lab) -> None:
    _inventory(radiusd, lab)
    radiusd.ok("site", "add", "pop2")
    # a device whose agent never answers: the lab's management address of an absent node
    radiusd.ok(
        "device", "add", "ghost", "--site", "pop2", "--address", "192.0.2.77", "--snmp-community", "x-y-z-1"
    )
    only = radiusd.discover("--site", "pop2", "--timeout", "0.3", "--retries", "0", "--apply", code=1)
    assert len(only["errors"]) == 1 and "ghost" in only["errors"][0] and "no answer" in only["errors"][0]
    assert only["applied"]["links"] == [] and only["applied"]["devices"] == []
    assert radiusd.rows("SELECT count(*) FROM device_connections") == [(0,)]
    pop1 = radiusd.discover("--site", "pop1")
    assert pop1["errors"] == [] and _links(pop1) == {R1_SW1, R1_AP1}
    result = radiusd.run("discover", "lldp", "--site", "nowhere")
    assert result.exit_code == 1 and "nowhere" in result.output and "Traceback" not in result.output


def test_a_removed_cable_shows_as_stale_and_only_discovered_links_go(radiusd: Cli) -> None:
    with _lab() as own:
        _inventory(radiusd, own)
        radiusd.discover("--apply")
        radiusd.ok(
            "link", "add", "--from", "sw1:uplink9", "--to", "ap1:lan9", "--medium", "fibre"
        )  # typed in by hand
        own.unlink("r1", "ether3")
        deadline = time.monotonic() + 10
        while "ether3" in own.heard_on("r1"):
            assert time.monotonic() < deadline, "lldpd kept the neighbour of a deleted port"
            time.sleep(0.1)
        after = radiusd.discover("--apply")
        stale = {(s["a"], s["b"], s["source"]) for s in after["stale_links"]}
        assert ("router:r1:ether3", "device:ap1:eth0", "lldp") in stale
        assert ("device:sw1:uplink9", "device:ap1:lan9", "manual") in stale
        assert len(after["applied"]["removed_links"]) == 1  # the discovered one only
        rows = radiusd.rows("SELECT from_port, to_port, source FROM device_connections ORDER BY id")
        assert rows == [("ether2", "port1", "lldp"), ("uplink9", "lan9", "manual")]
