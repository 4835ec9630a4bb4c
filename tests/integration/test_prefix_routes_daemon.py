"""Routed customer subnets end to end: ``radiusd serve`` on SQLite and PostgreSQL, pyrad.

A business subscriber holds a static IPv4 /29 and an IPv6 /48 from the prefix tree; its
Access-Accept carries them as Framed-Route (RFC 2865 §5.22) and Framed-IPv6-Route (RFC 3162
§2.5), "<prefix> <gateway> <metric>" with the unspecified gateway meaning the user's own
address; pyrad decodes the reply. A change made with the CLI while the daemon runs reaches
the next Access-Accept through the change feed, without a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyrad import packet as pyrad_packet

from .conftest import PYRAD_DICTIONARY, DaemonProcess, pyrad_client, wait_until

SECRET = "routes-Secr3t-k2"
PASSWORD = "biz-Pw-77q"
V4_BLOCK = "203.0.113.8/29"
V6_BLOCK = "2001:db8:1::/48"


def seed(d: DaemonProcess) -> None:
    d.cli("nas", "add", "edge", "--address", "127.0.0.1", "--secret", SECRET)
    d.cli("plan", "add", "business")
    d.cli("subscriber", "add", "acme", "--password", PASSWORD, "--plan", "business")
    d.cli("subscriber", "add", "home", "--password", PASSWORD, "--plan", "business")
    d.cli("prefix", "add", "203.0.113.0/24", "--description", "public /24")
    d.cli("prefix", "add", "2001:db8::/32")
    d.cli("prefix", "allocate", "--from", "203.0.113.0/24", "--length", "29", "--for", "subscriber:acme")
    d.cli("subscriber", "set", "acme", "--routed-subnet", "203.0.113.0/29", "--routed-subnet", V6_BLOCK)


@pytest.fixture(scope="module")
def daemon_seed() -> Callable[[DaemonProcess], None]:
    return seed


@pytest.fixture(scope="module")
def dictionary(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from pyrad.dictionary import Dictionary

    path: Path = tmp_path_factory.mktemp("pyrad-routes") / "dictionary"
    extra = "ATTRIBUTE\tFramed-Route\t\t22\tstring\nATTRIBUTE\tFramed-IPv6-Route\t99\tstring\n"
    path.write_text(PYRAD_DICTIONARY + extra)
    return Dictionary(str(path))


def routes(daemon: DaemonProcess, dictionary: Any, user: str) -> tuple[list[str], list[str]]:
    client = pyrad_client(daemon, dictionary, SECRET)
    req = client.CreateAuthPacket(User_Name=user, NAS_Identifier="itest")
    req["User-Password"] = req.PwCrypt(PASSWORD)
    reply = client.SendPacket(req)
    assert reply.code == pyrad_packet.AccessAccept
    v4 = [str(v) for v in reply.get("Framed-Route", [])]
    v6 = [str(v) for v in reply.get("Framed-IPv6-Route", [])]
    return v4, v6


def test_accept_carries_framed_route_and_framed_ipv6_route(daemon: DaemonProcess, dictionary: Any) -> None:
    v4, v6 = routes(daemon, dictionary, "acme")
    # the /29 allocated first, kept by `subscriber set`, and the /48 it added
    assert v4 == ["203.0.113.0/29 0.0.0.0 1"]
    assert v6 == [f"{V6_BLOCK} :: 1"]
    assert routes(daemon, dictionary, "home") == ([], [])


def test_routed_subnet_change_reaches_the_running_daemon(daemon: DaemonProcess, dictionary: Any) -> None:
    daemon.cli("prefix", "allocate", "--from", "203.0.113.0/24", "--length", "29", "--for", "subscriber:home")
    expected: tuple[list[str], list[str]] = (["203.0.113.8/29 0.0.0.0 1"], [])
    assert wait_until(lambda: routes(daemon, dictionary, "home") == expected, 5.0, interval=0.1)
    daemon.cli("subscriber", "set", "home", "--routed-subnet", "none")
    assert wait_until(lambda: routes(daemon, dictionary, "home") == ([], []), 5.0, interval=0.1)
    history = daemon.cli("lease", "history", "203.0.113.8/29", "--json").stdout
    assert '"home"' in history and '"ended": null' not in history
