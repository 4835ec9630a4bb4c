"""LLDP discovery: what the polled neighbours mean for the inventory. Pure (no I/O).

:func:`plan` matches every neighbour an agent reported to an inventory router or device, by
chassis ID (a MAC; the devices' stored ``chassis_id`` and the chassis each polled agent
reported for itself), then management address, then system name (case-insensitive, the first
label of an FQDN too). From that it proposes:

- ``new_links``: neighbour pairs no inventory link joins yet (a link seen from both ends is
  proposed once; a link with no port named on one side matches any port there);
- ``new_devices``: neighbours that match nothing, as devices named by their system name (else
  ``lldp-<chassis>``), at the site of the agent that saw them, with the link to it;
- ``unmatched``: those same unknown neighbours, as reported (also the ones with no usable name);
- ``stale_links``: inventory links with at least one end polled successfully that no poll saw.

An agent that failed (timeout, malformed value) contributes nothing: its links are judged only
from their other end, and nothing it would have proposed is proposed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .lldp import Neighbour, Observation

NodeKey = tuple[str, str]  # (kind, name): kind is "router" or "device"
MAX_NAME = 128


@dataclass(frozen=True, slots=True)
class InventoryNode:
    kind: str
    name: str
    site: str | None = None
    addresses: tuple[str, ...] = ()
    chassis_id: str | None = None

    @property
    def key(self) -> NodeKey:
        return (self.kind, self.name)


@dataclass(frozen=True, slots=True)
class InventoryLink:
    id: int
    a: NodeKey
    a_port: str | None
    b: NodeKey
    b_port: str | None
    source: str = "manual"


@dataclass(frozen=True, slots=True)
class ProposedDevice:
    name: str
    chassis_id: str
    kind: str
    site: str | None
    address: str | None
    seen_by: str  # "router:r1:ether2"


@dataclass(frozen=True, slots=True)
class ProposedLink:
    a_kind: str
    a_name: str
    a_port: str
    b_kind: str
    b_name: str
    b_port: str

    def ends(self) -> frozenset[tuple[str, str, str]]:
        return frozenset({(self.a_kind, self.a_name, self.a_port), (self.b_kind, self.b_name, self.b_port)})


@dataclass(frozen=True, slots=True)
class StaleLink:
    id: int
    a: str
    b: str
    source: str


@dataclass(slots=True)
class Proposal:
    polled: list[str] = field(default_factory=list)  # "router:r1 (snmp)"
    errors: list[str] = field(default_factory=list)
    seen_links: list[int] = field(default_factory=list)
    new_links: list[ProposedLink] = field(default_factory=list)
    new_devices: list[ProposedDevice] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    stale_links: list[StaleLink] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.new_links) + len(self.new_devices) + len(self.stale_links)

    def to_json(self) -> dict[str, Any]:
        return {
            "polled": list(self.polled),
            "errors": list(self.errors),
            "seen_links": sorted(self.seen_links),
            "new_links": [asdict(x) for x in self.new_links],
            "new_devices": [asdict(x) for x in self.new_devices],
            "unmatched": list(self.unmatched),
            "stale_links": [asdict(x) for x in self.stale_links],
        }


def _label(text: str) -> str:
    return text.strip().lower()


class _Index:
    def __init__(self, nodes: Iterable[InventoryNode], observations: Iterable[Observation]) -> None:
        self.nodes = {n.key: n for n in nodes}
        self.chassis: dict[str, NodeKey] = {}
        self.address: dict[str, NodeKey] = {}
        self.name: dict[str, NodeKey] = {}
        for node in sorted(self.nodes.values(), key=lambda n: (n.kind != "router", n.name)):
            if node.chassis_id:
                self.chassis.setdefault(node.chassis_id.lower(), node.key)
            for address in node.addresses:
                self.address.setdefault(address, node.key)
            self.name.setdefault(_label(node.name), node.key)
        for obs in observations:  # what an agent said about itself identifies it
            if obs.chassis_id:
                self.chassis.setdefault(obs.chassis_id.lower(), (obs.kind, obs.name))

    def match(self, n: Neighbour) -> NodeKey | None:
        found = self.chassis.get(n.chassis_id.lower())
        if found:
            return found
        for address in n.addresses:
            if address in self.address:
                return self.address[address]
        if n.sys_name:
            for candidate in (_label(n.sys_name), _label(n.sys_name).split(".")[0]):
                if candidate in self.name:
                    return self.name[candidate]
        return None


def _device_kind(capabilities: Sequence[str]) -> str:
    if "router" in capabilities:
        return "router"
    if "wlanAccessPoint" in capabilities:
        return "access-point"
    if "bridge" in capabilities:
        return "switch"
    return "other"


_SAFE = re.compile(r"[^\w.\-]+")


def _device_name(n: Neighbour) -> str | None:
    if n.sys_name:
        name = _SAFE.sub("-", n.sys_name.strip()).strip("-")[:MAX_NAME]
        if name:
            return name
    if n.chassis_subtype == "macAddress":
        return "lldp-" + n.chassis_id.replace(":", "")
    return None


def _count(n: int) -> str:
    return f"{n} neighbour" if n == 1 else f"{n} neighbours"


def _same_port(stored: str | None, seen: str) -> bool:
    return stored is None or stored == seen


def plan(
    nodes: Sequence[InventoryNode],
    links: Sequence[InventoryLink],
    observations: Sequence[Observation],
    errors: Sequence[tuple[NodeKey, str]] = (),
) -> Proposal:
    """The proposal for these polls (``errors``: agents that failed, with their one line)."""
    index = _Index(nodes, observations)
    out = Proposal(
        polled=[f"{o.kind}:{o.name} ({o.via}, {_count(len(o.neighbours))})" for o in observations],
        errors=[message for _, message in errors],
    )
    polled_ok = {(o.kind, o.name) for o in observations}
    seen: set[int] = set()
    proposed: dict[frozenset[tuple[str, str, str]], ProposedLink] = {}
    devices: dict[str, ProposedDevice] = {}  # by chassis ID
    taken_names = {_label(n.name) for n in nodes}
    for obs in observations:
        local: NodeKey = (obs.kind, obs.name)
        for n in obs.neighbours:
            remote = index.match(n)
            if remote is None:
                out.unmatched.append({"seen_by": f"{obs.kind}:{obs.name}", **n.to_json()})
                name = _device_name(n)
                if name is None:
                    continue
                device = devices.get(n.chassis_id)
                if device is None:
                    if _label(name) in taken_names:
                        name = f"{name}-{n.chassis_id.replace(':', '')[-6:]}"[:MAX_NAME]
                    taken_names.add(_label(name))
                    site = index.nodes[local].site if local in index.nodes else None
                    device = ProposedDevice(
                        name,
                        n.chassis_id,
                        _device_kind(n.capabilities),
                        site,
                        n.addresses[0] if n.addresses else None,
                        f"{obs.kind}:{obs.name}:{n.local_port}",
                    )
                    devices[n.chassis_id] = device
                remote = ("device", device.name)
            if remote == local:
                continue  # an agent that hears itself (a loop) is no link
            hit = [
                link.id
                for link in links
                if (
                    link.a == local
                    and link.b == remote
                    and _same_port(link.a_port, n.local_port)
                    and _same_port(link.b_port, n.port)
                )
                or (
                    link.b == local
                    and link.a == remote
                    and _same_port(link.b_port, n.local_port)
                    and _same_port(link.a_port, n.port)
                )
            ]
            if hit:
                seen.add(hit[0])
                continue
            candidate = ProposedLink(local[0], local[1], n.local_port, remote[0], remote[1], n.port)
            proposed.setdefault(candidate.ends(), candidate)
    out.seen_links = sorted(seen)
    out.new_links = list(proposed.values())
    out.new_devices = list(devices.values())
    for link in links:
        if link.id in seen or not ({link.a, link.b} & polled_ok):
            continue
        a = f"{link.a[0]}:{link.a[1]}" + (f":{link.a_port}" if link.a_port else "")
        b = f"{link.b[0]}:{link.b[1]}" + (f":{link.b_port}" if link.b_port else "")
        out.stale_links.append(StaleLink(link.id, a, b, link.source))
    return out
