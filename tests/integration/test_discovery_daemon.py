"""The daemon's periodic LLDP discovery (``discovery_interval``, ``discovery_apply``) in a real
``radiusd serve`` process, SQLite and PostgreSQL: it polls a MikroTik router through the
RouterOS API stand-in, writes the links it finds, and records each run in ``discovery_runs``
with its node id; a second daemon on the same PostgreSQL database does not double the runs."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from radiusd.cli.main import cli
from radiusd.store.engine import create_engine
from tests.conftest import _run
from tests.integration.conftest import DaemonProcess
from tests.integration.routeros_standin import RouterOS, RouterOSServer, SelfSigned
from tests.integration.test_discovery_routeros import API_PASSWORD, API_USER, CISCO, CRS

pytestmark = pytest.mark.usefixtures("migrated_db")
INTERVAL = 0.5


@pytest.fixture
def routeros(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterOSServer]:
    router = RouterOS(username=API_USER, password=API_PASSWORD)
    router.add_row("/ip/neighbor", **CRS)
    router.add_row("/ip/neighbor", **CISCO)
    with RouterOSServer(router, tls=SelfSigned.make(tmp_path_factory.mktemp("cert"))) as server:
        yield server


def _rows(url: str, sql: str) -> list[Any]:
    async def go() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(sa.text(sql))).all()]
        finally:
            await engine.dispose()

    result: list[Any] = _run(go())
    return result


def test_the_daemon_discovers_and_applies_once_per_interval(
    db_url: str, routeros: RouterOSServer, tmp_path: Path
) -> None:
    add = ["router", "add", "mt1", "--address", "127.0.0.9", "--secret", "s3cret-mt1", "--vendor", "mikrotik",
           "--management-address", "127.0.0.1", "--api-user", API_USER, "--api-password", "-",
           "--api-port", str(routeros.port), "--api-fingerprint", str(routeros.fingerprint)]  # fmt: skip
    result = CliRunner().invoke(cli, ["--database", db_url, *add], input=API_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    env = {"RADIUSD_DISCOVERY_INTERVAL": str(INTERVAL), "RADIUSD_DISCOVERY_APPLY": "true"}
    daemons = [DaemonProcess(db_url, tmp_path / "d1", env=env).start()]
    if db_url.startswith("postgresql"):
        daemons.append(DaemonProcess(db_url, tmp_path / "d2", env=env).start())
    started = time.monotonic()
    try:
        deadline = started + 20
        while len(_rows(db_url, "SELECT id FROM discovery_runs WHERE finished_at IS NOT NULL")) < 4:
            assert time.monotonic() < deadline, "the daemon ran no discovery"
            time.sleep(0.1)
        elapsed = time.monotonic() - started
    finally:
        for d in daemons:
            assert d.stop() == 0
    links = _rows(db_url, "SELECT from_port, to_port, source FROM device_connections ORDER BY from_port")
    assert links == [("ether2", "ether24", "lldp"), ("sfp-sfpplus1", "Te1/1/1", "lldp")]
    devices = _rows(db_url, "SELECT name, source FROM managed_devices ORDER BY name")
    assert devices == [("c9300-agg.example.net", "lldp"), ("sw-core", "lldp")]
    runs = _rows(db_url, "SELECT node, applied, started_at FROM discovery_runs ORDER BY id")
    assert all(node and applied for node, applied, _ in runs)
    # one run per interval between the daemons, however many there are: no two runs closer
    # than 0.9 x the interval (two daemons each running would start pairs milliseconds apart)
    starts = sorted(dt.datetime.fromisoformat(str(at)).replace(tzinfo=None) for _, _, at in runs)
    assert all((b - a).total_seconds() >= 0.9 * INTERVAL for a, b in itertools.pairwise(starts)), starts
    assert elapsed < 20
