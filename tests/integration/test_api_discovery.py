"""``POST /network/discovery/lldp`` on SQLite and PostgreSQL: the same run as the CLI, here
through a MikroTik router's RouterOS API (the stand-in, real protocol, API-SSL pinned).
A proposal without ``apply`` writes nothing; read-only tokens are refused; bad bodies are 422
with the field named; an unknown site is 404; the OpenAPI document carries the schemas."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from radiusd.daemon import Daemon
from radiusd.store.inventory import add_router, add_site, list_devices, list_links
from tests.integration import test_api_app as base
from tests.integration.routeros_standin import RouterOS, RouterOSServer, SelfSigned
from tests.integration.test_api_app import auth
from tests.integration.test_discovery_routeros import API_PASSWORD, API_USER, CISCO, CRS

daemon = base.daemon
tokens = base.tokens
client = base.client


@pytest.fixture
def routeros(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterOSServer]:
    router = RouterOS(username=API_USER, password=API_PASSWORD)
    router.add_row("/ip/neighbor", **CRS)
    router.add_row("/ip/neighbor", **CISCO)
    with RouterOSServer(router, tls=SelfSigned.make(tmp_path_factory.mktemp("ros"))) as server:
        yield server


async def test_propose_then_apply(
    client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon, routeros: RouterOSServer
) -> None:
    await add_site(daemon.engine, "pop7")
    await add_router(
        daemon.engine,
        "mt7",
        "127.0.0.7",
        "mt7-Secr3t-x",
        site="pop7",
        vendor="mikrotik",
        management_address="127.0.0.1",
        api_username=API_USER,
        api_password=API_PASSWORD,
        api_port=routeros.port,
        api_fingerprint=routeros.fingerprint,
    )
    h = auth(tokens["admin"])
    before = len(await list_links(daemon.engine))  # the seed's r1 - sw1
    r = await client.post("/network/discovery/lldp", json={"site": "pop7"}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] == [] and body["applied"] is None
    assert {d["name"] for d in body["new_devices"]} == {"sw-core", "c9300-agg.example.net"}
    assert len(body["new_links"]) == 2 and len(body["unmatched"]) == 2
    assert len(await list_links(daemon.engine)) == before  # proposed only

    r = await client.post(
        "/network/discovery/lldp", json={"site": "pop7", "apply": True}, headers=auth(tokens["viewer"])
    )
    assert r.status_code == 403
    r = await client.post("/network/discovery/lldp", json={"site": "pop7", "apply": True}, headers=h)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["applied"]["devices"]) == ["c9300-agg.example.net", "sw-core"]
    assert len(await list_links(daemon.engine)) == before + 2
    assert {d.name for d in await list_devices(daemon.engine, site="pop7")} == {
        "sw-core",
        "c9300-agg.example.net",
    }
    r = await client.post(
        "/network/discovery/lldp", json={"apply": True, "timeout": 0.2, "retries": 0}, headers=h
    )
    # the seeded router r1 has no API credentials and no community is set: skipped, said so;
    # the seeded sw1 (192.0.2.10) does not answer: an error, and its link is not judged stale
    again = r.json()
    assert again["new_links"] == [] and again["new_devices"] == [] and len(again["seen_links"]) == 2
    assert [e for e in again["errors"] if "sw1" in e and "no answer" in e] == again["errors"] != []
    assert again["stale_links"] == []
    assert any("r1" in s and "discovery_snmp_community" in s for s in again["skipped"])
    assert API_PASSWORD not in r.text


async def test_refusals(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["admin"])
    r = await client.post("/network/discovery/lldp", json={"site": "atlantis"}, headers=h)
    assert r.status_code == 404 and "atlantis" in r.json()["detail"]
    r = await client.post("/network/discovery/lldp", json={"timeout": 0}, headers=h)
    assert r.status_code == 422 and "timeout" in r.text
    r = await client.post("/network/discovery/lldp", json={"aply": True}, headers=h)
    assert r.status_code == 422 and "aply" in r.text
    spec = (await client.get("/openapi.json", headers=h)).json()
    assert "post" in spec["paths"]["/network/discovery/lldp"]
    assert {"LldpIn", "LldpOut", "NewLinkOut", "NeighbourOut"} <= set(spec["components"]["schemas"])
