"""``radiusd netbox sync`` through pynetbox (the real client) against the NetBox API stand-in
(tests/integration/netbox_standin.py, NetBox 4.2 object shapes, read from
netbox-community/netbox netbox/dcim/api/serializers_/ and netbox/ipam/api/serializers_/ at
commit 1777d42), SQLite and PostgreSQL. Plus an opt-in run against a real NetBox when
NETBOX_URL and NETBOX_TOKEN are set (skipped otherwise, also under CI: opt-in by design).

Asserted: the first run creates tag, custom field and every object with tag + radiusd_id; a
second run writes nothing; a rename is one PATCH; a removed link and device delete only
what the sync made; --dry-run writes nothing; a bad token (403), a validation error (400)
and a NetBox that never answers are one line, exit 1, our database unchanged.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from radiusd.cli.main import cli
from radiusd.store.engine import create_engine
from tests.conftest import _run
from tests.integration.netbox_standin import TOKEN, NetBoxServer

pytestmark = pytest.mark.usefixtures("migrated_db")


@pytest.fixture
def nb() -> Iterator[NetBoxServer]:
    with NetBoxServer() as server:
        yield server


class Cli:
    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, *args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["--database", self.url, *args], input=stdin)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.exit_code == 0, result.output
        return result.output

    def sync(self, netbox_url: str, *extra: str, token: str = TOKEN, code: int = 0) -> Any:
        result = self.run("netbox", "sync", "--url", netbox_url, "--token", "-", *extra, stdin=token + "\n")
        assert result.exit_code == code, result.output
        return json.loads(result.output) if "--json" in extra and code == 0 else result.output

    def dump(self) -> list[Any]:
        async def go() -> list[Any]:
            engine = create_engine(self.url)
            try:
                async with engine.connect() as conn:
                    out = []
                    for table in (
                        "network_sites",
                        "routers",
                        "managed_devices",
                        "device_connections",
                        "prefixes",
                    ):
                        out.append(
                            sorted(
                                map(tuple, (await conn.execute(sa.text(f"SELECT * FROM {table}"))).all()),
                                key=str,
                            )
                        )
                    return out
            finally:
                await engine.dispose()

        result: list[Any] = _run(go())
        return result


@pytest.fixture
def radiusd(db_url: str) -> Cli:
    c = Cli(db_url)
    c.ok("site", "add", "pop1")
    c.ok("site", "add", "tower-7", "--kind", "tower")
    c.ok(
        "router",
        "add",
        "r1",
        "--address",
        "192.0.2.1",
        "--secret",
        "s3cret-r1-x",
        "--site",
        "pop1",
        "--vendor",
        "mikrotik",
    )
    c.ok("router", "add", "r2", "--address", "192.0.2.2", "--secret", "s3cret-r2-x")  # no site
    c.ok("device", "add", "sw1", "--kind", "switch", "--site", "pop1", "--address", "192.0.2.10")
    c.ok("device", "add", "ap7", "--kind", "access-point", "--site", "tower-7")
    c.ok("sector", "add", "r1", "north", "--frequency", "5800")
    c.ok("link", "add", "--from", "r1:ether2", "--to", "sw1:port1", "--medium", "copper")
    c.ok("link", "add", "--from", "sw1:port2", "--to", "ap7", "--medium", "fibre")
    c.ok("prefix", "add", "10.0.0.0/8")
    c.ok("prefix", "add", "10.7.0.0/24", "--role", "infrastructure", "--site", "tower-7")
    c.ok("pool", "add", "main", "--range", "10.64.0.0/24")
    return c


def _objects(nb: NetBoxServer, path: str) -> list[dict[str, Any]]:
    return list(nb.netbox.objects[path].values())


def test_first_sync_creates_everything_tagged_then_a_second_writes_nothing(
    radiusd: Cli, nb: NetBoxServer
) -> None:
    before = radiusd.dump()
    started = time.monotonic()
    first = radiusd.sync(nb.url, "--json")
    elapsed = time.monotonic() - started
    assert first["update"] == 0 and first["delete"] == 0 and first["create"] > 20
    tag_id = next(iter(nb.netbox.objects["extras/tags"]))
    assert _objects(nb, "extras/custom-fields")[0]["name"] == "radiusd_id"
    sites = {s["name"]: s for s in _objects(nb, "dcim/sites")}
    assert set(sites) == {"pop1", "tower-7", "radiusd-no-site"}  # r2 has no site: NetBox needs one
    devices = {d["name"]: d for d in _objects(nb, "dcim/devices")}
    assert set(devices) == {"r1", "r2", "sw1", "ap7"}
    assert all(d["tags"] == [tag_id] and d["custom_fields"]["radiusd_id"] for d in devices.values())
    roles = {r["name"] for r in _objects(nb, "dcim/device-roles")}
    assert roles == {"router", "switch", "access-point"}
    interfaces = {(i["device"], i["name"]) for i in _objects(nb, "dcim/interfaces")}
    assert {n for _, n in interfaces} == {"ether2", "port1", "port2", "link-2", "sector-north"}
    assert len(_objects(nb, "dcim/cables")) == 2
    prefixes = {p["prefix"]: p for p in _objects(nb, "ipam/prefixes")}
    assert set(prefixes) == {"10.0.0.0/8", "10.7.0.0/24", "10.64.0.0/24"}
    assert (
        prefixes["10.7.0.0/24"]["scope_type"] == "dcim.site" and prefixes["10.64.0.0/24"]["is_pool"] is True
    )
    assert radiusd.dump() == before  # our database is only read

    nb.netbox.writes.clear()
    second = radiusd.sync(nb.url, "--json")
    assert (second["create"], second["update"], second["delete"]) == (0, 0, 0)
    assert nb.netbox.writes == []
    assert elapsed < 30, f"first sync took {elapsed:.1f}s"


def test_changes_update_and_delete_only_what_the_sync_made(radiusd: Cli, nb: NetBoxServer) -> None:
    radiusd.sync(nb.url)
    # an object someone made by hand in NetBox, untagged: never touched
    nb.netbox.objects["dcim/sites"][999] = {"name": "hand-made", "slug": "hand-made", "status": "active"}
    radiusd.ok("link", "remove", "2")
    radiusd.ok("device", "remove", "ap7")
    radiusd.ok("subscriber", "add", "alice", "--password", "pw-alice-1", "--static-ip", "10.64.0.9")
    dry = radiusd.sync(nb.url, "--dry-run", "--json")
    actions = {(c["action"], c["radiusd_id"]) for c in dry["changes"]}
    assert ("delete", "link:2") in actions and any(
        a == "delete" and i.startswith("device:") for a, i in actions
    )
    assert ("create", "static:1") in actions
    nb.netbox.writes.clear()
    repeat = radiusd.sync(nb.url, "--dry-run", "--json")
    assert repeat["changes"] == dry["changes"]
    assert nb.netbox.writes == []  # dry runs write nothing
    done = radiusd.sync(nb.url, "--json")
    assert done["delete"] == dry["delete"] and done["create"] == dry["create"]
    assert "hand-made" in {s["name"] for s in _objects(nb, "dcim/sites")}
    assert {d["name"] for d in _objects(nb, "dcim/devices")} == {"r1", "r2", "sw1"}
    assert len(_objects(nb, "dcim/cables")) == 1
    assert [a["address"] for a in _objects(nb, "ipam/ip-addresses")] == ["10.64.0.9/32"]
    again = radiusd.sync(nb.url, "--json")
    assert (again["create"], again["update"], again["delete"]) == (0, 0, 0)
    # --only limits what is compared and written
    only = radiusd.sync(nb.url, "--only", "prefixes", "--json")
    assert only["changes"] == []
    radiusd.ok("prefix", "add", "10.8.0.0/24", "--role", "reserved")
    only = radiusd.sync(nb.url, "--only", "prefixes", "--json")
    assert [(c["action"], c["endpoint"]) for c in only["changes"]] == [
        ("create", "ipam.roles"),
        ("create", "ipam.prefixes"),
    ]
    # a rename is one PATCH of the name, the NetBox id kept
    radiusd.ok("router", "rename", "r2", "r2-edge")
    nb.netbox.writes.clear()
    renamed = radiusd.sync(nb.url, "--json")
    assert [(c["action"], c["fields"]) for c in renamed["changes"]] == [("update", {"name": "r2-edge"})]
    assert nb.netbox.writes == [("PATCH", "dcim/devices")]


def test_refusals_are_one_line_and_change_nothing(radiusd: Cli, nb: NetBoxServer) -> None:
    before = radiusd.dump()
    out = radiusd.sync(nb.url, token="not-the-token-1234", code=1)
    assert (
        "refused the token (403 Invalid token)" in out
        and "not-the-token" not in out
        and "Traceback" not in out
    )
    assert nb.netbox.writes == []
    # a site of the same name made by hand: NetBox's 400 body names the field
    nb.netbox.objects["dcim/sites"][500] = {"name": "pop1", "slug": "pop1-hand", "status": "active"}
    out = radiusd.sync(nb.url, "--only", "sites", code=1)
    assert "refused dcim.sites site:" in out and "(400): name: site with this name already exists." in out
    assert len(out.strip().splitlines()) == 1
    out = radiusd.sync("ftp://x", code=2)
    assert "not an http(s) URL" in out
    out = radiusd.sync(nb.url, "--only", "sites,cabels", code=2)
    assert "cabels" in out
    assert radiusd.dump() == before


def test_a_netbox_that_never_answers_times_out(radiusd: Cli) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(listener.accept()[0])
                except OSError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            started = time.monotonic()
            out = radiusd.sync(f"http://127.0.0.1:{listener.getsockname()[1]}", "--timeout", "0.5", code=1)
            assert time.monotonic() - started < 10
        finally:
            stop.set()
            thread.join()
            for conn in held:
                conn.close()
    assert "did not answer" in out and "in time" in out and len(out.strip().splitlines()) == 1


@pytest.mark.skipif(
    not (os.environ.get("NETBOX_URL") and os.environ.get("NETBOX_TOKEN")),
    reason="opt-in: set NETBOX_URL and NETBOX_TOKEN to sync to a real NetBox",
)
def test_against_a_real_netbox(radiusd: Cli) -> None:
    url, token = os.environ["NETBOX_URL"], os.environ["NETBOX_TOKEN"]
    first = radiusd.sync(url, "--json", token=token)
    assert first["create"] + first["update"] + len(first["adopted"]) > 0
    second = radiusd.sync(url, "--json", token=token)
    assert (second["create"], second["update"], second["delete"]) == (0, 0, 0)
