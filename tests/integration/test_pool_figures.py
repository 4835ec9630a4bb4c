"""Pool utilisation figures: the CLI (``pool add/list/show``) and the admin API (``/ipam/pools``)
report each family (IPv4 addresses, IPv6 WAN and delegated prefixes) on its own, from the same
function, so they agree: a 60 % used IPv4 side is not diluted by a huge IPv6 side."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from radiusd.cli.main import cli

FAMILY = ("total", "allocated", "reserved", "free", "held", "used", "percent_used", "warning")


def run(url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--database", url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def api_pools(url: str, tmp_path: Path) -> list[dict[str, Any]]:
    from radiusd.api.app import create_app
    from radiusd.config import load_settings
    from radiusd.daemon import Daemon
    from radiusd.store.api_tokens import create_token

    async def main() -> list[dict[str, Any]]:
        d = Daemon(load_settings(database_url=url, data_dir=tmp_path))
        try:
            await d.reload_all()
            d.writer.start()
            await d.ipam.start()
            _, token = await create_token(d.engine, "t", read_only=True)
            app = create_app(d)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
                reply = await c.get("/ipam/pools", headers={"Authorization": f"Bearer {token}"})
            assert reply.status_code == 200, reply.text
            data: list[dict[str, Any]] = reply.json()
            return data
        finally:
            await d.writer.close()
            await d.engine.dispose()

    return asyncio.run(main())


def test_cli_and_api_report_each_family_and_agree(db_url: str, migrated_db: None, tmp_path: Path) -> None:
    out = run(
        db_url, "pool", "add", "home", "--range", "10.0.0.0/29", "--exclude", "10.0.0.6",
        "--ipv6-prefix", "2001:db8::/48", "--delegated", "2001:db8:100::/40/56", "--warn-at", "50",
    )  # fmt: skip
    # one figure per family, never "131077 items"
    assert "5 IPv4 addresses, 65536 IPv6 WAN prefixes, 65536 delegated prefixes" in out
    for host in (1, 2, 3):
        run(db_url, "pool", "reserve", f"10.0.0.{host}")

    [cli_pool] = json.loads(run(db_url, "pool", "list", "--json"))
    assert cli_pool["ipv4"] == {
        "total": 5, "allocated": 0, "reserved": 3, "free": 2, "held": 0, "used": 3,
        "percent_used": 60.0, "warning": True,
    }  # fmt: skip
    assert cli_pool["ipv6_wan"]["percent_used"] == 0.0 and cli_pool["ipv6_wan"]["warning"] is False
    assert (cli_pool["percent_used"], cli_pool["warning"]) == (60.0, True)  # the fullest family
    shown = json.loads(run(db_url, "pool", "show", "home", "--json"))
    assert shown == cli_pool

    [api_pool] = api_pools(db_url, tmp_path)
    for key in ("ipv4", "ipv6_wan", "ipv6_pd"):
        assert {k: api_pool[key][k] for k in FAMILY} == {k: cli_pool[key][k] for k in FAMILY}, key
    for key in ("total", "reserved", "percent_used", "warning", "warn_at"):
        assert api_pool[key] == cli_pool[key], key
    assert [r["warning"] for r in api_pool["ranges"]] == [r["warning"] for r in cli_pool["ranges"]]
