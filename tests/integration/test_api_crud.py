"""Create/read/update/delete through the admin API, on SQLite and PostgreSQL: subscribers,
plans, NAS, pools and reservations, the inventory's PATCH/DELETE, idempotent POSTs, the same
refusals as the CLI (one code path: the store's functions), secrets never returned."""

from __future__ import annotations

from typing import Any

import httpx

from radiusd.daemon import Daemon
from radiusd.store.api_tokens import create_token
from radiusd.store.subscribers import get_subscriber
from tests.integration import test_api_app as base
from tests.integration.test_api_app import DISCONNECTS, auth

# the seeded daemon (pool main, plan basic, user0..user4, open sessions of user0..user2) and
# its API client, as in test_api_app
daemon = base.daemon
tokens = base.tokens
client = base.client


async def test_subscriber_crud_is_idempotent_and_checks_references(
    client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon
) -> None:
    h = auth(tokens["admin"])
    new = {
        "username": "zoe",
        "password": "pw-zoe",
        "plan": "basic",
        "pool": "main",
        "static_ip": "10.64.0.50",
    }
    r = await client.post("/subscribers", json=new, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["static_ip"] == "10.64.0.50" and "credential" not in r.json() and "pw-zoe" not in r.text
    r = await client.post("/subscribers", json=new, headers=h)
    assert r.status_code == 200 and r.json()["username"] == "zoe"  # a billing retry creates nothing
    r = await client.post("/subscribers", json={**new, "password": "other"}, headers=h)
    assert r.status_code == 409
    r = await client.post("/subscribers", json={**new, "username": "zed", "pool": "nosuchpool"}, headers=h)
    assert (r.status_code, r.json()) == (422, {"detail": "pool 'nosuchpool' does not exist"})
    assert (await client.get("/subscribers/zed", headers=h)).status_code == 404

    r = await client.patch(
        "/subscribers/zoe", json={"plan": None, "static_ip": None, "status": "disabled"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert (r.json()["plan"], r.json()["static_ip"], r.json()["status"]) == (None, None, "disabled")
    r = await client.patch("/subscribers/zoe", json={"pool": "nope", "status": "active"}, headers=h)
    assert r.status_code == 422
    assert (await client.get("/subscribers/zoe", headers=h)).json()["status"] == "disabled"  # nothing written
    r = await client.patch("/subscribers/zoe", json={"password": "new-pw"}, headers=h)
    assert r.status_code == 200 and "new-pw" not in r.text
    assert (await get_subscriber(daemon.engine, "zoe")).credential == "cleartext:new-pw"
    r = await client.patch("/subscribers/zoe", json={"colour": "red"}, headers=h)
    assert r.status_code == 422


async def test_removing_an_online_subscriber_is_refused_or_disconnects_first(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    h = auth(tokens["admin"])
    DISCONNECTS.clear()
    r = await client.delete("/subscribers/user1", headers=h)
    assert r.status_code == 409 and "user1" in r.json()["detail"] and "s1 on 192.0.2.1" in r.json()["detail"]
    assert (await client.get("/subscribers/user1", headers=h)).status_code == 200
    r = await client.delete("/subscribers/user0", params={"disconnect": "true"}, headers=h)
    assert r.status_code == 409 and "not removed" in r.json()["detail"]  # session 4 NAKs
    assert (await client.get("/subscribers/user0", headers=h)).status_code == 200
    r = await client.delete("/subscribers/user1", params={"disconnect": "true"}, headers=h)
    assert r.status_code == 204
    assert sorted(DISCONNECTS) == ["1", "2", "4", "5"]
    assert (await client.get("/subscribers/user1", headers=h)).status_code == 404
    assert (await client.delete("/subscribers/user3", headers=h)).status_code == 204  # offline: plain delete


async def test_subscriber_actions(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["admin"])
    r = await client.post("/subscribers/user3/suspend", headers=h)
    assert r.status_code == 200 and r.json() == {**r.json(), "sessions": []}
    assert r.json()["subscriber"]["status"] == "suspended"
    r = await client.post("/subscribers/user3/resume", headers=h)
    assert r.json()["subscriber"]["status"] == "active"
    assert (await client.post("/plans", json={"name": "silver"}, headers=h)).status_code == 201
    r = await client.post("/subscribers/user4/set-plan", json={"plan": "silver"}, headers=h)
    assert r.status_code == 200 and r.json()["subscriber"]["plan"] == "silver"
    r = await client.post("/subscribers/user4/set-plan", json={"plan": "gold"}, headers=h)
    assert r.status_code == 422 and "gold" in r.json()["detail"]
    pat = {"username": "pat", "password": "x", "plan": "nope", "pool": "main", "nas": "r1"}
    r = await client.post("/subscribers/provision", json=pat, headers=h)
    assert r.status_code == 422 and "nope" in r.json()["detail"]


async def test_plan_crud(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["admin"])
    gold = {
        "name": "gold",
        "pool": "main",
        "rate_limit": "20M/100M",
        "reply_attributes": [["framed-mtu", "1492"]],
    }
    r = await client.post("/plans", json=gold, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["reply_attributes"] == [["Framed-MTU", "1492"]]
    assert (await client.post("/plans", json=gold, headers=h)).status_code == 200
    assert (await client.post("/plans", json={**gold, "rate_limit": "1M/1M"}, headers=h)).status_code == 409
    for bad, detail in (
        ({"reply_attributes": [["Bogus-Attr", "1"]]}, "'Bogus-Attr' is not in the RADIUS dictionary"),
        ({"reply_attributes": [["Framed-MTU", "abc"]]}, "Framed-MTU: 'abc'"),
        ({"pool": "nopool"}, "pool 'nopool' does not exist"),
    ):
        r = await client.post("/plans", json={"name": "bad", **bad}, headers=h)
        assert r.status_code == 422 and detail in r.json()["detail"], r.text
    page = (await client.get("/plans", params={"limit": 1}, headers=h)).json()
    assert [p["name"] for p in page["items"]] == ["basic"] and page["next_cursor"] == "1"
    page = (await client.get("/plans", params={"limit": 1, "offset": 1}, headers=h)).json()
    assert [p["name"] for p in page["items"]] == ["gold"] and page["next_cursor"] is None
    r = await client.patch("/plans/gold", json={"new_name": "gold-2", "pool": None}, headers=h)
    assert (r.status_code, r.json()["name"], r.json()["pool"]) == (200, "gold-2", None)
    r = await client.delete("/plans/basic", headers=h)
    assert r.status_code == 409 and "5 subscriber" in r.json()["detail"]
    assert (await client.delete("/plans/basic", params={"replace": "gold-2"}, headers=h)).status_code == 204
    assert (await client.get("/subscribers", params={"plan": "gold-2"}, headers=h)).json()["items"]


async def test_nas_crud_never_returns_the_secret(
    client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon
) -> None:
    h = auth(tokens["admin"])
    r = await client.get("/nas", headers=h)
    assert [n["name"] for n in r.json()["items"]] == ["r1", "r2"] and "s3cret" not in r.text
    assert r.json()["items"][0]["secret_set"] is True
    body = {"name": "r3", "address": "192.0.2.3", "secret": "s3cret-r3", "vendor": "cisco"}
    assert (await client.post("/nas", json=body, headers=h)).status_code == 201
    assert (await client.post("/nas", json=body, headers=h)).status_code == 200
    r = await client.post("/nas", json={**body, "name": "r4"}, headers=h)
    assert r.status_code == 409 and "192.0.2.3" in r.json()["detail"]
    change = {"secret": "n3w-s3cret", "address": "192.0.2.33", "coa_port": 1700}
    r = await client.patch("/nas/r3", json=change, headers=h)
    assert r.status_code == 200 and "n3w-s3cret" not in r.text and r.json()["address"] == "192.0.2.33"
    assert (await client.patch("/nas/r3", json={"address": "192.0.2.1"}, headers=h)).status_code == 409
    assert (await client.patch("/nas/r3", json={"address": "bad"}, headers=h)).status_code == 422
    await daemon.apply_changes()
    assert any(n.address == "192.0.2.33" and n.coa_port == 1700 for n in daemon.registry.all())
    assert (await client.delete("/nas/r3", headers=h)).status_code == 204
    assert (await client.get("/nas/r3", headers=h)).status_code == 404


async def test_pool_writes_and_reservations(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["admin"])
    body = {"name": "cgnat", "ranges": ["100.64.0.0/24"], "warning_pct": 90}
    assert (await client.post("/ipam/pools", json=body, headers=h)).status_code == 201
    assert (await client.post("/ipam/pools", json=body, headers=h)).status_code == 200
    assert (
        await client.post("/ipam/pools", json={**body, "ranges": ["100.65.0.0/24"]}, headers=h)
    ).status_code == 409
    r = await client.patch("/ipam/pools/cgnat", json={"add_ranges": ["100.64.1.0/24"], "warning_pct": None,
                                                      "gateway": "100.64.1.1"}, headers=h)  # fmt: skip
    assert r.status_code == 200, r.text
    assert [x["range"] for x in r.json()["ranges"]] == ["100.64.0.0/24", "100.64.1.0/24"]
    assert (r.json()["warning_pct"], r.json()["reserved"]) == (None, 1)
    r = await client.patch("/ipam/pools/cgnat", json={"add_ranges": ["10.64.0.0/25"]}, headers=h)
    assert r.status_code == 409 and "main" in r.json()["detail"]
    r = await client.post("/ipam/pools/cgnat/ranges", json={"range": "100.64.1.0/24"}, headers=h)
    assert r.status_code == 200 and len(r.json()["ranges"]) == 2  # a retry adds nothing
    r = await client.post("/ipam/pools/cgnat/ranges", json={"range": "100.64.2.0/24"}, headers=h)
    assert r.status_code == 200 and len(r.json()["ranges"]) == 3
    r = await client.delete("/ipam/pools/cgnat/ranges", params={"range": "100.64.2.0/24"}, headers=h)
    assert r.status_code == 200
    r = await client.delete("/ipam/pools/cgnat/ranges", params={"range": "100.64.0.0/24"}, headers=h)
    assert r.status_code == 200 and [x["range"] for x in r.json()["ranges"]] == ["100.64.1.0/24"]

    res = {"address": "100.64.1.20", "username": "nobodyhere"}
    r = await client.post("/ipam/reservations", json=res, headers=h)
    assert (r.status_code, r.json()) == (422, {"detail": "subscriber 'nobodyhere' does not exist"})
    r = await client.post("/ipam/reservations", json={**res, "username": "user3"}, headers=h)
    assert r.status_code == 201 and r.json() == {
        "address": "100.64.1.20",
        "username": "user3",
        "pool": "cgnat",
    }
    r = await client.post("/ipam/reservations", json={**res, "username": "user4"}, headers=h)
    assert r.status_code == 409
    page = (await client.get("/ipam/reservations", params={"user": "user1"}, headers=h)).json()
    assert page["items"] == [{"address": "10.64.0.9", "username": "user1", "pool": "main"}]
    page = (await client.get("/ipam/reservations", params={"pool": "cgnat", "limit": 1}, headers=h)).json()
    assert len(page["items"]) == 1 and page["next_cursor"] == "1"
    assert (await client.get("/ipam/reservations/100.64.1.20", headers=h)).json()["username"] == "user3"
    assert (await client.delete("/ipam/reservations/100.64.1.20", headers=h)).status_code == 204
    assert (await client.get("/ipam/reservations/100.64.1.20", headers=h)).status_code == 404
    assert (await client.delete("/ipam/pools/cgnat", headers=h)).status_code == 409  # the gateway is reserved
    assert (await client.delete("/ipam/reservations/100.64.1.1", headers=h)).status_code == 204
    assert (await client.delete("/ipam/pools/cgnat", headers=h)).status_code == 204


async def test_inventory_patch_and_delete(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["admin"])
    r = await client.patch("/network/sites/pop-1", json={"new_name": "pop-a", "kind": "tower"}, headers=h)
    assert (r.status_code, r.json()["name"], r.json()["kind"]) == (200, "pop-a", "tower")
    r = await client.patch("/network/sites/pop-a", json={"latitude": None}, headers=h)
    assert r.status_code == 422 and "both latitude and longitude" in r.json()["detail"]
    r = await client.patch(
        "/network/routers/r2", json={"site": "pop-a", "coa_port": 1700, "secret": "x2"}, headers=h
    )
    assert r.status_code == 200 and (r.json()["site"], r.json()["coa_port"]) == ("pop-a", 1700)
    assert "x2" not in r.text
    r = await client.patch("/network/routers/r2", json={"coa_port": 1800, "site": "nowhere"}, headers=h)
    assert r.status_code == 404 and "nowhere" in r.json()["detail"]
    assert (await client.get("/network/routers/r2", headers=h)).json()["coa_port"] == 1700  # nothing changed
    r = await client.patch("/network/routers/r2", json={"site": None, "nas_address": "192.0.2.1"}, headers=h)
    assert r.status_code == 409 and "'r1'" in r.json()["detail"]
    assert (await client.get("/network/routers/r2", headers=h)).json()["site"] == "pop-a"  # nothing changed
    r = await client.patch(
        "/network/sectors/r1/north", json={"new_name": "south", "azimuth_deg": 180}, headers=h
    )
    assert (r.status_code, r.json()["name"], r.json()["azimuth_deg"]) == (200, "south", 180)
    assert (await client.get("/network/sectors/r1/south", headers=h)).status_code == 200
    r = await client.patch("/network/devices/sw1", json={"snmp_community": "n3w-c0mm"}, headers=h)
    assert r.status_code == 200 and "n3w-c0mm" not in r.text and r.json()["snmp_community_set"] is True
    r = await client.patch("/network/connections/1", json={"capacity_mbps": 1000}, headers=h)
    assert (r.status_code, r.json()["capacity_mbps"]) == (200, 1000)
    r = await client.delete("/network/devices/sw1", headers=h)
    assert r.status_code == 409 and "link" in r.json()["detail"]
    assert (await client.delete("/network/connections/1", headers=h)).status_code == 204
    assert (await client.delete("/network/devices/sw1", headers=h)).status_code == 204
    assert (await client.delete("/network/sectors/r1/south", headers=h)).status_code == 204
    assert (await client.delete("/network/sites/pop-a", headers=h)).status_code == 409  # routers are there
    viewer = auth(tokens["viewer"])
    assert (
        await client.patch("/network/sites/pop-a", json={"kind": "pop"}, headers=viewer)
    ).status_code == 403


async def test_openapi_lists_the_crud_routes_with_examples(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    spec: dict[str, Any] = (await client.get("/openapi.json", headers=auth(tokens["viewer"]))).json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/plans"]) and {"get", "patch", "delete"} <= set(
        paths["/plans/{name}"]
    )
    assert {"get", "patch", "delete"} <= set(paths["/subscribers/{username}"])
    assert "post" in paths["/subscribers"] and "post" in paths["/subscribers/provision"]
    assert {"get", "post"} <= set(paths["/nas"]) and "patch" in paths["/ipam/pools/{name}"]
    assert "post" in paths["/ipam/reservations"] and "delete" in paths["/network/connections/{link_id}"]
    assert spec["components"]["schemas"]["SubscriberIn"]["examples"][0]["username"] == "alice"


async def test_idempotency_key_replays_the_first_reply(
    client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon
) -> None:
    h = {**auth(tokens["admin"]), "Idempotency-Key": "bill-42"}
    body = {"username": "kim", "password": "pw-kim", "plan": "basic"}
    first = await client.post("/subscribers", json=body, headers=h)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    await client.patch("/subscribers/kim", json={"status": "suspended"}, headers=auth(tokens["admin"]))
    again = await client.post("/subscribers", json=body, headers=h)
    assert (again.status_code, again.json()) == (201, first.json())  # the first reply, as it was
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/subscribers", json={**body, "username": "kim2"}, headers=h)
    assert other.status_code == 422 and "bill-42" in other.json()["detail"]
    assert (await client.get("/subscribers/kim2", headers=h)).status_code == 404
    # keys are per token: another token's same key is a new request
    _, other_admin = await create_token(daemon.engine, "billing")
    r = await client.post(
        "/plans", json={"name": "p1"}, headers={**auth(other_admin), "Idempotency-Key": "bill-42"}
    )
    assert r.status_code == 201
    bad = await client.post("/plans", json={"name": "p2"}, headers={**h, "Idempotency-Key": "has space"})
    assert bad.status_code == 422
