"""``radiusd loadtest`` (the installed script) against bench/trivial_responder.py.

The responder is independent of our codec (stdlib hashlib/hmac only) and can reject every
Nth Access-Request, drop every Nth datagram, or drop the first copy of every datagram so that
only byte-identical retransmissions are answered; on SIGTERM it writes its counters.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import HOST, radiusd_script

ROOT = Path(__file__).resolve().parents[2]
RESPONDER = ROOT / "bench" / "trivial_responder.py"
SECRET = "load-secret"
KINDS = ("access", "accounting_start", "accounting_interim", "accounting_stop")
KEYS = {"requests", "requests_per_second", "p50_ms", "p95_ms", "p99_ms", "max_ms", "timeouts", "rejects"}


class Responder:
    def __init__(self, workdir: Path, *args: str) -> None:
        self.ready = workdir / "responder-ready.json"
        self.summary = workdir / "responder-summary.json"
        cmd = [sys.executable, str(RESPONDER), "--host", HOST, "--port", "0", "--acct-port", "0"]
        cmd += ["--secret", SECRET, "--ready-file", str(self.ready), "--summary-file", str(self.summary)]
        self.proc = subprocess.Popen(
            [*cmd, *args],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.ready.exists():
            assert self.proc.poll() is None, "the responder exited at start"
            assert time.monotonic() < deadline, "the responder is not ready"
            time.sleep(0.02)
        ports = json.loads(self.ready.read_text())
        self.auth, self.acct = int(ports["auth"]), int(ports["acct"])

    def stop(self) -> dict[str, int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        counts: dict[str, int] = json.loads(self.summary.read_text())
        return counts


@pytest.fixture
def responder(tmp_path: Path) -> Iterator[Callable[..., Responder]]:
    started: list[Responder] = []

    def start(*args: str) -> Responder:
        r = Responder(tmp_path, *args)
        started.append(r)
        return r

    yield start
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


@pytest.fixture
def users(tmp_path: Path) -> Path:
    path = tmp_path / "users.csv"
    path.write_text("username,password,plan\n" + "".join(f"user{i},pw{i},gold\n" for i in range(100)))
    return path


def loadtest(
    r: Responder, users: Path, *args: str, json_out: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = [radiusd_script(), "loadtest", "--server", f"{HOST}:{r.auth}", "--acct-port", str(r.acct)]
    cmd += ["--secret", SECRET, "--users", str(users), *args]
    if json_out:
        cmd.append("--json")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    assert list(data) == list(KINDS)
    for values in data.values():
        assert set(values) >= KEYS
    return data


def total(data: dict[str, Any], key: str) -> int:
    return sum(int(v[key]) for v in data.values())


def test_whole_sessions_counted_per_packet_type(responder: Callable[..., Responder], users: Path) -> None:
    r = responder()
    data = report(loadtest(r, users, "--sessions", "300", "--interims", "2", "--auth", "chap"))
    assert [data[k]["requests"] for k in KINDS] == [300, 300, 600, 300]
    for k in KINDS:
        assert data[k]["responses"] == data[k]["requests"]
        assert data[k]["timeouts"] == data[k]["rejects"] == data[k]["retransmissions"] == 0
        assert 0 < data[k]["p50_ms"] <= data[k]["p95_ms"] <= data[k]["p99_ms"] <= data[k]["max_ms"]
        assert data[k]["requests_per_second"] > 0
    counts = r.stop()
    assert counts["received"] == counts["answered"] == 1500


def test_rejects_end_the_session(responder: Callable[..., Responder], users: Path) -> None:
    r = responder("--reject-every", "4")
    data = report(loadtest(r, users, "--sessions", "200", "--interims", "1", "--auth", "mschapv2"))
    assert data["access"]["requests"] == 200
    assert data["access"]["rejects"] == 50
    assert [data[k]["requests"] for k in KINDS[1:]] == [150, 150, 150]
    assert total(data, "rejects") == 50


def test_timeouts_counted_when_the_server_drops(responder: Callable[..., Responder], users: Path) -> None:
    r = responder("--drop-every", "5")
    args = ("--sessions", "200", "--interims", "1", "--timeout", "0.2", "--retries", "0")
    data = report(loadtest(r, users, *args))
    counts = r.stop()
    assert counts["received"] == total(data, "requests")  # no retransmission with --retries 0
    assert total(data, "timeouts") == counts["dropped"] == counts["received"] // 5
    for k in KINDS:
        assert data[k]["requests"] == data[k]["responses"] + data[k]["timeouts"]
    # an Access-Request that timed out starts no accounting; a lost accounting request does not stop it
    started = data["access"]["requests"] - data["access"]["timeouts"]
    assert data["accounting_start"]["requests"] == data["accounting_stop"]["requests"] == started


def test_retransmissions_are_identical_and_more_than_256_in_flight(
    responder: Callable[..., Responder], users: Path
) -> None:
    """Only byte-identical repeats are answered; 600 sessions at once over 3 sockets of 256 ids."""
    r = responder("--drop-first")
    args = ("--sessions", "600", "--interims", "0", "--timeout", "0.3", "--retries", "2")
    data = report(loadtest(r, users, *args, "--concurrency", "600", "--sockets", "3"))
    counts = r.stop()
    requests = total(data, "requests")
    assert requests == 1800
    for k in ("access", "accounting_start", "accounting_stop"):
        assert data[k]["timeouts"] == 0
        assert data[k]["retransmissions"] == data[k]["requests"] == data[k]["responses"]
        assert data[k]["p50_ms"] >= 300  # answered at the first retransmission, one timeout later
    assert counts["identical_repeats"] == counts["answered"] == requests
    assert counts["dropped"] == requests


def test_exhausted_retries_are_timeouts(responder: Callable[..., Responder], users: Path) -> None:
    r = responder("--drop-every", "1")  # a black hole
    data = report(loadtest(r, users, "--sessions", "20", "--timeout", "0.1", "--retries", "2"))
    counts = r.stop()
    assert data["access"]["timeouts"] == data["access"]["requests"] == 20
    assert data["access"]["retransmissions"] == 40
    assert data["accounting_start"]["requests"] == 0
    assert counts["received"] == 60


def test_two_workers_merge(responder: Callable[..., Responder], users: Path) -> None:
    r = responder("--reject-every", "10")
    data = report(loadtest(r, users, "--sessions", "1001", "--interims", "1", "--workers", "2"))
    assert data["access"]["requests"] == 1001
    accepted = 1001 - data["access"]["rejects"]
    assert 99 <= data["access"]["rejects"] <= 101  # each responder process counts its own
    assert [data[k]["requests"] for k in KINDS[1:]] == [accepted] * 3
    assert r.stop()["received"] == total(data, "requests")


def test_rate_is_respected(responder: Callable[..., Responder], users: Path) -> None:
    r = responder()
    started = time.monotonic()
    data = report(loadtest(r, users, "--sessions", "200", "--interims", "0", "--rate", "1000"))
    assert total(data, "requests") == 600
    assert time.monotonic() - started >= 0.55  # 600 requests at 1000/s
    assert total(data, "requests_per_second") <= 1000 * 1.1


def test_table_and_progress(responder: Callable[..., Responder], users: Path) -> None:
    r = responder()
    done = loadtest(r, users, "--sessions", "50", "--rate", "150", "--progress", json_out=False)
    assert done.returncode == 0, done.stderr
    for name in (*KINDS, "total", "p99 ms", "timeouts", "rejects"):
        assert name in done.stdout
    assert "50 sessions, 200 requests" in done.stdout  # default: one interim
    lines = done.stderr.splitlines()  # not a terminal: a line a second
    assert 1 <= len(lines) <= 2 and all(" s  requests " in line for line in lines), done.stderr


def test_interrupt_reports_what_was_measured(responder: Callable[..., Responder], users: Path) -> None:
    r = responder("--drop-every", "1")
    cmd = [radiusd_script(), "loadtest", "--server", f"{HOST}:{r.auth}", "--secret", SECRET]
    cmd += ["--users", str(users), "--timeout", "5", "--progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    assert " s  requests 100 " in proc.stderr.readline()  # running, all 100 sessions waiting
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "100 sessions, 100 requests" in out and "interrupted" in out


def test_one_line_errors(tmp_path: Path, users: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("user,pass\n")
    base = [radiusd_script(), "loadtest", "--server", f"{HOST}:1812", "--secret", "s"]
    done = subprocess.run([*base, "--users", str(bad)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "radiusd: error:" in done.stderr
    done = subprocess.run(
        [*base, "--users", str(users), "--rate", "fast"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and "radiusd: error:" in done.stderr
    done = subprocess.run(
        [
            radiusd_script(),
            "loadtest",
            "--server",
            "no.such.host.invalid",
            "--secret",
            "s",
            "--users",
            str(users),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and "cannot resolve" in done.stderr
