"""A COMMIT whose connection drops before its answer: a record is never counted twice.

PostgreSQL committed, the daemon cannot know it: it sends no reply and rolls its memory back,
as for any failed commit. A newer Interim-Update of the same session must then not be computed
against that rolled-back state (its usage delta would include what the lost commit already
added). The daemon marks the batch's sessions in doubt, does not answer them until it has read
them back from the database, and then counts from what is stored.

The proxy between the daemon and PostgreSQL (test_accounting_outage.TcpProxy) forwards the
writer's COMMIT and then aborts the daemon's side of that connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_HOST, PG_PORT
from tests.integration.conftest import HOST, DaemonProcess, pg_database, require_tool
from tests.integration.test_accounting_daemon import acct, query, req, seed
from tests.integration.test_accounting_outage import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[DaemonProcess, TcpProxy, str]]:
    with pg_database() as url:
        proxy = TcpProxy()
        via = url.replace(f"{PG_HOST}:{PG_PORT}", f"{HOST}:{proxy.port}")
        d = DaemonProcess(via, tmp_path / "radiusd")
        seed(d)
        d.start()
        try:
            yield d, proxy, url
        finally:
            assert d.stop() == 0
            proxy.close()


def usage(url: str, user: str) -> tuple[int, int]:
    rows = query(
        url, "SELECT COALESCE(SUM(input_octets), 0), COALESCE(SUM(session_time), 0) FROM service_usage "
        "WHERE username = :u", u=user,
    )  # fmt: skip
    return int(rows[0][0]), int(rows[0][1])


def points(url: str, user: str) -> list[tuple[str, int]]:
    rows = query(
        url, "SELECT i.status_type, i.input_octets FROM radius_interim_updates i JOIN radius_sessions s "
        "ON s.id = i.session_id WHERE s.username = :u ORDER BY i.id", u=user,
    )  # fmt: skip
    return [(r[0], int(r[1])) for r in rows]


def test_newer_update_after_a_commit_in_doubt_counts_from_what_is_stored(
    proxied: tuple[DaemonProcess, TcpProxy, str],
) -> None:
    radclient = require_tool("radclient")
    d, proxy, url = proxied
    u = "doubt1"
    assert acct(radclient, d, [req("Start", u, "d1")]) == 1

    proxy.cut_after_commit()
    first = req("Interim-Update", u, "d1", Acct_Session_Time=60, Acct_Input_Octets=1000)
    assert acct(radclient, d, [first], retries=1) == 0  # committed, but the answer was lost
    assert proxy.commits_cut == 1
    assert points(url, u) == [("Start", 0), ("Interim-Update", 1000)], "the cut COMMIT did not commit"
    assert usage(url, u) == (1000, 60)
    assert d.events("writer.commit-in-doubt")

    # a newer update before any retransmission of the first: answered once the session is reread
    newer = req("Interim-Update", u, "d1", Acct_Session_Time=120, Acct_Input_Octets=3000)
    assert acct(radclient, d, [newer], retries=5) == 1
    assert usage(url, u) == (3000, 120)  # 1000 + 2000, not 1000 + 3000
    assert d.events("accounting.in-doubt-resolved")

    # the first one's retransmission is answered and adds nothing
    assert acct(radclient, d, [first + "\nAcct-Delay-Time = 9"], retries=3) == 1
    assert usage(url, u) == (3000, 120)
    assert points(url, u) == [("Start", 0), ("Interim-Update", 1000), ("Interim-Update", 3000)]
    stop = req("Stop", u, "d1", Acct_Session_Time=150, Acct_Input_Octets=3500)
    assert acct(radclient, d, [stop], retries=3) == 1
    assert usage(url, u) == (3500, 150)
    assert query(url, "SELECT input_octets FROM radius_accounting WHERE username = :u", u=u) == [(3500,)]
