"""One LLDP discovery run: poll every router and managed device, plan, optionally apply.

The one place the CLI (``radiusd discover lldp``), the API (``POST /network/discovery/lldp``)
and the daemon's periodic run (setting ``discovery_interval``) call. Agents are polled
concurrently (at most ``CONCURRENCY`` at once), each with its own timeout; one that fails is
reported and contributes nothing (:mod:`inventory.discovery`).

Who is polled how:
- a MikroTik router with RouterOS API credentials: ``/ip/neighbor`` over the API;
- another router: SNMP v2c with ``router_community`` (setting ``discovery_snmp_community``),
  at its management address (else its NAS address); without a community it is skipped;
- a managed device with an address: SNMP with its own stored settings (v1/v2c/v3).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.logs import get_logger
from radiusd.store import discovery as store
from radiusd.store.errors import StoreError
from radiusd.tasks import reraise_if_cancelled

from . import lldp_routeros, lldp_snmp
from .discovery import NodeKey, Proposal, plan
from .lldp import Observation
from .lldp_snmp import PollError, SnmpTarget

CONCURRENCY = 32
log = get_logger("radiusd.discovery")


@dataclass(slots=True)
class Options:
    site: str | None = None
    router_community: str | None = field(default=None, repr=False)
    timeout: float = lldp_snmp.TIMEOUT
    retries: int = lldp_snmp.RETRIES


@dataclass(slots=True)
class Result:
    proposal: Proposal
    applied: store.Applied | None
    skipped: list[str]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        data = self.proposal.to_json()
        data["skipped"] = list(self.skipped)
        data["applied"] = self.applied.to_json() if self.applied is not None else None
        data["seconds"] = round(self.seconds, 3)
        return data


def _jobs(
    snap: store.Snapshot, options: Options
) -> tuple[list[tuple[NodeKey, Awaitable[Observation]]], list[str]]:
    jobs: list[tuple[NodeKey, Awaitable[Observation]]] = []
    skipped: list[str] = []
    for r in snap.routers:
        if options.site is not None and r.site != options.site:
            continue
        if r.vendor == "mikrotik" and r.api_username and r.api_password is not None:
            jobs.append((("router", r.name), lldp_routeros.poll(r)))
        elif options.router_community:
            target = SnmpTarget(
                "router", r.name, r.management_address or r.address, community=options.router_community
            )
            jobs.append(
                (("router", r.name), lldp_snmp.poll(target, per_try=options.timeout, retries=options.retries))
            )
        else:
            skipped.append(f"router {r.name!r}: no RouterOS API credentials and no discovery_snmp_community")
    for d in snap.devices:
        if options.site is not None and d.site != options.site:
            continue
        if not d.address:
            skipped.append(f"device {d.name!r}: no management address")
            continue
        if (d.snmp_version in ("v1", "v2c") and not d.snmp_community) or (
            d.snmp_version == "v3" and not d.snmp_user
        ):
            skipped.append(f"device {d.name!r}: no SNMP credentials stored")
            continue
        target = SnmpTarget(
            "device",
            d.name,
            d.address,
            d.snmp_port,
            d.snmp_version,
            d.snmp_community,
            d.snmp_user,
            d.snmp_auth_protocol,
            d.snmp_auth_key,
            d.snmp_priv_protocol,
            d.snmp_priv_key,
        )
        jobs.append(
            (("device", d.name), lldp_snmp.poll(target, per_try=options.timeout, retries=options.retries))
        )
    return jobs, skipped


async def discover(engine: AsyncEngine, options: Options, *, apply: bool = False) -> Result:
    """Poll, plan and (with ``apply``) write; the proposal is what was found before writing."""
    started = time.monotonic()
    snap = await store.snapshot(engine)
    if options.site is not None and not any(n.site == options.site for n in snap.nodes):
        from radiusd.store import inventory as inv

        await inv.get_site(engine, options.site)  # NotFound for an unknown site
    jobs, skipped = _jobs(snap, options)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Awaitable[Observation]) -> Observation:
        async with gate:
            return await job

    results = await asyncio.gather(*(one(job) for _, job in jobs), return_exceptions=True)
    observations: list[Observation] = []
    errors: list[tuple[NodeKey, str]] = []
    for (key, _), result in zip(jobs, results, strict=True):
        if isinstance(result, Observation):
            observations.append(result)
        elif isinstance(result, PollError):
            errors.append((key, str(result)))
        elif isinstance(result, BaseException):
            errors.append(
                (key, f"{key[0]} {key[1]!r}: {type(result).__name__}: {' '.join(str(result).split())[:200]}")
            )
    proposal = plan(snap.nodes, snap.links, observations, errors)
    applied = await store.apply(engine, proposal) if apply else None
    return Result(proposal, applied, skipped, time.monotonic() - started)


async def run_periodic(
    engine: AsyncEngine, interval: float, *, node: str | None, apply: bool, router_community: str | None
) -> None:
    """The daemon's loop (setting ``discovery_interval``): every ``interval`` seconds, the node
    that claims the run (:func:`radiusd.store.discovery.claim_run`) polls; the others skip.
    Each run is recorded in ``discovery_runs`` with its counts; a failed run is logged and the
    loop goes on (the next interval retries)."""
    options = Options(router_community=router_community)
    while True:
        await asyncio.sleep(interval)
        try:
            run_id = await store.claim_run(engine, node, interval)
            if run_id is None:
                continue
            result = await discover(engine, options, apply=apply)
            p = result.proposal
            summary = {
                "polled": len(p.polled),
                "errors": p.errors[:20],
                "new_links": len(p.new_links),
                "new_devices": len(p.new_devices),
                "unmatched": len(p.unmatched),
                "stale_links": len(p.stale_links),
                "seconds": round(result.seconds, 3),
            }
            await store.finish_run(engine, run_id, result.applied is not None, summary)
            log.info(
                "discovery.lldp",
                node=node,
                run=run_id,
                applied=apply,
                **{k: v for k, v in summary.items() if k != "errors"},
            )
            for error in p.errors:
                log.warning("discovery.lldp-agent", error=error)
        except asyncio.CancelledError:
            raise
        except (OSError, StoreError, SQLAlchemyError) as exc:
            reraise_if_cancelled(exc)  # a cancelled run's clean-up error is the cancellation
            log.warning("discovery.lldp-failed", node=node, error=" ".join(str(exc).split())[:300])
