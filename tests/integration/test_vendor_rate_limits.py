"""A plan's rate limit reaches each NAS in its own vendor's attributes, through the running
daemon: FreeRADIUS radclient from a Huawei NAS sees Huawei-Input/Output-Average-Rate; a
Juniper NAS gets ERX policy names; a generic NAS gets no rate attribute at all (it used to
receive Mikrotik-Rate-Limit). Also: ``nas add --vendor`` takes the new vendors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from radiusd.codec import Packet, decode, encode_request
from radiusd.codec.dictionary import default_dictionary

from .conftest import DaemonProcess, UdpPeer, raw_attributes, run_radclient

SECRET = "vendor-Secr3t-r4"
PASSWORD = "carol-Pw-90q"
D = default_dictionary()
VENDOR_SPECIFIC = 26


def seed(d: DaemonProcess) -> None:
    d.cli("nas", "add", "bras", "--address", "127.0.0.1", "--secret", SECRET, "--vendor", "huawei")
    d.cli("nas", "add", "edge", "--address", "127.0.0.2", "--secret", SECRET)
    d.cli("nas", "add", "mx", "--address", "127.0.0.3", "--secret", SECRET, "--vendor", "juniper")
    d.cli("plan", "add", "gold", "--rate-limit", "10M/20M", "--session-timeout", "3600")
    csv = d.workdir / "subscribers.csv"
    csv.write_text(f"username,password,plan\ncarol,{PASSWORD},gold\n")
    d.cli("subscriber", "import", str(csv))


@pytest.fixture(scope="module")
def daemon_seed() -> Callable[[DaemonProcess], None]:
    return seed


def test_huawei_nas_gets_huawei_rates_with_radclient(daemon: DaemonProcess, radclient: str) -> None:
    attrs = f'User-Name = "carol", User-Password = "{PASSWORD}", Message-Authenticator = 0x00\n'
    out = run_radclient(radclient, daemon.auth_port, SECRET, attrs)
    assert "Received Access-Accept" in out, out
    assert "Huawei-Input-Average-Rate = 10000000" in out, out
    assert "Huawei-Output-Average-Rate = 20000000" in out, out
    assert "Mikrotik-Rate-Limit" not in out
    assert "Session-Timeout = 3600" in out


def _accept_from(source: str, daemon: DaemonProcess) -> list[tuple[int, bytes]]:
    req = Packet(1, 9, dictionary=D).add("User-Name", "carol")
    req.set_user_password(PASSWORD.encode(), SECRET.encode())
    with UdpPeer(source) as peer:
        data = peer.exchange(encode_request(req, SECRET.encode(), message_auth=True), daemon.auth_port)
    assert data is not None, f"no reply to {source}"
    assert decode(data, D).code == 2
    return raw_attributes(data)


def test_generic_nas_gets_no_rate_attribute(daemon: DaemonProcess) -> None:
    attrs = _accept_from("127.0.0.2", daemon)
    assert [t for t, _ in attrs] == [80, 27]  # Message-Authenticator, Session-Timeout: nothing else
    assert all(t != VENDOR_SPECIFIC for t, _ in attrs)


def test_juniper_nas_gets_erx_policy_names(daemon: DaemonProcess) -> None:
    attrs = _accept_from("127.0.0.3", daemon)
    vsas = [v for t, v in attrs if t == VENDOR_SPECIFIC]
    assert vsas == [
        (4874).to_bytes(4, "big") + bytes((10, 13)) + b"RATE-10M-IN",
        (4874).to_bytes(4, "big") + bytes((11, 14)) + b"RATE-20M-OUT",
    ]


def test_nas_list_shows_the_vendors(daemon: DaemonProcess) -> None:
    out = daemon.cli("nas", "list").stdout
    assert "huawei" in out and "juniper" in out and "generic" in out
