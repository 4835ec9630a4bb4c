"""``radiusd discover lldp`` for a MikroTik router through the RouterOS API: librouteros (the
real client) over API-SSL with a pinned certificate to the RouterOS stand-in, which answers
``/ip/neighbor/print`` with rows shaped as RouterOS 7 prints them (``interface``,
``mac-address``, ``identity``, ``address4``, ``interface-name``, ``system-caps-enabled``,
``discovered-by``). SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from radiusd.cli.main import cli
from tests.integration.routeros_standin import RouterOS, RouterOSServer, SelfSigned

pytestmark = pytest.mark.usefixtures("migrated_db")
API_USER, API_PASSWORD = "api-admin", "api-Pa55-Zq"

# what RouterOS 7.14 prints for a CRS switch (LLDP + MNDP) and a Cisco switch (LLDP, CDP)
CRS = {
    "interface": "ether2",
    "address": "10.20.0.2",
    "address4": "10.20.0.2",
    "mac-address": "CC:2D:E0:11:22:33",
    "identity": "sw-core",
    "platform": "MikroTik",
    "version": "7.14.2 (stable)",
    "board": "CRS326-24G-2S+",
    "interface-name": "ether24",
    "system-caps": "bridge,router",
    "system-caps-enabled": "bridge",
    "discovered-by": "lldp,mndp",
    "age": "17s",
}
CISCO = {
    "interface": "sfp-sfpplus1",
    "address4": "10.20.0.9",
    "mac-address": "00:1E:BD:AA:BB:01",
    "identity": "c9300-agg.example.net",
    "platform": "cisco C9300-48P",
    "interface-name": "Te1/1/1",
    "system-caps": "bridge,router",
    "system-caps-enabled": "bridge,router",
    "discovered-by": "lldp,cdp",
}


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSigned:
    return SelfSigned.make(tmp_path_factory.mktemp("routeros"))


@pytest.fixture
def routeros(cert: SelfSigned) -> Iterator[RouterOSServer]:
    router = RouterOS(username=API_USER, password=API_PASSWORD)
    router.add_row("/ip/neighbor", **CRS)
    router.add_row("/ip/neighbor", **CISCO)
    router.add_row("/system/identity", name="mt-edge-1")
    with RouterOSServer(router, tls=cert) as server:
        yield server


def _cli(url: str, *args: str, code: int = 0, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["--database", url, *args], input=stdin)
    assert result.exit_code == code, result.output
    return result.output


def _setup(url: str, server: RouterOSServer, password: str = API_PASSWORD) -> None:
    _cli(url, "site", "add", "pop9")
    _cli(
        url,
        "router",
        "add",
        "mt-edge-1",
        "--address",
        "127.0.0.1",
        "--secret",
        "s3cret-mt-1",
        "--site",
        "pop9",
        "--vendor",
        "mikrotik",
        "--api-user",
        API_USER,
        "--api-password",
        "-",
        "--api-port",
        str(server.port),
        "--api-fingerprint",
        str(server.fingerprint),
        stdin=password + "\n",
    )
    _cli(url, "device", "add", "sw-core", "--kind", "switch", "--address", "10.20.0.2", "--site", "pop9")


def _discover(url: str, *extra: str, code: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_cli(url, "discover", "lldp", "--json", *extra, code=code))
    return data


def test_ip_neighbor_rows_become_links_and_a_new_device(db_url: str, routeros: RouterOSServer) -> None:
    _setup(db_url, routeros)
    data = _discover(db_url, "--apply")
    assert data["errors"] == []
    assert data["polled"] == ["router:mt-edge-1 (routeros, 2 neighbours)"]
    # sw-core is matched by its management address; the Cisco switch is new, named by identity
    links = {(x["a_name"], x["a_port"], x["b_name"], x["b_port"]) for x in data["new_links"]}
    assert links == {
        ("mt-edge-1", "ether2", "sw-core", "ether24"),
        ("mt-edge-1", "sfp-sfpplus1", "c9300-agg.example.net", "Te1/1/1"),
    }
    [new] = data["new_devices"]
    assert (new["name"], new["chassis_id"], new["kind"], new["address"], new["site"]) == (
        "c9300-agg.example.net",
        "00:1e:bd:aa:bb:01",
        "router",
        "10.20.0.9",
        "pop9",
    )
    assert len(data["applied"]["links"]) == 2 and data["applied"]["devices"] == ["c9300-agg.example.net"]
    # the commands sent: the neighbour table and the identity, nothing that writes
    assert [c[0] for c in routeros.calls()] == ["/ip/neighbor/print", "/system/identity/print"]
    again = _discover(db_url, "--apply")
    assert again["new_links"] == [] and again["new_devices"] == [] and len(again["seen_links"]) == 2
    assert API_PASSWORD not in json.dumps(again)


def test_a_malformed_row_and_a_wrong_password_write_nothing(db_url: str, routeros: RouterOSServer) -> None:
    _setup(db_url, routeros, password="not-the-Pa55")
    out = _cli(db_url, "discover", "lldp", "--apply", code=1)
    assert "errors: RouterOS API of NAS 'mt-edge-1'" in out and "invalid user name or password" in out
    assert "not-the-Pa55" not in out and "Traceback" not in out
    assert "applied: 0 devices, 0 links added, 0 links removed" in out

    routeros.router.add_row("/ip/neighbor", interface="ether7", **{"mac-address": "CC:2D:E0:11:22"})
    _cli(db_url, "router", "set", "mt-edge-1", "--api-password", "-", stdin=API_PASSWORD + "\n")
    data = _discover(db_url, "--apply", code=1)
    assert len(data["errors"]) == 1
    assert "malformed /ip/neighbor row" in data["errors"][0] and "is not a MAC" in data["errors"][0]
    assert data["new_links"] == [] and data["applied"]["links"] == [] and data["applied"]["devices"] == []
