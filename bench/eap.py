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

CPU per authentication: the server process's CPU time from /proc/PID/task/*/schedstat (all threads,
nanoseconds) over the
run, divided by the authentications. PAP latency: PAP Access-Requests at a fixed rate from an
asyncio client, p50/p99 with the EAP storm and without.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
    proc_cpu,
    publish,
    radiusd,
    sqlite_url,
    sub1,
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


def storm(port: int, conf: Path, parallel: int, reauths: int, pid: int) -> dict[str, float]:
    """``parallel`` eapol_test processes of ``reauths`` + 1 authentications each; the figures."""
    exe = shutil.which("eapol_test")
    assert exe is not None
    cmd = [exe, "-c", str(conf), "-a", "127.0.0.1", "-p", str(port), "-s", SECRET, "-t", "60"]
    cmd += ["-r", str(reauths)]
    cpu0 = proc_cpu(pid)[1]
    t0 = time.perf_counter()
    pipe = subprocess.PIPE
    procs = [subprocess.Popen(cmd, stdout=pipe, stderr=subprocess.STDOUT, text=True) for _ in range(parallel)]
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
    cpu = proc_cpu(pid)[1] - cpu0
    total = parallel * (reauths + 1)
    return {"auths": total, "ok": ok, "failed_procs": failed, "wall": wall, "rate": ok / wall, "cpu": cpu,
            "cpu_ms": cpu / max(ok, 1) * 1e3}  # fmt: skip


def idle_cpu(pid: int, seconds: float = 3.0) -> float:
    """CPU seconds per second the server spends with no request (timers, polls, heartbeats)."""
    cpu0 = proc_cpu(pid)[1]
    time.sleep(seconds)
    return (proc_cpu(pid)[1] - cpu0) / seconds


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


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1e3


# -- the servers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def radiusd_server(work: Path) -> Iterator[tuple[int, int]]:
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
    )
    os.environ["RADIUSD_CONFIG"] = str(conf)
    os.environ["RADIUSD_REJECT_DELAY"] = "0"
    try:
        with daemon(url, work) as d:
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


def run(args: argparse.Namespace, tmp: str) -> str:
    conf = eapol_conf(Path(tmp) / "peap.conf")
    rows: dict[str, list[dict[str, float]]] = {"radiusd": [], "FreeRADIUS": []}
    pap: dict[str, tuple[list[float], list[float]]] = {}
    fr = freeradius_exe()
    with contextlib.ExitStack() as stack:
        servers = {"radiusd": stack.enter_context(radiusd_server(new_workdir(tmp, "radiusd")))}
        if fr is not None and not args.no_freeradius:
            servers["FreeRADIUS"] = stack.enter_context(freeradius_server(fr, Path(tmp) / "freeradius"))
        idle: dict[str, float] = {}
        for name, (port, pid) in servers.items():
            storm(port, conf, 1, 0, pid)  # warm-up
            idle[name] = idle_cpu(pid)
        for _ in range(args.repeat):  # interleaved: both see the same machine load
            for name, (port, pid) in servers.items():
                rows[name].append(storm(port, conf, args.parallel, args.reauths, pid))
        for name, (port, pid) in servers.items():
            quiet = asyncio.run(pap_latencies(port, args.pap_rate, args.pap_seconds))
            with concurrent_storm(port, conf, args.parallel, pid):
                busy = asyncio.run(pap_latencies(port, args.pap_rate, args.pap_seconds))
            pap[name] = (quiet, busy)
    lines = [
        f"Machine: {os.cpu_count()} cores, shared with other work while this ran (figures are noisy); "
        f"load average at the end {os.getloadavg()[0]:.1f}.",
        f"eapol_test: {args.parallel} processes x {args.reauths + 1} full PEAP-MSCHAPv2 authentications "
        "(TLS 1.2), "
        f"{args.repeat} interleaved rounds; FreeRADIUS {freeradius_version(fr) if fr else 'not installed'}.",
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
    lines += [
        "",
        f"PAP at {args.pap_rate:.0f}/s for {args.pap_seconds:.0f} s, latency in ms (lost = inf):",
        "",
        "| server | quiet p50 | quiet p99 | storm p50 | storm p99 | lost during storm |",
        "|---|---|---|---|---|---|",
    ]
    for name, (quiet, busy) in pap.items():
        lost = sum(1 for v in busy if v == float("inf"))
        lines.append(
            f"| {name} | {pct(quiet, 0.5):.2f} | {pct(quiet, 0.99):.2f} "
            f"| {pct(busy, 0.5):.2f} | {pct(busy, 0.99):.2f} | {lost} |"
        )
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def concurrent_storm(port: int, conf: Path, parallel: int, pid: int) -> Iterator[None]:
    """An EAP storm in a thread while the block runs (PAP measured meanwhile)."""
    import threading

    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            storm(port, conf, parallel, 2, pid)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    time.sleep(1.0)
    try:
        yield
    finally:
        stop.set()
        t.join()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parallel", type=int, default=8, help="eapol_test processes at once (default 8)")
    p.add_argument("--reauths", type=int, default=24, help="eapol_test -r: authentications after the first")
    p.add_argument("--repeat", type=int, default=3, help="interleaved rounds per server")
    p.add_argument("--pap-rate", type=float, default=200.0)
    p.add_argument("--pap-seconds", type=float, default=5.0)
    p.add_argument("--no-freeradius", action="store_true")
    p.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "eap.md")
    args = p.parse_args()
    if shutil.which("eapol_test") is None:
        sys.exit("bench/eap.py: eapol_test is not installed (Debian package eapoltest)")
    with tempfile.TemporaryDirectory(prefix="radiusd-bench-eap-") as tmp:
        text = run(args, tmp)
    publish(args.output, "EAP benchmark (bench/eap.py)", text)


if __name__ == "__main__":
    main()
