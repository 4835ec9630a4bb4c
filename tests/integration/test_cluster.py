"""Several daemons, one database: the node registry, the refusals and ``serve --workers N``,
with real ``radiusd serve`` processes, real UDP sockets and FreeRADIUS radclient.

Heartbeats every 0.5 s here (``RADIUSD_NODE_HEARTBEAT_INTERVAL``), so "dead after 3 missed
heartbeats" takes 1.5 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.nodes import NodeInfo, register_node
from tests.conftest import _run
from tests.integration.conftest import (
    HOST,
    DaemonProcess,
    UdpPeer,
    pg_database,
    radiusd_script,
    run_radclient,
    stop_and_check,
    wait_until,
)

SECRET = "cluster-s3cret"
BEAT = "0.5"
FAST = {"RADIUSD_NODE_HEARTBEAT_INTERVAL": BEAT}


@pytest.fixture
def pg() -> Iterator[str]:
    with pg_database() as url:
        yield url


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[DaemonProcess]]:
    """Daemons a test starts; each stopped (exit 0 checked) at the end unless already reaped."""
    made: list[DaemonProcess] = []
    yield made
    problems = [p for p in (stop_and_check(d) for d in made if d.returncode is None) if p]
    assert not problems, "\n".join(problems)


def start(url: str, workdir: Path, made: list[DaemonProcess], *args: str) -> DaemonProcess:
    d = DaemonProcess(url, workdir, args=args, env=FAST)
    made.append(d)
    return d.start()


def status(d: DaemonProcess) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = json.loads(d.cli("cluster", "status", "--json").stdout)
    return nodes


def states(d: DaemonProcess) -> dict[int, str]:
    """pid -> state, from ``radiusd cluster status --json``."""
    return {n["pid"]: n["state"] for n in status(d)}


def serve_once(url: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``radiusd serve`` expected to refuse: run to its exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")}
    env.update(RADIUSD_DATA_DIR=str(workdir), RADIUSD_LOG_FORMAT="json", **FAST)
    cmd = [radiusd_script(), "--database", url, "serve", "--bind", HOST, "--auth-port", "0"]
    cmd += ["--acct-port", "0", *args]
    return subprocess.run(cmd, env=env, cwd=workdir, capture_output=True, text=True, timeout=60)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("radiusd: error:")]


# -- the registry -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_daemons_alive_then_killed_is_dead_and_stopped_is_stopped(
    pg: str, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    a = start(pg, tmp_path / "a", daemons, "--workers", "1")
    b = start(pg, tmp_path / "b", daemons, "--workers", "1")
    assert a.proc is not None and b.proc is not None
    pa, pb = a.proc.pid, b.proc.pid
    assert wait_until(lambda: states(a) == {pa: "alive", pb: "alive"}, 5), status(a)
    nodes = {n["pid"]: n for n in status(a)}
    assert {n["worker"] for n in nodes.values()} == {0}
    assert all(n["protocol"] == 1 and n["heartbeat_age"] < 1.0 for n in nodes.values())

    b.kill()  # SIGKILL: no chance to say goodbye
    assert states(a)[pb] == "alive"  # not yet: 3 heartbeats must be missed
    assert wait_until(lambda: states(a)[pb] == "dead", 3), status(a)
    assert a.stop() == 0
    assert states(b) == {pa: "stopped", pb: "dead"}


@pytest.mark.postgres
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_node_of_another_cluster_protocol_refuses_the_start(pg: str, tmp_path: Path, workers: str) -> None:
    async def foreign() -> None:
        engine = create_engine(pg)
        try:
            await ensure_schema(engine)
            async with engine.begin() as conn:
                info = NodeInfo("old-node", "elsewhere", 42, 0, 60.0, "0009", 99, "0.0.1")
                await register_node(conn, info)
        finally:
            await engine.dispose()

    _run(foreign())
    done = serve_once(pg, tmp_path, "--workers", workers)
    assert done.returncode != 0
    assert error_lines(done.stderr) == [
        "radiusd: error: node old-node runs cluster protocol 99, this daemon 1: upgrade all nodes"
    ]
    assert "Traceback" not in done.stderr


# -- SQLite: one daemon, one process ----------------------------------------------------------


def test_second_daemon_on_sqlite_is_refused_until_the_first_is_gone(
    tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.sqlite3'}"
    first = start(url, tmp_path / "first", daemons)
    assert first.proc is not None
    done = serve_once(url, tmp_path)
    assert done.returncode != 0
    [line] = error_lines(done.stderr)
    assert line.startswith(f"radiusd: error: another radiusd (pid {first.proc.pid} on ")
    assert line.endswith(
        "s ago) uses this SQLite database; SQLite serves one daemon: use PostgreSQL to run several"
    )
    assert "Traceback" not in done.stderr
    first.kill()  # SIGKILL leaves a fresh heartbeat behind: the dead pid on this host frees it
    start(url, tmp_path / "second", daemons)


def test_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.sqlite3'}"
    done = serve_once(url, tmp_path, "--workers", "2")
    assert done.returncode != 0
    assert error_lines(done.stderr) == [
        "radiusd: error: --workers 2 on SQLite: SQLite serves one process; "
        "use PostgreSQL to run several workers"
    ]


# -- serve --workers N ------------------------------------------------------------------------


def seed(d: DaemonProcess) -> None:
    d.cli("nas", "add", "lo", "--address", HOST, "--secret", SECRET)
    d.cli("subscriber", "add", "alice", "--password", "pw-alice")


def login(radclient: str, d: DaemonProcess) -> str:
    attrs = 'User-Name = "alice"\nUser-Password = "pw-alice"\nMessage-Authenticator = 0x00\n'
    return run_radclient(radclient, d.auth_port, SECRET, attrs)


@pytest.fixture
def workers2(pg: str, tmp_path: Path, daemons: list[DaemonProcess]) -> DaemonProcess:
    d = DaemonProcess(pg, tmp_path / "w", args=("--workers", "2"), env=FAST)
    daemons.append(d)
    seed(d)
    return d.start()


def worker_nodes(d: DaemonProcess) -> dict[int, dict[str, Any]]:
    """worker index -> its live node."""
    return {n["worker"]: n for n in status(d) if n["state"] == "alive"}


@pytest.mark.postgres
def test_workers_serve_logins_and_a_killed_worker_is_restarted(
    workers2: DaemonProcess, radclient: str
) -> None:
    d = workers2
    pids = json.loads(d.ready_file.read_text())["workers"]
    assert len(pids) == 2
    live = wait_until(lambda: len(w := worker_nodes(d)) == 2 and w, 5)
    assert live and {live[0]["pid"], live[1]["pid"]} == set(pids)
    for _ in range(4):
        assert "Access-Accept" in login(radclient, d)

    os.kill(pids[1], signal.SIGKILL)
    d.wait_event("supervisor.worker-died", worker=1, code=-9)
    d.wait_event("supervisor.worker-ready", timeout=15, worker=1)
    fresh = wait_until(lambda: (w := worker_nodes(d)).get(1, {}).get("pid") not in (None, pids[1]) and w, 5)
    assert fresh, status(d)
    assert fresh[0]["pid"] == pids[0]
    assert json.loads(d.ready_file.read_text())["workers"] == [pids[0], fresh[1]["pid"]]
    for _ in range(4):
        assert "Access-Accept" in login(radclient, d)
    d.signal(signal.SIGHUP)  # reaches every worker
    assert {e["worker"] for e in d.wait_event("config.reloaded", count=2, timeout=5)} == {0, 1}
    assert d.stop() == 0
    assert wait_until(lambda: {n["state"] for n in status(d) if n["pid"] != pids[1]} == {"stopped"}, 2)


def accounting_start(identifier: int, session: str) -> bytes:
    """An Accounting-Request (Start) built by hand (RFC 2866 §3), independent of our codec."""

    def attr(t: int, value: bytes) -> bytes:
        return bytes([t, len(value) + 2]) + value

    body = (
        attr(1, b"alice")
        + attr(4, bytes([127, 0, 0, 1]))
        + attr(40, struct.pack("!I", 1))
        + attr(44, session.encode())
    )
    head = struct.pack("!BBH", 4, identifier, 20 + len(body))
    auth = hashlib.md5(head + bytes(16) + body + SECRET.encode()).digest()
    return head + auth + body


@pytest.mark.postgres
def test_retransmissions_stay_on_one_worker_and_sources_spread(workers2: DaemonProcess) -> None:
    d = workers2
    packet = accounting_start(7, "sticky-1")
    with UdpPeer() as peer:
        replies = [peer.exchange(packet, d.acct_port) for _ in range(3)]
    assert replies[0] is not None and replies[0][0] == 5  # Accounting-Response
    assert replies == [replies[0]] * 3

    def acct_total() -> int:
        return sum(n["acct_requests"] for n in status(d) if n["state"] == "alive")

    # one worker handled it once and answered the two retransmissions from its cache
    assert wait_until(lambda: acct_total() == 1, 3), status(d)

    async def rows() -> int:
        engine = create_engine(d.url)
        try:
            async with engine.connect() as conn:
                sql = "SELECT count(*) FROM radius_sessions WHERE acct_session_id = 'sticky-1'"
                return int((await conn.execute(sa.text(sql))).scalar_one())
        finally:
            await engine.dispose()

    assert _run(rows()) == 1

    for i in range(40):  # a new source port each: the kernel hashes them over both workers
        with UdpPeer() as peer:
            assert peer.exchange(accounting_start(i, f"spread-{i}"), d.acct_port) is not None
    counts = wait_until(
        lambda: acct_total() == 41 and {w: n["acct_requests"] for w, n in worker_nodes(d).items()}, 3
    )
    assert counts and len(counts) == 2 and min(counts.values()) > 0, status(d)


@pytest.mark.postgres
def test_workers_die_with_a_killed_supervisor(workers2: DaemonProcess) -> None:
    d = workers2
    pids = json.loads(d.ready_file.read_text())["workers"]
    d.kill()

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert wait_until(lambda: all(gone(p) for p in pids), 10), "workers outlived their supervisor"


@pytest.mark.postgres
def test_workers_do_not_join_the_ports_of_another_daemon(workers2: DaemonProcess, tmp_path: Path) -> None:
    port = workers2.auth_port
    done = serve_once(workers2.url, tmp_path, "--workers", "2", "--auth-port", str(port))
    assert done.returncode != 0
    assert error_lines(done.stderr) == [
        f"radiusd: error: another RADIUS server (FreeRADIUS?) is listening on 127.0.0.1:{port}/udp; "
        "stop it or use --auth-port"
    ]


def test_the_refusal_comes_before_the_schema_is_migrated(tmp_path: Path) -> None:
    """A release with a new migration must not change the schema under live older nodes."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.sqlite3'}"

    async def older_cluster() -> None:
        engine = create_engine(url)
        try:
            await ensure_schema(engine)
            async with engine.begin() as conn:
                info = NodeInfo("old-node", "elsewhere", 42, 0, 60.0, "0009", 99, "0.0.1")
                await register_node(conn, info)
                # pending migration stand-in: upgrading now would fail ("table already exists")
                await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0009'"))
        finally:
            await engine.dispose()

    _run(older_cluster())
    done = serve_once(url, tmp_path)
    assert error_lines(done.stderr) == [
        "radiusd: error: node old-node runs cluster protocol 99, this daemon 1: upgrade all nodes"
    ]
