"""The EAP process (radiusd.eap.process / radiusd.eap.worker): a real child process and a real
socket pair, driven by the standard library's TLS client through EAP-TTLS/PAP; the inner
method's credential comes from this (the daemon's) side. Also its failures: the process
killed mid-conversation, a full queue, a bad reload, and the in-process mode end to end."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from radiusd.eap import packet as eap
from radiusd.eap.build import build_engine
from radiusd.eap.certs import make_test_pki
from radiusd.eap.engine import BUSY, EapEngine, Outcome
from radiusd.eap.process import LOST, EapProcess
from radiusd.eap.settings import parse_eap
from radiusd.model.credentials import Credential, make_credential
from tests.eap_peer import identity, request_of, state_of, ttls_pap
from tests.integration.conftest import HOST, DaemonProcess, run_radclient, wait_until

SECRET = "eap-process-secret"
PASSWORD = "inner-password"
USERS = {"alice": make_credential("s3cret pass", "cleartext")}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


def section(pki: dict[str, Path], **extra: object) -> dict[str, object]:
    base = {
        "cert": str(pki["server.pem"]),
        "key": str(pki["server.key"]),
        "methods": ["ttls"],
        "process": True,
    }
    return {**base, **extra}


class Driver:
    """An EapProcess on an event loop of its own; ``step`` waits for each outcome."""

    def __init__(self, engine: EapProcess) -> None:
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self.asked: list[str] = []

    def lookup(self, name: str) -> Credential | None:
        self.asked.append(name)
        return USERS.get(name)

    def send(self, data: bytes, state: bytes | None = None, mtu: int | None = None) -> Outcome:
        attrs = [(79, v) for _, v in eap.split_eap_message(data)] + ([(24, state)] if state else [])
        attrs.append((1, b"outer-user-name-is-not-relayed"))

        async def run() -> Outcome:
            out = self.engine.handle(attrs, self.lookup, USERS.__contains__, mtu, "ap", True)
            return out if isinstance(out, Outcome) else await asyncio.wait_for(out, 10)

        return self.loop.run_until_complete(run())

    def until(self, check: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            self.loop.run_until_complete(asyncio.sleep(0.05))
        return check()

    def close(self) -> None:
        self.engine.close()
        self.loop.close()


@pytest.fixture
def driver(pki: dict[str, Path]) -> Iterator[Driver]:
    engine = build_engine(section(pki, timeout=1))
    assert isinstance(engine, EapProcess)
    d = Driver(engine)
    yield d
    d.close()


def nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.parametrize("password", [b"s3cret pass", b"wrong"])
def test_ttls_pap_through_the_process(driver: Driver, pki: dict[str, Path], password: bytes) -> None:
    out = ttls_pap(driver.send, pki["ca.pem"], b"alice", password)
    assert driver.asked == ["alice"]  # the inner identity, asked of this side
    if password == b"wrong":
        assert out.kind == "reject" and "wrong password" in out.reason
        assert driver.engine.counts["rejected"] == 1
    else:
        assert out.kind == "accept" and out.username == "alice" and out.method == "TTLS"
        assert out.msk is not None and len(out.msk) == 64
        assert driver.engine.counts == {"started": 1, "accepted": 1, "rejected": 0, "expired": 0, "busy": 0}
        assert sum(driver.engine.handshakes.values()) == 1
        assert any("TTLS succeeded for 'alice'" in n for n in out.notes)  # the -X view's notes
    assert driver.engine.in_flight == 0
    pid = driver.engine.pid
    assert pid is not None and nice_of(pid) == 10  # [eap] process_nice, default 10


def test_idle_conversation_is_swept_and_reported(driver: Driver) -> None:
    out = driver.send(identity(3))
    assert out.kind == "challenge" and driver.engine.in_flight == 1
    # timeout = 1: the process forgets it on its own and tells (no EAP packet needed)
    assert driver.until(lambda: driver.engine.in_flight == 0 and driver.engine.counts["expired"] == 1)
    late = driver.send(eap.EapPacket(eap.RESPONSE, 4, eap.TTLS, b"\x00").encode(), state_of(out))
    assert late.kind == "reject" and "unknown or expired" in late.reason


def test_killed_process_drops_its_steps_and_a_new_one_serves(driver: Driver, pki: dict[str, Path]) -> None:
    out = driver.send(identity(1))
    state = state_of(out)
    pid = driver.engine.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    # the next step goes nowhere: dropped (the NAS retransmits), the process started again
    lost = driver.send(
        eap.EapPacket(eap.RESPONSE, request_of(out).identifier, eap.TTLS, b"\x00").encode(), state
    )
    assert lost.kind == "drop" and lost.reason in {LOST, BUSY}
    assert driver.until(lambda: driver.engine.restarts == 1)
    time.sleep(1.1)  # RESTART_EVERY
    again = driver.send(
        eap.EapPacket(eap.RESPONSE, request_of(out).identifier, eap.TTLS, b"\x00").encode(), state
    )
    assert again.kind == "reject" and "unknown or expired" in again.reason  # that conversation is gone
    assert driver.engine.pid not in (None, pid)
    fresh = ttls_pap(driver.send, pki["ca.pem"], b"alice", b"s3cret pass")
    assert fresh.kind == "accept"
    assert driver.engine.counts["accepted"] == 1 and driver.engine.counts["rejected"] == 1


def test_steps_beyond_queue_max_are_dropped_busy(pki: dict[str, Path]) -> None:
    engine = build_engine(section(pki, queue_max=1))
    assert isinstance(engine, EapProcess)
    d = Driver(engine)
    try:

        async def two() -> tuple[object, object]:
            attrs = [(79, identity(1))]
            first = engine.handle(attrs, d.lookup, USERS.__contains__)
            second = engine.handle(attrs, d.lookup, USERS.__contains__)
            return (await first if isinstance(first, asyncio.Future) else first), second

        first, second = d.loop.run_until_complete(two())
        assert isinstance(first, Outcome) and first.kind == "challenge"
        assert isinstance(second, Outcome) and second.kind == "drop" and second.reason == BUSY
        assert engine.counts["busy"] == 1
    finally:
        d.close()


def test_reload_checks_the_files_first_and_keeps_the_old(
    driver: Driver, pki: dict[str, Path], tmp_path: Path
) -> None:
    before = driver.engine.settings
    with pytest.raises(ValueError, match="does not exist"):
        driver.engine.reload(parse_eap(section(pki, cert=str(tmp_path / "missing.pem"))))
    assert driver.engine.settings is before
    driver.engine.reload(parse_eap(section(pki, fragment_size=200)))
    out = driver.send(identity(1))  # the process took the new settings: 200-octet fragments
    assert out.kind == "challenge" and driver.engine.settings.fragment_size == 200


def test_process_runs_on_its_cpus_and_a_reload_moves_it(pki: dict[str, Path]) -> None:
    """[eap] process_cpus: the child pins itself (sched_setaffinity) once it has its settings;
    a reload to another set moves it, an empty one gives it the daemon's CPUs again."""
    mine = os.sched_getaffinity(0)
    last = max(mine)
    engine = build_engine(section(pki, process_cpus=str(last)))
    assert isinstance(engine, EapProcess) and engine.settings.process_cpus == (last,)
    d = Driver(engine)
    try:
        assert d.send(identity(1)).kind == "challenge"  # the child has read its settings
        pid = engine.pid
        assert pid is not None
        assert d.until(lambda: os.sched_getaffinity(pid) == {last})
        first = min(mine)
        engine.reload(parse_eap(section(pki, process_cpus=[first])))
        assert d.until(lambda: os.sched_getaffinity(pid) == {first})
        engine.reload(parse_eap(section(pki)))
        assert d.until(lambda: os.sched_getaffinity(pid) == mine)
    finally:
        d.close()


def test_process_on_cpus_the_kernel_refuses_still_serves(pki: dict[str, Path]) -> None:
    """A CPU that does not exist here: logged by the child, which keeps the daemon's CPUs."""
    engine = build_engine(section(pki, process_cpus="4000"))
    assert isinstance(engine, EapProcess)
    d = Driver(engine)
    try:
        assert d.send(identity(1)).kind == "challenge"
        assert engine.pid is not None and os.sched_getaffinity(engine.pid) == os.sched_getaffinity(0)
    finally:
        d.close()


def _tls_threads() -> list[int]:
    return [t.native_id for t in threading.enumerate() if t.name.startswith("radiusd-eap") and t.native_id]


def test_in_process_tls_thread_runs_on_tls_cpus_and_a_reload_moves_it(pki: dict[str, Path]) -> None:
    """[eap] tls_cpus with process = false: the pool's TLS thread moves itself there before its
    first step (the event loop's thread stays); after a reload it moves at its next step, to
    the new set, or back to the daemon's CPUs when the setting is emptied."""
    mine = os.sched_getaffinity(0)
    first, last = min(mine), max(mine)
    engine = build_engine(section(pki, process=False, tls_cpus=str(last)))
    assert isinstance(engine, EapEngine) and engine.settings.tls_cpus == (last,)
    d = Driver(engine)  # type: ignore[arg-type]  # the same handle() as the EAP process's
    try:
        with capture_logs() as logs:
            assert ttls_pap(d.send, pki["ca.pem"], b"alice", b"s3cret pass").kind == "accept"
        (tid,) = _tls_threads()
        assert os.sched_getaffinity(tid) == {last} and os.sched_getaffinity(0) == mine
        (moved,) = [e for e in logs if e["event"] == "eap.thread-cpus"]
        # this process (the "daemon") may run on every CPU, the chosen one included: said
        assert (
            moved["cpus"] == [last]
            and moved["daemon_cpus"] == sorted(mine)
            and "CPUAffinity" in moved["hint"]
        )
        engine.reload(parse_eap(section(pki, process=False, tls_cpus=[first])))
        assert ttls_pap(d.send, pki["ca.pem"], b"alice", b"s3cret pass").kind == "accept"
        assert os.sched_getaffinity(tid) == {first}
        engine.reload(parse_eap(section(pki, process=False)))
        assert ttls_pap(d.send, pki["ca.pem"], b"alice", b"s3cret pass").kind == "accept"
        assert os.sched_getaffinity(tid) == mine
    finally:
        d.close()


def test_close_ends_the_process(pki: dict[str, Path]) -> None:
    engine = build_engine(section(pki))
    assert isinstance(engine, EapProcess)
    pid = engine.pid
    assert pid is not None and Path(f"/proc/{pid}").exists()
    engine.close()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_settings_refuse_bad_process_values(pki: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="process: true or false"):
        parse_eap(section(pki, process="yes"))
    with pytest.raises(ValueError, match="process_nice: 0 to 19"):
        parse_eap(section(pki, process_nice=20))
    assert parse_eap(section(pki, process=False)).process is False
    assert parse_eap(section(pki, process_cpus="0-2,5")).process_cpus == (0, 1, 2, 5)
    assert parse_eap(section(pki, process_cpus=[3, 1])).process_cpus == (1, 3)
    assert parse_eap(section(pki, process_cpus=2)).process_cpus == (2,)
    assert parse_eap(section(pki)).process_cpus == ()
    assert parse_eap(section(pki, tls_cpus="1-2")).tls_cpus == (1, 2)  # process_cpus: its older name
    assert parse_eap(section(pki, tls_cpus="1", process_cpus=[1])).process_cpus == (1,)
    with pytest.raises(ValueError, match="tls_cpus and process_cpus"):
        parse_eap(section(pki, tls_cpus="1", process_cpus="0"))
    with pytest.raises(ValueError, match="tls_cpus"):
        parse_eap(section(pki, tls_cpus="x"))
    for bad in ("one", "3-1", "1,,x", "-1", "0-5000", True, {"a": 1}):
        with pytest.raises(ValueError, match="process_cpus"):
            parse_eap(section(pki, process_cpus=bad))


def test_worker_started_by_hand_says_how_it_is_used() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "radiusd.eap.worker"], capture_output=True, text=True, timeout=30, check=False
    )
    assert out.returncode == 2 and out.stderr.startswith("usage:") and len(out.stderr.splitlines()) == 1


def test_process_mode_end_to_end_with_eapol_test_and_a_killed_process(
    eapol_test: str,
    radclient: str,
    module_db_url: str,
    daemon_factory: Callable[..., DaemonProcess],
    pki: dict[str, Path],
    tmp_path: Path,
) -> None:
    """``process = true`` in a real daemon: PEAP by eapol_test with its MPPE keys checked, the
    EAP process a child at nice 10 with the kernel's own slice; killed, PAP goes on and the
    next PEAP login is served by a new process."""
    config = tmp_path / "radiusd.toml"
    config.write_text(f'[eap]\ncert = "{pki["server.pem"]}"\nkey = "{pki["server.key"]}"\nprocess = true\n')

    def seed(d: DaemonProcess) -> None:
        d.cli("nas", "add", "ap", "--address", HOST, "--secret", SECRET)
        d.cli("subscriber", "add", "alice", "--password", PASSWORD)

    d = daemon_factory(module_db_url, env={"RADIUSD_CONFIG": str(config)}, seed=seed)
    assert d.proc is not None
    conf = tmp_path / "peap.conf"
    conf.write_text(
        'network={\n  ssid="lab"\n  key_mgmt=WPA-EAP\n  eap=PEAP\n  identity="alice"\n'
        f'  anonymous_identity="anonymous"\n  password="{PASSWORD}"\n  phase2="auth=MSCHAPV2"\n}}\n'
    )

    def peap() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [eapol_test, "-c", str(conf), "-a", HOST, "-p", str(d.auth_port), "-s", SECRET, "-t", "15"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    out = peap()
    assert out.returncode == 0 and "MPPE keys OK: 1  mismatch: 0" in out.stdout, out.stdout[-2000:]
    children = [
        int(c)
        for t in Path(f"/proc/{d.proc.pid}/task").iterdir()
        for c in (t / "children").read_text().split()
    ]
    assert len(children) == 1
    child = children[0]
    assert "radiusd.eap.worker" in Path(f"/proc/{child}/cmdline").read_text()
    assert nice_of(child) == 10
    assert "se.slice" in (sched := Path(f"/proc/{child}/sched").read_text())
    assert " 100000\n" not in sched.split("se.slice", 1)[1][:60]  # not the daemon's short slice
    os.kill(child, signal.SIGKILL)
    pap = run_radclient(
        radclient,
        d.auth_port,
        SECRET,
        f'User-Name = "alice"\nUser-Password = "{PASSWORD}"\nMessage-Authenticator = 0x00\n',
    )
    assert "Access-Accept" in pap, d.stderr()[-3000:]  # the daemon itself is untouched
    assert wait_until(lambda: "eap.process-lost" in d.stderr(), 10)
    time.sleep(1.1)  # RESTART_EVERY
    again = peap()
    assert again.returncode == 0 and "MPPE keys OK: 1  mismatch: 0" in again.stdout, again.stdout[-2000:]
