"""The admin API in process (httpx.ASGITransport) over a real Daemon's live state, on SQLite and
PostgreSQL: authentication, every endpoint, 404/409/422, pagination, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from radiusd.api.app import create_app
from radiusd.config import load_settings
from radiusd.daemon import Daemon
from radiusd.store import inventory as inv
from radiusd.store.api_tokens import create_token, revoke_token
from radiusd.store.engine import ensure_schema
from radiusd.store.models import RadiusSession
from radiusd.store.plans import add_plan
from radiusd.store.pools import add_pool, reserve_address
from radiusd.store.subscribers import add_subscriber

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


async def _seed(engine: Any) -> None:
    await inv.add_site(engine, "pop-1", kind="pop", latitude=48.1, longitude=11.5)
    await inv.add_router(engine, "r1", "192.0.2.1", "s3cret-r1", site="pop-1", vendor="mikrotik")
    await inv.add_router(engine, "r2", "192.0.2.2", "s3cret-r2")
    await inv.add_sector(engine, "r1", "north", frequency_mhz=5800, azimuth_deg=0)
    await inv.add_device(
        engine, "sw1", kind="switch", site="pop-1", address="192.0.2.10", snmp_community="pub"
    )
    await inv.add_link(engine, "r1:ether1", "sw1:1", medium="fibre", capacity_mbps=10_000)
    await add_pool(engine, "main", ranges=["10.64.0.0/24"])
    await add_plan(engine, "basic", pool="main")
    for i in range(5):
        await add_subscriber(engine, f"user{i}", f"pw{i}", plan="basic")
    await reserve_address(engine, "10.64.0.9", "user1")
    rows = [
        {
            "acct_unique_id": f"u{i}", "acct_session_id": f"s{i}", "username": f"user{i % 3}",
            "router_id": 1 if i < 4 else 2, "nas_address": "192.0.2.1" if i < 4 else "192.0.2.2",
            "framed_ip": f"10.64.0.{20 + i}", "started_at": T0, "updated_at": T0,
            "status": "open" if i != 5 else "closed", "input_octets": 100 * i, "output_octets": 7,
            "input_base": 1000 if i == 1 else 0,
        }
        for i in range(6)
    ]  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(sa.insert(RadiusSession), rows)


@contextlib.asynccontextmanager
async def seeded_daemon(
    db_url: str, tmp_path: Path, seed: Callable[[Any], Awaitable[None]]
) -> AsyncIterator[Daemon]:
    """A Daemon in this process (no sockets): schema, ``seed``, its tables loaded, writer and
    IPAM started; what the API tests drive through ``create_app``."""
    d = Daemon(load_settings(database_url=db_url, data_dir=tmp_path))
    await ensure_schema(d.engine)
    await seed(d.engine)
    await d.reload_all()
    await d.load_sessions()
    d.writer.start()
    await d.ipam.start()
    try:
        yield d
    finally:
        await d.writer.close()
        await d.engine.dispose()


@pytest.fixture
async def daemon(db_url: str, migrated_db: None, tmp_path: Path) -> AsyncIterator[Daemon]:
    async with seeded_daemon(db_url, tmp_path, _seed) as d:
        yield d


@pytest.fixture
async def tokens(daemon: Daemon) -> dict[str, str]:
    _, admin = await create_token(daemon.engine, "admin")
    _, viewer = await create_token(daemon.engine, "grafana", read_only=True)
    return {"admin": admin, "viewer": viewer}


@pytest.fixture
async def client(daemon: Daemon) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(daemon, disconnect=_fake_disconnect)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
        yield c


DISCONNECTS: list[str] = []


async def _fake_disconnect(state: Any, key: str) -> dict[str, Any]:
    DISCONNECTS.append(key)
    nak = key == "4"
    return {
        "session": int(key), "acct_session_id": f"s{key}", "username": "user0", "nas": "r1",
        "action": "disconnect", "outcome": "nak" if nak else "ack", "error_cause": 506 if nak else None,
        "error_cause_name": None, "attempts": 1, "detail": None, "session_closed": False, "ok": not nak,
    }  # fmt: skip


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


GETS = [
    "/network/sites", "/network/routers", "/network/routers/r1", "/network/sectors", "/network/devices",
    "/network/connections", "/ipam/pools", "/ipam/pools/main", "/ipam/pools/main/leases",
    "/radius/sessions/online", "/subscribers", "/metrics",
]  # fmt: skip


# -- authentication ----------------------------------------------------------------------------


async def test_no_token_no_data(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    for path in GETS:
        for headers in ({}, auth("rad_wrong"), {"Authorization": "Basic YTpi"}, auth("")):
            r = await client.get(path, headers=headers)
            assert r.status_code == 401, (path, headers, r.text)
            assert r.json() == {"detail": "a valid bearer token is required"}
            assert r.headers["www-authenticate"] == "Bearer"
    r = await client.post("/network/sites", json={"name": "x"})
    assert r.status_code == 401


async def test_read_only_token_reads_but_cannot_write(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    DISCONNECTS.clear()
    for path in GETS:
        r = await client.get(path, headers=auth(tokens["viewer"]))
        assert r.status_code == 200, (path, r.text)
    r = await client.post("/network/sites", json={"name": "x"}, headers=auth(tokens["viewer"]))
    assert r.status_code == 403
    assert "read-only" in r.json()["detail"]
    r = await client.post("/radius/sessions/1/disconnect", headers=auth(tokens["viewer"]))
    assert r.status_code == 403
    assert not DISCONNECTS


async def test_revoked_token_is_refused(daemon: Daemon, tokens: dict[str, str]) -> None:
    app = create_app(daemon)
    app.state.tokens.ttl = 0.0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
        assert (await c.get("/ipam/pools", headers=auth(tokens["viewer"]))).status_code == 200
        await revoke_token(daemon.engine, "grafana")
        assert (await c.get("/ipam/pools", headers=auth(tokens["viewer"]))).status_code == 401


async def test_last_used_is_recorded(
    daemon: Daemon, client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    from radiusd.store.api_tokens import list_tokens

    await client.get("/ipam/pools", headers=auth(tokens["admin"]))
    used = {t.name: t.last_used_at for t in await list_tokens(daemon.engine)}
    assert used["admin"] is not None and used["grafana"] is None


async def test_docs_and_spec_are_served(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["viewer"])
    assert (await client.get("/docs", headers=h)).status_code == 200
    spec = (await client.get("/openapi.json", headers=h)).json()
    for path in ("/network/sites", "/ipam/pools/{name}/leases", "/radius/sessions/{session_id}/disconnect"):
        assert path in spec["paths"]


async def test_docs_need_a_token_unless_api_public_docs(daemon: Daemon, tokens: dict[str, str]) -> None:
    for public in (False, True):
        daemon.settings = replace(daemon.settings, api_public_docs=public)
        app = create_app(daemon)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
            for path in ("/docs", "/openapi.json"):
                r = await c.get(path)
                assert r.status_code == (200 if public else 401), (public, path, r.text)
                assert (await c.get(path, headers=auth(tokens["viewer"]))).status_code == 200
            # the documentation only: every other route still needs the token
            assert (await c.get("/ipam/pools")).status_code == 401
            assert (await c.get("/docsx")).status_code == 401


async def test_docs_load_nothing_from_other_hosts(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    """An offline NOC sees /docs: every script, stylesheet and icon comes from this server."""
    import re

    client.headers.update(auth(tokens["viewer"]))  # the documentation needs the token too
    page = (await client.get("/docs")).text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: *["']([^"']+)["']""", page)
    urls = [a or b for a, b in urls]
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "https://" not in page and "http://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        url = next(u for u in urls if u.endswith(asset))
        answer = await client.get(url)
        assert answer.status_code == 200 and len(answer.content) > 10_000
        if asset.endswith(".js"):  # Swagger UI 5: version 4 shows an error for OpenAPI 3.1
            spec = (await client.get("/openapi.json")).json()
            assert spec["openapi"].startswith("3.1") and b"isOAS31" in answer.content


# -- network -----------------------------------------------------------------------------------


async def test_network_lists(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["viewer"])
    sites = (await client.get("/network/sites", headers=h)).json()
    assert [s["name"] for s in sites["items"]] == ["pop-1"]
    routers = (await client.get("/network/routers", headers=h)).json()["items"]
    assert [(r["name"], r["nas_address"], r["site"]) for r in routers] == [
        ("r1", "192.0.2.1", "pop-1"),
        ("r2", "192.0.2.2", None),
    ]
    assert "secret" not in routers[0] and "s3cret" not in str(routers)
    assert (await client.get("/network/routers?site=pop-1", headers=h)).json()["items"][0]["name"] == "r1"
    sectors = (await client.get("/network/sectors?router=r1", headers=h)).json()["items"]
    assert [(s["router"], s["name"], s["frequency_mhz"]) for s in sectors] == [("r1", "north", 5800)]
    devices = (await client.get("/network/devices", headers=h)).json()["items"]
    assert devices[0]["snmp_community_set"] is True and "pub" not in str(devices)
    links = (await client.get("/network/connections", headers=h)).json()["items"]
    assert [(x["from_name"], x["from_port"], x["to_name"], x["medium"]) for x in links] == [
        ("r1", "ether1", "sw1", "fibre")
    ]
    page = (await client.get("/network/routers?limit=1", headers=h)).json()
    assert len(page["items"]) == 1 and page["next_cursor"] == "1"


async def test_network_posts(daemon: Daemon, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["admin"])
    r = await client.post("/network/sites", headers=h, json={"name": "tower-7", "kind": "tower"})
    assert r.status_code == 201 and r.json()["kind"] == "tower"
    r = await client.post(
        "/network/routers",
        headers=h,
        json={
            "name": "r3",
            "nas_address": "2001:db8::3",
            "secret": "x",
            "site": "tower-7",
            "api_username": "admin",
            "api_password": "p",
            "api_fingerprint": "AB:" * 31 + "AB",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["api_password_set"] is True and "secret" not in r.json()
    # the router API is API-SSL, its certificate pinned (the plain API only when asked for)
    assert (r.json()["api_tls"], r.json()["api_insecure_plain"]) == (True, False)
    assert r.json()["api_fingerprint"] == "ab" * 32
    await daemon.apply_changes()
    assert daemon.registry.by_name("r3") is not None  # the NAS list is the routers table
    r = await client.post(
        "/network/sectors", headers=h, json={"router": "r3", "name": "east", "azimuth_deg": 90}
    )
    assert r.status_code == 201
    r = await client.post(
        "/network/devices", headers=h, json={"name": "olt1", "kind": "olt", "site": "tower-7"}
    )
    assert r.status_code == 201
    r = await client.post(
        "/network/connections",
        headers=h,
        json={
            "from_device": {"name": "r3", "port": "sfp1"},
            "to_device": {"name": "olt1"},
            "medium": "fibre",
        },
    )
    assert r.status_code == 201, r.text
    link = r.json()["id"]
    assert (await client.get(f"/network/connections/{link}", headers=h)).json()["to_name"] == "olt1"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/network/sites", {"name": "x", "latitude": 91}, "latitude"),
        ("/network/sites", {"name": ""}, "name"),
        ("/network/sites", {"name": "x", "kind": "moon"}, "kind"),
        ("/network/sites", {"name": "a\x00b"}, "name"),
        ("/network/sites", {"name": "x", "colour": "red"}, "colour"),
        ("/network/routers", {"name": "r9", "nas_address": "192.0.2.9"}, "secret"),
        (
            "/network/routers",
            {"name": "r9", "nas_address": "192.0.2.9", "secret": "s", "coa_port": 0},
            "coa_port",
        ),
        ("/network/sectors", {"router": "r1", "name": "s", "azimuth_deg": 400}, "azimuth_deg"),
        ("/network/connections", {"from_device": {"name": "r1"}, "to_device": {"name": "sw1"}}, "medium"),
    ],
)
async def test_validation_errors_name_the_field(
    client: httpx.AsyncClient, tokens: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    r = await client.post(path, headers=auth(tokens["admin"]), json=body)
    assert r.status_code == 422, r.text
    assert any(field in map(str, e["loc"]) for e in r.json()["detail"]), r.json()


async def test_store_refusals(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["admin"])
    r = await client.post("/network/sites", headers=h, json={"name": "pop-1"})
    assert r.status_code == 409 and "pop-1" in r.json()["detail"]
    r = await client.post(
        "/network/routers", headers=h, json={"name": "rx", "nas_address": "192.0.2.1", "secret": "s"}
    )
    assert r.status_code == 409
    r = await client.post(
        "/network/routers", headers=h, json={"name": "rx", "nas_address": "not-ip", "secret": "s"}
    )
    assert r.status_code == 422 and "not-ip" in r.json()["detail"]
    r = await client.post("/network/sectors", headers=h, json={"router": "nope", "name": "s"})
    assert r.status_code == 404
    r = await client.post(
        "/network/connections",
        headers=h,
        json={"from_device": {"name": "r1"}, "to_device": {"name": "ghost"}, "medium": "copper"},
    )
    assert r.status_code == 404 and "ghost" in r.json()["detail"]
    for path in (
        "/network/routers/nope",
        "/network/sites/nope",
        "/network/devices/nope",
        "/network/connections/99",
    ):
        assert (await client.get(path, headers=h)).status_code == 404, path


# -- ipam --------------------------------------------------------------------------------------


async def test_pools_show_live_utilisation(
    daemon: Daemon, client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    h = auth(tokens["viewer"])
    [pool] = (await client.get("/ipam/pools", headers=h)).json()
    assert (pool["name"], pool["total"], pool["reserved"], pool["allocated"]) == ("main", 254, 1, 0)
    # an address handed out in memory shows at once, before any API-side database read
    daemon.ipam.alloc.allocate("main", "user3", now=0.0)
    pool = (await client.get("/ipam/pools/main", headers=h)).json()
    assert pool["allocated"] == 1
    assert (await client.get("/ipam/pools/none", headers=h)).status_code == 404


async def test_leases(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["viewer"])
    page = (await client.get("/ipam/pools/main/leases", headers=h)).json()
    assert [(x["address"], x["state"], x["username"]) for x in page["items"]] == [
        ("10.64.0.9", "reserved", "user1")
    ]
    assert (await client.get("/ipam/pools/main/leases?user=user2", headers=h)).json()["items"] == []
    assert (await client.get("/ipam/pools/main/leases?state=leased", headers=h)).json()["items"] == []
    assert (await client.get("/ipam/pools/main/leases?state=bogus", headers=h)).status_code == 422
    assert (await client.get("/ipam/pools/nope/leases", headers=h)).status_code == 404


# -- sessions ----------------------------------------------------------------------------------


async def test_sessions_online_filters_and_pages(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["viewer"])
    page = (await client.get("/radius/sessions/online", headers=h)).json()
    assert [s["acct_unique_id"] for s in page["items"]] == ["u4", "u3", "u2", "u1", "u0"]  # u5 closed
    assert page["items"][3]["input_octets"] == 1100  # base + counter
    by_nas = (await client.get("/radius/sessions/online?nas=r2", headers=h)).json()["items"]
    assert [s["acct_unique_id"] for s in by_nas] == ["u4"]
    by_addr = (await client.get("/radius/sessions/online?nas=192.0.2.1", headers=h)).json()["items"]
    assert len(by_addr) == 4
    by_user = (await client.get("/radius/sessions/online?user=user0&nas=r1", headers=h)).json()["items"]
    assert [s["acct_unique_id"] for s in by_user] == ["u3", "u0"]
    seen: list[str] = []
    url = "/radius/sessions/online?limit=2"
    while True:
        page = (await client.get(url, headers=h)).json()
        seen += [s["acct_unique_id"] for s in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/radius/sessions/online?limit=2&cursor={page['next_cursor']}"
    assert seen == ["u4", "u3", "u2", "u1", "u0"]
    offset = (await client.get("/radius/sessions/online?limit=2&offset=3", headers=h)).json()["items"]
    assert [s["acct_unique_id"] for s in offset] == ["u1", "u0"]
    assert (await client.get("/radius/sessions/online?nas=nope", headers=h)).status_code == 404
    assert (await client.get("/radius/sessions/online?limit=100000", headers=h)).status_code == 422
    assert (await client.get("/radius/sessions/online?limit=0", headers=h)).status_code == 422


async def test_disconnect(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["admin"])
    DISCONNECTS.clear()
    r = await client.post("/radius/sessions/u0/disconnect", headers=h)
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["outcome"] == "ack"
    r = await client.post("/radius/sessions/4/disconnect", headers=h)  # u3 by numeric id
    assert r.status_code == 502 and r.json()["outcome"] == "nak"
    assert len(DISCONNECTS) == 2
    assert (await client.post("/radius/sessions/nope/disconnect", headers=h)).status_code == 404
    r = await client.post("/radius/sessions/u5/disconnect", headers=h)
    assert r.status_code == 409 and "closed" in r.json()["detail"]


async def test_disconnect_through_the_plugins(daemon: Daemon, tokens: dict[str, str]) -> None:
    """The real sender (plugin + audited CoA client): r2 at 192.0.2.2 never answers -> 502."""
    from radiusd.api.app import plugin_disconnect
    from radiusd.coa.client import DynamicAuthClient, RetransmitPolicy
    from radiusd.coa.service import CoaService

    quick = DynamicAuthClient(RetransmitPolicy(irt=0.05, mrc=1, mrt=0.05, mrd=0.3))
    app = create_app(daemon, disconnect=plugin_disconnect(CoaService(daemon.engine, quick)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
        r = await c.post("/radius/sessions/u4/disconnect", headers=auth(tokens["admin"]))
    assert r.status_code == 502, r.text
    body = r.json()
    assert (body["nas"], body["action"], body["outcome"], body["ok"]) == (
        "r2",
        "disconnect",
        "timeout",
        False,
    )
    async with daemon.engine.connect() as conn:
        audit = (await conn.execute(sa.text("SELECT kind, outcome FROM coa_audit"))).all()
    assert [tuple(a) for a in audit] == [("disconnect", "timeout")]


# -- subscribers -------------------------------------------------------------------------------


async def test_subscribers_paginated(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["viewer"])
    seen: list[str] = []
    cursor = None
    while True:
        url = "/subscribers?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=h)).json()
        assert len(page["items"]) <= 2
        seen += [s["username"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"user{i}" for i in range(5)]
    one = (await client.get("/subscribers?limit=1&offset=4", headers=h)).json()["items"][0]
    assert one["username"] == "user4" and one["plan"] == "basic"
    assert "credential" not in one and "pw4" not in str(one)  # how it is kept, never the password
    assert one["password_store"] == "cleartext"
    assert (await client.get("/subscribers?status=suspended", headers=h)).json()["items"] == []
    assert len((await client.get("/subscribers?plan=basic", headers=h)).json()["items"]) == 5
    assert (await client.get("/subscribers?status=odd", headers=h)).status_code == 422


# -- metrics -----------------------------------------------------------------------------------


async def test_metrics(daemon: Daemon, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    daemon.stats.observe("access", "accept", 0.0002)
    daemon.stats.observe("access", "reject", 0.003)
    daemon.stats.drop("unknown-nas")
    r = await client.get("/metrics", headers=auth(tokens["viewer"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for line in (
        'radiusd_requests_total{result="accept",type="access"} 1.0',
        'radiusd_drops_total{reason="unknown-nas"} 1.0',
        'radiusd_request_duration_seconds_bucket{le="0.0005"} 1.0',
        'radiusd_request_duration_seconds_bucket{le="+Inf"} 2.0',
        "radiusd_request_duration_seconds_count 2.0",
        'radiusd_ip_pool_size{kind="ipv4",pool="main"} 254.0',
        'radiusd_ip_pool_addresses{kind="ipv4",pool="main",state="reserved"} 1.0',
        'radiusd_sessions_open{nas="r1"} 4.0',
        'radiusd_sessions_open{nas="r2"} 1.0',
        "radiusd_writer_queue_depth 0.0",
        "radiusd_nas_clients 2.0",
        "radiusd_subscribers 5.0",
    ):
        assert line in text, line
    assert tokens["viewer"] not in text


async def test_network_lists_page_in_the_database(
    daemon: Daemon, client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """limit 1 offset 1 of three sites is the second, read with LIMIT/OFFSET; a huge offset is 422."""
    await inv.add_site(daemon.engine, "pop-2")
    await inv.add_site(daemon.engine, "pop-3")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(daemon.engine.sync_engine, "before_cursor_execute", seen)
    try:
        h = auth(tokens["viewer"])
        page = (await client.get("/network/sites?limit=1&offset=1", headers=h)).json()
    finally:
        sa.event.remove(daemon.engine.sync_engine, "before_cursor_execute", seen)
    assert [s["name"] for s in page["items"]] == ["pop-2"]
    assert page["next_cursor"] == "2"
    [select] = [s for s in statements if "network_sites" in s]
    assert "LIMIT" in select.upper() and "OFFSET" in select.upper(), select
    last = (await client.get("/network/sites?limit=1&offset=2", headers=h)).json()
    assert [s["name"] for s in last["items"]] == ["pop-3"] and last["next_cursor"] is None
    for path in ("/network/sites", "/network/routers", "/network/connections", "/subscribers",
                 "/radius/sessions/online", "/ipam/pools/main/leases"):  # fmt: skip
        r = await client.get(f"{path}?offset=10000000", headers=h)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["detail"][0]["loc"] == ["query", "offset"]
        assert (await client.get(f"{path}?limit=1001", headers=h)).status_code == 422
        assert (await client.get(f"{path}?offset=100000", headers=h)).status_code == 200
    routers = (await client.get("/network/routers?site=pop-1&limit=1", headers=h)).json()
    assert [r["name"] for r in routers["items"]] == ["r1"]
    assert (await client.get("/network/routers?site=nowhere", headers=h)).status_code == 404
    links = (await client.get("/network/connections?node=sw1", headers=h)).json()["items"]
    assert len(links) == 1


async def test_disconnect_waits_only_as_asked_then_answers_with_a_job(
    daemon: Daemon, tokens: dict[str, str]
) -> None:
    """A NAS that reads and never answers: ``?wait=0.3`` answers 202 with a job at once; the
    job's GET is 202 until the CoA client gives up, then the 502 a waiting caller would get."""
    from radiusd.api.app import plugin_disconnect
    from radiusd.coa.service import CoaService

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    silent.setblocking(False)
    router = await inv.add_router(
        daemon.engine, "r3", "127.0.0.1", "s3cret-r3", coa_port=silent.getsockname()[1]
    )
    async with daemon.engine.begin() as conn:
        await conn.execute(
            sa.insert(RadiusSession).values(
                acct_unique_id="silent-1", acct_session_id="q1", username="user4", router_id=router.id,
                nas_address="127.0.0.1", started_at=T0, updated_at=T0, status="open",
            )
        )  # fmt: skip
    # the NAS gives up after 3 s; "at once" is judged against that, with room for a loaded machine
    app = create_app(daemon, disconnect=plugin_disconnect(CoaService(daemon.engine, timeout=3.0)))
    h = auth(tokens["admin"])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
            started = time.monotonic()
            r = await c.post("/radius/sessions/silent-1/disconnect?wait=0.3", headers=h)
            assert time.monotonic() - started < 2.5
            assert r.status_code == 202, r.text
            job = r.json()
            assert job["status"] == "pending" and job["session"] == "silent-1"
            assert r.headers["location"] == job["result_url"] == f"/radius/disconnects/{job['job']}"
            pending = await c.get(job["result_url"], headers=auth(tokens["viewer"]))
            assert pending.status_code == 202 and pending.json()["job"] == job["job"]
            await asyncio.sleep(3.1)
            done = await c.get(job["result_url"], headers=auth(tokens["viewer"]))
            assert done.status_code == 502, done.text
            assert (done.json()["outcome"], done.json()["job"]) == ("timeout", job["job"])
            assert silent.recv(4096)  # the NAS did receive the request
            # without ?wait the route waits (10 s at most): here the client gives up first
            started = time.monotonic()
            r = await c.post("/radius/sessions/silent-1/disconnect", headers=h)
            assert r.status_code == 502 and 2.5 < time.monotonic() - started < 6.0
            for bad in ("-1", "31", "x"):
                r = await c.post(f"/radius/sessions/silent-1/disconnect?wait={bad}", headers=h)
                assert r.status_code == 422, bad
            assert (await c.get("/radius/disconnects/nope", headers=h)).status_code == 404
    finally:
        silent.close()
