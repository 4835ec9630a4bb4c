"""The LLDP-MIB poller (pysnmp) against snmpsim (PyPI ``snmpsim``) replaying recordings of
what MikroTik, Ubiquiti and Cisco agents send (tests/data/snmprec, community = file name), an
LLDP-V2-MIB-only agent, a malformed agent and a silent one.

Chassis ID and port ID subtypes per IEEE 802.1AB-2005 9.5.2.2 / 9.5.3.2 (LLDP-MIB
``LldpChassisIdSubtype``, ``LldpPortIdSubtype``): MikroTik sends macAddress / interfaceName,
Ubiquiti macAddress / local ("0/5") or macAddress with the name in the description, Cisco
macAddress / interfaceName ("Gi1/0/24"), plus here a networkAddress chassis with an
interfaceAlias port. lldpRemManAddrTable rows carry the management addresses.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from inventory.lldp_snmp import PollError, SnmpTarget, poll
from radiusd.cli.main import cli
from tests.integration.snmpsim_agent import SnmpSim, available


@pytest.fixture(scope="module")
def sim() -> Iterator[SnmpSim]:
    why = available()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    with SnmpSim() as running:
        yield running


def _target(sim: SnmpSim, community: str, name: str = "dev") -> SnmpTarget:
    return SnmpTarget("device", name, "127.0.0.1", sim.port, "v2c", community)


def _view(obs: Any) -> list[tuple[Any, ...]]:
    return [
        (
            n.local_port,
            n.chassis_subtype,
            n.chassis_id,
            n.port_subtype,
            n.port,
            n.sys_name,
            n.addresses,
            n.capabilities,
        )
        for n in obs.neighbours
    ]


async def test_mikrotik_mac_chassis_and_interface_name_ports(sim: SnmpSim) -> None:
    obs = await poll(_target(sim, "mikrotik"))
    assert (obs.chassis_id, obs.sys_name) == ("cc:2d:e0:a1:b2:c3", "crs-pop1")
    assert _view(obs) == [
        (
            "ether1",
            "macAddress",
            "48:a9:8a:0c:0d:0e",
            "interfaceName",
            "ether5",
            "hap-ac2",
            ("10.30.0.5",),
            ("bridge", "router"),
        ),
        (
            "sfp-sfpplus1",
            "macAddress",
            "2c:c8:1b:00:00:01",
            "interfaceName",
            "sfp-sfpplus2",
            "ccr-core",
            ("10.30.0.1",),
            ("bridge", "router"),
        ),
    ]


async def test_ubiquiti_local_and_mac_port_ids(sim: SnmpSim) -> None:
    obs = await poll(_target(sim, "ubiquiti"))
    assert obs.sys_name == "usw-24-pop1"
    assert _view(obs) == [
        # a MAC port ID names the port by its description; the local port by lldpLocPortDesc
        (
            "Port 3",
            "macAddress",
            "78:8a:20:44:55:66",
            "macAddress",
            "eth0",
            "uap-ac-lr-3",
            (),
            ("wlanAccessPoint",),
        ),
        # no lldpLocPortDesc: the local port ID "0/5"; a "local" port ID is the name as sent
        ("0/5", "macAddress", "b4:fb:e4:77:88:99", "local", "0/1", "usw-flex-mini", (), ("bridge",)),
    ]
    assert obs.neighbours[0].port_id == "78:8a:20:44:55:67"


async def test_cisco_interface_names_and_a_network_address_chassis(sim: SnmpSim) -> None:
    obs = await poll(_target(sim, "cisco"))
    assert (obs.chassis_id, obs.sys_name) == ("00:1e:bd:aa:bb:00", "c2960x.example.net")
    assert _view(obs) == [
        (
            "GigabitEthernet1/0/24",
            "macAddress",
            "cc:2d:e0:a1:b2:c3",
            "interfaceName",
            "ether8",
            "crs-pop1",
            (),
            ("bridge", "router"),
        ),
        (
            "GigabitEthernet1/0/48",
            "networkAddress",
            "10.30.0.99",
            "interfaceAlias",
            "Uplink to core",
            None,
            (),
            (),
        ),
    ]


async def test_an_lldp_v2_mib_agent_is_read_through_the_v2_tables(sim: SnmpSim) -> None:
    obs = await poll(_target(sim, "lldpv2"))
    assert (obs.chassis_id, obs.sys_name) == ("3c:61:04:0a:0b:0c", "ex4300-pop1")
    assert [(n.local_port, n.chassis_id, n.port, n.sys_name) for n in obs.neighbours] == [
        ("xe-0/0/7", "cc:2d:e0:a1:b2:c3", "sfp-sfpplus1", "crs-pop1")
    ]


async def test_a_malformed_mac_is_one_clear_error(sim: SnmpSim) -> None:
    with pytest.raises(PollError) as caught:
        await poll(_target(sim, "malformed", "bad1"))
    message = str(caught.value)
    assert "\n" not in message and "device 'bad1'" in message
    assert "a MAC address is 6 bytes, got 4 (cc2de0a1)" in message


async def test_a_wrong_community_and_a_silent_agent_time_out_with_one_line() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        target = SnmpTarget("device", "mute", "127.0.0.1", silent.getsockname()[1], "v2c", "s3cret-comm")
        with pytest.raises(PollError) as caught:
            await poll(target, per_try=0.3, retries=0)
    assert "no answer within 0.3s x 1" in str(caught.value) and "s3cret-comm" not in str(caught.value)


@pytest.mark.usefixtures("migrated_db")
def test_cli_run_over_the_recordings_writes_nothing_from_the_bad_agents(db_url: str, sim: SnmpSim) -> None:
    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--database", db_url, *args])
        assert result.exit_code == code, result.output
        return result.output

    run("site", "add", "pop1")
    port = str(sim.port)
    for name, community in (("crs-pop1", "mikrotik"), ("c2960x", "cisco"), ("bad1", "malformed")):
        run(
            "device",
            "add",
            name,
            "--site",
            "pop1",
            "--address",
            "127.0.0.1",
            "--snmp-port",
            port,
            "--snmp-community",
            community,
        )
    data: dict[str, Any] = json.loads(run("discover", "lldp", "--json", "--apply", code=1))
    assert len(data["errors"]) == 1 and "device 'bad1'" in data["errors"][0]
    links = {(x["a_name"], x["a_port"], x["b_name"], x["b_port"]) for x in data["new_links"]}
    assert links == {
        ("crs-pop1", "ether1", "hap-ac2", "ether5"),
        ("crs-pop1", "sfp-sfpplus1", "ccr-core", "sfp-sfpplus2"),
        ("c2960x", "GigabitEthernet1/0/24", "crs-pop1", "ether8"),  # matched by chassis ID
    }
    assert sorted(d["name"] for d in data["new_devices"]) == ["ccr-core", "hap-ac2"]
    # the networkAddress chassis with no system name: reported, not made a device
    assert [u["chassis_id"] for u in data["unmatched"] if u["sys_name"] is None] == ["10.30.0.99"]
    assert (
        sorted(data["applied"]["devices"]) == ["ccr-core", "hap-ac2"] and len(data["applied"]["links"]) == 3
    )
    listed = run("link", "list", "--json")
    assert "short-mac" not in listed and "bad-switch" not in run("device", "list")
