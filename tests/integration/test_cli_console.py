"""The installed ``radiusd`` console script, run as users run it (subprocess, SQLite default).

Needs ``pip install -e .`` (the script comes from pyproject's [project.scripts]).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

RADIUSD = shutil.which("radiusd")
# Under CI=true a missing tool fails the tests instead of skipping them.
_CI = os.environ.get("CI", "").lower() == "true"
pytestmark = pytest.mark.skipif(
    RADIUSD is None and not _CI, reason="radiusd console script not installed (pip install -e .)"
)

SECRET = "nas-secret-4Kq"
PASSWORD = "sub-password-9Zx"


def radiusd(
    cwd: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert RADIUSD is not None
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")}
    environ.update(env or {})
    return subprocess.run(
        [RADIUSD, *args], cwd=cwd, input=input, env=environ, capture_output=True, text=True, timeout=120
    )


def ok(cwd: Path, *args: str, **kwargs: object) -> str:
    proc = radiusd(cwd, *args, **kwargs)  # type: ignore[arg-type]
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr and PASSWORD not in proc.stdout + proc.stderr
    return proc.stdout


def test_fresh_checkout_flow_on_default_sqlite(tmp_path: Path) -> None:
    """No config, no URL: commands refuse to create the default SQLite file; `db upgrade` does."""
    proc = radiusd(tmp_path, "nas", "list")
    assert proc.returncode == 1 and "no database at sqlite+aiosqlite:///" in proc.stderr
    assert not (tmp_path / "var").exists()
    assert ok(tmp_path, "db", "upgrade").startswith("created ")
    ok(tmp_path, "nas", "add", "core-1", "--address", "192.0.2.1", "--secret", SECRET, "--vendor", "cisco")
    assert (tmp_path / "var" / "radiusd.sqlite3").exists()
    ok(tmp_path, "plan", "add", "gold", "--rate-limit", "10M/20M", "--interim-interval", "300")
    ok(tmp_path, "subscriber", "add", "alice", "--password", PASSWORD, "--plan", "gold")
    ok(tmp_path, "subscriber", "suspend", "alice")

    nas = json.loads(ok(tmp_path, "nas", "list", "--json"))
    assert nas[0]["name"] == "core-1" and nas[0]["vendor"] == "cisco"
    assert "secret: ********" in " ".join(ok(tmp_path, "nas", "show", "core-1").split())
    alice = json.loads(ok(tmp_path, "subscriber", "show", "alice", "--json"))
    assert alice["status"] == "suspended" and alice["plan"] == "gold"
    assert "alice" in ok(tmp_path, "subscriber", "list")
    assert ok(tmp_path, "db", "upgrade").startswith("already at revision ")  # idempotent


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    ok(tmp_path, "db", "upgrade")
    ok(tmp_path, "nas", "add", "core-1", "--address", "192.0.2.1", "--secret", SECRET)
    cases = [
        (["nas", "add", "core-1", "--address", "192.0.2.9", "--secret", SECRET], 1, "already exists"),
        (["nas", "add", "x", "--address", "192.0.2", "--secret", SECRET], 1, "malformed IP address"),
        (["subscriber", "add", "bob", "--password", PASSWORD, "--plan", "nope"], 1, "unknown plan 'nope'"),
        (["subscriber", "import", "missing.csv"], 1, "cannot read missing.csv"),
        (["nas", "add", "x", "--address", "192.0.2.9"], 2, "Missing option '--secret'"),
        (["frobnicate"], 2, "No such command"),
    ]
    for args, code, message in cases:
        proc = radiusd(tmp_path, *args)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stdout == ""
        assert re.fullmatch(r"radiusd: error: [^\n]+\n", proc.stderr), proc.stderr
        assert message in proc.stderr
        assert SECRET not in proc.stderr and PASSWORD not in proc.stderr
    assert [n["name"] for n in json.loads(ok(tmp_path, "nas", "list", "--json"))] == ["core-1"]
    assert json.loads(ok(tmp_path, "subscriber", "list", "--json")) == []


def test_database_from_env_and_flag(tmp_path: Path) -> None:
    env_db = tmp_path / "env.sqlite3"
    flag_db = tmp_path / "flag.sqlite3"
    env = {"RADIUSD_DATABASE_URL": f"sqlite+aiosqlite:///{env_db}"}
    ok(tmp_path, "plan", "add", "from-env", env=env)
    ok(tmp_path, "--database", f"sqlite+aiosqlite:///{flag_db}", "plan", "add", "from-flag", env=env)
    assert env_db.exists() and flag_db.exists()
    assert not (tmp_path / "var").exists()
    assert [p["name"] for p in json.loads(ok(tmp_path, "plan", "list", "--json", env=env))] == ["from-env"]


def test_config_file_data_dir(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "radiusd.toml"
    config.parent.mkdir()
    config.write_text('[radiusd]\ndata_dir = "../data"\n')
    proc = radiusd(tmp_path, "--config", str(config), "plan", "add", "gold")  # no database there yet
    assert proc.returncode == 1 and f"(data_dir of {config})" in proc.stderr
    assert not (tmp_path / "data").exists()
    ok(tmp_path, "--config", str(config), "db", "upgrade")
    ok(tmp_path, "--config", str(config), "plan", "add", "gold")
    assert (tmp_path / "data" / "radiusd.sqlite3").exists()


def test_import_from_stdin_is_fast(tmp_path: Path) -> None:
    ok(tmp_path, "db", "upgrade")
    ok(tmp_path, "plan", "add", "gold")
    rows = "".join(f"user{i:05d},{PASSWORD}{i},gold\n" for i in range(10_000))
    out = ok(tmp_path, "subscriber", "import", "-", input="username,password,plan\n" + rows)
    match = re.search(r"imported 10000 subscribers from stdin in [\d.]+s \((\d+)/s\)", out)
    assert match is not None, out
    assert int(match.group(1)) > 2000, out
    assert len(json.loads(ok(tmp_path, "subscriber", "list", "--json"))) == 10_000

    bad = "username,password,plan\n" + rows.replace("user04999,", "user04999,x,extra,")
    proc = radiusd(tmp_path, "subscriber", "import", "-", input=bad.replace("user0", "new0"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("radiusd: error: stdin: row 5000: expected 3 fields")
    assert len(json.loads(ok(tmp_path, "subscriber", "list", "--json"))) == 10_000


def test_serve_usage_errors(tmp_path: Path) -> None:
    for args in (["--bind", "localhost"], ["--api-bind", "8080"], ["--acct-port", "-1"]):
        proc = radiusd(tmp_path, "serve", *args)
        assert proc.returncode == 2, proc.stderr
        assert re.fullmatch(r"radiusd: error: [^\n]+\n", proc.stderr)


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.radclient
@pytest.mark.skipif(
    shutil.which("radtest") is None and not _CI, reason="radtest (freeradius-utils) not installed"
)
def test_serve_demo_then_radtest(tmp_path: Path) -> None:
    """The README's first command in miniature: `serve --demo` prints a radtest line that works."""
    import signal
    import time

    assert RADIUSD is not None
    auth, acct = _free_udp_port(), _free_udp_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")}
    args = ["serve", "--demo", "--bind", "127.0.0.1", "--auth-port", str(auth), "--acct-port", str(acct)]
    daemon = subprocess.Popen(
        [RADIUSD, *args],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert daemon.stdout is not None
        line = daemon.stdout.readline().strip()
        assert line == "radtest demo demo-password 127.0.0.1 0 testing123"
        command = line.split()
        command[3] = f"127.0.0.1:{auth}"
        deadline = time.monotonic() + 20
        while True:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=30)
            if "Access-Accept" in proc.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert "Received Access-Accept" in proc.stdout, proc.stdout
        assert 'Mikrotik-Rate-Limit = "10M/10M"' in proc.stdout
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    assert len(json.loads(ok(tmp_path, "subscriber", "list", "--json"))) == 1
