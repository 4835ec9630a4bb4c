"""Persistence of LLDP discovery: the inventory as the planner sees it, and applying a proposal.

:func:`snapshot` reads routers, devices (with their stored chassis ID) and links (with their
``source``). :func:`apply` writes a :class:`inventory.discovery.Proposal` in one transaction:
new devices and links marked ``source='lldp'`` with ``discovered_at``, and removal of the
stale links that discovery itself made (a link typed in by hand is only reported). It is
idempotent: a name or port already taken is skipped and said so, and a second run over the
same topology proposes nothing. :func:`claim_run` lets one node of a cluster run the periodic
discovery per interval (PostgreSQL: under a transaction-scoped advisory lock).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.discovery import InventoryLink, InventoryNode, Proposal

from . import inventory as inv
from .changes import record_change
from .discovery_models import DiscoveryRun
from .engine import begin_write
from .models import DeviceConnection, ManagedDevice, NetworkSite, Router, utcnow

SOURCE = "lldp"
MEDIUM = "copper"  # LLDP does not say; an operator corrects a radio link by hand
ADVISORY_KEY = 0x6C6C6470  # "lldp": one cluster-wide lock for the periodic run


@dataclass(slots=True)
class Snapshot:
    nodes: list[InventoryNode]
    links: list[InventoryLink]
    routers: list[inv.RouterRecord]
    devices: list[inv.DeviceRecord]


@dataclass(slots=True)
class Applied:
    devices: list[str] = field(default_factory=list)
    links: list[int] = field(default_factory=list)
    removed_links: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "devices": self.devices,
            "links": self.links,
            "removed_links": self.removed_links,
            "skipped": self.skipped,
        }


async def snapshot(engine: AsyncEngine) -> Snapshot:
    routers = await inv.list_routers(engine)
    devices = await inv.list_devices(engine)
    links = await inv.list_links(engine)
    async with engine.connect() as conn:
        chassis = dict((await conn.execute(sa.select(ManagedDevice.name, ManagedDevice.chassis_id))).all())
        sources = dict((await conn.execute(sa.select(DeviceConnection.id, DeviceConnection.source))).all())
    nodes = [
        InventoryNode("router", r.name, r.site, tuple(a for a in (r.management_address, r.address) if a))
        for r in routers
    ] + [
        InventoryNode("device", d.name, d.site, (d.address,) if d.address else (), chassis.get(d.name))
        for d in devices
    ]
    inv_links = [
        InventoryLink(
            link.id,
            (link.from_kind, link.from_name),
            link.from_port,
            (link.to_kind, link.to_name),
            link.to_port,
            sources.get(link.id) or "manual",
        )
        for link in links
    ]
    return Snapshot(nodes, inv_links, routers, devices)


def _address(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


async def apply(engine: AsyncEngine, proposal: Proposal) -> Applied:
    """Writes the proposal (one transaction); what was skipped is said, nothing half-done."""
    done = Applied()
    now = utcnow()
    async with begin_write(engine) as conn:
        sites = dict((await conn.execute(sa.select(NetworkSite.name, NetworkSite.id))).all())
        for device in proposal.new_devices:
            if await conn.scalar(sa.select(ManagedDevice.id).where(ManagedDevice.name == device.name)):
                done.skipped.append(f"device {device.name!r}: the name is taken")
                continue
            await conn.execute(
                sa.insert(ManagedDevice).values(
                    name=device.name,
                    kind=device.kind,
                    site_id=sites.get(device.site) if device.site else None,
                    address=_address(device.address),
                    chassis_id=device.chassis_id,
                    snmp_version="v2c",
                    snmp_port=161,
                    description=f"discovered by LLDP from {device.seen_by}",
                    source=SOURCE,
                    discovered_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            done.devices.append(device.name)
        for stale in proposal.stale_links:
            if stale.source != SOURCE:
                continue
            result = await conn.execute(
                sa.delete(DeviceConnection).where(
                    DeviceConnection.id == stale.id, DeviceConnection.source == SOURCE
                )
            )
            if result.rowcount:
                done.removed_links.append(stale.id)
        ids: dict[tuple[str, str], int] = {}
        for kind, model in (("router", Router), ("device", ManagedDevice)):
            for name, node_id in await conn.execute(sa.select(model.name, model.id)):
                ids[(kind, name)] = node_id
        for link in proposal.new_links:
            a, b = ids.get((link.a_kind, link.a_name)), ids.get((link.b_kind, link.b_name))
            text = f"{link.a_kind}:{link.a_name}:{link.a_port} - {link.b_kind}:{link.b_name}:{link.b_port}"
            if a is None or b is None:
                done.skipped.append(f"link {text}: an end is not in the inventory")
                continue
            taken = None
            for kind, node_id, port in ((link.a_kind, a, link.a_port), (link.b_kind, b, link.b_port)):
                from_col, to_col = (
                    (DeviceConnection.from_router_id, DeviceConnection.to_router_id)
                    if kind == "router"
                    else (DeviceConnection.from_device_id, DeviceConnection.to_device_id)
                )
                taken = taken or await conn.scalar(
                    sa.select(DeviceConnection.id).where(
                        sa.or_(
                            sa.and_(from_col == node_id, DeviceConnection.from_port == port),
                            sa.and_(to_col == node_id, DeviceConnection.to_port == port),
                        )
                    )
                )
            if taken:
                done.skipped.append(f"link {text}: a port is already used by link #{taken}")
                continue
            result = await conn.execute(
                sa.insert(DeviceConnection)
                .values(
                    from_router_id=a if link.a_kind == "router" else None,
                    from_device_id=a if link.a_kind == "device" else None,
                    from_port=link.a_port[:64],
                    to_router_id=b if link.b_kind == "router" else None,
                    to_device_id=b if link.b_kind == "device" else None,
                    to_port=link.b_port[:64],
                    medium=MEDIUM,
                    description="discovered by LLDP",
                    source=SOURCE,
                    discovered_at=now,
                    created_at=now,
                    updated_at=now,
                )
                .returning(DeviceConnection.id)
            )
            done.links.append(int(result.scalar_one()))
        if done.devices or done.links or done.removed_links:
            await record_change(conn, inv.TOPIC_INVENTORY, "discovery:lldp")
    return done


async def claim_run(engine: AsyncEngine, node: str | None, interval: float) -> int | None:
    """A new ``discovery_runs`` row when no run started within 0.9 x ``interval`` (else None).

    On PostgreSQL the check and the insert run under ``pg_advisory_xact_lock``, so two nodes
    ticking at once cannot both claim; SQLite serialises writers by itself.
    """
    async with begin_write(engine) as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_KEY})
        now = utcnow()
        last = await conn.scalar(sa.select(sa.func.max(DiscoveryRun.started_at)))
        if last is not None:
            if last.tzinfo is None:
                last = last.replace(tzinfo=dt.UTC)
            if (now - last).total_seconds() < 0.9 * interval:
                return None
        result = await conn.execute(
            sa.insert(DiscoveryRun)
            .values(kind="lldp", node=node, started_at=now, applied=False)
            .returning(DiscoveryRun.id)
        )
        return int(result.scalar_one())


async def finish_run(engine: AsyncEngine, run_id: int, applied: bool, summary: dict[str, Any]) -> None:
    async with begin_write(engine) as conn:
        await conn.execute(
            sa.update(DiscoveryRun)
            .where(DiscoveryRun.id == run_id)
            .values(finished_at=utcnow(), applied=applied, summary=summary)
        )


async def last_runs(engine: AsyncEngine, limit: int = 10) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(DiscoveryRun).order_by(DiscoveryRun.id.desc()).limit(limit))
        ).mappings()
        return [dict(r) for r in rows]
