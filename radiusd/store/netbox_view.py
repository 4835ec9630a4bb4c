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


async def wants(engine: AsyncEngine, *, only: tuple[str, ...] = GROUPS, leases: bool = False) -> list[Want]:
    """Every object radiusd would have in NetBox, in creation order (referenced ones first)."""
    sites = await inv.list_sites(engine)
    routers = await inv.list_routers(engine)
    devices = await inv.list_devices(engine)
    links = await inv.list_links(engine)
    sectors = await inv.list_sectors(engine)
    site_ids = {s.name: s.id for s in sites}
    need_no_site = any(r.site is None for r in routers) or any(d.site is None for d in devices)
    out: list[Want] = []
    if "sites" in only or "devices" in only or "cables" in only:
        out += _site_wants(sites, need_no_site)

    def site_ref(name: str | None) -> str:
        return f"site:{site_ids[name]}" if name else "site:none"

    if "devices" in only or "cables" in only:
        makers = {r.vendor for r in routers} | {"generic"}
        for maker in sorted(makers):
            out.append(
                Want(
                    "dcim.manufacturers",
                    f"manufacturer:{maker}",
                    {"name": maker, "slug": slug(maker)},
                    group="devices",
                    shared=True,
                )
            )
        types = {(r.vendor, "router") for r in routers} | {("generic", d.kind) for d in devices}
        for maker, kind in sorted(types):
            model = f"{maker} {kind}"
            out.append(
                Want(
                    "dcim.device-types",
                    f"device-type:{maker}:{kind}",
                    {"model": model, "slug": slug(model)},
                    {"manufacturer": f"manufacturer:{maker}"},
                    group="devices",
                    shared=True,
                )
            )
        for role in sorted({"router"} | {d.kind for d in devices}):
            out.append(
                Want(
                    "dcim.device-roles",
                    f"role:{role}",
                    {"name": role, "slug": slug(role), "color": "2196f3"},
                    group="devices",
                    shared=True,
                )
            )
        for r in routers:
            out.append(
                Want(
                    "dcim.devices",
                    f"router:{r.id}",
                    {"name": r.name, "status": "active", "description": (r.description or "")[:200]},
                    {
                        "device_type": f"device-type:{r.vendor}:router",
                        "role": "role:router",
                        "site": site_ref(r.site),
                    },
                    group="devices",
                )
            )
        for d in devices:
            out.append(
                Want(
                    "dcim.devices",
                    f"device:{d.id}",
                    {"name": d.name, "status": "active", "description": (d.description or "")[:200]},
                    {
                        "device_type": f"device-type:generic:{d.kind}",
                        "role": f"role:{d.kind}",
                        "site": site_ref(d.site),
                    },
                    group="devices",
                )
            )
    if "cables" in only:
        ids = {("router", r.name): r.id for r in routers} | {("device", d.name): d.id for d in devices}
        interfaces: dict[str, Want] = {}

        def interface(kind: str, node_id: int, name: str, kind_of: str = "other") -> str:
            our = f"interface:{kind}:{node_id}:{name}"
            interfaces.setdefault(
                our,
                Want(
                    "dcim.interfaces",
                    our,
                    {"name": name[:64], "type": kind_of},
                    {"device": f"{kind}:{node_id}"},
                    group="cables",
                ),
            )
            return our

        for s in sectors:
            interface("router", s.router_id, f"sector-{s.name}", "ieee802.11ac")
        cables = []
        for link in links:
            a_id, b_id = ids[(link.from_kind, link.from_name)], ids[(link.to_kind, link.to_name)]
            a = interface(link.from_kind, a_id, link.from_port or f"link-{link.id}")
            b = interface(link.to_kind, b_id, link.to_port or f"link-{link.id}")
            cable_type = {"fibre": "smf", "copper": "cat6", "wireless": ""}.get(link.medium, "")
            fields = {
                "status": "connected",
                "label": f"radiusd link {link.id}",
                "description": (link.description or "")[:200],
            }
            if cable_type:
                fields["type"] = cable_type
            cables.append(
                Want(
                    "dcim.cables",
                    f"link:{link.id}",
                    fields,
                    {"a_terminations": a, "b_terminations": b},
                    group="cables",
                )
            )
        out += list(interfaces.values()) + cables
    if "prefixes" in only:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        Prefix.id, Prefix.prefix, Prefix.role, Prefix.site_id, Prefix.description
                    ).order_by(Prefix.id)
                )
            ).all()
        for role in sorted({r.role for r in rows}):
            out.append(
                Want(
                    "ipam.roles",
                    f"prefix-role:{role}",
                    {"name": role, "slug": slug(role)},
                    group="prefixes",
                    shared=True,
                )
            )
        for row in rows:
            fields = {
                "prefix": row.prefix,
                "status": PREFIX_STATUS.get(row.role, "active"),
                "is_pool": row.role == "pool",
                "description": (row.description or "")[:200],
            }
            refs = {"role": f"prefix-role:{row.role}"}
            if row.site_id is not None:
                fields["scope_type"] = "dcim.site"
                refs["scope_id"] = f"site:{row.site_id}"
            out.append(Want("ipam.prefixes", f"prefix:{row.id}", fields, refs, group="prefixes"))
        if any("scope_id" in w.refs for w in out if w.endpoint == "ipam.prefixes") and "sites" not in only:
            out = _site_wants(sites, need_no_site) + out  # the same site set: none is deleted
    if "addresses" in only:
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
        for sub in statics:
            out.append(
                Want(
                    "ipam.ip-addresses",
                    f"static:{sub.id}",
                    {
                        "address": f"{sub.static_ipv4}/32",
                        "status": "reserved",
                        "description": f"static address of subscriber {sub.username}"[:200],
                    },
                    group="addresses",
                )
            )
        for one in assigned:
            bits = ipaddress.ip_address(one.address).max_prefixlen
            out.append(
                Want(
                    "ipam.ip-addresses",
                    f"assignment:{one.id}",
                    {
                        "address": f"{one.address}/{bits}",
                        "status": "active",
                        "description": (one.description or "")[:200],
                    },
                    group="addresses",
                )
            )
        if leases:
            from .pools import list_leases

            for lease in await list_leases(engine, state="leased"):
                text = (
                    lease.address
                    if "/" in lease.address
                    else f"{lease.address}/{ipaddress.ip_address(lease.address).max_prefixlen}"
                )
                out.append(
                    Want(
                        "ipam.ip-addresses",
                        f"lease:{lease.address}",
                        {
                            "address": text,
                            "status": "dhcp",
                            "description": f"lease of {lease.username or '?'} in pool {lease.pool}"[:200],
                        },
                        group="addresses",
                    )
                )
    return out
