"""The prefix tree through the admin API on SQLite and PostgreSQL: the same store functions
as the CLI, 4xx bodies for refusals with nothing written, read-only tokens refused on writes,
the OpenAPI document naming every route with its schemas."""

from __future__ import annotations

import httpx

from radiusd.daemon import Daemon
from radiusd.store.inventory import add_router, add_site
from tests.integration import test_api_app as base
from tests.integration.test_api_app import auth

daemon = base.daemon  # seeded: pool main 10.64.0.0/24, plan basic, user0..user4
tokens = base.tokens
client = base.client


async def test_tree_allocation_addresses_and_routed_subnets(
    client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon
) -> None:
    h = auth(tokens["admin"])
    await add_site(daemon.engine, "tower-a")
    await add_router(daemon.engine, "core1", "192.0.2.77", "core-Secr3t-9")
    r = await client.post(
        "/ipam/prefixes", json={"prefix": "10.0.0.0/8", "description": "private"}, headers=h
    )
    assert r.status_code == 201, r.text
    # the pool's range joined the tree at migration / pool add, and the /8 adopted it
    assert r.json()["children"] == ["10.64.0.0/24"]
    r = await client.get("/ipam/prefixes/10.64.0.0/24", headers=h)
    assert (r.json()["role"], r.json()["pool"], r.json()["parent"]) == ("pool", "main", "10.0.0.0/8")
    r = await client.post("/ipam/prefixes", json={"prefix": "10.255.0.0/16"}, headers=h)
    assert r.json()["parent"] == "10.0.0.0/8"
    got = []
    for _ in range(3):
        r = await client.post(
            "/ipam/allocations",
            json={"from": "10.255.0.0/16", "length": 31, "for": "router:core1"},
            headers=h,
        )
        assert r.status_code == 201, r.text
        got.append(r.json()["prefix"])
    assert got == ["10.255.0.0/31", "10.255.0.2/31", "10.255.0.4/31"]
    r = await client.post(
        "/ipam/prefixes", json={"prefix": "10.255.255.0/24", "role": "infrastructure"}, headers=h
    )
    r = await client.post(
        "/ipam/addresses", json={"from": "10.255.255.0/24", "to": "router:core1:lo0"}, headers=h
    )
    assert r.status_code == 201 and r.json()["address"] == "10.255.255.1" and r.json()["interface"] == "lo0"
    r = await client.get("/ipam/assigned/router:core1", headers=h)
    assert [p["prefix"] for p in r.json()["prefixes"]] == got
    assert r.json()["addresses"] == [
        {"address": "10.255.255.1", "interface": "lo0", "prefix": "10.255.255.0/24"}
    ]

    r = await client.put("/ipam/routed-subnets/user2", json={"subnets": ["192.0.2.128/29"]}, headers=h)
    assert r.status_code == 200 and r.json() == {"username": "user2", "subnets": ["192.0.2.128/29"]}
    r = await client.get("/ipam/assigned/subscriber:user2", headers=h)
    assert r.json()["prefixes"][0]["role"] == "customer"

    tree = (await client.get("/ipam/prefix-tree", headers=h)).json()
    top = next(p for p in tree["prefixes"] if p["prefix"] == "10.0.0.0/8")
    assert {c["prefix"] for c in top["children"]} == {"10.64.0.0/24", "10.255.0.0/16"}
    v4 = tree["families"]["ipv4"]
    roots = [p for p in tree["prefixes"] if p["family"] == 4]
    assert v4["size"] == sum(p["size"] for p in roots) and v4["used"] == sum(p["used"] for p in roots)
    # used rolls up: 3 /31s (6) + 1 address, and the pool's reserved 10.64.0.9 (1)
    assert top["used"] == 8


async def test_refusals_are_4xx_and_write_nothing(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["admin"])
    assert (await client.post("/ipam/prefixes", json={"prefix": "10.0.0.0/8"}, headers=h)).status_code == 201
    before = (await client.get("/ipam/prefixes", headers=h)).json()
    cases = [
        ("/ipam/prefixes", {"prefix": "10.0.0.0/8"}, 409),  # exists
        ("/ipam/prefixes", {"prefix": "10.0.0.1/8"}, 422),  # host bits
        ("/ipam/prefixes", {"prefix": "10.64.0.0/28"}, 409),  # inside a pool's range
        ("/ipam/prefixes", {"prefix": "10.1.0.0/16", "assigned_to": "router:nope"}, 422),
        ("/ipam/allocations", {"from": "10.0.0.0/8", "length": 4, "for": "subscriber:user0"}, 422),
        ("/ipam/allocations", {"from": "10.9.0.0/16", "length": 24, "for": "subscriber:user0"}, 404),
        ("/ipam/allocations", {"from": "10.0.0.0/8", "length": 24, "for": "teapot:x"}, 422),
        ("/ipam/addresses", {"from": "10.64.0.0/24", "to": "subscriber:user0"}, 409),  # a pool's range
        ("/ipam/pd/plan", {"aggregate": "2001:db8::/32", "per_site": "/42", "delegate": "/56"}, 422),
        ("/ipam/prefixes", {"prefix": "10.2.0.0/16", "colour": "red"}, 422),
    ]
    for path, body, code in cases:
        r = await client.post(path, json=body, headers=h)
        assert r.status_code == code, (path, body, r.status_code, r.text)
        assert isinstance(r.json()["detail"], str | list)
    assert (await client.get("/ipam/prefixes", headers=h)).json() == before
    viewer = auth(tokens["viewer"])
    assert (
        await client.post("/ipam/prefixes", json={"prefix": "10.3.0.0/16"}, headers=viewer)
    ).status_code == 403
    assert (await client.get("/ipam/prefixes", headers=viewer)).status_code == 200
    assert (await client.delete("/ipam/prefixes/10.64.0.0/24", headers=h)).status_code == 409
    assert (await client.delete("/ipam/prefixes/10.0.0.0/8", headers=h)).status_code == 204
    assert (await client.get("/ipam/prefixes/10.64.0.0/24", headers=h)).json()["parent"] is None


async def test_pd_plan_apply_and_growth(
    client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon
) -> None:
    h = auth(tokens["admin"])
    for name in ("north", "south"):
        await add_site(daemon.engine, name)
    body = {"aggregate": "2001:db8::/32", "per_site": "/40", "delegate": "/56", "sites": ["north", "south"]}
    r = await client.post("/ipam/pd/plan", json=body, headers=h)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert [(s["site"], s["block"], s["wan"]) for s in plan["sites"]] == [
        ("north", "2001:db8::/40", "2001:db8:ff00::/48"),
        ("south", "2001:db8:100::/40", "2001:db8:ff01::/48"),
    ]
    assert plan["applied"] is False and (await client.get("/ipam/pools/north", headers=h)).status_code == 404
    r = await client.post("/ipam/pd/plan", json={**body, "apply": True}, headers=h)
    assert r.status_code == 200 and r.json()["applied"] is True
    await daemon.ipam.reload_pools()
    pool = (await client.get("/ipam/pools/north", headers=h)).json()
    assert pool["ipv6_pd"]["total"] == 65536 and pool["ipv6_wan"]["total"] == 65536
    r = await client.post("/ipam/pd/plan", json={**body, "apply": True}, headers=h)
    assert r.status_code == 200 and [s["status"] for s in r.json()["sites"]] == ["exists", "exists"]
    r = await client.post(
        "/ipam/pd/plan", json={**body, "aggregate": "2001:db8:100::/44", "per_site": "/48"}, headers=h
    )
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == (
        "aggregate 2001:db8:100::/44 lies inside pool 'south' 2001:db8:100::/40, not a container"
    )
    growth = (await client.get("/ipam/pd/growth", headers=h)).json()
    assert {g["site"] for g in growth} == {"north", "south"}
    assert all(g["can_take"] == 65536 and g["days_left"] is None for g in growth)


async def test_openapi_documents_the_prefix_routes(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    spec = (await client.get("/openapi.json", headers=auth(tokens["viewer"]))).json()
    for path in (
        "/ipam/prefixes",
        "/ipam/prefixes/{prefix}",
        "/ipam/prefix-tree",
        "/ipam/allocations",
        "/ipam/addresses",
        "/ipam/assigned/{target}",
        "/ipam/routed-subnets/{username}",
        "/ipam/pd/plan",
        "/ipam/pd/growth",
    ):
        assert path in spec["paths"], path
    for schema in ("PrefixOut", "PrefixIn", "AllocateIn", "AssignIn", "PdPlanIn", "PdPlanOut", "GrowthOut"):
        assert schema in spec["components"]["schemas"], schema
