"""The datagrams of a simulated session, decoded and checked with the codec and the policy."""

from __future__ import annotations

import io
from hashlib import md5

import pytest

from radiusd.codec import Packet, encode_reply, verify_message_authenticator
from radiusd.codec import decode as codec_decode
from radiusd.codec.crypto import verify_hashed_request
from radiusd.codec.dictionary import default_dictionary
from radiusd.loadtest.sessions import (
    Profile,
    Session,
    SessionBuilder,
    User,
    UserKeys,
    UsersError,
    parse_server,
    read_users,
    reply_valid,
    synthetic_ip,
)
from radiusd.model.credentials import make_credential
from radiusd.policy.credentials import verify_chap, verify_mschap2

SECRET = b"s3cret"
USER = User("alice@isp", "correct horse")
D = default_dictionary()


def decode(data: bytes) -> Packet:
    return codec_decode(data, D)


def builder(auth: str = "pap", interims: int = 2, ma: bool = True) -> SessionBuilder:
    return SessionBuilder(
        Profile(secret=SECRET, auth=auth, interims=interims, message_authenticator=ma, run_id=7)
    )


def accept(request: bytes, *attrs: tuple[str, object]) -> bytes:
    """An Access-Accept for ``request`` encoded by the codec."""
    reply = decode(request).reply(2)
    for name, value in attrs:
        reply.add(name, value)
    return encode_reply(reply, SECRET)


def test_pap_request_decodes_with_password_and_message_authenticator() -> None:
    b = builder()
    data, auth = b.access_request(Session(5, UserKeys(USER)), 42)
    pkt = decode(data)
    assert (pkt.code, pkt.identifier, pkt.authenticator) == (1, 42, auth)
    assert pkt.get("User-Name") == "alice@isp"
    assert pkt.user_password(SECRET) == b"correct horse"
    assert data[20:22] == b"\x50\x12", "Message-Authenticator comes first"
    assert verify_message_authenticator(data, SECRET) is True
    assert pkt.get("NAS-Port") == 5
    assert pkt.get("NAS-IP-Address") == "127.0.0.1"


def test_request_without_message_authenticator() -> None:
    data, _ = builder(ma=False).access_request(Session(1, UserKeys(USER)), 1)
    assert verify_message_authenticator(data, SECRET) is None


def test_random_authenticator_per_request() -> None:
    b = builder()
    s = Session(1, UserKeys(USER))
    assert b.access_request(s, 1)[1] != b.access_request(s, 1)[1]


def test_chap_request_verifies() -> None:
    data, auth = builder("chap").access_request(Session(1, UserKeys(USER)), 9)
    pkt = decode(data)
    chap = pkt.raw("CHAP-Password")
    assert chap is not None and len(chap) == 17
    assert chap[1:] == md5(chap[:1] + b"correct horse" + auth).digest()
    assert verify_chap(make_credential("correct horse", "cleartext"), chap[0], auth, chap[1:]).ok


@pytest.mark.parametrize("kind", ["cleartext", "nt-hash"])
def test_mschapv2_request_verifies(kind: str) -> None:
    data, _ = builder("mschapv2").access_request(Session(1, UserKeys(USER)), 3)
    pkt = decode(data)
    challenge = pkt.raw("MS-CHAP-Challenge")
    response = pkt.raw("MS-CHAP2-Response")
    assert challenge is not None and response is not None and len(response) == 50
    result = verify_mschap2(make_credential("correct horse", kind), b"alice@isp", challenge, response)
    assert result.ok
    wrong = verify_mschap2(make_credential("wrong", kind), b"alice@isp", challenge, response)
    assert not wrong.ok


def test_session_accounting_sequence() -> None:
    b = builder(interims=2)
    s = Session(77, UserKeys(USER))
    req, _ = b.access_request(s, 1)
    reply = accept(req, ("Framed-IP-Address", "10.1.2.3"), ("Class", b"plan=gold"))
    assert reply_valid(reply, decode(req).authenticator, SECRET)
    b.accept(s, reply)
    assert s.framed_ip == bytes([10, 1, 2, 3])
    kinds, statuses, octets, times, sids = [], [], [], [], set()
    for step in range(1, b.last_step + 1):
        s.step = step
        data, auth = b.accounting_request(s, step)
        assert verify_hashed_request(data, SECRET) and data[4:20] == auth
        pkt = decode(data)
        kinds.append(b.kind_of(step))
        statuses.append(pkt.get("Acct-Status-Type"))
        octets.append((pkt.get("Acct-Input-Gigawords") << 32) + pkt.get("Acct-Input-Octets"))
        times.append(pkt.get("Acct-Session-Time"))
        sids.add(pkt.get("Acct-Session-Id"))
        assert pkt.get("Framed-IP-Address") == "10.1.2.3"
        assert pkt.get("Class") == b"plan=gold", "Class is echoed (RFC 2865 §5.25)"
        assert pkt.get("User-Name") == "alice@isp"
    assert kinds == [1, 2, 2, 3]
    assert statuses == [1, 3, 3, 2]  # Start, Interim-Update x2, Stop
    assert octets == sorted(octets) and len(set(octets)) == 4 and octets[-1] > 2**32
    assert times == sorted(times) and times[0] == 0
    assert len(sids) == 1
    assert pkt.get("Acct-Terminate-Cause") == 1


def test_session_ids_unique_and_synthetic_address() -> None:
    b = builder(interims=0)
    ids = set()
    for index in range(3):
        s = Session(index, UserKeys(USER))
        req, _ = b.access_request(s, 1)
        b.accept(s, accept(req))  # no Framed-IP-Address in the Accept
        assert s.framed_ip == synthetic_ip(index)
        s.step = 1
        ids.add(decode(b.accounting_request(s, 1)[0]).get("Acct-Session-Id"))
    assert len(ids) == 3
    assert synthetic_ip(0) == bytes([100, 64, 0, 0])


def test_reply_valid_refuses_forgeries() -> None:
    b = builder()
    req, auth = b.access_request(Session(1, UserKeys(USER)), 1)
    reply = bytearray(accept(req, ("Framed-IP-Address", "10.0.0.1")))
    assert reply_valid(bytes(reply), auth, SECRET)
    assert not reply_valid(bytes(reply), bytes(16), SECRET)  # another request's authenticator
    assert not reply_valid(bytes(reply), auth, b"other")
    reply[-1] ^= 1
    assert not reply_valid(bytes(reply), auth, SECRET)
    assert not reply_valid(b"\x02\x01\x00", auth, SECRET)


def test_read_users_uses_subscriber_import_columns() -> None:
    users = read_users(io.StringIO("username,password,plan\nu1,p1,gold\nu2,p2,\n"))
    assert users == [User("u1", "p1"), User("u2", "p2")]
    with pytest.raises(UsersError, match="missing column"):
        read_users(io.StringIO("username\nu1\n"))
    with pytest.raises(UsersError, match="no subscribers"):
        read_users(io.StringIO("username,password\n"))


def test_parse_server() -> None:
    assert parse_server("127.0.0.1") == ("127.0.0.1", 1812)
    assert parse_server("127.0.0.1:1645") == ("127.0.0.1", 1645)
    assert parse_server("[::1]:1812") == ("::1", 1812)
    for bad in ("127.0.0.1:x", "127.0.0.1:0", ":1812", "[::1"):
        with pytest.raises(ValueError):
            parse_server(bad)
