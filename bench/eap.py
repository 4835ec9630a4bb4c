"""Full PEAP-MSCHAPv2 authentications per second and daemon CPU per authentication, radiusd
against stock FreeRADIUS 3.2 in the same run; and PAP p99 latency while an EAP storm runs.

The supplicant is wpa_supplicant's ``eapol_test`` (Debian eapoltest): ``--parallel`` processes,
each authenticating ``--reauths`` + 1 times in a row (``-r``), every one a full TLS 1.2
handshake (TLS 1.2: FreeRADIUS 3.2's stock ``tls_max_version``; ``fast_reauth=0`` in the
supplicant's config, and a run stops if any eapol_test reports a resumed session). A run
counts only when every ``eapol_test`` reports ``MPPE keys OK`` for all its authentications.

- radiusd: ``radiusd serve --workers 1`` on SQLite with ``[eap]`` using a certificate from
  ``radiusd eap test-cert`` (RSA 2048) and PEAP as the default method.
- FreeRADIUS: a copy of /etc/freeradius/3.0 in the temp dir (``freeradius -f -d DIR``, never the
  system service): the stock ``eap`` module (snakeoil certificate, RSA 2048; ``default_eap_type
  = md5``, so the peer Naks once to PEAP: one round trip more than radiusd), the stock
  inner-tunnel, the user in ``mods-config/files/authorize``. Changed: paths, no user/group
  switch, listeners on 127.0.0.1 at free ports, the localhost client's secret.

CPU per authentication: the server's CPU time from /proc/PID/task/*/schedstat (all threads and
all child processes: radiusd's EAP process, nanoseconds) over the run, divided by the
authentications. ``--eap-process`` adds a third server, radiusd with ``[eap] process = true``
(the conversations in a process of their own), for an A/B in the same run.
PAP latency: PAP Access-Requests at a fixed rate from an
asyncio client in a process of its own, p50/p99/p99.9 with the EAP storm and without, in
``--pap-repeat`` interleaved rounds per server (quiet, then storm), each round's figures and
all rounds' samples pooled, with the sample counts.

The storms during PAP (``--storm``, see :func:`concurrent_storm`): ``steady``, eapol_test
processes that authenticate again and again, and ``restart``, rounds of new eapol_test
processes (this bench's only storm before). The PAP client runs in a process of its own, so
that this process's handling of the storm (starting eapol_test, reading its output, under one
GIL) cannot add to its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    FR_STOCK,
    SECRET,
    daemon,
    free_udp_port,
    freeradius_exe,
    freeradius_process,
    freeradius_version,
    listeners,
    new_workdir,
    publish,
    radiusd,
    sqlite_url,
    sub1,
    tree_cpu,
)

USER, PASSWORD = "eapbench", "eap-bench-pass"
PAP_USER, PAP_PASSWORD = "papbench", "pap-bench-pass"


def eapol_conf(path: Path) -> Path:
    path.write_text(
        "fast_reauth=0\n"  # every -r reauthentication a full handshake (no TLS resumption)
        'network={\n  ssid="bench"\n  key_mgmt=WPA-EAP\n  eap=PEAP\n'
        f'  identity="{USER}"\n  anonymous_identity="anonymous"\n  password="{PASSWORD}"\n'
        '  phase1="tls_disable_tlsv1_3=1"\n  phase2="auth=MSCHAPV2"\n}\n'
    )
    return path


def _niced(nice: int, cpus: tuple[int, ...] = ()) -> Callable[[], None] | None:
    """A preexec_fn lowering a storm client's priority by ``nice`` and keeping it on ``cpus``
    (None for 0 and no CPUs: as this process)."""
    if nice <= 0 and not cpus:
        return None

    def lower() -> None:
        if nice > 0:
            os.nice(nice)
        if cpus:
            os.sched_setaffinity(0, cpus)

    return lower


def storm(
    port: int, conf: Path, parallel: int, reauths: int, pid: int, nice: int = 0, cpus: tuple[int, ...] = ()
) -> dict[str, float]:
    """``parallel`` eapol_test processes of ``reauths`` + 1 authentications each; the figures."""
    exe = shutil.which("eapol_test")
    assert exe is not None
    cmd = [exe, "-c", str(conf), "-a", "127.0.0.1", "-p", str(port), "-s", SECRET, "-t", "60"]
    cmd += ["-r", str(reauths)]
    cpu0 = tree_cpu(pid)
    t0 = time.perf_counter()
    pipe = subprocess.PIPE
    procs = [
        subprocess.Popen(cmd, stdout=pipe, stderr=subprocess.STDOUT, text=True, preexec_fn=_niced(nice, cpus))
        for _ in range(parallel)
    ]
    ok = 0
    failed = 0
    for proc in procs:
        out, _ = proc.communicate()
        m = re.search(r"MPPE keys OK: (\d+)\s+mismatch: (\d+)", out)
        if "resumed=1" in out:
            raise RuntimeError("a TLS session was resumed: the figures would not be full handshakes")
        if proc.returncode == 0 and m and m.group(2) == "0":
            ok += int(m.group(1))
        else:
            failed += 1
    wall = time.perf_counter() - t0
    cpu = tree_cpu(pid) - cpu0
    total = parallel * (reauths + 1)
    return {"auths": total, "ok": ok, "failed_procs": failed, "wall": wall, "rate": ok / wall, "cpu": cpu,
            "cpu_ms": cpu / max(ok, 1) * 1e3}  # fmt: skip


def idle_cpu(pid: int, seconds: float = 3.0) -> float:
    """CPU seconds per second the server spends with no request (timers, polls, heartbeats)."""
    cpu0 = tree_cpu(pid)
    time.sleep(seconds)
    return (tree_cpu(pid) - cpu0) / seconds


# -- PAP latency ---------------------------------------------------------------------------------


async def pap_latencies(port: int, rate: float, seconds: float) -> list[float]:
    from radiusd.codec.packet import Packet, encode_request

    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    lat: list[float] = []

    class Proto(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            t = sent.pop(data[1], None)
            if t is not None:
                lat.append(time.perf_counter() - t)

    transport, _ = await loop.create_datagram_endpoint(Proto, remote_addr=("127.0.0.1", port))
    try:
        n = int(rate * seconds)
        start = time.perf_counter()
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            ident = i & 0xFF
            pkt = Packet(1, ident, attributes=[(1, PAP_USER.encode())])
            pkt.set_user_password(PAP_PASSWORD.encode(), SECRET.encode())
            sent[ident] = time.perf_counter()
            transport.sendto(encode_request(pkt, SECRET.encode(), message_auth=True))
        await asyncio.sleep(1.0)
    finally:
        transport.close()
    lost = len(sent)
    return lat + [float("inf")] * lost


def pap_client(
    port: int, rate: float, seconds: float, slice_us: int = 0, cpus: tuple[int, ...] = ()
) -> list[float]:
    """:func:`pap_latencies` run by a process of its own (this one starts and reads the storm's
    eapol_test processes: under one GIL, that work would delay the PAP client's replies)."""
    cmd = [sys.executable, __file__, "--pap-client", str(port), "--pap-rate", str(rate)]
    cmd += ["--pap-slice-us", str(slice_us)]
    if cpus:
        cmd = ["taskset", "-c", ",".join(map(str, cpus)), *cmd]
    out = subprocess.run([*cmd, "--pap-seconds", str(seconds)], capture_output=True, text=True, check=True)
    return [math.inf if v is None else float(v) for v in json.loads(out.stdout)]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1e3


@dataclass
class StormCount:
    """What the storm's eapol_test processes did while PAP was measured."""

    auths: int = 0
    failures: int = 0
    seconds: float = 0.0


@contextlib.contextmanager
def concurrent_storm(
    port: int, conf: Path, parallel: int, pid: int, mode: str, nice: int = 0, cpus: tuple[int, ...] = ()
) -> Iterator[StormCount]:
    """An EAP storm while the block runs; the authentications done meanwhile.

    ``steady``: ``parallel`` eapol_test processes started 0.1 s apart, each authenticating again
    and again (``-r``) until the block ends: the storm is the authentications (~70 a second
    here, eapol_test's pace). ``restart`` (this bench's earlier storm): from a thread, rounds of
    ``parallel`` processes started at once, three authentications each (~10-20 a second): each
    round's burst of process start-ups loads both CPUs for tens of milliseconds, which both
    servers' PAP figures then show. ``nice``: the storm's processes run that much nicer, so
    they take the CPU the server leaves (as supplicants on other machines would); ``cpus``: they
    run on those CPUs only."""
    if mode == "restart":
        with _restarting_storm(port, conf, parallel, pid, nice, cpus) as count:
            yield count
        return
    exe = shutil.which("eapol_test")
    assert exe is not None
    cmd = [
        exe,
        "-c",
        str(conf),
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-s",
        SECRET,
        "-t",
        "3600",
        "-r",
        "1000000",
    ]
    logs = [conf.with_name(f"storm-{port}-{time.monotonic_ns()}-{i}.log") for i in range(parallel)]
    procs: list[subprocess.Popen[bytes]] = []
    count = StormCount()
    try:
        for log in logs:
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_niced(nice, cpus))
                )
            time.sleep(0.1)
        time.sleep(1.0)
        before = _storm_marks(logs)
        t0 = time.perf_counter()
        yield count
        count.seconds = time.perf_counter() - t0
        after = _storm_marks(logs)
        count.auths, count.failures = after[0] - before[0], after[1] - before[1]
        if after[2]:
            raise RuntimeError("a TLS session was resumed: the storm would not be full handshakes")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
        for log in logs:
            log.unlink(missing_ok=True)


def _storm_marks(logs: list[Path]) -> tuple[int, int, int]:
    """Authentications succeeded and failed, sessions resumed, in eapol_test's output so far."""
    text = "".join(log.read_text(errors="replace") for log in logs)
    return (
        text.count("CTRL-EVENT-EAP-SUCCESS"),
        text.count("CTRL-EVENT-EAP-FAILURE"),
        text.count("resumed=1"),
    )


@contextlib.contextmanager
def _restarting_storm(
    port: int, conf: Path, parallel: int, pid: int, nice: int, cpus: tuple[int, ...]
) -> Iterator[StormCount]:
    import threading

    stop, inside = threading.Event(), threading.Event()
    count = StormCount()

    def loop() -> None:
        while not stop.is_set():
            r = storm(port, conf, parallel, 2, pid, nice, cpus)
            if inside.is_set():
                count.auths += int(r["ok"])
                count.failures += int(r["auths"] - r["ok"])

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    time.sleep(1.0)
    inside.set()
    t0 = time.perf_counter()
    try:
        yield count
    finally:
        count.seconds = time.perf_counter() - t0
        inside.clear()
        stop.set()
        t.join()


EAP_PROCESS = "radiusd, EAP in a process of its own"
PINNED = "radiusd, EAP process on its own CPU"
THREAD_PINNED = "radiusd, TLS thread on its own CPU"

# -- the servers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def radiusd_server(
    work: Path, probe: Path | None = None, eap_process: bool = False, extra: str = "", cpus: str = ""
) -> Iterator[tuple[int, int]]:
    """radiusd with PEAP; ``cpus``: the daemon runs there (taskset -c), for ``--pin``."""
    url = sqlite_url(work)
    radiusd(url, "db", "upgrade")
    radiusd(url, "nas", "add", "bench", "--address", "127.0.0.1", "--secret", SECRET)
    radiusd(url, "plan", "add", "wifi")
    radiusd(url, "subscriber", "add", USER, "--password", PASSWORD, "--plan", "wifi")
    radiusd(url, "subscriber", "add", PAP_USER, "--password", PAP_PASSWORD, "--plan", "wifi")
    pki = work / "pki"
    radiusd(url, "eap", "test-cert", "--out", str(pki))
    conf = work / "radiusd.toml"
    conf.write_text(
        f'[eap]\ncert = "{pki / "server.pem"}"\nkey = "{pki / "server.key"}"\nmethods = ["peap", "ttls"]\n'
        + ("process = true\n" if eap_process else "")
        + extra
    )
    os.environ["RADIUSD_CONFIG"] = str(conf)
    os.environ["RADIUSD_REJECT_DELAY"] = "0"
    try:
        launcher: tuple[str, ...] = ("taskset", "-c", cpus, "radiusd") if cpus else ("radiusd",)
        if probe is not None:  # bench/eap_probe.py: where the event loop's time goes
            launcher = (
                sys.executable,
                str(Path(__file__).with_name("eap_probe.py")),
                "--out",
                str(probe),
                "--",
            )
        with daemon(url, work, launcher=launcher) as d:
            yield d.auth_port, d.pid
    finally:
        os.environ.pop("RADIUSD_CONFIG", None)


@contextlib.contextmanager
def freeradius_server(exe: str, conf: Path) -> Iterator[tuple[int, int]]:
    shutil.copytree(FR_STOCK, conf, symlinks=True)
    for sub in ("log", "run"):
        (conf / sub).mkdir()
    rc = conf / "radiusd.conf"
    text = rc.read_text()
    text = sub1(r"^raddbdir = .*$", f"raddbdir = {conf}", text, "radiusd.conf")
    text = sub1(r"^logdir = .*$", f"logdir = {conf / 'log'}", text, "radiusd.conf")
    text = sub1(r"^run_dir = .*$", f"run_dir = {conf / 'run'}", text, "radiusd.conf")
    text = sub1(r"^(\s*)user = freerad$", r"\g<1>#user = freerad", text, "radiusd.conf")
    text = sub1(r"^(\s*)group = freerad$", r"\g<1>#group = freerad", text, "radiusd.conf")
    rc.write_text(text)
    auth, acct, inner = free_udp_port(), free_udp_port(), free_udp_port()
    for site, ports in (("default", {"auth": auth, "acct": acct}), ("inner-tunnel", {"auth": inner})):
        path = conf / "sites-available" / site
        path.write_text(listeners(path.read_text(), ports, f"sites-available/{site}"))
    clients = conf / "clients.conf"
    text = sub1(
        r"^(\s*)secret = testing123$", rf"\g<1>secret = {SECRET}", clients.read_text(), "clients.conf"
    )
    clients.write_text(text)
    authorize = conf / "mods-config" / "files" / "authorize"
    authorize.unlink()  # a symlink to ../users in the stock tree: write a private file
    authorize.write_text(
        f'{USER} Cleartext-Password := "{PASSWORD}"\n{PAP_USER} Cleartext-Password := "{PAP_PASSWORD}"\n'
    )
    with freeradius_process(exe, conf, conf / "log" / "radius.log", conf / "log" / "stdout.log") as pid:
        yield auth, pid


# -- report --------------------------------------------------------------------------------------


def start_servers(
    args: argparse.Namespace, stack: contextlib.ExitStack, tmp: str, fr: str | None, last_cpu: int
) -> dict[str, tuple[int, int]]:
    """The servers the arguments ask for, by name: (authentication port, pid)."""
    probe = Path(tmp) / "probe.json" if args.probe else None
    servers = {"radiusd": stack.enter_context(radiusd_server(new_workdir(tmp, "radiusd"), probe))}
    if args.eap_process:
        servers[EAP_PROCESS] = stack.enter_context(
            radiusd_server(new_workdir(tmp, "radiusd-eap-process"), eap_process=True)
        )
    if args.pin:
        servers[PINNED] = stack.enter_context(
            radiusd_server(
                new_workdir(tmp, "radiusd-pinned"), eap_process=True,
                extra=f'tls_cpus = "{last_cpu}"\n', cpus="0",
            )
        )  # fmt: skip
    if args.pin_threads:
        servers[THREAD_PINNED] = stack.enter_context(
            radiusd_server(
                new_workdir(tmp, "radiusd-thread-pinned"), extra=f'tls_cpus = "{last_cpu}"\n', cpus="0"
            )
        )
    if fr is not None and not args.no_freeradius:
        servers["FreeRADIUS"] = stack.enter_context(freeradius_server(fr, Path(tmp) / "freeradius"))
    return servers


def run(args: argparse.Namespace, tmp: str) -> str:
    conf = eapol_conf(Path(tmp) / "peap.conf")
    rows: dict[str, list[dict[str, float]]] = {}
    pap: dict[str, list[tuple[list[float], list[float], StormCount]]] = {}
    fr = freeradius_exe()
    last_cpu = max(os.sched_getaffinity(0))
    placed = args.pin or args.pin_threads
    storm_cpus = (last_cpu,) if placed else ()
    pap_cpus = (0,) if placed else ()
    with contextlib.ExitStack() as stack:
        servers = start_servers(args, stack, tmp, fr, last_cpu)
        idle: dict[str, float] = {}
        for name, (port, pid) in servers.items():
            storm(port, conf, 1, 0, pid)  # warm-up
            idle[name] = idle_cpu(pid)
        for _ in range(args.repeat):  # interleaved: both see the same machine load
            for name, (port, pid) in servers.items():
                rows.setdefault(name, []).append(storm(port, conf, args.parallel, args.reauths, pid))
        for _ in range(args.pap_repeat):  # interleaved, like the CPU rounds
            for mode in args.storm:
                for name, (port, pid) in servers.items():
                    quiet = pap_client(port, args.pap_rate, args.pap_seconds, args.pap_slice_us, pap_cpus)
                    with concurrent_storm(
                        port, conf, args.parallel, pid, mode, args.storm_nice, storm_cpus
                    ) as count:
                        busy = pap_client(port, args.pap_rate, args.pap_seconds, args.pap_slice_us, pap_cpus)
                    pap.setdefault(f"{name}, {mode} storm", []).append((quiet, busy, count))
    lines = [
        f"Machine: {os.cpu_count()} cores, shared with other work while this ran (figures are noisy); "
        f"load average at the end {os.getloadavg()[0]:.1f}.",
        f"eapol_test: {args.parallel} processes x {args.reauths + 1} full PEAP-MSCHAPv2 authentications "
        "(TLS 1.2), "
        f"{args.repeat} interleaved rounds; FreeRADIUS {freeradius_version(fr) if fr else 'not installed'}; "
        f"storm clients during the PAP rounds at nice {args.storm_nice}; PAP client CPU slice "
        f"{f'{args.pap_slice_us} µs' if args.pap_slice_us else 'the kernel default'}; radiusd with "
        "its default sched_slice_us (100 µs)." + (placement(args, last_cpu) if placed else ""),
        "",
        "auth/s is bound by eapol_test (its state machine's timers), not by the servers. CPU: the",
        "server process over the round; 'minus idle' subtracts what it spends idle over the same",
        "time (radiusd: change-feed poll, node heartbeat; FreeRADIUS: its timers).",
        "",
        "| server | round | auths OK | failed eapol_test | auth/s | CPU ms/auth | CPU ms/auth minus idle |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in rows.items():
        for i, r in enumerate(runs, 1):
            r["net_ms"] = (r["cpu"] - idle[name] * r["wall"]) / max(r["ok"], 1) * 1e3
            lines.append(
                f"| {name} | {i} | {r['ok']:.0f}/{r['auths']:.0f} | {r['failed_procs']:.0f} "
                f"| {r['rate']:.1f} "
                f"| {r['cpu_ms']:.2f} | {r['net_ms']:.2f} |"
            )
    lines += ["", "Idle CPU: " + ", ".join(f"{n} {v * 1e3:.1f} ms/s" for n, v in idle.items()) + "."]
    med = {n: statistics.median(r["net_ms"] for r in runs) for n, runs in rows.items() if runs}
    if "FreeRADIUS" in med:
        ratio = med["radiusd"] / med["FreeRADIUS"]
        lines += [
            "",
            f"Median CPU per full authentication (minus idle): radiusd {med['radiusd']:.2f} ms, "
            f"FreeRADIUS {med['FreeRADIUS']:.2f} ms: ratio {ratio:.2f} (target at most 1.2).",
        ]
        for other in (EAP_PROCESS, PINNED, THREAD_PINNED):
            if other in med:
                lines.append(f"{other}: {med[other]:.2f} ms, ratio {med[other] / med['FreeRADIUS']:.2f}.")
    lines += pap_report(args, pap)
    if args.probe:
        from bench.eap_probe import summary

        lines += [
            "",
            "radiusd under bench/eap_probe.py (the whole run: CPU rounds, quiet and storm PAP):",
            "",
        ]
        lines += summary(Path(tmp) / "probe.json")
    return "\n".join(lines) + "\n"


def placement(args: argparse.Namespace, last_cpu: int) -> str:
    """Where --pin and --pin-threads put the clients and the pinned servers."""
    where = [
        f" Placement, for every server's PAP rounds: storm clients on CPU {last_cpu}, the PAP client on CPU 0"
    ]
    if args.pin:
        where.append(f"{PINNED!r}: the daemon on CPU 0 (taskset -c 0), its EAP process on CPU {last_cpu}")
    if args.pin_threads:
        where.append(f"{THREAD_PINNED!r}: the daemon on CPU 0, its TLS thread on CPU {last_cpu}")
    return "; ".join(where) + f' ([eap] tls_cpus = "{last_cpu}"); the other servers on every CPU.'


def pap_report(
    args: argparse.Namespace, pap: dict[str, list[tuple[list[float], list[float], StormCount]]]
) -> list[str]:
    lines = [
        "",
        f"PAP at {args.pap_rate:.0f}/s for {args.pap_seconds:.0f} s per measurement, from a process of "
        f"its own; {args.pap_repeat} interleaved rounds per server (quiet, then with the storm); latency "
        "in ms, lost = inf. Storm auth/s: the authentications the eapol_test processes completed "
        "during the PAP measurement.",
        "",
        "| server | round | quiet n | quiet p50 | quiet p99 | quiet p99.9 | storm n | storm p50 | storm p99 "
        "| storm p99.9 | lost | storm auth/s | storm failures |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rounds in pap.items():
        pooled: tuple[list[float], list[float]] = ([], [])
        for i, (quiet, busy, count) in enumerate(rounds, 1):
            pooled[0].extend(quiet)
            pooled[1].extend(busy)
            lines.append(_pap_row(name, str(i), quiet, busy, count))
        total = StormCount(
            sum(c.auths for _, _, c in rounds), sum(c.failures for _, _, c in rounds),
            sum(c.seconds for _, _, c in rounds),
        )  # fmt: skip
        lines.append(_pap_row(name, "all", *pooled, total))
    for name, rounds in pap.items():
        quiet = [v for q, _, _ in rounds for v in q]
        busy = [v for _, b, _ in rounds for v in b]
        ratio = pct(busy, 0.99) / pct(quiet, 0.99)
        lines.append(
            f"\n{name}: PAP p99 during the storm / quiet, all rounds: {ratio:.2f} (target at most 2)."
        )
    return lines


def _pap_row(name: str, label: str, quiet: list[float], busy: list[float], count: StormCount) -> str:
    lost = sum(1 for v in busy if v == math.inf)
    rate = count.auths / count.seconds if count.seconds else 0.0
    return (
        f"| {name} | {label} | {len(quiet)} | {pct(quiet, 0.5):.2f} | {pct(quiet, 0.99):.2f} "
        f"| {pct(quiet, 0.999):.2f} "
        f"| {len(busy)} | {pct(busy, 0.5):.2f} | {pct(busy, 0.99):.2f} | {pct(busy, 0.999):.2f} | {lost} "
        f"| {rate:.1f} | {count.failures} |"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parallel", type=int, default=8, help="eapol_test processes at once (default 8)")
    p.add_argument("--reauths", type=int, default=24, help="eapol_test -r: authentications after the first")
    p.add_argument("--repeat", type=int, default=3, help="interleaved rounds per server")
    p.add_argument("--pap-rate", type=float, default=200.0, help="PAP requests per second (default 200)")
    p.add_argument("--pap-seconds", type=float, default=20.0, help="seconds per PAP measurement (default 20)")
    p.add_argument("--pap-repeat", type=int, default=3, help="interleaved PAP rounds per server (default 3)")
    p.add_argument(
        "--storm", type=lambda v: v.split(","), default=["steady", "restart"],
        help="storms during PAP: steady (long-lived eapol_test), restart (rounds of new ones); default both",
    )  # fmt: skip
    p.add_argument("--pap-client", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the PAP process
    p.add_argument(
        "--storm-nice",
        type=int,
        default=0,
        help="nice value of the storm's eapol_test processes during the PAP rounds (19: they only "
        "take CPU the servers leave, as supplicants on other machines would; default 0)",
    )
    p.add_argument(
        "--pap-slice-us",
        type=int,
        default=0,
        help="CPU slice of the PAP client (µs, radiusd.cpuslice): a NAS on another machine does not "
        "wait for this one's CPUs; default 0, the kernel's own",
    )
    p.add_argument("--no-freeradius", action="store_true")
    p.add_argument(
        "--eap-process", action="store_true", help=f"also {EAP_PROCESS!r}: [eap] process = true (A/B)"
    )
    p.add_argument(
        "--pin",
        action="store_true",
        help=f"also {PINNED!r} (daemon on CPU 0, [eap] tls_cpus = the last CPU), and in the PAP "
        "rounds the storm clients on the last CPU, the PAP client on CPU 0, for every server",
    )
    p.add_argument(
        "--pin-threads",
        action="store_true",
        help=f"also {THREAD_PINNED!r} (daemon on CPU 0, TLS thread on the last CPU: [eap] tls_cpus "
        "with process = false); clients placed as with --pin",
    )
    p.add_argument(
        "--probe", action="store_true", help="radiusd under bench/eap_probe.py (its figures, not CPU)"
    )
    p.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "eap.md")
    args = p.parse_args()
    if args.pap_client:
        if args.pap_slice_us:  # the client stands in for a NAS on another machine
            from radiusd.cpuslice import set_slice

            set_slice(args.pap_slice_us)
        lat = asyncio.run(pap_latencies(args.pap_client, args.pap_rate, args.pap_seconds))
        print(json.dumps([None if v == math.inf else v for v in lat]))
        return
    if shutil.which("eapol_test") is None:
        sys.exit("bench/eap.py: eapol_test is not installed (Debian package eapoltest)")
    with tempfile.TemporaryDirectory(prefix="radiusd-bench-eap-") as tmp:
        text = run(args, tmp)
    publish(args.output, "EAP benchmark (bench/eap.py)", text)


if __name__ == "__main__":
    main()
