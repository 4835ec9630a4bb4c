"""The console's pages (GET): dashboard, subscribers, sessions, IPAM, inventory, NAS, audit.

Live figures come from the daemon's memory (the same objects ``/metrics`` reads); stored data
from the functions the admin API routes call. Every list is bounded.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ipam.groups import group_of
from ipam.report import pool_info
from radiusd.api import queries
from radiusd.store import inventory as inv
from radiusd.store import subscribers as subs
from radiusd.store.errors import InvalidInput, NotFound
from radiusd.store.models import CoaAudit
from radiusd.store.nodes import list_nodes
from radiusd.store.operators import WebSession, audit_page, list_operators
from radiusd.store.plans import list_plans
from radiusd.store.pools import lease_history

from . import charts, lookup
from .auth import WebError, current
from .rates import Rates
from .render import page

Web = Annotated[WebSession, Depends(current)]
Text = Annotated[str, Query(max_length=200)]


def _pools(state: Any) -> list[dict[str, Any]]:
    """Per pool and family: utilisation with the warning threshold (the API's pool_info)."""
    out = []
    default = state.settings.utilisation_warning_pct
    for group in sorted({group_of(n) for n in state.ipam.configs}):
        info = pool_info(state.ipam.configs, state.ipam.alloc, group, default)
        for kind, fam in (("IPv4", info.ipv4), ("IPv6 WAN", info.ipv6_wan), ("IPv6 PD", info.ipv6_pd)):
            if fam is None:
                continue
            out.append({
                "pool": group, "kind": kind, "total": fam["total"],
                "used": fam["allocated"] + fam["reserved"],
                "free": fam["free"], "percent": fam["percent_used"], "warning": fam["warning"],
                "warn_at": info.warn_at,
                "bar": charts.utilisation_bar(fam["percent_used"], info.warn_at, label=f"{group} {kind}"),
            })  # fmt: skip
    return out


def _sessions_by_nas(state: Any, sites: dict[int, tuple[str, str | None]]) -> tuple[list[Any], list[Any]]:
    by_nas: Counter[str] = Counter()
    by_site: Counter[str] = Counter()
    for address, ids in state.sessions._by_nas.items():
        client = state.registry.get(address)
        name = client.name if client is not None else address
        by_nas[name] += len(ids)
        site = sites.get(client.id, (name, None))[1] if client is not None else None
        by_site[site or "(no site)"] += len(ids)
    return sorted(by_nas.items(), key=lambda x: -x[1])[:20], sorted(by_site.items(), key=lambda x: -x[1])[:20]


def install(router: APIRouter, state: Any) -> None:  # noqa: C901  (page closures: their branches count here, each page is short)
    """Add the read-only pages to ``router`` (prefix /ui)."""
    engine = state.engine
    rates = Rates()

    @router.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request, web: Web) -> Response:
        stats = state.stats
        counters: Counter[str] = Counter()
        for (kind, result), n in stats.requests.items():
            counters[f"{kind}/{result}"] += n
            counters[kind] += n
        rate = rates.update(counters) or {}
        results = [
            {"key": k, "count": counters[k], "rate": rate.get(k)} for k in sorted(counters) if "/" in k
        ]
        sites = await lookup.routers_by_site(engine)
        by_nas, by_site = _sessions_by_nas(state, sites)
        async with engine.connect() as conn:
            nodes = await list_nodes(conn)
        w = state.writer
        return page(
            request, "dashboard.html",
            access_rate=rate.get("access"), acct_rate=rate.get("accounting"), results=results,
            access_spark=charts.sparkline(rates.history("access"), label="Access requests/s"),
            acct_spark=charts.sparkline(rates.history("accounting"), label="Accounting requests/s"),
            drops=charts.hbars(sorted(stats.drops.items(), key=lambda x: -x[1])[:12]),
            drop_total=sum(stats.drops.values()),
            nas_chart=charts.hbars(by_nas), site_chart=charts.hbars(by_site),
            sessions_open=sum(n for _, n in by_nas), pools=_pools(state), nodes=nodes,
            cluster_rate=sum(n.requests_per_second for n in nodes if n.alive),
            writer={"depth": w.depth, "healthy": w.healthy, "batches": w.batches, "failed": w.failed_batches,
                    "refused": w.refused},
            subscribers=len(state.directory.subscribers),
        )  # fmt: skip

    @router.get("/subscribers", response_class=HTMLResponse)
    async def subscriber_search(request: Request, web: Web, q: Text = "", kind: Text = "auto") -> Response:
        results: list[dict[str, Any]] = []
        error = None
        parsed = None
        if q.strip():
            try:
                parsed = lookup.parse_query(q, kind)
                results = await lookup.search(engine, parsed)
            except InvalidInput as exc:
                error = str(exc)
            exact = parsed is not None and parsed.kind == "username" and len(results) == 1
            if exact and results[0]["username"] == q.strip():
                return RedirectResponse(f"/ui/subscribers/{quote(q.strip(), safe='@')}", status_code=303)
        return page(request, "subscribers.html", q=q, kind=kind, parsed=parsed, results=results, error=error)

    @router.get("/subscribers/{username:path}", response_class=HTMLResponse)
    async def subscriber(
        request: Request, web: Web, username: str, days: Annotated[int, Query(ge=7, le=366)] = 30
    ) -> Response:
        try:
            record = await subs.get_subscriber(engine, username)
        except NotFound:
            raise WebError(404, f"no subscriber named {username!r}") from None
        live, _ = await queries.online_sessions_page(engine, state.registry, limit=50, user=username) or (
            [],
            None,
        )
        addresses = await lookup.addresses_of(engine, username)
        usage, start, end = await lookup.usage_per_day(engine, username, days)
        rejects = [r for r in reversed(state.stats.rejects) if r.user == username][:10]
        history = await audit_page(engine, limit=10, target=username)
        plans = [p.name for p in await list_plans(engine)] if web.role != "readonly" else []
        return page(
            request, "subscriber.html", sub=record, sessions=live, addresses=addresses, rejects=rejects,
            chart=charts.usage_chart(usage, start=start, end=end), days=days, audit=history, plans=plans,
            total_in=sum(u[1] for u in usage), total_out=sum(u[2] for u in usage),
        )  # fmt: skip

    @router.get("/sessions", response_class=HTMLResponse)
    async def sessions(
        request: Request, web: Web, nas: Text = "", site: Text = "", pool: Text = ""
    ) -> Response:
        sites = await lookup.routers_by_site(engine)
        ids: list[int] = []
        error = None
        if nas:
            ids = [rid for rid, (name, _) in sites.items() if name == nas]
            if not ids:
                error = f"no NAS named {nas!r}"
        if site:
            at_site = [rid for rid, (_, s) in sites.items() if s == site]
            ids = [i for i in ids if i in at_site] if nas else at_site
            if not at_site:
                error = f"no router at site {site!r}"
        rows = [] if error else await lookup.sessions_behind(engine, ids, pool=pool or None, limit=200)
        return page(
            request, "sessions.html", rows=rows, nas=nas, site=site, pool=pool, error=error,
            nas_names=sorted(n for n, _ in sites.values()),
            site_names=sorted({s for _, s in sites.values() if s}),
            pool_names=sorted({group_of(n) for n in state.ipam.configs}),
        )  # fmt: skip

    @router.get("/ipam", response_class=HTMLResponse)
    async def ipam(request: Request, web: Web) -> Response:
        return page(request, "ipam.html", pools=_pools(state))

    @router.get("/ipam/address", response_class=HTMLResponse)
    async def address(request: Request, web: Web, q: Text = "") -> Response:
        entries: list[Any] = []
        error = None
        parsed = None
        if q.strip():
            try:
                parsed = lookup.parse_query(q, "address")
                if parsed.kind == "prefix":
                    raise InvalidInput(
                        "give one address (or an IPv6 prefix), optionally with a date and time"
                    )
                entries = await lease_history(engine, parsed.text, at=parsed.at)
            except InvalidInput as exc:
                error = str(exc)
        return page(request, "address.html", q=q, parsed=parsed, entries=entries[:200], error=error)

    @router.get("/inventory", response_class=HTMLResponse)
    async def inventory(request: Request, web: Web) -> Response:
        site_list = await inv.list_sites(engine)
        routers = await inv.list_routers(engine)
        counts: Counter[str] = Counter()
        for address, ids in state.sessions._by_nas.items():
            client = state.registry.get(address)
            if client is not None:
                counts[client.name] += len(ids)
        return page(request, "inventory.html", sites=site_list, routers=routers, online=counts,
                    links=await inv.list_links(engine), devices=await inv.list_devices(engine))  # fmt: skip

    @router.get("/inventory/site/{name:path}", response_class=HTMLResponse)
    async def site(request: Request, web: Web, name: str) -> Response:
        try:
            record = await inv.get_site(engine, name)
        except NotFound:
            raise WebError(404, f"no site named {name!r}") from None
        routers = await inv.list_routers(engine, site=name)
        rows = await lookup.sessions_behind(engine, [r.id for r in routers], limit=200) if routers else []
        return page(request, "site.html", site=record, routers=routers, rows=rows,
                    devices=await inv.list_devices(engine, site=name))  # fmt: skip

    @router.get("/inventory/router/{name:path}", response_class=HTMLResponse)
    async def router_page(request: Request, web: Web, name: str) -> Response:
        try:
            record = await inv.get_router(engine, name)
        except NotFound:
            raise WebError(404, f"no router named {name!r}") from None
        rows = await lookup.sessions_behind(engine, [record.id], limit=200)
        return page(request, "router.html", router=record, rows=rows,
                    sectors=await inv.list_sectors(engine, router=name),
                    links=await inv.list_links(engine, node=name))  # fmt: skip

    @router.get("/nas", response_class=HTMLResponse)
    async def nas_list(request: Request, web: Web) -> Response:
        stats = state.stats
        rate = nas_rates.update(stats.nas_requests) or {}
        coa = await _coa_reachability(engine)
        rows = [
            {"nas": c, "requests": stats.nas_requests.get(c.name, 0), "rate": rate.get(c.name),
             "last": stats.nas_last.get(c.name), "coa": coa.get(c.id)}
            for c in sorted(state.registry.all(), key=lambda c: c.name)
        ]  # fmt: skip
        return page(request, "nas.html", rows=rows)

    nas_rates = Rates()

    @router.get("/audit", response_class=HTMLResponse)
    async def audit_log(
        request: Request, web: Web, target: Text = "", before: Annotated[int | None, Query(ge=1)] = None
    ) -> Response:
        if web.role != "admin":
            raise WebError(403, "the audit log is for admin operators")
        rows = await audit_page(engine, limit=100, before=before, target=target or None)
        return page(request, "audit.html", rows=rows, target=target, operators=await list_operators(engine))


async def _coa_reachability(engine: Any) -> dict[int, dict[str, Any]]:
    """The last Disconnect/CoA outcome per NAS (coa_audit): ack/nak = it answers."""
    t: sa.Table = CoaAudit.__table__  # type: ignore[assignment]
    last = sa.select(sa.func.max(t.c.id)).where(t.c.outcome != "pending").group_by(t.c.router_id)
    q = sa.select(t.c.router_id, t.c.outcome, t.c.created_at).where(t.c.id.in_(last))
    async with engine.connect() as conn:
        return {
            r.router_id: {"outcome": r.outcome, "at": r.created_at, "reachable": r.outcome in ("ack", "nak")}
            for r in await conn.execute(q)
            if r.router_id is not None
        }
