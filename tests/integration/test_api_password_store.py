"""The API keeps passwords as the CLI does: the ``password_store`` setting by default, a
``password_store`` field per subscriber (POST and PATCH), and every subscriber read shows how
its password is kept, never the password. Both backends."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from radiusd.api.app import create_app
from radiusd.daemon import Daemon
from radiusd.store.subscribers import get_subscriber
from tests.integration import test_api_app as base
from tests.integration.test_api_app import auth

daemon = base.daemon
tokens = base.tokens
client = base.client


async def test_the_field_decides_what_is_kept_and_reads_show_it(
    client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon
) -> None:
    h = auth(tokens["admin"])
    new = {"username": "hana", "password": "pw-hana-1", "plan": "basic", "password_store": "hashed"}
    r = await client.post("/subscribers", json=new, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["password_store"] == "hashed" and "pw-hana-1" not in r.text
    stored = (await get_subscriber(daemon.engine, "hana")).credential
    assert not stored.startswith("cleartext:") and "pw-hana-1" not in stored
    again = await client.post("/subscribers", json=new, headers=h)  # a billing retry: salted, yet the same
    assert again.status_code == 200, again.text
    assert (
        await client.post("/subscribers", json={**new, "password": "other"}, headers=h)
    ).status_code == 409

    r = await client.patch(
        "/subscribers/hana", json={"password": "pw-hana-2", "password_store": "nt"}, headers=h
    )
    assert r.status_code == 200 and r.json()["password_store"] == "nt"
    assert (await get_subscriber(daemon.engine, "hana")).credential.startswith("nt:")

    r = await client.get("/subscribers/hana", headers=h)
    assert r.json()["password_store"] == "nt"
    listed = {
        s["username"]: s["password_store"]
        for s in (await client.get("/subscribers", headers=h)).json()["items"]
    }
    assert listed["hana"] == "nt" and listed["user0"] == "cleartext"


async def test_refusals_change_nothing(
    client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon
) -> None:
    h = auth(tokens["admin"])
    r = await client.patch("/subscribers/user1", json={"password_store": "hashed"}, headers=h)
    assert r.status_code == 422 and "password_store applies to a password" in r.json()["detail"]
    r = await client.post(
        "/subscribers",
        json={"username": "ivo", "credential": "nt:" + "0" * 32, "password_store": "hashed"},
        headers=h,
    )
    assert r.status_code == 422
    r = await client.post(
        "/subscribers", json={"username": "ivo", "password": "x", "password_store": "md5"}, headers=h
    )
    assert r.status_code == 422
    assert (await client.get("/subscribers/ivo", headers=h)).status_code == 404
    assert (await get_subscriber(daemon.engine, "user1")).credential.startswith("cleartext:")


@pytest.fixture
async def hashed_client(daemon: Daemon) -> AsyncIterator[httpx.AsyncClient]:
    """The API of a daemon whose ``password_store`` setting is ``hashed``."""
    daemon.settings = dataclasses.replace(daemon.settings, password_store="hashed")
    app = create_app(daemon)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
        yield c


async def test_without_the_field_the_setting_decides(
    hashed_client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon
) -> None:
    h = auth(tokens["admin"])
    r = await hashed_client.post("/subscribers", json={"username": "jan", "password": "pw-jan"}, headers=h)
    assert r.status_code == 201 and r.json()["password_store"] == "hashed"
    r = await hashed_client.patch("/subscribers/user2", json={"password": "pw-new"}, headers=h)
    assert r.json()["password_store"] == "hashed"
    assert not (await get_subscriber(daemon.engine, "user2")).credential.startswith("cleartext:")
