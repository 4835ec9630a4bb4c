"""Shared pieces of the daemon benchmarks: a seeded database, the daemon started as users
start it, CPU accounting from /proc, and radclient request files.

Everything goes through the installed ``radiusd`` command (no imports of the store), so a
benchmark measures what an operator would run.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SECRET = "benchsecret"
PLAN = "bench"
RATE_LIMIT = "10M/20M"
INTERIM_INTERVAL = 300
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_TICK = os.sysconf("SC_CLK_TCK")


def radiusd(url: str, *args: str) -> str:
    """Run one ``radiusd --database URL ...`` admin command; its stdout."""
    done = subprocess.run(["radiusd", "--database", url, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"radiusd {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


def username(i: int) -> str:
    return f"user{i:05d}"


def password(i: int) -> str:
    return f"pw-{i:05d}-secret"


def calling_station_id(i: int) -> str:
    """Subscriber ``i``'s MAC address, as its NAS reports it in Calling-Station-Id."""
    return f"02:00:00:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}"


def seed(url: str, workdir: Path, subscribers: int) -> float:
    """Plan, NAS at 127.0.0.1 and ``subscribers`` cleartext subscribers; import seconds."""
    radiusd(url, "plan", "add", PLAN, "--rate-limit", RATE_LIMIT, "--interim-interval", str(INTERIM_INTERVAL))
    radiusd(url, "nas", "add", "bench", "--address", "127.0.0.1", "--secret", SECRET)
    users = workdir / "users.csv"
    with users.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["username", "password", "plan"])
        for i in range(subscribers):
            w.writerow([username(i), password(i), PLAN])
    t0 = time.perf_counter()
    radiusd(url, "subscriber", "import", str(users))
    return time.perf_counter() - t0


def write_pap_file(path: Path, first: int, count: int) -> None:
    """One PAP Access-Request per subscriber, as a MikroTik PPPoE NAS sends it; blank-line separated.

    ``Message-Authenticator = 0x00`` makes radclient compute the real one (BlastRADIUS).
    """
    parts = []
    for i in range(first, first + count):
        parts.append(
            f'User-Name = "{username(i)}"\n'
            f'User-Password = "{password(i)}"\n'
            "NAS-IP-Address = 127.0.0.1\n"
            f"NAS-Port = {i}\n"
            "Service-Type = Framed-User\n"
            "Framed-Protocol = PPP\n"
            f'Calling-Station-Id = "{calling_station_id(i)}"\n'
            "Message-Authenticator = 0x00\n"
        )
    path.write_text("\n".join(parts))


# -- work folders and results -------------------------------------------------------------------


def new_workdir(tmp: str | Path, name: str) -> Path:
    """A new folder ``name`` in the temporary folder ``tmp`` (one per backend run)."""
    work = Path(tmp) / name
    work.mkdir()
    return work


def publish(output: Path, heading: str, text: str) -> None:
    """Print a benchmark's results and write them to ``output`` under a Markdown ``heading``."""
    print(text)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(f"# {heading}\n\n" + text)


# -- databases ----------------------------------------------------------------------------------


def sqlite_url(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432 (dropped afterwards); its SQLAlchemy URL."""
    name = f"radiusd_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", f"CREATE DATABASE {name}"], check=True)
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        subprocess.run(["psql", PG_ADMIN_URL, "-qc", drop], check=False)


# -- the daemon ---------------------------------------------------------------------------------


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    auth_port: int
    acct_port: int

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL when it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def freeradius_process(exe: str, conf: Path, log: Path, stdout_log: Path) -> Iterator[int]:
    """``freeradius -f -d CONF`` until the block ends; its pid once ``log`` says it is ready."""
    out = stdout_log.open("wb")
    proc = subprocess.Popen([exe, "-f", "-d", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and "Ready to process requests" in log.read_text(errors="replace")):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (log.read_text(errors="replace") if log.exists() else "")[-3000:]
                tail += stdout_log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"freeradius did not start:\n{tail}")
            time.sleep(0.1)
        yield proc.pid
    finally:
        stop_process(proc)
        out.close()


# -- stock FreeRADIUS 3.2 (Debian freeradius, freeradius-postgresql) ---------------------------------


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def freeradius_exe() -> str | None:
    return shutil.which("freeradius") or shutil.which("freeradius", path="/usr/sbin:/sbin")


def freeradius_version(exe: str) -> str:
    out = subprocess.run([exe, "-v"], capture_output=True, text=True, check=False).stdout
    first = out.splitlines()[0] if out else ""
    return first.split("Version", 1)[1].split(",")[0].strip() if "Version" in first else "?"


def load_sql(url: str, path: Path) -> None:
    """Run the SQL file ``path`` (e.g. one of FreeRADIUS's schemas) in the database at ``url``."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    cmd = ["psql", dsn, "-q", "-v", "ON_ERROR_STOP=1", "-f", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)


FR_STOCK = Path("/etc/freeradius/3.0")
FR_SCHEMA = FR_STOCK / "mods-config" / "sql" / "main" / "postgresql" / "schema.sql"
FR_DRIVER = Path("/usr/lib/freeradius/rlm_sql_postgresql.so")


def sub1(pattern: str, repl: str, text: str, what: str) -> str:
    """``re.sub`` of exactly one line of a stock FreeRADIUS file (fails loudly if the file changed)."""
    new, n = re.subn(pattern, repl, text, count=1, flags=re.M)
    if n != 1:
        raise RuntimeError(f"FreeRADIUS config: {what}: pattern {pattern!r} not found")
    return new


def listeners(text: str, ports: dict[str, int], what: str) -> str:
    """A stock site's top-level ``listen`` sections bound to 127.0.0.1 on ``ports`` (type -> port);
    the IPv6 (``ipv6addr = ::``) ones dropped."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    seen: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("listen {"):
            out.append(lines[i])
            i += 1
            continue
        depth, j = 0, i
        while True:
            code = lines[j].split("#", 1)[0]
            depth += code.count("{") - code.count("}")
            j += 1
            if depth == 0:
                break
        block, i = "".join(lines[i:j]), j
        if re.search(r"^\s*ipv6addr\s*=", block, re.M):
            continue
        kind = re.search(r"^\s*type\s*=\s*(\w+)", block, re.M)
        if kind is None or kind.group(1) not in ports:
            raise RuntimeError(f"FreeRADIUS config: {what}: unexpected listen section:\n{block}")
        seen.append(kind.group(1))
        block = re.sub(r"^(\s*)ipaddr\s*=.*$", r"\g<1>ipaddr = 127.0.0.1", block, flags=re.M)
        block = re.sub(r"^(\s*)port\s*=.*$", rf"\g<1>port = {ports[kind.group(1)]}", block, flags=re.M)
        out.append(block)
    if sorted(seen) != sorted(ports):
        raise RuntimeError(f"FreeRADIUS config: {what}: listen sections {seen}, expected {sorted(ports)}")
    return "".join(out)


def freeradius_config(conf: Path, dbname: str, acct_port: int) -> int:
    """The stock /etc/freeradius/3.0 copied to ``conf`` with rlm_sql on PostgreSQL enabled; the auth port.

    Changed from stock, all in the private copy: paths (raddbdir, logdir, run_dir) inside
    ``conf``; no ``user``/``group`` switch (the files belong to whoever runs the bench); the
    default site's listeners on 127.0.0.1 at ports from the OS (IPv6 ones dropped) and the
    inner-tunnel's on another; the localhost client's secret; the sql module's dialect,
    driver, server, port, login and database, and the module enabled. Everything else
    (queries, pool, thread pool, the default site's accounting section) is stock.
    """
    shutil.copytree(FR_STOCK, conf, symlinks=True)
    for sub in ("log", "run"):
        (conf / sub).mkdir()
    radiusd_conf = conf / "radiusd.conf"
    text = radiusd_conf.read_text()
    text = sub1(r"^raddbdir = .*$", f"raddbdir = {conf}", text, "radiusd.conf")
    text = sub1(r"^logdir = .*$", f"logdir = {conf / 'log'}", text, "radiusd.conf")
    text = sub1(r"^run_dir = .*$", f"run_dir = {conf / 'run'}", text, "radiusd.conf")
    text = sub1(r"^(\s*)user = freerad$", r"\g<1>#user = freerad", text, "radiusd.conf")
    text = sub1(r"^(\s*)group = freerad$", r"\g<1>#group = freerad", text, "radiusd.conf")
    radiusd_conf.write_text(text)

    auth_port, inner_port = free_udp_port(), free_udp_port()
    for site, ports in (
        ("default", {"auth": auth_port, "acct": acct_port}),
        ("inner-tunnel", {"auth": inner_port}),
    ):
        path = conf / "sites-available" / site
        path.write_text(listeners(path.read_text(), ports, f"sites-available/{site}"))

    clients = conf / "clients.conf"
    clients.write_text(
        sub1(r"^(\s*)secret = testing123$", rf"\g<1>secret = {SECRET}", clients.read_text(), "clients.conf")
    )

    sql = conf / "mods-available" / "sql"
    text = sql.read_text()
    text = sub1(r'^\tdialect = "sqlite"$', '\tdialect = "postgresql"', text, "sql")
    text = sub1(r'^\tdriver = "rlm_sql_null"$', '\tdriver = "rlm_sql_${dialect}"', text, "sql")
    text = sub1(r'^#\tserver = "localhost"$', '\tserver = "127.0.0.1"', text, "sql")
    text = sub1(r"^#\tport = 3306$", "\tport = 5432", text, "sql")
    text = sub1(r'^#\tlogin = "radius"$', '\tlogin = "postgres"', text, "sql")
    text = sub1(r'^\tradius_db = "radius"$', f'\tradius_db = "{dbname}"', text, "sql")
    sql.write_text(text)
    (conf / "mods-enabled" / "sql").symlink_to("../mods-available/sql")
    return auth_port


def freeradius_server(exe: str, conf: Path) -> contextlib.AbstractContextManager[int]:
    """``freeradius -f -d CONF`` until the block ends; its pid once it is ready."""
    return freeradius_process(exe, conf, conf / "log" / "radius.log", conf / "log" / "stdout.log")


@contextlib.contextmanager
def daemon(
    url: str,
    workdir: Path,
    log_level: str = "warning",
    extra_args: Sequence[str] = (),
    log_name: str = "daemon.log",
    launcher: Sequence[str] = ("radiusd",),
    start_timeout: float = 60.0,
) -> Iterator[Daemon]:
    """``radiusd serve`` on 127.0.0.1 with ephemeral ports, learned from RADIUSD_READY_FILE
    (``extra_args`` appended to ``serve``'s; output to ``workdir / log_name``; ``launcher``
    replaces the ``radiusd`` command, e.g. with bench/traced_radiusd.py)."""
    ready = workdir / f"ready-{uuid.uuid4().hex[:6]}.json"
    env = dict(os.environ, RADIUSD_READY_FILE=str(ready), RADIUSD_LOG_LEVEL=log_level)
    log = (workdir / log_name).open("ab")
    # one process: the CPU figures read this pid (workers_bench.py compares --workers 1 and 2)
    serve = ["serve", "--bind", "127.0.0.1", "--auth-port", "0", "--acct-port", "0", "--workers", "1"]
    serve += extra_args
    proc = subprocess.Popen(
        [*launcher, "--database", url, *serve],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + start_timeout
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"daemon did not start; see {workdir / log_name}")
            time.sleep(0.05)
        time.sleep(0.05)  # the file is written in one call; let it land
        bound = json.loads(ready.read_text())
        d = Daemon(proc, bound["auth"][0][1], bound["acct"][0][1])
        yield d
    finally:
        if proc.poll() is None:
            Daemon(proc, 0, 0).stop()
        log.close()


# -- CPU accounting -----------------------------------------------------------------------------


def proc_cpu(pid: int) -> tuple[float, float]:
    """(seconds from /proc/PID/stat utime+stime, all threads, tick resolution;
    seconds from the threads' schedstat, nanosecond resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            ns += int((task / "schedstat").read_text().split()[0])
    return ticks / _TICK, ns / 1e9


def tree_cpu(pid: int) -> float:
    """Seconds from the schedstat of PID's threads and of every descendant's (a daemon's EAP
    process is its child), nanosecond resolution."""
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += proc_cpu(p)[1]
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(FileNotFoundError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return total


def children_cpu() -> float:
    """User+system seconds of waited-for children (radclient runs)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# -- radclient ----------------------------------------------------------------------------------


@dataclass
class RadclientRun:
    requests: int
    wall: float
    accepted: int
    rejected: int
    lost: int
    radclient_cpu: float
    daemon_cpu_stat: float
    daemon_cpu_sched: float
    output: str

    @property
    def rate(self) -> float:
        return self.requests / self.wall

    @property
    def daemon_us(self) -> float:
        return self.daemon_cpu_sched / self.requests * 1e6

    @property
    def daemon_us_stat(self) -> float:
        return self.daemon_cpu_stat / self.requests * 1e6

    @property
    def radclient_us(self) -> float:
        return self.radclient_cpu / self.requests * 1e6


def radclient_exe() -> str:
    exe = shutil.which("radclient")
    if exe is None:
        raise RuntimeError("radclient not found (Debian package freeradius-utils)")
    return exe


def _count(text: str, label: str) -> int:
    m = re.search(rf"{label}\s*:\s*(\d+)", text)
    return int(m.group(1)) if m else -1


def _run_captured(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def run_radclient(
    file: Path, requests: int, port: int, pid: int, parallel: int = 128, kind: str = "auth"
) -> RadclientRun:
    """``radclient -q -p N -s -f FILE 127.0.0.1:PORT auth SECRET``, timed, with both sides' CPU."""
    return run_radclients([(file, requests, port)], [pid], parallel, kind)


def run_radclients(
    jobs: Sequence[tuple[Path, int, int]],
    pids: Sequence[int],
    parallel: int = 128,
    kind: str = "auth",
    quiet: bool = True,
) -> RadclientRun:
    """One ``radclient -q -p N -s -f FILE 127.0.0.1:PORT KIND SECRET`` per job (file, requests,
    port), all started at once; wall time until the last one ends, the servers ``pids``' CPU
    (summed) across that time, counts summed, outputs joined in job order. Not ``quiet``:
    ``-x`` instead of ``-q`` (every reply printed with its attributes)."""
    cmds = []
    for file, _, port in jobs:
        cmd = [radclient_exe(), "-q" if quiet else "-x", "-p", str(parallel), "-s", "-f", str(file)]
        cmds.append([*cmd, f"127.0.0.1:{port}", kind, SECRET])
    c0 = children_cpu()
    before = [proc_cpu(pid) for pid in pids]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(cmds)) as pool:
        done = list(pool.map(_run_captured, cmds))
    wall = time.perf_counter() - t0
    after = [proc_cpu(pid) for pid in pids]
    c1 = children_cpu()
    outs = [d.stdout + d.stderr for d in done]
    return RadclientRun(
        requests=sum(requests for _, requests, _ in jobs),
        wall=wall,
        accepted=sum(_count(out, "Accepted") for out in outs),
        rejected=sum(_count(out, "Rejected") for out in outs),
        lost=sum(_count(out, "Lost") for out in outs),
        radclient_cpu=c1 - c0,
        daemon_cpu_stat=sum(a[0] - b[0] for a, b in zip(after, before, strict=True)),
        daemon_cpu_sched=sum(a[1] - b[1] for a, b in zip(after, before, strict=True)),
        output="\n".join(outs),
    )
