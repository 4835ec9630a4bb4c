"""LLDP values decoded by subtype (IEEE 802.1AB-2005 9.5.2.2, 9.5.3.2) and the discovery
planner: matching order, a link seen from both ends proposed once, stale links judged only
from agents that answered, unknown neighbours turned into devices once."""

from __future__ import annotations

import pytest

from inventory.discovery import InventoryLink, InventoryNode, plan
from inventory.lldp import MalformedLldp, Neighbour, Observation, decode_id, from_routeros, normalise_mac


@pytest.mark.parametrize(
    ("subtype", "raw", "port", "text"),
    [
        (4, bytes.fromhex("cc2de0a1b2c3"), False, "cc:2d:e0:a1:b2:c3"),  # chassis macAddress
        (5, bytes.fromhex("010a1e0063"), False, "10.30.0.99"),  # chassis networkAddress, IPv4
        (5, bytes.fromhex("02" + "20010db8" + "00" * 11 + "01"), False, "2001:db8::1"),
        (7, b"FOC1234X0AB", False, "FOC1234X0AB"),  # chassis local (a serial number)
        (5, b"ether1", True, "ether1"),  # port interfaceName (MikroTik, Cisco)
        (7, b"0/5", True, "0/5"),  # port local (Ubiquiti EdgeSwitch)
        (3, bytes.fromhex("788a20445567"), True, "78:8a:20:44:55:67"),  # port macAddress
    ],
)
def test_ids_by_subtype(subtype: int, raw: bytes, port: bool, text: str) -> None:
    assert decode_id(subtype, raw, port=port) == text


@pytest.mark.parametrize(
    ("subtype", "raw", "port", "message"),
    [
        (4, bytes.fromhex("cc2de0a1"), False, "6 bytes, got 4"),
        (5, bytes.fromhex("010a1e00"), False, "networkAddress of 4 bytes"),
        (8, b"x", False, "subtype 8"),
        (0, b"x", True, "subtype 0"),
        (5, b"eth\x00", True, "control characters"),
        (7, b"\xff\xfe", True, "not UTF-8"),
    ],
)
def test_malformed_ids_are_refused(subtype: int, raw: bytes, port: bool, message: str) -> None:
    with pytest.raises(MalformedLldp, match=message):
        decode_id(subtype, raw, port=port)


def test_macs_in_any_notation() -> None:
    assert normalise_mac("CC-2D-E0-11-22-33") == normalise_mac("cc2d.e011.2233") == "cc:2d:e0:11:22:33"
    assert normalise_mac("CC:2D:E0:11:22") is None and normalise_mac("zz:2d:e0:11:22:33") is None


def test_routeros_rows() -> None:
    obs = from_routeros(
        "router",
        "mt",
        [
            {
                "interface": "ether2,bridge",
                "mac-address": "CC:2D:E0:11:22:33",
                "identity": "sw",
                "address4": "10.0.0.2",
                "address6": "fe80::1",
                "interface-name": "ether24",
                "system-caps-enabled": "bridge",
            },
            {"interface": "ether3", "mac-address": "00:11:22:33:44:55"},
        ],
        {"name": "mt-edge"},
    )
    first, second = obs.neighbours
    assert (first.local_port, first.port, first.addresses, first.capabilities) == (
        "ether2",
        "ether24",
        ("10.0.0.2", "fe80::1"),
        ("bridge",),
    )
    assert (second.port, second.sys_name, obs.sys_name) == ("00:11:22:33:44:55", None, "mt-edge")
    with pytest.raises(MalformedLldp, match="not a MAC"):
        from_routeros("router", "mt", [{"interface": "ether2", "mac-address": "junk"}])


def _n(port: str, chassis: str, remote_port: str, name: str | None = None, *addrs: str) -> Neighbour:
    return Neighbour(port, chassis, "macAddress", remote_port, "interfaceName", None, name, addrs)


R1 = InventoryNode("router", "r1", "pop", ("10.0.0.1",))
SW = InventoryNode("device", "sw1", "pop", ("10.0.0.2",))
AP = InventoryNode("device", "ap1", "pop", (), "aa:aa:aa:aa:aa:03")


def test_matching_by_chassis_then_address_then_name_and_one_link_per_pair() -> None:
    obs = [
        Observation(
            "router",
            "r1",
            "snmp",
            "aa:aa:aa:aa:aa:01",
            "r1",
            (
                _n("e2", "aa:aa:aa:aa:aa:02", "p1", "whatever", "10.0.0.2"),  # sw1 by address
                _n("e3", "AA:AA:AA:AA:AA:03", "eth0"),  # ap1 by stored chassis
            ),
        ),
        Observation(
            "device",
            "sw1",
            "snmp",
            "aa:aa:aa:aa:aa:02",
            "sw1",
            (
                _n("p1", "aa:aa:aa:aa:aa:01", "e2", "R1.example.net"),  # r1 by the chassis it reported
            ),
        ),
    ]
    out = plan([R1, SW, AP], [], obs)
    assert {(x.a_name, x.a_port, x.b_name, x.b_port) for x in out.new_links} == {
        ("r1", "e2", "sw1", "p1"),
        ("r1", "e3", "ap1", "eth0"),
    }
    assert out.new_devices == [] and out.unmatched == [] and out.stale_links == []
    # by system name (FQDN's first label) when nothing else matches
    by_name = plan(
        [R1, SW],
        [],
        [
            Observation(
                "device", "sw1", "snmp", None, None, (_n("p1", "ee:ee:ee:ee:ee:ee", "x", "R1.example.net"),)
            )
        ],
    )
    assert [(x.b_name if x.a_name == "sw1" else x.a_name) for x in by_name.new_links] == ["r1"]


def test_stale_only_from_agents_that_answered_and_unknowns_become_one_device() -> None:
    links = [
        InventoryLink(1, ("router", "r1"), "e2", ("device", "sw1"), "p1", "lldp"),
        InventoryLink(2, ("router", "r1"), None, ("device", "ap1"), None, "manual"),  # no ports: any port
        InventoryLink(3, ("device", "sw1"), "p9", ("device", "ap1"), "x", "manual"),
    ]
    unknown = "bb:bb:bb:bb:bb:bb"
    obs = [
        Observation(
            "router",
            "r1",
            "snmp",
            None,
            None,
            (
                _n("e3", "aa:aa:aa:aa:aa:03", "eth0"),
                _n("e7", unknown, "ge-0/0/1", "cpe 7!", "10.9.9.9"),
            ),
        ),
    ]
    out = plan([R1, SW, AP], links, obs, errors=[(("device", "sw1"), "device 'sw1': no answer")])
    assert out.seen_links == [2]
    assert [s.id for s in out.stale_links] == [1]  # r1 answered and no longer sees sw1; #3 unjudged
    [device] = out.new_devices
    assert (device.name, device.address, device.site, device.seen_by) == (
        "cpe-7",
        "10.9.9.9",
        "pop",
        "router:r1:e7",
    )
    assert [(x.b_name, x.b_port) for x in out.new_links] == [("cpe-7", "ge-0/0/1")]
    assert out.errors == ["device 'sw1': no answer"]
    # the same unknown heard by two agents is one device with two links
    twice = plan(
        [R1, SW],
        [],
        [
            Observation("router", "r1", "snmp", None, None, (_n("e7", unknown, "a", "cpe"),)),
            Observation("device", "sw1", "snmp", None, None, (_n("p4", unknown, "b", "cpe"),)),
        ],
    )
    assert [d.name for d in twice.new_devices] == ["cpe"] and len(twice.new_links) == 2
