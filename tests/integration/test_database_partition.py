"""PostgreSQL vanishing without a reset (a partition), and SIGHUP with the database away.

Between ``radiusd serve`` and PostgreSQL runs an asyncio TCP proxy (in a thread here) that can
stop forwarding without closing anything: bytes vanish in both directions, no RST, no FIN, and
new connections are accepted and then hang, as when a network path is cut. Only the daemon's
own timeouts (``db_command_timeout``, ``db_connect_timeout``) can notice; the kernel would wait
for minutes. When forwarding resumes, the connections that lived through the partition are
aborted (both ends would have given up on them) and new ones are forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from radiusd.codec.codes import Code
from tests.conftest import PG_HOST, PG_PORT
from tests.integration.conftest import HOST, DaemonProcess, pg_database
from tests.integration.test_accounting_daemon import query
from tests.integration.test_accounting_outage import TcpProxy
from tests.integration.test_faults import Nas, acct, daemon_on, free_udp_ports, login, seed

pytestmark = pytest.mark.postgres

COMMAND_TIMEOUT = 3.0
CONNECT_TIMEOUT = 2.0


class BlackholeProxy(TcpProxy):
    """:class:`TcpProxy` that can also :meth:`blackhole` (stop forwarding, close nothing) and
    :meth:`forward` again (see the module docstring)."""

    def __init__(self) -> None:
        self.holed = False
        self.stale: set[asyncio.StreamWriter] = set()
        super().__init__()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.holed:  # accepted by the kernel, then nothing: the startup message vanishes
            self.stale.add(writer)
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while await reader.read(65536):
                    pass
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        except OSError:
            writer.close()
            return
        pair = {writer, up_writer}
        self.writers |= pair

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await r.read(65536):
                    if self.holed or w in self.stale:
                        self.stale |= pair  # this connection lived through the partition
                        continue  # the bytes vanish
                    w.write(data)
                    await w.drain()
            if w not in self.stale:
                w.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= pair

    async def _set(self, holed: bool) -> None:
        self.holed = holed
        if not holed:
            for w in list(self.stale):
                w.transport.abort()
            self.stale.clear()

    def blackhole(self) -> None:
        self.call(self._set(True))

    def forward(self) -> None:
        self.call(self._set(False))


@pytest.fixture
def partitioned(tmp_path: Path) -> Iterator[tuple[DaemonProcess, BlackholeProxy, str, list[int]]]:
    with pg_database() as url:
        proxy = BlackholeProxy()
        via = url.replace(f"{PG_HOST}:{PG_PORT}", f"{HOST}:{proxy.port}")
        ports = free_udp_ports(2)
        env: dict[str, str | None] = {
            "RADIUSD_CHANGE_POLL_INTERVAL": "0.2",
            "RADIUSD_DB_COMMAND_TIMEOUT": str(COMMAND_TIMEOUT),
            "RADIUSD_DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        }
        d = daemon_on(via, tmp_path / "d", ports, env=env)
        seed(d, users=40)
        d.start()
        try:
            yield d, proxy, url, ports
        finally:
            proxy.forward()
            if proxy.server is not None and not proxy.server.is_serving():
                proxy.restore()
            assert d.stop() == 0
            proxy.close()


def run_threads(targets: Sequence[Callable[[], None]]) -> tuple[list[threading.Thread], list[BaseException]]:
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for t in threads:
        t.start()
    return threads, errors


def test_a_silent_partition_mid_storm(
    partitioned: tuple[DaemonProcess, BlackholeProxy, str, list[int]],
) -> None:
    """PAP (no allocation) and accounting from 3 + 4 NAS threads; PostgreSQL blackholed for
    8 s: PAP is answered from memory throughout, accounting is shed (never acknowledged) while
    it is away, the writer notices by its own timeout (not the kernel's), accounting is
    acknowledged again within seconds of the path coming back, and every acknowledged Start
    and Stop is in the database afterwards."""
    d, proxy, url, ports = partitioned
    hole_seconds = 8.0
    window: dict[str, float] = {}
    logins: list[tuple[float, bool]] = []  # (sent at, accepted)
    acked: list[tuple[str, str, float]] = []  # (status, sid, acknowledged at)
    stop = threading.Event()

    def pap(k: int) -> None:
        nas = Nas()
        try:
            i = 0
            while not stop.is_set():
                user = f"f{(k * 13 + i) % 40:04d}"
                at = time.monotonic()
                reply = nas.exchange(
                    login(user, f"pw{int(user[1:])}"), ports[0], tries=1, interval=0.5, message_auth=True
                )
                logins.append((at, reply is not None and reply[0] == Code.ACCESS_ACCEPT))
                i += 1
                time.sleep(0.01)
        finally:
            nas.close()

    def accounting(k: int) -> None:
        nas = Nas()
        try:
            n = 0
            while not stop.is_set():
                sid = f"hole-{k}-{n}"
                user = f"f{(k * 7 + n) % 40:04d}"
                for status, t in (("Start", 0), ("Interim-Update", 60), ("Stop", 90)):
                    reply = nas.exchange(
                        acct(status, user, sid, None, t, t * 10), ports[1], tries=80, interval=0.5
                    )
                    assert reply is not None, f"{status} of {sid} never acknowledged"
                    acked.append((status, sid, time.monotonic()))
                n += 1
        finally:
            nas.close()

    targets = [functools.partial(pap, k) for k in range(3)]
    targets += [functools.partial(accounting, k) for k in range(4)]
    threads, errors = run_threads(targets)
    try:
        time.sleep(2.0)
        window["hole"] = time.monotonic()
        proxy.blackhole()
        # the daemon notices by itself, while the path is still silent
        d.wait_event("writer.commit-failed", timeout=COMMAND_TIMEOUT + 3)
        noticed = time.monotonic() - window["hole"]
        time.sleep(max(0.0, hole_seconds - noticed))
        window["forward"] = time.monotonic()
        proxy.forward()
        while time.monotonic() < window["forward"] + 15 and not [
            a for a in acked if a[2] > window["forward"]
        ]:
            time.sleep(0.05)
        time.sleep(2.0)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors[0]
    lo, hi = window["hole"] + 0.5, window["forward"]
    during = [ok for at, ok in logins if lo <= at and at + 0.5 <= hi]
    acked_away = [a for a in acked if lo + COMMAND_TIMEOUT <= a[2] < hi]  # after in-flight commits
    after = sorted(a[2] for a in acked if a[2] >= hi)
    recovery = after[0] - window["forward"] if after else float("inf")
    print(
        f"\nPostgreSQL blackholed {hole_seconds:.0f} s: writer noticed after {noticed:.1f} s; "
        f"PAP while away {sum(during)}/{len(during)} accepted; accounting acknowledged while away "
        f"{len(acked_away)}, first after the path came back in {recovery:.1f} s"
    )
    assert len(during) >= 20 and all(during), f"PAP failed while the database was away: {during.count(False)}"
    assert not acked_away, f"accounting acknowledged while the database was away: {acked_away[:3]}"
    assert recovery < 8.0, f"accounting not acknowledged within 8 s of recovery ({recovery:.1f} s)"
    # nothing acknowledged is lost
    rows = query(
        url,
        "SELECT acct_session_id, status, session_time FROM radius_sessions "
        "WHERE acct_session_id LIKE 'hole-%'",
    )
    stored = {sid: (status, t) for sid, status, t in rows}
    assert len(rows) == len(stored)
    starts = {sid for status, sid, _ in acked if status == "Start"}
    stops = {sid for status, sid, _ in acked if status == "Stop"}
    assert starts <= set(stored), f"acknowledged Starts lost: {sorted(starts - set(stored))[:5]}"
    assert all(stored[sid] == ("closed", 90) for sid in stops), "acknowledged Stops lost"
    assert not d.events("writer.in-doubt-callback-failed")
    assert "Traceback" not in d.stderr()


def test_sighup_with_the_database_away_keeps_the_old_configuration_and_retries(
    partitioned: tuple[DaemonProcess, BlackholeProxy, str, list[int]], tmp_path: Path
) -> None:
    d, proxy, _, ports = partitioned
    nas = Nas()
    try:
        proxy.cut()  # refused outright
        d.signal(signal.SIGHUP)
        failed = d.wait_event("config.reload-failed", timeout=COMMAND_TIMEOUT + 3)
        assert failed[0]["retry_in"] > 0 and "\n" not in failed[0]["error"]
        # the old tables are still in force: PAP from memory
        reply = nas.exchange(login("f0001", "pw1"), ports[0], tries=2, interval=0.5, message_auth=True)
        assert reply is not None and reply[0] == Code.ACCESS_ACCEPT
        d.wait_event("config.reload-failed", timeout=10, count=2)  # retried
        assert not d.events("config.reloaded")
        proxy.restore()
        d.wait_event("config.reloaded", timeout=10)
        assert d.running
        assert "exception was never retrieved" not in d.stderr()
        assert "Traceback" not in d.stderr()
    finally:
        nas.close()
