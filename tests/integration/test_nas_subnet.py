"""A NAS declared as a subnet (``nas add --address 127.0.0.0/8``, clients.conf ``ipaddr =
10.0.0.0/24``): the running daemon answers radclient from 127.0.0.1 through it, a more
specific NAS wins (unit-tested in test_nas_registry.py), and the session records the address
the request came from, which is where a CoA for it goes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import DaemonProcess, run_radclient

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
