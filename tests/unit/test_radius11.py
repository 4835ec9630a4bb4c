"""RADIUS/1.1 (RFC 9765) without sockets: the ALPN names read from a real ClientHello (made by
the ``ssl`` module, not by us), the server's decision per ``radsec_alpn``, and the codec's
RADIUS/1.1 form (draft-ietf-radext-radiusv11-09 section numbers)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from radiusd.codec import Packet
from radiusd.codec.errors import MalformedPacket
from radiusd.codec.radius11 import clear_password, encode_reply11, encode_request11
from radiusd.config import ConfigError, load_settings
from radiusd.model.request import NasClient
from radiusd.policy.hiding import mppe_key, user_password
from radiusd.server.radsec_alpn import NeedMore, acceptable, offered


def client_hello(alpn: tuple[str, ...]) -> bytes:
    """The first flight of a Python TLS client offering ``alpn``."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="radiusd.test")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("alpn", [(), ("radius/1.1",), ("radius/1.0", "radius/1.1"), ("h2",)])
def test_offered_reads_the_client_hello(alpn: tuple[str, ...]) -> None:
    hello = client_hello(alpn)
    assert offered(hello) == (list(alpn) if alpn else None)
    with pytest.raises(NeedMore):
        offered(hello[: len(hello) // 2])


def test_offered_ignores_what_is_no_client_hello() -> None:
    assert offered(b"GET / HTTP/1.1\r\n\r\n") is None


@pytest.mark.parametrize(
    ("mode", "names", "ok"),
    [
        ("both", None, True),  # classic RadSec, as before the setting existed
        ("both", ["radius/1.0"], True),
        ("both", ["radius/1.1"], True),
        ("both", ["h2"], False),  # §3.3: names offered, none of ours: alert
        ("1.1", None, False),  # §3.3 "1.1": no ALPN: alert
        ("1.1", ["radius/1.0"], False),
        ("1.1", ["radius/1.0", "radius/1.1"], True),
        ("1.0", None, True),
        ("1.0", ["radius/1.1"], False),
        ("off", ["h2"], True),  # no ALPN configured: never an alert
    ],
)
def test_acceptable_follows_the_version_flag(mode: str, names: list[str] | None, ok: bool) -> None:
    assert acceptable(mode, names) is ok


def test_reply_carries_the_token_and_no_message_authenticator() -> None:
    reply = Packet(2, 9)
    reply.add_raw(18, b"hello")
    reply.add_raw(80, bytes(16))
    data = encode_reply11(reply, b"\x01\x02\x03\x04")
    assert data[:2] == b"\x02\x00" and data[4:8] == b"\x01\x02\x03\x04" and data[8:20] == bytes(12)
    assert data[20:] == b"\x12\x07hello"  # §5.2: Message-Authenticator never sent


def test_request_sets_the_token_as_its_authenticator() -> None:
    p = Packet(40, 77)
    p.add_raw(1, b"alice")
    data = encode_request11(p, b"\xaa\xbb\xcc\xdd")
    assert data[1] == 0 and p.identifier == 0 and p.authenticator == b"\xaa\xbb\xcc\xdd" + bytes(12)
    assert data[20:] == b"\x01\x07alice"


def test_password_is_plain_and_bounded() -> None:
    nas11 = NasClient(1, "pop", "192.0.2.1", b"radsec", radius11=True)
    assert user_password(b"s3cret", nas11, bytes(16)) == b"s3cret"
    assert mppe_key(b"k" * 16, nas11, bytes(16)) == b"k" * 16
    nas10 = NasClient(1, "pop", "192.0.2.1", b"radsec")
    assert len(mppe_key(b"k" * 16, nas10, bytes(16))) == 34  # salt + encrypted length, key, padding
    for bad in (b"", b"x" * 129):  # §5.1.1: 1 to 128 octets
        with pytest.raises(MalformedPacket):
            clear_password(bad)


def test_radsec_alpn_setting_is_checked(tmp_path: Path) -> None:
    conf = tmp_path / "radiusd.toml"
    conf.write_text('radsec_alpn = "1.1"\n')
    assert load_settings(conf).radsec_alpn == "1.1"
    assert load_settings(conf, radsec_alpn="both").radsec_alpn == "both"
    conf.write_text('radsec_alpn = "2.0"\n')
    with pytest.raises(ConfigError, match=r"radsec_alpn.*both, 1\.0, 1\.1, off"):
        load_settings(conf)
