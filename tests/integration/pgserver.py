"""PostgreSQL servers a test makes for itself: ``initdb`` in a private folder, a free port on
127.0.0.1, run as the ``postgres`` user (the server refuses to run as root).

The failover test builds a primary and a standby from these; the operator-docs test runs the
docs' PostgreSQL set-up (role, database, password authentication) against one of its own, so it
never touches the machine's server.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.integration.conftest import HOST, unavailable

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """One PostgreSQL server of the test's own, run as the postgres user; its socket in its folder."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port

    def ctl(self, *args: str) -> None:
        run_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args])

    def start(self) -> None:
        self.ctl("-l", str(self.data / "server.log"), "-o", f"-p {self.port} -k {self.data}", "start")

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(AssertionError):  # already stopped
            self.ctl("-m", mode, "stop")


def run_as_postgres(cmd: list[str]) -> None:
    account = pwd.getpwnam("postgres")

    def demote() -> None:
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          preexec_fn=demote if os.getuid() == 0 else None)  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-2000:]}")


@contextlib.contextmanager
def private_root() -> Iterator[Path]:
    """A folder the postgres user owns (pytest's folders are root's alone); removed afterwards."""
    if not (PG_BIN / "initdb").exists():
        unavailable(f"PostgreSQL server binaries are not in {PG_BIN}")
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        unavailable("no postgres user to run the test's PostgreSQL servers")
    root = Path(tempfile.mkdtemp(prefix="radiusd-pgserver-"))
    os.chown(root, account.pw_uid, account.pw_gid)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def production_like_server() -> Iterator[Server]:
    """One server authenticating as Debian's does: peer on the socket, a password (SCRAM) over TCP."""
    with private_root() as root:
        server = Server(root / "data", free_port())
        run_as_postgres([str(PG_BIN / "initdb"), "-D", str(server.data), "-U", "postgres",
                         "--auth-local=peer", "--auth-host=scram-sha-256"])  # fmt: skip
        with open(server.data / "postgresql.conf", "a") as conf:
            conf.write("listen_addresses = '127.0.0.1'\nfsync = off\n")
        server.start()
        try:
            yield server
        finally:
            server.stop("immediate")
