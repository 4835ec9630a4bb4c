"""``radiusd serve`` where it cannot listen: one line naming the address, the port and what to
do, exit status 1, no traceback; with real sockets."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from radiusd.cli.main import cli

ONE_LINE = re.compile(r"radiusd: error: [^\n]+\n")


@pytest.fixture
def taken_udp() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that another program holds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def taken_tcp() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def serve(tmp_path: Path, *args: str) -> tuple[int, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'radiusd.sqlite3'}"
    result = CliRunner().invoke(cli, ["--database", url, "serve", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.stdout == ""
    assert ONE_LINE.fullmatch(result.stderr), result.stderr
    return result.exit_code, result.stderr


def test_auth_port_taken(tmp_path: Path, taken_udp: int) -> None:
    code, err = serve(tmp_path, "--bind", "127.0.0.1", "--auth-port", str(taken_udp), "--acct-port", "0")
    assert code == 1
    assert f"another RADIUS server (FreeRADIUS?) is listening on 127.0.0.1:{taken_udp}/udp" in err
    assert "--auth-port" in err
    assert not (tmp_path / "radiusd.sqlite3").exists()  # refused before touching the database


def test_acct_port_taken(tmp_path: Path, taken_udp: int) -> None:
    code, err = serve(tmp_path, "--bind", "127.0.0.1", "--auth-port", "0", "--acct-port", str(taken_udp))
    assert code == 1 and f"127.0.0.1:{taken_udp}/udp" in err and "--acct-port" in err


def test_address_not_of_this_host(tmp_path: Path) -> None:
    code, err = serve(tmp_path, "--bind", "192.0.2.77", "--auth-port", "0", "--acct-port", "1813")
    assert code == 1
    assert "cannot listen on 192.0.2.77:1813/udp: 192.0.2.77 is not an address of this host" in err
    assert "--bind" in err


def test_api_bind_taken(tmp_path: Path, taken_tcp: int) -> None:
    args = ["--bind", "127.0.0.1", "--auth-port", "0", "--acct-port", "0"]
    args += ["--api-bind", f"127.0.0.1:{taken_tcp}"]
    code, err = serve(tmp_path, *args)
    assert code == 1
    assert f"another program is listening on 127.0.0.1:{taken_tcp}/tcp" in err and "--api-bind" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may bind ports below 1024")
def test_privileged_port(tmp_path: Path) -> None:
    code, err = serve(tmp_path, "--bind", "127.0.0.1", "--auth-port", "812", "--acct-port", "0")
    assert code == 1 and "no permission to listen on 127.0.0.1:812/udp" in err


def test_console_script_prints_no_traceback(tmp_path: Path, taken_udp: int) -> None:
    exe = shutil.which("radiusd")
    if exe is None:
        pytest.skip("the radiusd script is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")}
    env["RADIUSD_DATA_DIR"] = str(tmp_path)
    args = ["serve", "--bind", "127.0.0.1", "--auth-port", str(taken_udp), "--acct-port", "0"]
    done = subprocess.run([exe, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert ONE_LINE.fullmatch(done.stderr), done.stderr
    assert "Traceback" not in done.stderr


def test_port_taken_after_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bind that fails in the daemon itself (a race with another program) is one line too."""
    import errno

    import radiusd.cli.serve as serve_module

    def run(settings: object, config_path: str | None = None) -> None:
        raise OSError(errno.EADDRINUSE, "Address already in use")

    monkeypatch.setattr(serve_module, "load_app_runner", lambda: run)
    code, err = serve(tmp_path, "--bind", "127.0.0.1", "--auth-port", "0", "--acct-port", "0")
    assert code == 1 and err == "radiusd: error: cannot listen: Address already in use\n"
