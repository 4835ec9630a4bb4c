"""``POST /netbox/sync`` on SQLite and PostgreSQL against the NetBox API stand-in: dry run,
sync, a second sync writing nothing; the token never echoed; NetBox's refusals as 424 with
one line; bad bodies 422; read-only tokens refused; the OpenAPI schemas present."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration import test_api_app as base
from tests.integration.netbox_standin import TOKEN, NetBoxServer
from tests.integration.test_api_app import auth

daemon = base.daemon
tokens = base.tokens
client = base.client


@pytest.fixture
def nb() -> Iterator[NetBoxServer]:
    with NetBoxServer() as server:
        yield server


async def test_dry_run_sync_and_idempotence(
    client: httpx.AsyncClient, tokens: dict[str, str], nb: NetBoxServer
) -> None:
    h = auth(tokens["admin"])
    body = {"url": nb.url, "token": TOKEN, "dry_run": True}
    r = await client.post("/netbox/sync", json=body, headers=h)
    assert r.status_code == 200, r.text
    dry = r.json()
    assert dry["dry_run"] is True and dry["create"] > 10 and nb.netbox.writes == []
    assert TOKEN not in r.text
    r = await client.post("/netbox/sync", json={**body, "dry_run": False}, headers=h)
    assert r.status_code == 200 and r.json()["create"] == dry["create"]
    devices = {d["name"] for d in nb.netbox.objects["dcim/devices"].values()}
    assert devices == {"r1", "r2", "sw1"}  # the API test seed
    nb.netbox.writes.clear()
    r = await client.post(
        "/netbox/sync", json={**body, "dry_run": False, "only": ["devices", "cables"]}, headers=h
    )
    assert (r.json()["create"], r.json()["update"], r.json()["delete"]) == (
        0,
        0,
        0,
    ) and nb.netbox.writes == []
    r = await client.post("/netbox/sync", json={**body, "dry_run": False}, headers=auth(tokens["viewer"]))
    assert r.status_code == 403


async def test_refusals(client: httpx.AsyncClient, tokens: dict[str, str], nb: NetBoxServer) -> None:
    h = auth(tokens["admin"])
    r = await client.post("/netbox/sync", json={"url": nb.url, "token": "wrong-token-777"}, headers=h)
    assert r.status_code == 424 and r.json()["detail"].endswith("refused the token (403 Invalid token)")
    assert "wrong-token-777" not in r.text
    r = await client.post("/netbox/sync", json={"url": "file:///etc/passwd", "token": "x"}, headers=h)
    assert r.status_code == 422 and "url" in r.text
    r = await client.post("/netbox/sync", json={"url": nb.url, "token": "x", "only": ["cabels"]}, headers=h)
    assert r.status_code == 422 and "only" in r.text
    spec = (await client.get("/openapi.json", headers=h)).json()
    assert "post" in spec["paths"]["/netbox/sync"]
    assert {"NetBoxSyncIn", "NetBoxSyncOut", "NetBoxChangeOut"} <= set(spec["components"]["schemas"])
