"""What radiusd holds, as NetBox objects (read only): the desired state of ``radiusd netbox sync``.

Each :class:`Want` names its NetBox endpoint, our id (the ``radiusd_id`` custom field, e.g.
``router:3``), the fields to send, and references to other wants (``refs``: field -> our id)
that the sync turns into NetBox ids once those exist. Shapes follow NetBox 4.2+ (prefix
``scope_type``/``scope_id`` instead of ``site``; device ``role``; cable terminations).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from . import inventory as inv
from .models import Subscriber
from .prefix_models import AddressAssignment, Prefix

GROUPS = ("sites", "devices", "cables", "prefixes", "addresses")
NO_SITE = "radiusd-no-site"  # NetBox requires a device's site; routers without one go here
PREFIX_STATUS = {"container": "container", "reserved": "reserved"}  # else "active"


@dataclass(slots=True)
class Want:
    endpoint: str  # "dcim.sites"
    our_id: str
    fields: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)
    group: str = "sites"
    shared: bool = False  # manufacturers, types, roles: adopted by slug when they exist


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")[:100] or "x"


def _site_wants(sites: list[inv.SiteRecord], need_no_site: bool) -> list[Want]:
    wants = [
        Want(
            "dcim.sites",
            f"site:{s.id}",
            {
                "name": s.name,
                "slug": slug(s.name),
                "status": "active",
                "description": (s.description or "")[:200],
            },
        )
        for s in sites
    ]
    if need_no_site:
        wants.append(
            Want(
                "dcim.sites",
                "site:none",
                {
                    "name": NO_SITE,
                    "slug": NO_SITE,
                    "status": "active",
                    "description": "radiusd routers and devices without a site",
                },
            )
        )
    return wants


@dataclass(slots=True)
class _Inventory:
    sites: list[inv.SiteRecord]
    routers: list[inv.RouterRecord]
    devices: list[inv.DeviceRecord]
    links: list[inv.LinkRecord]
    sectors: list[inv.SectorRecord]

    @property
    def need_no_site(self) -> bool:
        return any(r.site is None for r in self.routers) or any(d.site is None for d in self.devices)

    def site_ref(self, name: str | None) -> str:
        ids = {s.name: s.id for s in self.sites}
        return f"site:{ids[name]}" if name else "site:none"


def _text(value: str | None) -> str:
    return (value or "")[:200]


def _device_wants(data: _Inventory) -> list[Want]:
    out: list[Want] = []
    for maker in sorted({r.vendor for r in data.routers} | {"generic"}):
        fields = {"name": maker, "slug": slug(maker)}
        out.append(Want("dcim.manufacturers", f"manufacturer:{maker}", fields, group="devices", shared=True))
    types = {(r.vendor, "router") for r in data.routers} | {("generic", d.kind) for d in data.devices}
    for maker, kind in sorted(types):
        model = f"{maker} {kind}"
        refs = {"manufacturer": f"manufacturer:{maker}"}
        fields = {"model": model, "slug": slug(model)}
        out.append(Want("dcim.device-types", f"device-type:{maker}:{kind}", fields, refs, "devices", True))
    for role in sorted({"router"} | {d.kind for d in data.devices}):
        fields = {"name": role, "slug": slug(role), "color": "2196f3"}
        out.append(Want("dcim.device-roles", f"role:{role}", fields, group="devices", shared=True))
    for r in data.routers:
        fields = {"name": r.name, "status": "active", "description": _text(r.description)}
        refs = {
            "device_type": f"device-type:{r.vendor}:router",
            "role": "role:router",
            "site": data.site_ref(r.site),
        }
        out.append(Want("dcim.devices", f"router:{r.id}", fields, refs, "devices"))
    for d in data.devices:
        fields = {"name": d.name, "status": "active", "description": _text(d.description)}
        refs = {
            "device_type": f"device-type:generic:{d.kind}",
            "role": f"role:{d.kind}",
            "site": data.site_ref(d.site),
        }
        out.append(Want("dcim.devices", f"device:{d.id}", fields, refs, "devices"))
    return out


def _cable_wants(data: _Inventory) -> list[Want]:
    ids = {("router", r.name): r.id for r in data.routers} | {("device", d.name): d.id for d in data.devices}
    interfaces: dict[str, Want] = {}

    def interface(kind: str, node_id: int, name: str, type_: str = "other") -> str:
        our = f"interface:{kind}:{node_id}:{name}"
        fields = {"name": name[:64], "type": type_}
        interfaces.setdefault(
            our, Want("dcim.interfaces", our, fields, {"device": f"{kind}:{node_id}"}, "cables")
        )
        return our

    for s in data.sectors:
        interface("router", s.router_id, f"sector-{s.name}", "ieee802.11ac")
    cables = []
    for link in data.links:
        a = interface(
            link.from_kind, ids[(link.from_kind, link.from_name)], link.from_port or f"link-{link.id}"
        )
        b = interface(link.to_kind, ids[(link.to_kind, link.to_name)], link.to_port or f"link-{link.id}")
        fields = {
            "status": "connected",
            "label": f"radiusd link {link.id}",
            "description": _text(link.description),
        }
        cable_type = {"fibre": "smf", "copper": "cat6"}.get(link.medium)
        if cable_type:
            fields["type"] = cable_type
        refs = {"a_terminations": a, "b_terminations": b}
        cables.append(Want("dcim.cables", f"link:{link.id}", fields, refs, "cables"))
    return list(interfaces.values()) + cables


async def _prefix_wants(engine: AsyncEngine) -> list[Want]:
    async with engine.connect() as conn:
        query = sa.select(Prefix.id, Prefix.prefix, Prefix.role, Prefix.site_id, Prefix.description)
        rows = (await conn.execute(query.order_by(Prefix.id))).all()
    out = [
        Want(
            "ipam.roles",
            f"prefix-role:{role}",
            {"name": role, "slug": slug(role)},
            group="prefixes",
            shared=True,
        )
        for role in sorted({r.role for r in rows})
    ]
    for row in rows:
        fields: dict[str, Any] = {
            "prefix": row.prefix,
            "status": PREFIX_STATUS.get(row.role, "active"),
            "is_pool": row.role == "pool",
            "description": _text(row.description),
        }
        refs = {"role": f"prefix-role:{row.role}"}
        if row.site_id is not None:
            fields["scope_type"] = "dcim.site"
            refs["scope_id"] = f"site:{row.site_id}"
        out.append(Want("ipam.prefixes", f"prefix:{row.id}", fields, refs, "prefixes"))
    return out


def _host(address: str) -> str:
    return address if "/" in address else f"{address}/{ipaddress.ip_address(address).max_prefixlen}"


async def _address_wants(engine: AsyncEngine, leases: bool) -> list[Want]:
    async with engine.connect() as conn:
        statics = (
            await conn.execute(
                sa.select(Subscriber.id, Subscriber.username, Subscriber.static_ipv4).where(
                    Subscriber.static_ipv4.is_not(None)
                )
            )
        ).all()
        assigned = (
            await conn.execute(
                sa.select(AddressAssignment.id, AddressAssignment.address, AddressAssignment.description)
            )
        ).all()
    out = []
    for sub in statics:
        fields = {"address": _host(sub.static_ipv4), "status": "reserved",
                  "description": _text(f"static address of subscriber {sub.username}")}  # fmt: skip
        out.append(Want("ipam.ip-addresses", f"static:{sub.id}", fields, group="addresses"))
    for one in assigned:
        fields = {"address": _host(one.address), "status": "active", "description": _text(one.description)}
        out.append(Want("ipam.ip-addresses", f"assignment:{one.id}", fields, group="addresses"))
    if leases:
        from .pools import list_leases

        for lease in await list_leases(engine, state="leased"):
            text = f"lease of {lease.username or '?'} in pool {lease.pool}"
            fields = {"address": _host(lease.address), "status": "dhcp", "description": _text(text)}
            out.append(Want("ipam.ip-addresses", f"lease:{lease.address}", fields, group="addresses"))
    return out


async def wants(engine: AsyncEngine, *, only: tuple[str, ...] = GROUPS, leases: bool = False) -> list[Want]:
    """Every object radiusd would have in NetBox, in creation order (referenced ones first).
    The sites come whenever anything refers to them, always the same set (so none is deleted)."""
    data = _Inventory(
        await inv.list_sites(engine),
        await inv.list_routers(engine),
        await inv.list_devices(engine),
        await inv.list_links(engine),
        await inv.list_sectors(engine),
    )
    out: list[Want] = []
    prefixes = await _prefix_wants(engine) if "prefixes" in only else []
    scoped = any("scope_id" in w.refs for w in prefixes)
    if {"sites", "devices", "cables"} & set(only) or scoped:
        out += _site_wants(data.sites, data.need_no_site)
    if {"devices", "cables"} & set(only):
        out += _device_wants(data)
    if "cables" in only:
        out += _cable_wants(data)
    out += prefixes
    if "addresses" in only:
        out += await _address_wants(engine, leases)
    return out
