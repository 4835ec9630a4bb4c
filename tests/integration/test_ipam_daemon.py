"""IPAM through the running daemon (every Accept's address committed first), on SQLite and PostgreSQL.

``radiusd serve`` is started as users start it (DaemonProcess); FreeRADIUS ``radclient -p 128``
sends storms of PAP logins. Each request carries Proxy-State = its username, which the server
echoes (RFC 2865 §5.33), so every Access-Accept received is matched to its user.

- more subscribers than the pool holds: no address twice among the accepts, clean rejects,
  the lease table agrees (one live row per accepted user, owner and address as replied);
- SIGKILL during a login storm, restart: every Access-Accept received has its lease row,
  no address is on two live leases, and logging in again gives each user the same address.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.lease_ops import V4
from radiusd.store.nas import add_nas
from radiusd.store.plans import add_plan
from radiusd.store.pools import add_pool
from radiusd.store.subscribers import import_subscribers
from tests.conftest import _run
from tests.integration.conftest import (
    HOST,
    DaemonProcess,
    pg_database,
    run_radclient,
    stop_and_check,
    unavailable,
)

SECRET = "storm-secret"
LIVE = ("offered", "leased")


@pytest.fixture(
    params=[pytest.param("sqlite", id="sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{(tmp_path / 'ipam.sqlite3').as_posix()}"
        return
    with pg_database() as pg:
        yield pg


@pytest.fixture(scope="module")
def radclient() -> str:
    path = shutil.which("radclient")
    if path is None:
        unavailable("radclient is not installed (Debian package freeradius-utils)")
    return path


def seed(url: str, users: int, ranges: list[str]) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            await ensure_schema(engine)
            await add_nas(engine, "nas1", HOST, SECRET, require_message_authenticator=False)
            await add_pool(engine, "storm", ranges=ranges)
            await add_plan(engine, "plan", pool="storm")
            rows = [{"username": f"u{i:05d}", "password": f"pw{i}", "plan": "plan"} for i in range(users)]
            await import_subscribers(engine, rows)
        finally:
            await engine.dispose()

    _run(run())


def live_rows(url: str) -> dict[str, tuple[str, str]]:
    """address -> (owner, state) of every live IPv4 lease row."""

    async def run() -> dict[str, tuple[str, str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                q = sa.select(V4.c.address, V4.c.owner, V4.c.state).where(V4.c.state.in_(LIVE))
                return {r.address: (r.owner, r.state) for r in await conn.execute(q)}
        finally:
            await engine.dispose()

    result: dict[str, tuple[str, str]] = _run(run())
    return result


def requests_file(path: Path, users: list[str]) -> Path:
    path.write_text(
        "".join(
            f"User-Name = {u}\nUser-Password = pw{int(u[1:])}\nProxy-State = 0x{u.encode().hex()}\n\n"
            for u in users
        )
    )
    return path


def parse_replies(text: str) -> tuple[dict[str, str], set[str]]:
    """``({user: Framed-IP-Address} of the accepts, {user} of the rejects})`` from ``radclient -x``."""
    accepts: dict[str, str] = {}
    rejects: set[str] = set()
    for block in text.split("Received ")[1:]:
        head, *lines = block.splitlines()
        attrs = {}
        for line in lines:
            if not line.startswith("\t") or " = " not in line:
                if line and not line.startswith("\t"):
                    break
                continue
            key, _, value = line.strip().partition(" = ")
            attrs[key] = value
        user = bytes.fromhex(attrs.get("Proxy-State", "0x")[2:]).decode()
        if head.startswith("Access-Accept"):
            assert user not in accepts, f"two accepts for {user}"
            accepts[user] = attrs["Framed-IP-Address"]
        elif head.startswith("Access-Reject"):
            rejects.add(user)
    return accepts, rejects


def storm(radclient: str, d: DaemonProcess, path: Path, *, timeout: float = 3.0) -> str:
    result = subprocess.run(
        [
            radclient,
            "-x",
            "-p",
            "128",
            "-r",
            "2",
            "-t",
            str(timeout),
            "-f",
            str(path),
            f"{HOST}:{d.auth_port}",
            "auth",
            SECRET,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout


def test_more_subscribers_than_addresses(url: str, radclient: str, tmp_path: Path) -> None:
    users = [f"u{i:05d}" for i in range(200)]
    seed(url, len(users), ["10.77.0.0/26"])  # 62 addresses
    d = DaemonProcess(url, tmp_path / "d").start()
    try:
        accepts, rejects = parse_replies(storm(radclient, d, requests_file(tmp_path / "req", users)))
        assert len(accepts) == 62, f"{len(accepts)} accepts, {len(rejects)} rejects"
        assert len(set(accepts.values())) == 62  # no address twice
        assert all(a.startswith("10.77.0.") for a in accepts.values())
        assert rejects == set(users) - set(accepts)  # every other login cleanly rejected
        assert {a: o for a, (o, _) in live_rows(url).items()} == {a: u for u, a in accepts.items()}
        # sticky: the same users again get the same addresses (their offers are still live)
        again, _ = parse_replies(storm(radclient, d, requests_file(tmp_path / "req2", sorted(accepts))))
        assert again == accepts
    finally:
        problem = stop_and_check(d)
    assert not problem, problem


def test_sigkill_during_login_storm(url: str, radclient: str, tmp_path: Path) -> None:
    users = [f"u{i:05d}" for i in range(3000)]
    seed(url, len(users), ["10.78.0.0/20"])  # 4094 addresses: room for everybody
    d = DaemonProcess(url, tmp_path / "d").start()
    out_path = tmp_path / "storm1.txt"
    cmd = [
        "stdbuf",
        "-oL",
        radclient,
        "-x",
        "-p",
        "128",
        "-r",
        "1",
        "-t",
        "5",
        "-f",
        str(requests_file(tmp_path / "req", users)),
        f"{HOST}:{d.auth_port}",
        "auth",
        SECRET,
    ]
    with open(out_path, "w") as out:
        client = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while out_path.read_text().count("Access-Accept") < 300 and time.monotonic() < deadline:
            time.sleep(0.002)
        d.signal(signal.SIGKILL)  # in the middle of the storm
        time.sleep(0.3)  # replies already sent reach radclient
        client.terminate()  # the rest would only time out
        client.wait(10)
    d.kill()
    accepts, _ = parse_replies(out_path.read_text())
    assert 300 <= len(accepts) < len(users), f"{len(accepts)} accepts: the kill did not land mid-storm"
    assert len(set(accepts.values())) == len(accepts)

    # every Access-Accept received has its lease, committed before the reply left
    rows = live_rows(url)
    missing = {u: a for u, a in accepts.items() if rows.get(a, ("", ""))[0] != u}
    assert not missing, f"{len(missing)} acknowledged leases lost, e.g. {list(missing.items())[:3]}"

    d2 = DaemonProcess(url, tmp_path / "d2").start()
    try:
        loaded = d2.wait_event("ipam.loaded")[0]
        assert loaded["allocated"] == len(rows)
        after, rejects = parse_replies(storm(radclient, d2, tmp_path / "req"))
        assert not rejects and len(after) == len(users)
        assert len(set(after.values())) == len(users)  # no address on two sessions
        changed = {u: (a, after[u]) for u, a in accepts.items() if after[u] != a}
        assert not changed, f"re-login moved acknowledged users: {list(changed.items())[:3]}"
        final = live_rows(url)
        assert {a: o for a, (o, _) in final.items()} == {a: u for u, a in after.items()}
    finally:
        problem = stop_and_check(d2)
    assert not problem, problem


def test_exhausted_ipv6_side_still_gives_ipv4(url: str, radclient: str, tmp_path: Path) -> None:
    """A dual-stack pool with two delegated prefixes and six addresses: the first two logins get
    both, the next ones their IPv4 address alone (ipv6_exhausted = ipv4-only, the default), never
    a prefix another subscriber holds; counted in /metrics."""
    d = DaemonProcess(url, tmp_path / "d")
    d.cli("nas", "add", "bras", "--address", HOST, "--secret", SECRET)
    d.cli("pool", "add", "ds", "--range", "10.78.0.0/29", "--delegated", "2001:db8::/55/56")
    d.cli("plan", "add", "dual", "--pool", "ds")
    users = [f"ds{i}" for i in range(4)]
    for u in users:
        d.cli("subscriber", "add", u, "--password", "pw-" + u, "--plan", "dual")
    d.start()
    try:
        replies = [
            run_radclient(radclient, d.auth_port, SECRET,
                          f'User-Name = "{u}"\nUser-Password = "pw-{u}"\nMessage-Authenticator = 0x00')
            for u in users
        ]  # fmt: skip
        assert all("Received Access-Accept" in r for r in replies), replies
        prefixes = [line.split("=", 1)[1].strip() for r in replies for line in r.splitlines()
                    if "Delegated-IPv6-Prefix" in line]  # fmt: skip
        assert len(prefixes) == 2 and len(set(prefixes)) == 2, replies
        assert all("Framed-IP-Address = 10.78.0." in r for r in replies)
        assert d.events("ipam.ipv6-exhausted")
    finally:
        problem = stop_and_check(d)
    assert not problem, problem
