"""Progress bars of the long commands: drawn on stderr when it is a terminal (here a pty), and
nothing at all when the output goes to pipes, so scripts and log files get no progress noise."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import radiusd_script

PERIOD = ("--from", "2026-01-01", "--to", "2026-02-01")


def commands(tmp: Path) -> list[list[str]]:
    users = tmp / "users.csv"
    users.write_text("username,password\n" + "".join(f"u{i},pw-{i}\n" for i in range(3000)))
    clients = tmp / "clients.conf"
    clients.write_text("client bras { ipaddr = 192.0.2.9\n secret = s3cret }\n")
    return [
        ["subscriber", "import", str(users)],
        ["import", "freeradius-files", "--clients", str(clients)],
        ["pool", "add", "big", "--range", "10.128.0.0/12"],
        ["usage", "rebuild", *PERIOD],
        ["export", "usage", *PERIOD, "--output", str(tmp / "usage.csv")],
        ["export", "sessions", *PERIOD, "--format", "json", "-o", str(tmp / "sessions.json")],
    ]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")}
    out["TERM"] = "xterm"
    return out


def test_no_progress_noise_when_not_a_terminal(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}"
    for args in commands(tmp_path):
        done = subprocess.run(
            [radiusd_script(), "--database", url, *args],
            capture_output=True,
            text=True,
            env=env(),
            timeout=120,
        )
        assert done.returncode == 0, (args, done.stderr)
        assert done.stderr == "", (args, done.stderr)
        assert "\r" not in done.stdout and "\x1b" not in done.stdout, (args, done.stdout)
    assert (tmp_path / "usage.csv").read_text().startswith("username,")
    assert (tmp_path / "sessions.json").read_text() == "[]\n"


@pytest.mark.parametrize("which", [0, 1, 4])
def test_progress_on_a_terminal(tmp_path: Path, which: int) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}"
    args = commands(tmp_path)[which]
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [radiusd_script(), "--database", url, *args],
            stdout=subprocess.PIPE,
            stderr=secondary,
            env=env(),
            timeout=120,
        )
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    assert done.returncode == 0, drawn
    label = {0: b"importing 3000 subscribers", 1: b"import freeradius-files", 4: b"export usage"}[which]
    assert label in drawn, drawn
    assert b"\x1b" not in done.stdout  # the bar goes to stderr only
