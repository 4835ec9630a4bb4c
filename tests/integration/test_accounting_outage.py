"""A PostgreSQL outage in the middle of an accounting storm: no record lost, none counted twice.

The daemon's database URL points at a small asyncio TCP proxy (run in a thread here) in front
of PostgreSQL. While the proxy is cut (connections reset, new ones refused) no
Accounting-Response may leave the daemon and authentication still works from memory; once it is
restored, radclient's retransmissions are answered and every session is stored exactly once,
with its usage counted exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_HOST, PG_PORT
from tests.integration.conftest import HOST, DaemonProcess, pg_database, require_tool, run_radclient
from tests.integration.test_accounting_daemon import PASSWORD, SECRET, query, req, seed

pytestmark = pytest.mark.postgres


class TcpProxy:
    """127.0.0.1:port -> PostgreSQL; :meth:`cut` resets every connection and refuses new ones;
    :meth:`cut_after_commit` drops the daemon's side of the writer's connection right after it
    sends a COMMIT, so that PostgreSQL commits and the daemon never hears so."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.commit_cut_armed = False
        self.commits_cut = 0
        self.call(self._listen())

    def cut_after_commit(self) -> None:
        """Arm: the next COMMIT on a connection that has prepared the accounting batch (the
        writer's: its Parse message names the batch's row type) is forwarded, then the daemon's
        side is aborted; the PostgreSQL side is closed after it, gracefully."""
        self.commit_cut_armed = True

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._client, HOST, self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        writes_accounting = False

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            nonlocal writes_accounting
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
                    if w is not up_writer:
                        continue
                    writes_accounting = writes_accounting or b"radiusd_acct_session_row" in data
                    if self.commit_cut_armed and writes_accounting and b"COMMIT" in data:
                        self.commit_cut_armed = False
                        self.commits_cut += 1
                        writer.transport.abort()  # the daemon's side only: PostgreSQL got the COMMIT
            w.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    async def _cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()

    def cut(self) -> None:
        self.call(self._cut())

    def restore(self) -> None:
        self.call(self._listen())

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[DaemonProcess, TcpProxy]]:
    with pg_database() as url:
        proxy = TcpProxy()
        via = url.replace(f"{PG_HOST}:{PG_PORT}", f"{HOST}:{proxy.port}")
        d = DaemonProcess(via, tmp_path / "radiusd", env={"RADIUSD_CHANGE_POLL_INTERVAL": "0.2"})
        seed(d)
        d.start()
        try:
            yield d, proxy
        finally:
            if proxy.server is not None and not proxy.server.is_serving():
                proxy.restore()
            assert d.stop() == 0
            proxy.close()


def test_postgres_outage_mid_storm(proxied: tuple[DaemonProcess, TcpProxy], tmp_path: Path) -> None:
    radclient = require_tool("radclient")
    d, proxy = proxied
    n = 60
    users = [f"out{i}" for i in range(n)]
    lines = []
    for u in users:
        lines.append(req("Start", u, "o-" + u))
        lines.append(req("Interim-Update", u, "o-" + u, Acct_Session_Time=30, Acct_Input_Octets=10))
        lines.append(
            req("Stop", u, "o-" + u, Acct_Session_Time=60, Acct_Input_Octets=25, Acct_Output_Octets=5)
        )
    # radclient: one request at a time per session file order, many in flight, retransmitting
    requests = tmp_path / "storm.txt"
    requests.write_text("\n\n".join(lines) + "\n")
    log = tmp_path / "radclient.txt"
    with open(log, "w") as out_file:
        storm = subprocess.Popen(
            [radclient, "-p", "8", "-r", "30", "-t", "1", "-f", str(requests), f"{HOST}:{d.acct_port}",
             "acct", SECRET],
            stdout=out_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    time.sleep(0.3)
    proxy.cut()
    try:
        # while cut: a fresh Accounting-Request gets no answer, authentication still works
        out = run_radclient(radclient, d.acct_port, SECRET, req("Start", "cutprobe", "c1"), "acct", timeout=3)
        assert "Received Accounting-Response" not in out
        login = f'User-Name = "single"\nUser-Password = "{PASSWORD}"\nMessage-Authenticator = 0x00'
        assert "Received Access-Accept" in run_radclient(radclient, d.auth_port, SECRET, login)
    finally:
        proxy.restore()
    storm.wait(timeout=120)
    output = log.read_text()
    answered = output.count("Received Accounting-Response")
    assert answered == 3 * n, output[-2000:]
    assert d.events("writer.commit-failed"), "the outage did not hit the writer"
    # every acknowledged record stored once, usage counted once
    url = d.url.replace(f"{HOST}:{proxy.port}", f"{PG_HOST}:{PG_PORT}")
    sessions = query(url, "SELECT COUNT(*), COUNT(DISTINCT acct_unique_id), SUM(input_octets + input_base) "
                          "FROM radius_sessions WHERE username LIKE 'out%' AND status='closed'")  # fmt: skip
    assert sessions == [(n, n, 25 * n)]
    usage = query(url, "SELECT SUM(input_octets), SUM(output_octets), SUM(session_time), SUM(sessions) "
                       "FROM service_usage WHERE username LIKE 'out%'")  # fmt: skip
    assert tuple(int(x) for x in usage[0]) == (25 * n, 5 * n, 60 * n, n)
    assert query(url, "SELECT COUNT(*) FROM radius_accounting WHERE username LIKE 'out%'") == [(n,)]
