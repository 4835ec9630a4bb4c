"""Faults under load (kills, database loss: no lease or record lost or doubled), against
``radiusd serve`` on PostgreSQL.

(a) SIGKILL at random moments of a mixed load: client threads (our codec over raw UDP
    sockets, retransmitting as a NAS does) log in subscribers with pool allocation and send
    Accounting Start / Interim-Update / Stop with the address they were given; the daemon is
    killed at least KILLS times and restarted on the same database and ports. Afterwards: no
    address was given to two subscribers, every Access-Accept received has its lease, every
    acknowledged accounting record is stored exactly once (one session per session id, one
    time-series row per acknowledged interim, usage equal to the sessions' totals), and a
    fresh login gives every subscriber the address it was last acknowledged.
(b) PostgreSQL away during load, through a TCP proxy that is cut (the shared server is never
    stopped): PAP logins without pool allocation keep being accepted from memory; pooled
    logins and accounting get no answer while it is away; once it is back every accounting
    request is acknowledged and stored exactly once.
(c) Overload at twice the measured capacity (accounting Starts, open loop): the daemon's VmRSS
    stays under a cap (writer_queue_max and dedupe_max_entries are set low), the requests it
    admits are answered with p99 under 1 s, and it answers normally within 10 s after the
    load drops.

The figures (kills, requests, p99, RSS) are printed: ``pytest -s`` shows them.
"""

from __future__ import annotations

import json
import random
import select
import signal
import socket
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ipam.owners import username_of
from radiusd.codec.codes import Code
from radiusd.codec.crypto import verify_response
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.packet import Packet, encode_request
from tests.conftest import PG_HOST, PG_PORT
from tests.integration.conftest import HOST, DaemonProcess, pg_database, rss_kb, wait_until
from tests.integration.test_accounting_daemon import query
from tests.integration.test_accounting_outage import TcpProxy

pytestmark = pytest.mark.postgres

SECRET = b"faults-s3cret"
D = default_dictionary()
KILLS = 22
USERS = 120
THREADS = 12
POOL = "10.88.0.0/22"  # 1022 addresses for 120 subscribers: nobody ever needs another's address


# -- a NAS made of our codec and a UDP socket ------------------------------------------------------


def free_udp_ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


class Nas:
    """One socket, one request at a time, retransmitted with the same bytes (RFC 5080 §2.2.1)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.ident = random.randrange(256)

    def close(self) -> None:
        self.sock.close()

    def exchange(
        self, p: Packet, port: int, *, tries: int, interval: float, message_auth: bool = False
    ) -> bytes | None:
        self.ident = (self.ident + 1) % 256
        p.identifier = self.ident
        data = encode_request(p, SECRET, message_auth=message_auth)
        for _ in range(tries):
            self.sock.sendto(data, (HOST, port))
            deadline = time.monotonic() + interval
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([self.sock], [], [], left)[0]:
                    break
                reply = self.sock.recv(4096)
                if reply[1] == self.ident and verify_response(reply, p.authenticator, SECRET):
                    return reply
        return None


def login(user: str, password: str) -> Packet:
    p = Packet(Code.ACCESS_REQUEST, 0, dictionary=D)
    p.add("User-Name", user).add("NAS-IP-Address", HOST).add("NAS-Port", 7)
    return p.set_user_password(password.encode(), SECRET)


def acct(status: str, user: str, sid: str, ip: str | None, t: int = 0, octets: int = 0) -> Packet:
    p = Packet(Code.ACCOUNTING_REQUEST, 0, dictionary=D)
    p.add("Acct-Status-Type", status).add("User-Name", user).add("Acct-Session-Id", sid)
    p.add("NAS-IP-Address", HOST).add("NAS-Port", 7)
    if ip:
        p.add("Framed-IP-Address", ip)
    if status != "Start":
        p.add("Acct-Session-Time", t).add("Acct-Input-Octets", octets).add("Acct-Output-Octets", 2 * octets)
    return p


def framed_ip(reply: bytes) -> str | None:
    i = 20
    while i < len(reply):
        t, n = reply[i], reply[i + 1]
        if t == 8 and n == 6:
            return ".".join(str(b) for b in reply[i + 2 : i + 6])
        i += n
    return None


def p99(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * 0.99))] if s else 0.0


# -- setup ---------------------------------------------------------------------------------------------


def seed(d: DaemonProcess, users: int = USERS) -> None:
    d.cli("nas", "add", "lo", "--address", HOST, "--secret", SECRET.decode())
    d.cli("pool", "add", "fault-pool", "--range", POOL)
    d.cli("plan", "add", "pooled", "--pool", "fault-pool", "--interim-interval", "60")
    # subscribers in bulk through the store (one CLI call each would cost seconds)
    rows = [{"username": f"p{i:04d}", "password": f"pw{i}", "plan": "pooled"} for i in range(users)]
    rows += [{"username": f"f{i:04d}", "password": f"pw{i}", "plan": ""} for i in range(users)]
    _import(d.url, rows)


def _import(url: str, rows: list[dict[str, str]]) -> None:
    from radiusd.store.engine import create_engine
    from radiusd.store.subscribers import import_subscribers
    from tests.conftest import _run

    async def go() -> None:
        engine = create_engine(url)
        try:
            await import_subscribers(engine, rows)
        finally:
            await engine.dispose()

    _run(go())


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[str]:
    with pg_database() as url:
        yield url


def daemon_on(
    url: str, workdir: Path, ports: list[int], env: dict[str, str | None] | None = None
) -> DaemonProcess:
    args = ("--auth-port", str(ports[0]), "--acct-port", str(ports[1]))  # the same ports after a restart
    return DaemonProcess(url, workdir, args=args, env=env)


# -- (a) SIGKILL during a mixed load -----------------------------------------------------------------


@dataclass
class Ledger:
    """What the NASes saw acknowledged (and what they sent, acknowledged or not)."""

    accepts: list[tuple[str, str]] = field(default_factory=list)  # (user, address)
    acked: list[tuple[str, str, str, int]] = field(default_factory=list)  # (status, user, sid, time)
    stop_sent: dict[str, float] = field(default_factory=dict)  # user -> last Stop sent (monotonic)
    accept_at: dict[str, float] = field(default_factory=dict)  # user -> last Accept received
    requests: int = 0
    unanswered: int = 0


def session_cycle(
    nas: Nas, ports: list[int], user: str, n: int, ledger: Ledger, stop: threading.Event
) -> None:
    idx = int(user[1:])
    reply = nas.exchange(login(user, f"pw{idx}"), ports[0], tries=6, interval=0.5, message_auth=True)
    ledger.requests += 1
    if reply is None or reply[0] != Code.ACCESS_ACCEPT:
        ledger.unanswered += reply is None
        return
    ip = framed_ip(reply)
    assert ip is not None, "an Access-Accept without Framed-IP-Address"
    ledger.accepts.append((user, ip))
    ledger.accept_at[user] = time.monotonic()
    sid = f"{user}-{n}"
    steps = [
        ("Start", 0, 0),
        ("Interim-Update", 60, 1000),
        ("Interim-Update", 120, 2500),
        ("Stop", 150, 3000),
    ]
    for status, t, octets in steps:
        if stop.is_set() and status != "Stop":
            continue
        if status == "Stop":
            ledger.stop_sent[user] = time.monotonic()
        reply = nas.exchange(acct(status, user, sid, ip, t, octets), ports[1], tries=8, interval=0.5)
        ledger.requests += 1
        if reply is not None:
            ledger.acked.append((status, user, sid, t))
        else:
            ledger.unanswered += 1


def load_thread(k: int, ports: list[int], ledger: Ledger, stop: threading.Event) -> None:
    nas = Nas()
    mine = [f"p{i:04d}" for i in range(k, USERS, THREADS)]
    n = 0
    try:
        while not stop.is_set():
            session_cycle(nas, ports, mine[n % len(mine)], n, ledger, stop)
            n += 1
    finally:
        nas.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_of_a_mixed_load(pg: str, tmp_path: Path) -> None:
    rng = random.Random()
    ports = free_udp_ports(2)
    d = daemon_on(pg, tmp_path / "d", ports)
    seed(d)
    d.start()
    ledger, stop = Ledger(), threading.Event()
    threads = [threading.Thread(target=load_thread, args=(k, ports, ledger, stop)) for k in range(THREADS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    kills = 0
    restart_seconds: list[float] = []
    try:
        while kills < KILLS:
            time.sleep(rng.uniform(0.2, 1.0))
            assert d.proc is not None and d.running, f"the daemon died by itself:\n{d.stderr()[-2000:]}"
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(10)
            kills += 1
            t0 = time.monotonic()
            d.returncode = None
            d.start()
            restart_seconds.append(time.monotonic() - t0)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    load_seconds = time.monotonic() - started
    assert d.proc is not None
    d.proc.send_signal(signal.SIGKILL)  # the last one too: nothing may depend on a clean stop
    d.proc.wait(10)
    kills += 1

    acked = Counter(s for s, *_ in ledger.acked)
    print(
        f"\nSIGKILL under mixed load: {kills} kills in {load_seconds:.1f} s, {ledger.requests} requests "
        f"({ledger.unanswered} unanswered after retries), {len(ledger.accepts)} Access-Accepts, "
        f"acknowledged accounting {dict(acked)}, "
        f"restart {min(restart_seconds):.2f}-{max(restart_seconds):.2f} s"
    )
    assert kills >= 20
    assert len(ledger.accepts) >= 100 and acked["Stop"] >= 50, "too little load between the kills"

    # no address given to two subscribers (the pool is big enough that nobody needs to share)
    owners: dict[str, set[str]] = defaultdict(set)
    for user, ip in ledger.accepts:
        owners[ip].add(user)
    shared = {ip: users for ip, users in owners.items() if len(users) > 1}
    assert not shared, f"addresses given to two subscribers: {list(shared.items())[:3]}"
    last_ip = {user: ip for user, ip in ledger.accepts}
    users_of = defaultdict(set)
    for user, ip in last_ip.items():
        users_of[ip].add(user)
    assert all(len(u) == 1 for u in users_of.values())
    dup = query(
        pg,
        "SELECT address FROM service_ip_assignments WHERE released_at IS NULL "
        "GROUP BY address HAVING COUNT(DISTINCT username) > 1",
    )
    assert not dup, f"addresses on two open assignments: {dup[:3]}"

    # every Access-Accept received has its lease: owned by that subscriber, live unless a Stop was sent
    rows = {a: (username_of(o), s) for a, o, s in query(pg, "SELECT address, owner, state FROM ipv4_ips")}
    lost = [(u, ip) for u, ip in last_ip.items() if rows.get(ip, (None, ""))[0] != u]
    assert not lost, f"{len(lost)} acknowledged leases lost, e.g. {lost[:3]}"
    not_live = [
        (u, ip, rows[ip][1])
        for u, ip in last_ip.items()
        if ledger.stop_sent.get(u, 0) < ledger.accept_at[u] and rows[ip][1] not in ("offered", "leased")
    ]
    assert not not_live, f"acknowledged leases not live: {not_live[:3]}"

    # every acknowledged accounting record stored exactly once
    sessions = {
        sid: (n, status)
        for sid, n, status in query(
            pg, "SELECT acct_session_id, COUNT(*), MIN(status) FROM radius_sessions GROUP BY acct_session_id"
        )
    }
    series = Counter(
        (sid, st, t)
        for sid, st, t in query(
            pg,
            "SELECT s.acct_session_id, i.status_type, i.session_time FROM radius_interim_updates i "
            "JOIN radius_sessions s ON s.acct_unique_id = i.acct_unique_id",
        )
    )
    closed = Counter(sid for (sid,) in query(pg, "SELECT acct_session_id FROM radius_accounting"))
    for status, _user, sid, at in ledger.acked:
        assert sessions.get(sid, (0, ""))[0] == 1, (
            f"{status} of {sid} acknowledged, sessions: {sessions.get(sid)}"
        )
        if status == "Interim-Update":
            assert series[(sid, status, at)] == 1, f"interim {sid}@{at}: {series[(sid, status, at)]} rows"
        if status == "Stop":
            assert sessions[sid][1] == "closed" and closed[sid] == 1, (
                f"Stop of {sid}: {sessions[sid]}, {closed[sid]}"
            )
    assert all(n == 1 for n, _ in sessions.values())
    assert all(n == 1 for n in closed.values())
    assert all(n == 1 for n in series.values())
    usage = query(
        pg, "SELECT COALESCE(SUM(input_octets), 0), COALESCE(SUM(output_octets), 0) FROM service_usage"
    )
    totals = query(
        pg,
        "SELECT COALESCE(SUM(input_octets + input_base), 0), COALESCE(SUM(output_octets + output_base), 0) "
        "FROM radius_sessions",
    )
    assert tuple(map(int, usage[0])) == tuple(map(int, totals[0])), "usage counted more or less than once"

    # restart once more: every subscriber gets back the address last acknowledged to it
    d.returncode = None
    d.start()
    nas = Nas()
    try:
        moved = []
        for user, ip in sorted(last_ip.items()):
            reply = nas.exchange(
                login(user, f"pw{int(user[1:])}"), ports[0], tries=4, interval=1.0, message_auth=True
            )
            assert reply is not None and reply[0] == Code.ACCESS_ACCEPT, (
                f"{user} not accepted after the kills"
            )
            if framed_ip(reply) != ip:
                moved.append((user, ip, framed_ip(reply)))
        assert not moved, f"re-login moved acknowledged subscribers: {moved[:3]}"
    finally:
        nas.close()
        assert d.stop() == 0


# -- (b) PostgreSQL away during load -----------------------------------------------------------------


@pytest.mark.slow
def test_postgres_away_during_load(tmp_path: Path) -> None:
    cut_seconds = 4.0
    with pg_database() as url:
        proxy = TcpProxy()
        via = url.replace(f"{PG_HOST}:{PG_PORT}", f"{HOST}:{proxy.port}")
        ports = free_udp_ports(2)
        d = daemon_on(via, tmp_path / "d", ports, env={"RADIUSD_CHANGE_POLL_INTERVAL": "0.2"})
        seed(d, users=40)
        d.start()
        window: dict[str, float] = {}
        events: list[tuple[str, float, bool]] = []  # (kind, sent at, answered) of each request
        acct_acked: list[tuple[str, int, float]] = []  # (sid, session time, acked at)
        stop = threading.Event()

        def logins(k: int) -> None:
            nas = Nas()
            try:
                i = 0
                while not stop.is_set():
                    user, kind = (f"f{i % 40:04d}", "pap") if i % 4 else (f"p{(k * 10 + i) % 40:04d}", "pool")
                    at = time.monotonic()
                    reply = nas.exchange(
                        login(user, f"pw{int(user[1:])}"), ports[0], tries=1, interval=0.5, message_auth=True
                    )
                    events.append((kind, at, reply is not None and reply[0] == Code.ACCESS_ACCEPT))
                    i += 1
                    time.sleep(0.01)
            finally:
                nas.close()

        def accounting(k: int) -> None:
            nas = Nas()
            try:
                n = 0
                while not stop.is_set():
                    sid = f"away-{k}-{n}"
                    user = f"f{(k * 7 + n) % 40:04d}"
                    for status, t in (("Start", 0), ("Interim-Update", 60), ("Stop", 90)):
                        reply = nas.exchange(
                            acct(status, user, sid, None, t, t * 10), ports[1], tries=60, interval=0.5
                        )
                        assert reply is not None, f"{status} of {sid} never acknowledged"
                        acct_acked.append((sid, t, time.monotonic()))
                    n += 1
            finally:
                nas.close()

        threads = [threading.Thread(target=logins, args=(k,)) for k in range(3)]
        threads += [threading.Thread(target=accounting, args=(k,)) for k in range(4)]
        errors: list[BaseException] = []

        def guard(target: Callable[..., None]) -> Callable[..., None]:
            def run(*a: Any) -> None:
                try:
                    target(*a)
                except BaseException as e:  # reported by the main thread
                    errors.append(e)

            return run

        for t in threads:
            t._target = guard(t._target)  # type: ignore[attr-defined]
            t.start()
        try:
            time.sleep(2.0)
            window["cut"] = time.monotonic()
            proxy.cut()
            time.sleep(cut_seconds)
            window["restore"] = time.monotonic()
            proxy.restore()
            time.sleep(3.0)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
            if proxy.server is not None and not proxy.server.is_serving():
                proxy.restore()
        assert not errors, errors[0]
        try:
            # while away (after a grace for requests already committing): PAP from memory only
            lo, hi = window["cut"] + 0.5, window["restore"]
            during = [(k, ok) for k, at, ok in events if lo <= at and at + 0.5 <= hi]
            pap = [ok for k, ok in during if k == "pap"]
            pooled = [ok for k, ok in during if k == "pool"]
            acked_away = [a for a in acct_acked if lo <= a[2] < hi]
            before = sum(1 for a in acct_acked if a[2] < window["cut"])
            after = sum(1 for a in acct_acked if a[2] >= hi)
            print(
                f"\nPostgreSQL away {cut_seconds:.0f} s under load: "
                f"PAP logins while away {sum(pap)}/{len(pap)} "
                f"accepted, pooled {sum(pooled)}/{len(pooled)}, accounting acknowledged before/while/after "
                f"{before}/{len(acked_away)}/{after}"
            )
            assert len(pap) >= 20 and all(pap), (
                f"PAP logins failed while the database was away: {pap.count(False)}"
            )
            assert pooled and not any(pooled), "a pooled login was accepted without its lease committed"
            assert not acked_away, f"accounting acknowledged while the database was away: {acked_away[:3]}"
            assert before > 0 and after > 0
            assert d.events("writer.commit-failed"), "the outage did not reach the writer"
            # nothing lost, nothing twice
            rows = query(
                url,
                "SELECT acct_session_id, status, session_time FROM radius_sessions "
                "WHERE acct_session_id LIKE 'away-%'",
            )
            stored = {sid: (status, t) for sid, status, t in rows}
            assert len(rows) == len(stored)
            stops = {sid for sid, t, _ in acct_acked if t == 90}
            assert all(stored.get(sid) == ("closed", 90) for sid in stops), "acknowledged Stops lost"
            series = query(
                url,
                "SELECT acct_unique_id, status_type, session_time, COUNT(*) FROM radius_interim_updates "
                "GROUP BY acct_unique_id, status_type, session_time HAVING COUNT(*) > 1",
            )
            assert not series
            assert query(
                url, "SELECT COUNT(*) FROM radius_accounting WHERE acct_session_id LIKE 'away-%'"
            ) == [(len(stops),)]
        finally:
            assert d.stop() == 0
            proxy.close()


# -- (c) overload at twice the measured capacity ------------------------------------------------------


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def latency_histogram(api: str, token: str) -> dict[float, float]:
    """Cumulative ``radiusd_request_duration_seconds`` buckets from /metrics: {upper bound: count}."""
    req = urllib.request.Request(f"http://{api}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("radiusd_request_duration_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            out[float(bound)] = float(line.rsplit(" ", 1)[1])
    return out


def histogram_p99(before: dict[float, float], after: dict[float, float]) -> float:
    """The upper bound of the bucket holding the 99th percentile of what was observed in between."""
    total = after[float("inf")] - before.get(float("inf"), 0)
    for bound in sorted(after):
        if after[bound] - before.get(bound, 0) >= 0.99 * total:
            return bound
    return float("inf")


class Blaster:
    """Open-loop sender of prebuilt Accounting Starts over many sockets; a receiver thread
    matches replies by (socket, Identifier) and the Response Authenticator."""

    def __init__(self, port: int, sockets: int = 128) -> None:
        self.port = port
        self.socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(sockets)]
        for s in self.socks:
            s.bind((HOST, 0))
            s.setblocking(False)
        self.fd = {s.fileno(): i for i, s in enumerate(self.socks)}
        self.pending: dict[tuple[int, int], tuple[float, bytes]] = {}
        self.latencies: list[float] = []
        self.sent = 0
        self.stale = 0
        self.seq = 0
        self.stop = threading.Event()
        self.rx = threading.Thread(target=self._receive, daemon=True)
        self.rx.start()

    def close(self) -> None:
        self.stop.set()
        self.rx.join(5)
        for s in self.socks:
            s.close()

    def build(self, n: int, tag: str) -> list[bytes]:
        out = []
        for i in range(n):
            p = acct("Start", f"f{i % 40:04d}", f"{tag}-{i}", None)
            p.identifier = (i // len(self.socks)) % 256
            out.append(encode_request(p, SECRET))
        return out

    def send(self, data: bytes) -> None:
        i = self.seq % len(self.socks)
        self.seq += 1
        self.pending[(i, data[1])] = (time.monotonic(), data[4:20])
        try:
            self.socks[i].sendto(data, (HOST, self.port))
        except BlockingIOError:
            pass
        self.sent += 1

    def _receive(self) -> None:
        poller = select.epoll()
        for s in self.socks:
            poller.register(s.fileno(), select.EPOLLIN)
        try:
            while not self.stop.is_set():
                for fd, _ in poller.poll(0.05):
                    i = self.fd[fd]
                    while True:
                        try:
                            reply = self.socks[i].recv(4096)
                        except (BlockingIOError, OSError):
                            break
                        now = time.monotonic()
                        entry = self.pending.pop((i, reply[1]), None)
                        if entry is None or not verify_response(reply, entry[1], SECRET):
                            self.stale += 1  # a reply for an older request with this Identifier
                            continue
                        self.latencies.append(now - entry[0])
        finally:
            poller.close()

    def run(self, packets: list[bytes], rate: float | None, window: int = 0) -> float:
        """Send at ``rate`` per second (open loop), or keep ``window`` in flight (closed loop)."""
        started = time.monotonic()
        for n, data in enumerate(packets):
            if rate is not None:  # in bursts of 5 ms: a sleep per packet would cost the client a CPU
                due = started + n / rate
                if (ahead := due - time.monotonic()) > 0:
                    time.sleep(max(ahead, 0.005))
            else:
                while self.sent - len(self.latencies) - self.stale >= window:
                    time.sleep(0.0002)
                    if time.monotonic() - started > 30:
                        break
            self.send(data)
        return time.monotonic() - started


OVERLOAD_QUEUE_MAX, OVERLOAD_DEDUPE_MAX = 1000, 20_000
RSS_CAP_MB = 150  # growth of the daemon's VmRSS allowed during the overload


@pytest.fixture(scope="module")
def overload(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One overload run (PostgreSQL), its figures shared by the tests below."""
    with pg_database() as url:
        yield run_overload(url, tmp_path_factory.mktemp("overload"))


def run_overload(pg: str, workdir: Path) -> dict[str, Any]:
    queue_max, dedupe_max = OVERLOAD_QUEUE_MAX, OVERLOAD_DEDUPE_MAX
    env: dict[str, str | None] = {
        "RADIUSD_WRITER_QUEUE_MAX": str(queue_max),
        "RADIUSD_DEDUPE_MAX_ENTRIES": str(dedupe_max),
    }
    ports = free_udp_ports(2)
    api = f"{HOST}:{free_tcp_port()}"  # /metrics: the daemon's own latency histogram
    d = DaemonProcess(
        pg, workdir / "d", args=(*daemon_on(pg, workdir, ports).args, "--api-bind", api), env=env
    )
    seed(d, users=40)
    token = json.loads(d.cli("api-token", "create", "overload", "--read-only", "--json").stdout)["token"]
    d.start()
    assert d.proc is not None
    pid = d.proc.pid
    try:
        # capacity: a closed loop with 256 requests in flight for about 3 s
        b = Blaster(d.acct_port)
        warm = b.build(3000, "warm")
        b.run(warm[:500], None, window=64)
        wait_until(lambda: not b.pending, 5)
        b.latencies.clear()
        b.sent, b.stale, b.pending = 0, 0, {}
        probe = b.build(30_000, "cap")
        t0 = time.monotonic()
        deadline = t0 + 3.0
        sent = 0
        while time.monotonic() < deadline and sent < len(probe):
            chunk = probe[sent : sent + 256]
            b.run(chunk, None, window=256)
            sent += len(chunk)
        wait_until(lambda: len(b.latencies) + b.stale >= b.sent * 0.99, 5)
        capacity = len(b.latencies) / (time.monotonic() - t0)
        b.close()
        rss_base = rss_kb(pid)

        # twice that, open loop, for 6 s; VmRSS sampled meanwhile
        rate = 2 * capacity
        hist_before = latency_histogram(api, token)
        b = Blaster(d.acct_port)
        packets = b.build(int(rate * 6), "over")
        peak = [rss_base]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                peak[0] = max(peak[0], rss_kb(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        seconds = b.run(packets, rate)
        dropped_at = time.monotonic()
        time.sleep(1.5)  # replies to what was admitted
        sampling.set()
        sampler.join()
        admitted = len(b.latencies)
        over_p99 = p99(b.latencies)
        b.close()
        inside_p99 = histogram_p99(hist_before, latency_histogram(api, token))

        # back to normal within 10 s of the load dropping
        nas = Nas()
        recovered_after = None
        normal: list[float] = []
        try:
            while time.monotonic() - dropped_at < 10 and recovered_after is None:
                normal.clear()
                for i in range(20):
                    t = time.monotonic()
                    reply = nas.exchange(
                        acct("Start", "f0001", f"after-{time.monotonic_ns()}-{i}", None),
                        d.acct_port,
                        tries=1,
                        interval=0.5,
                    )
                    if reply is None:
                        break
                    normal.append(time.monotonic() - t)
                if len(normal) == 20 and max(normal) < 0.25:
                    recovered_after = time.monotonic() - dropped_at
        finally:
            nas.close()
        cap_mb = RSS_CAP_MB
        print(
            f"\noverload: capacity {capacity:.0f} req/s (accounting Start, PostgreSQL); "
            f"offered {rate:.0f} req/s "
            f"for {seconds:.1f} s = {len(packets)} requests, "
            f"admitted {admitted} ({admitted / len(packets):.0%}), "
            f"admitted p99 {over_p99 * 1000:.0f} ms at the client, <= {inside_p99 * 1000:.0f} ms inside the "
            f"daemon (datagram read -> reply sent); "
            f"VmRSS {rss_base // 1024} MB -> peak {peak[0] // 1024} MB "
            f"(cap +{cap_mb} MB; writer_queue_max {queue_max}, dedupe_max_entries {dedupe_max}); "
            f"normal again {None if recovered_after is None else round(recovered_after, 1)} s after the "
            f"load dropped (max latency then {max(normal, default=0) * 1000:.0f} ms)"
        )
        return {
            "capacity": capacity,
            "rate": rate,
            "offered": len(packets),
            "admitted": admitted,
            "p99": over_p99,
            "rss_base_kb": rss_base,
            "rss_peak_kb": peak[0],
            "recovered_after": recovered_after,
            "inside_p99": inside_p99,
        }
    finally:
        assert d.stop() == 0


@pytest.mark.slow
def test_overload_memory_capped_and_back_to_normal_within_10s(overload: dict[str, Any]) -> None:
    o = overload
    assert o["capacity"] > 200, f"capacity {o['capacity']:.0f}/s: the measurement went wrong"
    assert o["admitted"] > o["capacity"], "the daemon admitted less than one second of its capacity"
    grown = o["rss_peak_kb"] - o["rss_base_kb"]
    assert grown < RSS_CAP_MB * 1024, f"VmRSS grew {grown // 1024} MB under overload"
    assert o["recovered_after"] is not None and o["recovered_after"] <= 10, "not back to normal within 10 s"
    # from the datagram read to the reply (the kernel's receive queue excluded)
    assert o["inside_p99"] <= 1.0, f"admitted p99 inside the daemon above {o['inside_p99']} s"


@pytest.mark.slow
def test_overload_admitted_p99_under_1s(overload: dict[str, Any]) -> None:
    """At the client, so the time in the daemon's receive queue counts: accounting requests
    older than ``accounting_max_delay`` are dropped unread and the writer sheds work it cannot
    commit within ``writer_max_wait``, which is what keeps this bound under any overload."""
    assert overload["p99"] < 1.0, f"admitted p99 {overload['p99']:.2f} s at twice capacity"
