"""The CLI and the admin API report the same figures for the same rows, on SQLite and PostgreSQL:
pool utilisation and its warning (one rule, :func:`ipam.utilisation.is_warning`) and a session's
octets after a NAS counter reset (one read model, :mod:`radiusd.store.session_view`).

The API runs in process over a real Daemon's live state; the CLI runs with click's CliRunner in a
worker thread (it has an event loop of its own) against the same database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from radiusd.api.app import create_app
from radiusd.cli.main import cli
from radiusd.daemon import Daemon
from radiusd.store import inventory as inv
from radiusd.store.api_tokens import create_token
from radiusd.store.models import RadiusSession
from radiusd.store.pools import add_pool, reserve_address
from tests.integration.test_api_app import seeded_daemon

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
GIGA = 2**32


async def _seed(engine: Any) -> None:
    await inv.add_router(engine, "r1", "192.0.2.1", "s3cret-r1")
    # "tight": its own threshold (50%), reached; "full": no threshold, above the default (90%);
    # "calm": below either; "dual": IPv4 calm, IPv6 WAN above its threshold.
    await add_pool(engine, "tight", ranges=["10.64.0.0/29"], warning_pct=50)
    await add_pool(engine, "full", ranges=["10.65.0.0/30"])
    await add_pool(engine, "calm", ranges=["10.66.0.0/24"])
    await add_pool(
        engine, "dual", ranges=["10.67.0.0/24"], ipv6_prefixes=["2001:db8::/63/64"], warning_pct=40
    )
    for address in ("10.64.0.1", "10.64.0.2", "10.64.0.3", "10.65.0.1", "10.65.0.2", "10.66.0.1"):
        await reserve_address(engine, address)
    await reserve_address(engine, "2001:db8::/64")
    # Session "reset": 3 GiB + 1000 counted before the NAS's counter went down, 500 since.
    rows = [
        {
            "acct_unique_id": "reset", "acct_session_id": "s1", "username": "alice", "router_id": 1,
            "nas_address": "192.0.2.1", "framed_ip": "10.66.0.9", "started_at": T0, "updated_at": T0,
            "status": "open", "input_octets": 500, "output_octets": GIGA + 7,
            "input_base": 3 * GIGA + 1000, "output_base": 0,
        },
        {
            "acct_unique_id": "plain", "acct_session_id": "s2", "username": "bob", "router_id": 1,
            "nas_address": "192.0.2.1", "framed_ip": "10.66.0.10", "started_at": T0, "updated_at": T0,
            "status": "open", "input_octets": 42, "output_octets": 43, "input_base": 0, "output_base": 0,
        },
    ]  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(sa.insert(RadiusSession), rows)


@pytest.fixture
async def daemon(db_url: str, migrated_db: None, tmp_path: Path) -> AsyncIterator[Daemon]:
    async with seeded_daemon(db_url, tmp_path, _seed) as d:
        yield d


@pytest.fixture
async def api(daemon: Daemon) -> AsyncIterator[httpx.AsyncClient]:
    _, token = await create_token(daemon.engine, "reader", read_only=True)
    app = create_app(daemon)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://api",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        yield c


async def run_cli(url: str, *args: str) -> Any:
    """``radiusd --database URL ARGS --json`` in a worker thread; its JSON output."""
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["--database", url, *args, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


async def api_get(api: httpx.AsyncClient, path: str) -> Any:
    r = await api.get(path)
    assert r.status_code == 200, r.text
    return r.json()


FIGURES = ("total", "allocated", "reserved", "free", "held", "percent_used", "warning", "warn_at")


def _figures(pool: dict[str, Any]) -> dict[str, Any]:
    families = {
        f: pool[f] and {k: pool[f][k] for k in sorted(pool[f])} for f in ("ipv4", "ipv6_wan", "ipv6_pd")
    }
    ranges = sorted((r["range"], r["percent_used"], r["warning"]) for r in pool["ranges"])
    return {**{k: pool[k] for k in FIGURES}, **families, "ranges": ranges}


async def test_pool_list_and_api_agree_on_utilisation_and_warning(
    daemon: Daemon, api: httpx.AsyncClient, db_url: str
) -> None:
    from_cli = {p["name"]: _figures(p) for p in await run_cli(db_url, "pool", "list")}
    from_api = {p["name"]: _figures(p) for p in await api_get(api, "/ipam/pools")}
    assert from_cli == from_api
    warned = {name for name, p in from_cli.items() if p["warning"]}
    assert warned == {"tight", "full", "dual"}  # own threshold, the default, one family's
    assert from_cli["tight"]["warn_at"] == 50 and from_cli["full"]["warn_at"] == 90
    assert from_cli["dual"]["ipv4"]["warning"] is False and from_cli["dual"]["ipv6_wan"]["warning"] is True
    for name in from_cli:
        shown = _figures(await run_cli(db_url, "pool", "show", name))
        assert shown == _figures(await api_get(api, f"/ipam/pools/{name}")) == from_cli[name]


async def test_session_show_and_api_agree_on_octets_after_a_counter_reset(
    daemon: Daemon, api: httpx.AsyncClient, db_url: str
) -> None:
    online = {s["acct_unique_id"]: s for s in (await api_get(api, "/radius/sessions/online"))["items"]}
    for key, (inp, out) in {"reset": (3 * GIGA + 1500, GIGA + 7), "plain": (42, 43)}.items():
        shown = await run_cli(db_url, "session", "show", key)
        assert (shown["input_octets"], shown["output_octets"]) == (inp, out)
        assert (online[key]["input_octets"], online[key]["output_octets"]) == (inp, out)
        listed = [
            s for s in await run_cli(db_url, "session", "list", "--online") if s["acct_unique_id"] == key
        ]
        assert (listed[0]["input_octets"], listed[0]["output_octets"]) == (inp, out)
