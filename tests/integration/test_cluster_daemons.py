"""Three ``radiusd serve`` processes on one PostgreSQL database and one pool (real processes,
FreeRADIUS ``radclient`` storms, each request matched to its user through Proxy-State).

What an ISP's NAS does to a pair or trio of RADIUS servers: logins spread over every node,
Accounting-Start sent to another node than the one that accepted, re-logins at a third, and a
node killed (SIGKILL) and started again in the middle of it. Whatever happens, no address is in
two subscribers' Access-Accepts, exactly as many subscribers get in as the pool has addresses,
a subscriber keeps the address of its live session, and the lease table agrees with the
replies.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import HOST, DaemonProcess, pg_database, stop_and_check
from tests.integration.test_ipam_daemon import SECRET, live_rows, parse_replies, requests_file, seed

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POOL = "10.77.0.0/26"  # 62 addresses
POOL_SIZE = 62


@pytest.fixture
def url() -> Iterator[str]:
    with pg_database() as pg:
        yield pg


def radclient_cmd(radclient: str, port: int, path: Path, kind: str = "auth") -> list[str]:
    flags = ["-x", "-p", "32", "-r", "3", "-t", "2", "-f", str(path)]
    return [radclient, *flags, f"{HOST}:{port}", kind, SECRET]


def storms(radclient: str, targets: list[tuple[DaemonProcess, Path]]) -> str:
    """One radclient per (daemon, requests file), all at once; their output, concatenated."""
    procs = [
        subprocess.Popen(radclient_cmd(radclient, d.auth_port, p), stdout=subprocess.PIPE, text=True)
        for d, p in targets
    ]
    return "".join(p.communicate(timeout=120)[0] for p in procs)


def starts_file(path: Path, accepts: dict[str, str]) -> Path:
    path.write_text(
        "".join(
            f"User-Name = {u}\nAcct-Status-Type = Start\nAcct-Session-Id = s-{u}\n"
            f"Framed-IP-Address = {ip}\nNAS-Port = 1\nAcct-Interim-Interval = 300\n\n"
            for u, ip in accepts.items()
        )
    )
    return path


def check_agreement(url: str, accepts: dict[str, str]) -> None:
    assert len(set(accepts.values())) == len(accepts), "an address is in two subscribers' accepts"
    stored = {a: owner for a, (owner, _) in live_rows(url).items()}
    assert stored == {a: u for u, a in accepts.items()}


def test_three_daemons_one_pool(url: str, radclient: str, tmp_path: Path) -> None:
    users = [f"u{i:05d}" for i in range(180)]  # three times the pool
    seed(url, len(users), [POOL])
    nodes = [DaemonProcess(url, tmp_path / f"node{i}").start() for i in range(3)]
    try:
        # logins spread over the three nodes at once
        thirds = [users[i::3] for i in range(3)]
        out = storms(
            radclient,
            [
                (n, requests_file(tmp_path / f"req{i}", t))
                for i, (n, t) in enumerate(zip(nodes, thirds, strict=True))
            ],
        )
        accepts, rejects = parse_replies(out)
        assert len(accepts) == POOL_SIZE, f"{len(accepts)} accepts, {len(rejects)} rejects"
        assert rejects == set(users) - set(accepts)
        check_agreement(url, accepts)

        # Accounting-Start for every session at the node after the one that accepted it
        first = nodes[0]
        done = subprocess.run(
            radclient_cmd(radclient, first.acct_port, starts_file(tmp_path / "starts", accepts), "acct"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.stdout.count("Accounting-Response") == len(accepts), done.stdout[-2000:]
        leased = live_rows(url)
        assert {s for _, s in leased.values()} == {"leased"} and len(leased) == POOL_SIZE

        # one node killed in the middle of a re-login storm at the others, then started again
        again = sorted(accepts)
        victim = nodes[2]
        runs = [
            subprocess.Popen(
                radclient_cmd(radclient, n.auth_port, requests_file(tmp_path / f"again{i}", again[i::2])),
                stdout=subprocess.PIPE,
                text=True,
            )
            for i, n in enumerate(nodes[:2])
        ]
        time.sleep(0.2)
        victim.signal(signal.SIGKILL)
        victim.kill()
        relogins = "".join(p.communicate(timeout=120)[0] for p in runs)
        nodes[2] = DaemonProcess(url, tmp_path / "node2-again").start()
        got, refused = parse_replies(relogins)
        assert not refused and got == accepts  # every live session keeps its address

        # the late comers, at the restarted node: the pool is still full
        late, late_rejects = parse_replies(
            storms(radclient, [(nodes[2], requests_file(tmp_path / "late", users[:30]))])
        )
        assert {u: a for u, a in late.items()} == {u: accepts[u] for u in late}
        assert late_rejects == set(users[:30]) - set(accepts)
        check_agreement(url, accepts)
    finally:
        problems = [p for p in (stop_and_check(n) for n in nodes if n.running) if p]
    assert not problems, problems


def test_two_workers_on_one_port_share_one_pool(url: str, radclient: str, tmp_path: Path) -> None:
    """``serve --workers 2``: the kernel spreads the NAS's source ports over both workers, each a
    node with its own memory; the pool is still handed out once."""
    users = [f"u{i:05d}" for i in range(180)]
    seed(url, len(users), [POOL])
    d = DaemonProcess(url, tmp_path / "w", args=("--workers", "2")).start()
    try:
        assert len(json.loads(d.ready_file.read_text())["workers"]) == 2
        thirds = [users[i::3] for i in range(3)]  # three radclients: three source ports
        out = storms(radclient, [(d, requests_file(tmp_path / f"req{i}", t)) for i, t in enumerate(thirds)])
        accepts, rejects = parse_replies(out)
        assert len(accepts) == POOL_SIZE, f"{len(accepts)} accepts, {len(rejects)} rejects"
        assert rejects == set(users) - set(accepts)
        check_agreement(url, accepts)
        relogin = requests_file(tmp_path / "again", sorted(accepts))
        again, refused = parse_replies(storms(radclient, [(d, relogin)]))
        assert not refused and again == accepts  # a re-login reaches either worker: same address
    finally:
        problem = stop_and_check(d)
    assert not problem, problem
