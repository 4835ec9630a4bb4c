"""LLDP neighbours as seen by one polled router or device, decoded from LLDP-MIB or RouterOS.

Pure: no I/O. The SNMP poller (:mod:`inventory.lldp_snmp`) hands over the walked columns and
the RouterOS poller (:mod:`inventory.lldp_routeros`) the rows of ``/ip/neighbor/print``; both
end here as an :class:`Observation`.

Chassis and port IDs are typed by a subtype (IEEE 802.1AB-2005 sections 9.5.2.2 and 9.5.3.2,
LLDP-MIB ``LldpChassisIdSubtype`` / ``LldpPortIdSubtype``). What vendors send:

- MikroTik RouterOS: chassis ``macAddress`` (4), port ``interfaceName`` (5, ``ether1``);
- Ubiquiti EdgeSwitch / UniFi: chassis ``macAddress`` (4), port ``local`` (7, ``0/1``) or
  ``macAddress`` (3) with the port name in the description;
- Cisco IOS / IOS-XE: chassis ``macAddress`` (4), port ``interfaceName`` (5, ``Gi1/0/1``);
- lldpd (Linux): chassis ``macAddress`` (4), port ``macAddress`` (3), port description = name.

A value that cannot be what its subtype says (a MAC that is not 6 bytes, a network address
whose family and length disagree, a subtype outside 1..7) raises :class:`MalformedLldp`:
the caller drops that agent's whole answer rather than guess.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# LLDP-MIB (IEEE 802.1AB-2005 Annex F), lldpMIB = 1.0.8802.1.1.2
LLDP_MIB = (1, 0, 8802, 1, 1, 2)
LOC_CHASSIS_ID_SUBTYPE = (*LLDP_MIB, 1, 3, 1, 0)
LOC_CHASSIS_ID = (*LLDP_MIB, 1, 3, 2, 0)
LOC_SYS_NAME = (*LLDP_MIB, 1, 3, 3, 0)
LOC_PORT_TABLE = (*LLDP_MIB, 1, 3, 7, 1)  # lldpLocPortEntry: .2 id subtype .3 id .4 desc
REM_TABLE = (*LLDP_MIB, 1, 4, 1, 1)  # lldpRemEntry, index timeMark.localPortNum.remIndex
REM_MAN_ADDR_TABLE = (*LLDP_MIB, 1, 4, 2, 1)  # index ... .addrSubtype.addrLen.addr
REM_COLUMNS = {
    4: "chassis_subtype",
    5: "chassis_id",
    6: "port_subtype",
    7: "port_id",
    8: "port_desc",
    9: "sys_name",
    10: "sys_desc",
    12: "caps",
}
# LLDP-V2-MIB (IEEE 802.1AB-2009), lldpV2MIB = 1.3.111.2.802.1.1.13: same columns, index
# timeMark.ifIndex.destMACAddressIndex.remIndex
V2_MIB = (1, 3, 111, 2, 802, 1, 1, 13)
V2_LOC_CHASSIS_ID_SUBTYPE = (*V2_MIB, 1, 3, 1, 0)
V2_LOC_CHASSIS_ID = (*V2_MIB, 1, 3, 2, 0)
V2_LOC_SYS_NAME = (*V2_MIB, 1, 3, 3, 0)
V2_REM_TABLE = (*V2_MIB, 1, 4, 1, 1)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)  # IF-MIB ifName, names the ifIndex of LLDP-V2-MIB
V2_REM_COLUMNS = {
    5: "chassis_subtype",
    6: "chassis_id",
    7: "port_subtype",
    8: "port_id",
    9: "port_desc",
    10: "sys_name",
    11: "sys_desc",
    13: "caps",
}

CHASSIS_SUBTYPES = {
    1: "chassisComponent",
    2: "interfaceAlias",
    3: "portComponent",
    4: "macAddress",
    5: "networkAddress",
    6: "interfaceName",
    7: "local",
}
PORT_SUBTYPES = {
    1: "interfaceAlias",
    2: "portComponent",
    3: "macAddress",
    4: "networkAddress",
    5: "interfaceName",
    6: "agentCircuitId",
    7: "local",
}
MAC_CHASSIS, MAC_PORT = 4, 3
# LldpSystemCapabilitiesMap bits (802.1AB 9.5.8.1), most significant bit first
CAPABILITY_BITS = (
    "other",
    "repeater",
    "bridge",
    "wlanAccessPoint",
    "router",
    "telephone",
    "docsisCableDevice",
    "stationOnly",
)


class MalformedLldp(ValueError):
    """An agent sent an LLDP value its own subtype rules out; its answer is not used."""


def mac_text(raw: bytes) -> str:
    if len(raw) != 6:
        raise MalformedLldp(f"a MAC address is 6 bytes, got {len(raw)} ({raw.hex() or 'empty'})")
    return ":".join(f"{b:02x}" for b in raw)


def normalise_mac(text: str) -> str | None:
    """``AA-BB-CC-DD-EE-FF`` / ``aabb.ccdd.eeff`` / ``aa:bb:..`` as ``aa:bb:cc:dd:ee:ff``."""
    digits = "".join(c for c in text.lower() if c in "0123456789abcdef")
    stripped = "".join(c for c in text.lower() if c not in ":-. ")
    if len(digits) != 12 or digits != stripped:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _text(raw: bytes, what: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedLldp(f"{what} is not UTF-8 text ({raw[:16].hex()})") from None
    if not text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise MalformedLldp(f"{what} is empty or holds control characters ({raw[:16].hex()})")
    return text


def _network_address(raw: bytes, what: str) -> str:
    """IANA address family (1 IPv4, 2 IPv6) then the address (802.1AB 9.5.2.2)."""
    if len(raw) == 5 and raw[0] == 1:
        return str(ipaddress.IPv4Address(raw[1:]))
    if len(raw) == 17 and raw[0] == 2:
        return str(ipaddress.IPv6Address(raw[1:]))
    raise MalformedLldp(f"{what} is a networkAddress of {len(raw)} bytes, family {raw[:1].hex() or 'none'}")


def decode_id(subtype: int, raw: bytes, *, port: bool) -> str:
    """The chassis or port ID as text: MACs normalised, addresses as IP text, names as sent."""
    table = PORT_SUBTYPES if port else CHASSIS_SUBTYPES
    what = "port ID" if port else "chassis ID"
    if subtype not in table:
        raise MalformedLldp(f"{what} subtype {subtype} is not one of 1..7")
    name = table[subtype]
    if name == "macAddress":
        return mac_text(raw)
    if name == "networkAddress":
        return _network_address(raw, what)
    return _text(raw, f"{what} ({name})")


def capabilities(raw: bytes) -> tuple[str, ...]:
    bits = raw[0] if raw else 0
    return tuple(name for i, name in enumerate(CAPABILITY_BITS) if bits & (0x80 >> i))


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One remote system seen on one local port."""

    local_port: str
    chassis_id: str
    chassis_subtype: str
    port_id: str
    port_subtype: str
    port_desc: str | None = None
    sys_name: str | None = None
    addresses: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()

    @property
    def port(self) -> str:
        """The remote port's name: the ID unless it is a MAC or address, then the description."""
        if self.port_subtype in ("macAddress", "networkAddress") and self.port_desc:
            return self.port_desc
        return self.port_id

    def to_json(self) -> dict[str, Any]:
        return {
            "local_port": self.local_port,
            "chassis_id": self.chassis_id,
            "chassis_subtype": self.chassis_subtype,
            "port_id": self.port_id,
            "port_subtype": self.port_subtype,
            "port": self.port,
            "port_desc": self.port_desc,
            "sys_name": self.sys_name,
            "addresses": list(self.addresses),
            "capabilities": list(self.capabilities),
        }


@dataclass(frozen=True, slots=True)
class Observation:
    """What one polled router/device (``kind``, ``name``) said about itself and its neighbours."""

    kind: str
    name: str
    via: str  # "snmp" or "routeros"
    chassis_id: str | None = None
    sys_name: str | None = None
    neighbours: tuple[Neighbour, ...] = field(default=())


Oid = tuple[int, ...]


def _octets(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise MalformedLldp(f"expected an OCTET STRING, got {type(value).__name__}")


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedLldp(f"{what} is not an INTEGER ({type(value).__name__})")
    return value


def _port_names(local_ports: Mapping[Oid, Any], if_names: Mapping[Oid, Any]) -> dict[int, str]:
    """Local port number -> name: lldpLocPortDesc, else lldpLocPortId; LLDP-V2-MIB: ifName."""
    names: dict[int, str] = {}
    for oid, value in local_ports.items():  # lldpLocPortEntry.column.portNum
        column, port_num = oid[len(LOC_PORT_TABLE)], oid[-1]
        if column not in (3, 4):
            continue
        raw = _octets(value)
        if column == 4 and raw:
            names[port_num] = _text(raw, "lldpLocPortDesc")
        elif column == 3 and port_num not in names and raw:
            try:
                names[port_num] = _text(raw, "lldpLocPortId")
            except MalformedLldp:
                names[port_num] = raw.hex(":")
    for oid, value in if_names.items():
        raw = _octets(value)
        if raw:
            names.setdefault(oid[-1], _text(raw, "ifName"))
    return names


def _management_addresses(addresses: Mapping[Oid, Any]) -> dict[Oid, list[str]]:
    """Neighbour index (timeMark.port.remIndex) -> its IPv4/IPv6 management addresses."""
    found: dict[Oid, list[str]] = {}
    for oid in addresses:  # index: timeMark.port.remIndex.subtype.len.addr...
        index = oid[len(REM_MAN_ADDR_TABLE) + 1 :]
        key, family, length, addr = index[:3], index[3], index[4], bytes(index[5:])
        if length != len(addr):
            raise MalformedLldp(
                f"lldpRemManAddr index {'.'.join(map(str, index))} has a length that disagrees"
            )
        if family == 1 and length == 4:
            found.setdefault(key, []).append(str(ipaddress.IPv4Address(addr)))
        elif family == 2 and length == 16:
            found.setdefault(key, []).append(str(ipaddress.IPv6Address(addr)))
    return found


def from_mib(
    kind: str,
    name: str,
    scalars: Mapping[Oid, Any],
    local_ports: Mapping[Oid, Any],
    remote: Mapping[Oid, Any],
    addresses: Mapping[Oid, Any],
    *,
    v2: bool = False,
    if_names: Mapping[Oid, Any] | None = None,
) -> Observation:
    """An observation from walked LLDP-MIB (or LLDP-V2-MIB) columns, values as Python ints
    and bytes. The remote table's index carries the local port number; its name comes from
    lldpLocPortDesc (else lldpLocPortId)."""
    chassis_oid, subtype_oid, sysname_oid = (
        (V2_LOC_CHASSIS_ID, V2_LOC_CHASSIS_ID_SUBTYPE, V2_LOC_SYS_NAME)
        if v2
        else (LOC_CHASSIS_ID, LOC_CHASSIS_ID_SUBTYPE, LOC_SYS_NAME)
    )
    own_chassis = None
    if chassis_oid in scalars and subtype_oid in scalars:
        own_chassis = decode_id(
            _int(scalars[subtype_oid], "lldpLocChassisIdSubtype"), _octets(scalars[chassis_oid]), port=False
        )
    own_name = _text(_octets(scalars[sysname_oid]), "lldpLocSysName") if sysname_oid in scalars else None
    port_names = _port_names(local_ports, if_names or {})
    table, columns = (V2_REM_TABLE, V2_REM_COLUMNS) if v2 else (REM_TABLE, REM_COLUMNS)
    rows: dict[Oid, dict[str, Any]] = {}
    for oid, value in remote.items():
        column, index = oid[len(table)], oid[len(table) + 1 :]
        if column in columns:
            rows.setdefault(index, {})[columns[column]] = value
    found = _management_addresses(addresses)
    neighbours = []
    for index, row in sorted(rows.items()):
        where = f"neighbour {'.'.join(map(str, index))}"
        missing = [c for c in ("chassis_subtype", "chassis_id", "port_subtype", "port_id") if c not in row]
        if missing:
            raise MalformedLldp(f"{where} lacks {', '.join(missing)}")
        chassis_subtype = _int(row["chassis_subtype"], "lldpRemChassisIdSubtype")
        port_subtype = _int(row["port_subtype"], "lldpRemPortIdSubtype")
        try:
            chassis = decode_id(chassis_subtype, _octets(row["chassis_id"]), port=False)
            port_id = decode_id(port_subtype, _octets(row["port_id"]), port=True)
        except MalformedLldp as exc:
            raise MalformedLldp(f"{where}: {exc}") from None
        desc = _octets(row.get("port_desc", b""))
        sys_name = _octets(row.get("sys_name", b""))
        local = index[1]
        neighbours.append(
            Neighbour(
                local_port=port_names.get(local, str(local)),
                chassis_id=chassis,
                chassis_subtype=CHASSIS_SUBTYPES[chassis_subtype],
                port_id=port_id,
                port_subtype=PORT_SUBTYPES[port_subtype],
                port_desc=_text(desc, f"{where} port description") if desc else None,
                sys_name=_text(sys_name, f"{where} system name") if sys_name else None,
                addresses=tuple(dict.fromkeys(found.get(index[:3], ()))),
                capabilities=capabilities(_octets(row.get("caps", b""))),
            )
        )
    return Observation(kind, name, "snmp", own_chassis, own_name, tuple(neighbours))


def from_routeros(
    kind: str, name: str, rows: Sequence[Mapping[str, Any]], own: Mapping[str, Any] | None = None
) -> Observation:
    """An observation from ``/ip/neighbor/print`` rows (RouterOS 6/7: ``interface``,
    ``mac-address``, ``identity``, ``address``/``address4``/``address6``, ``interface-name``,
    ``system-caps-enabled``, ``discovered-by``); ``own`` is ``/system/identity``."""
    neighbours = []
    for row in rows:
        where = f"/ip/neighbor {row.get('.id', '?')}"
        mac = normalise_mac(str(row.get("mac-address", "")))
        if mac is None:
            raise MalformedLldp(f"{where}: mac-address {str(row.get('mac-address', ''))[:32]!r} is not a MAC")
        interface = str(row.get("interface", "")).split(",")[0]
        if not interface:
            raise MalformedLldp(f"{where} has no interface")
        remote_port = str(row.get("interface-name") or "") or mac
        addresses = []
        for key in ("address4", "address", "address6"):
            for value in str(row.get(key) or "").split(","):
                try:
                    addresses.append(str(ipaddress.ip_address(value.strip())))
                except ValueError:
                    continue
        caps = tuple(
            {"bridge": "bridge", "router": "router", "wlan-ap": "wlanAccessPoint"}.get(c, c)
            for c in str(row.get("system-caps-enabled") or "").split(",")
            if c
        )
        neighbours.append(
            Neighbour(
                local_port=interface,
                chassis_id=mac,
                chassis_subtype="macAddress",
                port_id=remote_port,
                port_subtype="interfaceName" if row.get("interface-name") else "macAddress",
                sys_name=str(row.get("identity") or "") or None,
                addresses=tuple(dict.fromkeys(addresses)),
                capabilities=caps,
            )
        )
    sys_name = str(own.get("name")) if own and own.get("name") else None
    return Observation(kind, name, "routeros", None, sys_name, tuple(neighbours))
