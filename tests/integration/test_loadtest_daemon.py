"""``radiusd loadtest`` against the real daemon (``radiusd serve``), PAP and MS-CHAPv2.

Subscribers are imported with ``radiusd subscriber import`` on a plan whose pool hands out
the Framed-IP-Address; every session must be accepted, accounted (Start, Interim, Stop) and
stored closed, with the address the daemon gave and growing counters.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import HOST, DaemonProcess, radiusd_script

SECRET = "loadtest-secret"
USERS = 40
POOL = "10.77.0.0/24"


def users_csv(path: Path) -> Path:
    path.write_text("username,password,plan\n" + "".join(f"lt{i:03d},pass-{i},lt\n" for i in range(USERS)))
    return path


@pytest.fixture(scope="module")
def daemon_seed() -> Callable[[DaemonProcess], None]:
    def seed(d: DaemonProcess) -> None:
        d.cli("nas", "add", "loadgen", "--address", HOST, "--secret", SECRET)
        d.cli("pool", "add", "ltpool", "--range", POOL)
        d.cli("plan", "add", "lt", "--pool", "ltpool", "--interim-interval", "60")
        d.cli("subscriber", "import", str(users_csv(d.workdir / "users.csv")))

    return seed


def run_loadtest(daemon: DaemonProcess, *args: str) -> dict[str, Any]:
    cmd = [radiusd_script(), "loadtest", "--server", f"{HOST}:{daemon.auth_port}"]
    cmd += ["--acct-port", str(daemon.acct_port), "--secret", SECRET]
    cmd += ["--users", str(daemon.workdir / "users.csv"), "--timeout", "2", "--json", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


@pytest.mark.parametrize("method", ["pap", "mschapv2"])
def test_sessions_through_the_daemon(daemon: DaemonProcess, method: str) -> None:
    before = {s["acct_session_id"] for s in json.loads(daemon.cli("session", "list", "--json").stdout)}
    data = run_loadtest(daemon, "--auth", method, "--sessions", str(USERS), "--interims", "2")
    assert [data[k]["requests"] for k in data] == [USERS, USERS, 2 * USERS, USERS]
    for values in data.values():
        assert values["timeouts"] == values["rejects"] == 0, data
        assert values["responses"] == values["requests"]
    sessions = [
        s
        for s in json.loads(daemon.cli("session", "list", "--json").stdout)
        if s["acct_session_id"] not in before
    ]
    assert len(sessions) == USERS
    network = ipaddress.ip_network(POOL)
    assert {s["status"] for s in sessions} == {"closed"}
    assert all(ipaddress.ip_address(s["address"]) in network for s in sessions)
    assert len({s["address"] for s in sessions}) == USERS  # one address per subscriber online
    assert {s["username"] for s in sessions} == {f"lt{i:03d}" for i in range(USERS)}
    assert all(s["input_octets"] > 2**32 and s["session_time"] == 180 for s in sessions)


def test_loadtest_sessions_are_marked_past_and_left_out_of_exports(daemon: DaemonProcess) -> None:
    import datetime as dt

    run_loadtest(daemon, "--sessions", "5", "--interims", "3")
    now = dt.datetime.now(dt.UTC)
    sessions = json.loads(daemon.cli("session", "list", "--json").stdout)
    assert sessions and all(s["acct_session_id"].startswith("radiusd-loadtest-") for s in sessions)
    # the simulated time ends with the run: no stop time in the future
    assert all(dt.datetime.fromisoformat(s["stopped"]) <= now + dt.timedelta(seconds=2) for s in sessions)

    day = now.date()
    period = (
        "--from",
        (day - dt.timedelta(days=1)).isoformat(),
        "--to",
        (day + dt.timedelta(days=1)).isoformat(),
    )
    for what in ("usage", "sessions"):
        default = json.loads(daemon.cli("export", what, *period, "--format", "json").stdout)
        assert default == [], (what, default)
        included = json.loads(
            daemon.cli("export", what, *period, "--format", "json", "--include-loadtest").stdout
        )
        assert included, what


def test_report_says_rejects_include_the_reject_delay(daemon: DaemonProcess) -> None:
    bad = daemon.workdir / "bad.csv"
    bad.write_text("username,password\nlt000,wrong-password\n")
    cmd = [radiusd_script(), "loadtest", "--server", f"{HOST}:{daemon.auth_port}"]
    cmd += ["--acct-port", str(daemon.acct_port), "--secret", SECRET, "--users", str(bad), "--timeout", "3"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1 Access-Reject(s): their latency includes the server's reject delay" in done.stdout, done.stdout
