"""PostgreSQL failover under a login and accounting storm, for real on this machine.

The test makes its own two-server cluster: a primary and a synchronous streaming standby
(``initdb``, ``pg_basebackup -R``, two ports on 127.0.0.1, run as the ``postgres`` user). The
daemon is given both in one libpq-style URL with ``target_session_attrs=read-write``, as an
operator would give it a Patroni pair. Mid-storm the primary is stopped hard (``-m immediate``)
and the standby promoted, the order a failover manager uses (the old primary must accept no
write once the new one does). Afterwards, on the new primary: every Access-Accept received has
its lease row, every Accounting-Response received has its session, no address is held twice,
and the daemon serves again without a restart.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.nas import add_nas
from radiusd.store.plans import add_plan
from radiusd.store.pools import add_pool
from radiusd.store.subscribers import import_subscribers
from tests.conftest import _run
from tests.integration.conftest import HOST, DaemonProcess, stop_and_check, unavailable
from tests.integration.pgserver import PG_BIN, Server, free_port, private_root, run_as_postgres
from tests.integration.test_accounting_daemon import query
from tests.integration.test_ipam_daemon import SECRET, parse_replies, requests_file

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def cluster() -> Iterator[tuple[Server, Server]]:
    with private_root() as root:
        yield from _cluster(root)


def _cluster(root: Path) -> Iterator[tuple[Server, Server]]:
    primary = Server(root / "primary", free_port())
    standby = Server(root / "standby", free_port())
    run_as_postgres([str(PG_BIN / "initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust"])
    with open(primary.data / "postgresql.conf", "a") as conf:
        conf.write(
            "listen_addresses = '127.0.0.1'\nwal_level = replica\nmax_wal_senders = 4\n"
            "synchronous_standby_names = '*'\nfsync = off\nfull_page_writes = on\n"
        )
    with open(primary.data / "pg_hba.conf", "a") as hba:
        hba.write("host replication postgres 127.0.0.1/32 trust\n")
    primary.start()
    try:
        run_as_postgres([str(PG_BIN / "pg_basebackup"), "-h", HOST, "-p", str(primary.port), "-U", "postgres",
                         "-D", str(standby.data), "-R", "-X", "stream"])  # fmt: skip
        with open(standby.data / "postgresql.conf", "a") as conf:  # alone once promoted: commit locally
            conf.write("synchronous_standby_names = ''\n")
        standby.start()
        yield primary, standby
    finally:
        standby.stop("immediate")
        primary.stop("immediate")


def seed(url: str, users: int) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            await ensure_schema(engine)
            await add_nas(engine, "nas1", HOST, SECRET, require_message_authenticator=False)
            await add_pool(engine, "storm", ranges=["10.80.0.0/20"])
            await add_plan(engine, "plan", pool="storm")
            rows = [{"username": f"u{i:05d}", "password": f"pw{i}", "plan": "plan"} for i in range(users)]
            await import_subscribers(engine, rows)
        finally:
            await engine.dispose()

    _run(run())


def test_failover_loses_nothing_acknowledged(cluster: tuple[Server, Server], tmp_path: Path) -> None:
    radclient = shutil.which("radclient")
    if radclient is None:
        unavailable("radclient is not installed (Debian package freeradius-utils)")
    primary, standby = cluster
    _run(_create_db(primary.port))
    url = (f"postgresql+asyncpg://postgres@{HOST}:{primary.port},{HOST}:{standby.port}/radiusd"
           "?target_session_attrs=read-write")  # fmt: skip
    users = [f"u{i:05d}" for i in range(1500)]
    seed(url, len(users))
    d = DaemonProcess(url, tmp_path / "d").start()
    try:
        logins, starts = tmp_path / "logins.txt", tmp_path / "starts.txt"
        flags = ["-x", "-p", "64", "-r", "10", "-t", "2"]
        login_cmd = [radclient, *flags, "-f", str(requests_file(tmp_path / "req", users)),
                     f"{HOST}:{d.auth_port}", "auth", SECRET]  # fmt: skip
        acct_cmd = [radclient, *flags, "-f", str(starts_file(tmp_path / "acct", users)),
                    f"{HOST}:{d.acct_port}", "acct", SECRET]  # fmt: skip
        with open(logins, "w") as out, open(starts, "w") as acct_out:
            storm = subprocess.Popen(["stdbuf", "-oL", *login_cmd], stdout=out, stderr=subprocess.DEVNULL)
            acct = subprocess.Popen(["stdbuf", "-oL", *acct_cmd], stdout=acct_out, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while logins.read_text().count("Access-Accept") < 300 and time.monotonic() < deadline:
                time.sleep(0.01)
            primary.stop("immediate")  # the primary dies mid-storm ...
            standby.ctl("promote")  # ... and the standby takes over
            storm.wait(timeout=300)
            acct.wait(timeout=300)
        acknowledged = acct_acknowledged(starts.read_text())
        assert len(acknowledged) == len(users), "every Start answered once the new primary is up"
        stored = {r[0] for r in query(url, "SELECT acct_session_id FROM radius_sessions")}
        assert acknowledged <= stored  # nothing acknowledged is lost
        accepts, rejects = parse_replies(logins.read_text())
        assert len(accepts) + len(rejects) == len(users), "every login answered once the new primary is up"
        assert not rejects
        assert len(set(accepts.values())) == len(accepts)
        rows = query(url, "SELECT address, owner FROM ipv4_ips WHERE state IN ('offered', 'leased')")
        assert {a: o for a, o in rows} == {a: u for u, a in accepts.items()}  # none lost, none extra
        assert d.running
        d.wait_event("lease-feed.lost", timeout=10)
    finally:
        problem = stop_and_check(d)
    assert not problem, problem


def starts_file(path: Path, users: list[str]) -> Path:
    path.write_text("".join(
        f"User-Name = {u}\nAcct-Status-Type = Start\nAcct-Session-Id = f-{u}\nNAS-Port = 2\n"
        f"Proxy-State = 0x{u.encode().hex()}\n\n" for u in users
    ))  # fmt: skip
    return path


def acct_acknowledged(text: str) -> set[str]:
    """The Acct-Session-Ids whose Accounting-Response radclient received (by Proxy-State)."""
    out: set[str] = set()
    for block in text.split("Received Accounting-Response")[1:]:
        for line in block.splitlines()[1:]:
            if not line.startswith("\t"):
                break
            key, _, value = line.strip().partition(" = ")
            if key == "Proxy-State":
                out.add("f-" + bytes.fromhex(value[2:]).decode())
    return out


async def _create_db(port: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=HOST, port=port, user="postgres", database="postgres")
    try:
        await conn.execute("CREATE DATABASE radiusd")
    finally:
        await conn.close()
