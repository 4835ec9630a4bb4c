"""A NAS declared as a subnet (``nas add --address 127.0.0.0/8``, clients.conf ``ipaddr =
10.0.0.0/24``): the running daemon answers radclient from 127.0.0.1 through it, a more
specific NAS wins (unit-tested in test_nas_registry.py), and the session records the address
the request came from, which is where a CoA for it goes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import DaemonProcess, run_radclient, stop_and_check
from tests.integration.pyrad_acct import acct_from
from tests.integration.test_accounting_daemon import query

SECRET = "subnet-secret"


def seed(d: DaemonProcess) -> None:
    d.cli("nas", "add", "cluster", "--address", "127.0.0.0/8", "--secret", SECRET)
    d.cli("subscriber", "add", "sam", "--password", "sampw")


def test_radclient_from_127_0_0_1_matches_a_subnet_nas(
    tmp_path: Path, daemon_factory: Callable[..., DaemonProcess], radclient: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'radiusd.sqlite3'}"
    d = daemon_factory(url, seed=seed)
    login = 'User-Name = "sam"\nUser-Password = "sampw"\nMessage-Authenticator = 0x00\n'
    out = run_radclient(radclient, d.auth_port, SECRET, login)
    assert "Access-Accept" in out, out
    acct = 'User-Name = "sam"\nAcct-Session-Id = "s1"\nAcct-Status-Type = Start\nNAS-Port = 1\n'
    assert "Accounting-Response" in run_radclient(radclient, d.acct_port, SECRET, acct, command="acct")
    shown = d.cli("session", "list", "--json").stdout
    assert '"127.0.0.1"' in shown and "127.0.0.0/8" not in shown, shown


def test_accounting_on_from_one_nas_of_a_subnet_entry_spares_the_others(
    db_url: str, tmp_path: Path, daemon_factory: Callable[..., DaemonProcess]
) -> None:
    """Two BNGs (127.0.0.1, 127.0.0.2) behind one subnet entry, a session and an adopted pool
    address each: Accounting-On from 127.0.0.2 (RFC 2866 §5.1) ends that BNG's session and
    releases its address; the other BNG's session and lease live on (its subscriber is still
    online: releasing its address would let the pool hand it to somebody else)."""

    def seed_pool(d: DaemonProcess) -> None:
        seed(d)
        d.cli("subscriber", "add", "tom", "--password", "tompw")
        d.cli("pool", "add", "bng", "--range", "10.90.0.0/24")

    d = daemon_factory(db_url, seed=seed_pool)
    try:
        for source, user, address in (("127.0.0.1", "sam", "10.90.0.5"), ("127.0.0.2", "tom", "10.90.0.6")):
            start = {"User-Name": user, "Acct-Status-Type": "Start", "Acct-Session-Id": f"s-{user}",
                     "NAS-Port": 1, "Framed-IP-Address": address}  # fmt: skip
            acct_from(source, d.acct_port, SECRET, start, tmp_path)
        leases = (
            "SELECT address, state FROM ipv4_ips WHERE address IN ('10.90.0.5', '10.90.0.6') ORDER BY address"
        )
        assert query(d.url, leases) == [("10.90.0.5", "leased"), ("10.90.0.6", "leased")]
        acct_from("127.0.0.2", d.acct_port, SECRET, {"Acct-Status-Type": "Accounting-On"}, tmp_path)
        rows = query(
            d.url,
            "SELECT username, nas_address, status, terminate_cause FROM radius_sessions ORDER BY username",
        )
        assert rows == [("sam", "127.0.0.1", "open", None), ("tom", "127.0.0.2", "closed", "NAS-Reboot")]
        states = dict(query(d.url, leases))
        assert states["10.90.0.5"] == "leased" and states["10.90.0.6"] != "leased"
    finally:
        problem = stop_and_check(d)  # before the database goes
        assert not problem, problem
