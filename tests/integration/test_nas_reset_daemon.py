"""Accounting-On from a NAS that rebooted, against ``radiusd serve`` (SQLite and PostgreSQL):
a late copy of it (its first answer lost, sent again with a larger Acct-Delay-Time, RFC 2866
§5.2) may arrive after subscribers logged in again. Those sessions are the NAS's new life: they
stay open and keep their addresses, while the sessions of before the reboot end (RFC 2866 §5.1)
and their addresses are released."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import HOST, DaemonProcess, stop_and_check
from tests.integration.pyrad_acct import acct_from
from tests.integration.test_accounting_daemon import query

SECRET = "reboot-secret-0123456789"


def seed(d: DaemonProcess) -> None:
    d.cli("nas", "add", "bng", "--address", HOST, "--secret", SECRET)
    for user in ("old", "new"):
        d.cli("subscriber", "add", user, "--password", f"{user}-pw")
    d.cli("pool", "add", "bng", "--range", "10.91.0.0/24")


def test_a_late_accounting_on_spares_the_sessions_started_since(
    db_url: str, tmp_path: Path, daemon_factory: Callable[..., DaemonProcess]
) -> None:
    d = daemon_factory(db_url, seed=seed)
    try:
        # "old" started a minute before the NAS sent the Accounting-On, "new" now: after it
        for user, address, delay in (("old", "10.91.0.5", 60), ("new", "10.91.0.6", 0)):
            start = {"User-Name": user, "Acct-Status-Type": "Start", "Acct-Session-Id": f"s-{user}",
                     "NAS-Port": 1, "Framed-IP-Address": address, "Acct-Delay-Time": delay}  # fmt: skip
            acct_from(HOST, d.acct_port, SECRET, start, tmp_path)
        leases = (
            "SELECT address, state FROM ipv4_ips WHERE address IN ('10.91.0.5', '10.91.0.6') ORDER BY address"
        )
        assert query(d.url, leases) == [("10.91.0.5", "leased"), ("10.91.0.6", "leased")]
        # sent 10 s ago: a retransmission whose first copy was not answered
        acct_from(
            HOST, d.acct_port, SECRET, {"Acct-Status-Type": "Accounting-On", "Acct-Delay-Time": 10}, tmp_path
        )
        rows = query(d.url, "SELECT username, status, terminate_cause FROM radius_sessions ORDER BY username")
        assert rows == [("new", "open", None), ("old", "closed", "NAS-Reboot")]
        states = dict(query(d.url, leases))
        assert states["10.91.0.6"] == "leased" and states["10.91.0.5"] != "leased"
    finally:
        problem = stop_and_check(d)  # before the database goes
        assert not problem, problem
