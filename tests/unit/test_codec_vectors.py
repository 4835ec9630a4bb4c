"""Published RADIUS vectors and type-by-type value tests for radiusd.codec.

Byte vectors are copied from the RFC texts in /work/shared/rfc/ (RFC 2865 §7, RFC 5997 §6).
Where an RFC gives no bytes (RFC 2866, RFC 5176, RFC 2868, RFC 6929), the expected
authenticators are computed here independently with hashlib/hmac from the RFC formulas,
never with the codec's own helpers.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from radiusd.codec import MalformedPacket, Packet, decode, encode_reply, encode_request
from radiusd.codec.crypto import (
    ZERO16,
    hide_user_password,
    recover_user_password,
    salt_decrypt,
    salt_encrypt,
    verify_hashed_request,
    verify_response,
)
from radiusd.codec.dictionary import Dictionary, default_dictionary, default_dictionary_path
from radiusd.codec.scanning import verify_message_authenticator

D = default_dictionary()
SECRET = b"xyzzy5461"


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def hmac_md5(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, "md5").digest()


# -- RFC 2865 §7.1: User Telnet to Specified Host -----------------------------------------

RFC2865_7_1_REQUEST = h("""
    01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
    98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
    93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
    01 10 05 06 00 00 00 03""")
RFC2865_7_1_ACCEPT = h("""
    02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
    9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00
    0e 06 c0 a8 01 03""")

RFC2865_7_2_REQUEST = h("""
    01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e
    0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13 16 e9
    75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75 04
    06 c0 a8 01 10 05 06 00 00 00 14 06 06 00 00 00
    02 07 06 00 00 00 01""")
RFC2865_7_2_ACCEPT = h("""
    02 01 00 38 15 ef bc 7d ab 26 cf a3 dc 34 d9 c0
    3c 86 01 a4 06 06 00 00 00 02 07 06 00 00 00 01
    08 06 ff ff ff fe 0a 06 00 00 00 02 0d 06 00 00
    00 01 0c 06 00 00 05 dc""")


def test_rfc2865_7_1_access_request_decodes() -> None:
    """RFC 2865 §7.1: the Access-Request's header and attributes."""
    p = decode(RFC2865_7_1_REQUEST, D)
    assert (p.code, p.identifier, len(p)) == (1, 0, 4)
    assert p.authenticator == RFC2865_7_1_REQUEST[4:20]
    assert p.get("User-Name") == "nemo"
    assert p.get("NAS-IP-Address") == "192.168.1.16"
    assert p.get("NAS-Port") == 3
    assert p.to_bytes() == RFC2865_7_1_REQUEST


def test_rfc2865_7_1_user_password_recovered() -> None:
    """RFC 2865 §5.2 / §7.1: User-Password recovers to "arctangent" with xyzzy5461."""
    p = decode(RFC2865_7_1_REQUEST, D)
    assert p.user_password(SECRET) == b"arctangent"
    assert p.user_password(b"wrong-secret") != b"arctangent"
    # hiding it again under the same authenticator gives the very same 16 octets
    assert hide_user_password(b"arctangent", SECRET, p.authenticator) == p.raw("User-Password")


def test_rfc2865_7_1_access_accept_bytes_exact() -> None:
    """RFC 2865 §7.1: Service-Type=Login, Login-Service=Telnet, Login-IP-Host=192.168.1.3,
    Response Authenticator = MD5(Code+ID+Length+RequestAuth+Attributes+Secret) (§3)."""
    request = decode(RFC2865_7_1_REQUEST, D)
    reply = request.reply(2)
    reply.add("Service-Type", "Login-User")
    reply.add("Login-Service", "Telnet")
    reply.add("Login-IP-Host", "192.168.1.3")
    assert encode_reply(reply, SECRET, message_auth=False) == RFC2865_7_1_ACCEPT
    assert verify_response(RFC2865_7_1_ACCEPT, request.authenticator, SECRET)
    assert not verify_response(RFC2865_7_1_ACCEPT, request.authenticator, b"xyzzy5462")


def test_rfc2865_7_2_chap_request_decodes() -> None:
    """RFC 2865 §7.2 / §5.3: CHAP-Password is CHAP ident (22) + 16-octet response; the
    Request Authenticator is the CHAP challenge (no CHAP-Challenge attribute)."""
    p = decode(RFC2865_7_2_REQUEST, D)
    assert (p.code, p.identifier, len(p)) == (1, 1, 6)
    assert p.get("User-Name") == "flopsy"
    chap = p.raw("CHAP-Password")
    assert chap is not None and len(chap) == 17 and chap[0] == 22
    assert chap[1:] == h("e9 75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75")
    assert p.get("NAS-IP-Address") == "192.168.1.16"
    assert p.get("NAS-Port") == 20
    assert p.get("Service-Type") == 2
    assert p.get("Framed-Protocol") == 1
    assert p.raw("CHAP-Challenge") is None
    assert p.raw("User-Password") is None and p.user_password(SECRET) is None
    assert p.to_bytes() == RFC2865_7_2_REQUEST


def test_rfc2865_7_2_access_accept_bytes_exact() -> None:
    """RFC 2865 §7.2: the Framed Access-Accept, rebuilt attribute by attribute.

    The listing's legend says Framed-Routing = None (0) but its bytes (0a 06 00 00 00 02)
    and its Response Authenticator are for 2 (Listen): we reproduce the bytes."""
    reply = decode(RFC2865_7_2_REQUEST, D).reply(2)
    reply.add("Service-Type", "Framed-User").add("Framed-Protocol", "PPP")
    reply.add("Framed-IP-Address", "255.255.255.254").add("Framed-Routing", "Listen")
    reply.add("Framed-Compression", 1).add("Framed-MTU", 1500)
    assert encode_reply(reply, SECRET, message_auth=False) == RFC2865_7_2_ACCEPT


# -- RFC 5997 §6: Status-Server ------------------------------------------------------------

RFC5997_6_1_REQUEST = h("""
    0c da 00 26 8a 54 f4 68 6f b3 94 c5 28 66 e3 02
    18 5d 06 23 50 12 5a 66 5e 2e 1e 84 11 f3 e2 43
    82 20 97 c8 4f a3""")
RFC5997_6_1_REPLY = h("02 da 00 14 ef 0d 55 2a 4b f2 d6 93 ec 2b 6f e8 b5 41 1d 66")
RFC5997_6_2_REQUEST = h("""
    0c b3 00 26 92 5f 6b 66 dd 5f ed 57 1f cb 1d b7
    ad 38 82 60 50 12 e8 d6 ea bd a9 10 87 5c d9 1f
    da de 26 36 78 58""")
RFC5997_6_2_REPLY = h("02 b3 00 14 0f 6f 92 14 5f 10 7e 2f 50 4e 86 0a 48 60 66 9c")
RFC5997_6_3_REQUEST = h("""
    0c 47 00 2c bf 58 de 56 ae 40 8a d3 b7 0c 85 13
    f9 b0 3f be 04 06 c0 00 02 10 50 12 85 2d 6f ec
    61 e7 ed 74 b8 e3 2d ac 2f 2a 5f b2""")
RFC5997_6_3_REPLY = h("""
    02 47 00 34 46 f4 3e 62 fd 03 54 42 4c bb eb fd
    6d 21 4e 06 12 20 52 41 44 49 55 53 20 53 65 72
    76 65 72 20 75 70 20 32 20 64 61 79 73 2c 20 31
    38 3a 34 30""")


@pytest.mark.parametrize("data", [RFC5997_6_1_REQUEST, RFC5997_6_2_REQUEST, RFC5997_6_3_REQUEST])
def test_rfc5997_6_status_server_message_authenticator(data: bytes) -> None:
    """RFC 5997 §6.1-6.3 / RFC 3579 §3.2: each Status-Server's Message-Authenticator is
    HMAC-MD5 over the packet with its own Request Authenticator; a wrong secret fails."""
    p = decode(data, D)
    assert p.code == 12 and p.ma_offset == len(data) - 16
    assert verify_message_authenticator(data, SECRET) is True
    assert verify_message_authenticator(data, SECRET, offset=p.ma_offset) is True
    assert verify_message_authenticator(data, b"xyzzy5460") is False
    tampered = bytearray(data)
    tampered[10] ^= 1
    assert verify_message_authenticator(bytes(tampered), SECRET) is False


def test_rfc5997_6_1_reply_bytes_exact() -> None:
    """RFC 5997 §6.1: the empty Access-Accept answering Status-Server on the auth port."""
    reply = decode(RFC5997_6_1_REQUEST, D).reply(2)
    assert encode_reply(reply, SECRET, message_auth=False) == RFC5997_6_1_REPLY


def test_rfc5997_6_2_reply_authenticator() -> None:
    """RFC 5997 §6.2: the reply on the accounting port is an Accounting-Response (5).

    The printed dump starts with 02 (an erratum); its authenticator is the one of code 5,
    as the text ("Code (5)") says: we produce the dump with the code octet corrected.
    """
    reply = decode(RFC5997_6_2_REQUEST, D).reply(5)
    assert encode_reply(reply, SECRET, message_auth=False) == b"\x05" + RFC5997_6_2_REPLY[1:]


def test_rfc5997_6_3_reply_bytes_exact() -> None:
    """RFC 5997 §6.3: NAS-IP-Address 192.0.2.16 in the query; Reply-Message in the Accept."""
    request = decode(RFC5997_6_3_REQUEST, D)
    assert request.get("NAS-IP-Address") == "192.0.2.16"
    reply = request.reply(2).add("Reply-Message", "RADIUS Server up 2 days, 18:40")
    assert encode_reply(reply, SECRET, message_auth=False) == RFC5997_6_3_REPLY


def test_status_server_reply_with_message_authenticator() -> None:
    """RFC 5997 §3 / RFC 3579 §3.2: a reply's Message-Authenticator uses the request's
    authenticator; the Response Authenticator covers the Message-Authenticator."""
    request = decode(RFC5997_6_1_REQUEST, D)
    data = encode_reply(request.reply(2), SECRET)
    assert data[20:22] == b"\x50\x12"
    assert verify_message_authenticator(data, SECRET, request.authenticator) is True
    assert verify_message_authenticator(data, SECRET) is False  # not its own authenticator
    assert verify_response(data, request.authenticator, SECRET)
    zeroed = data[:4] + request.authenticator + data[20:22] + ZERO16
    assert data[22:38] == hmac_md5(SECRET, zeroed)


def test_status_server_request_always_has_message_authenticator() -> None:
    """RFC 5997 §2: clients MUST include Message-Authenticator in Status-Server."""
    data = encode_request(Packet(12, 7, dictionary=D), SECRET)
    assert data[20] == 80 and verify_message_authenticator(data, SECRET) is True


# -- RFC 2866 §3 and RFC 5176 §2.3 / §3.4: hashed request authenticators -----------------


def _accounting_request() -> Packet:
    p = Packet(4, 42, dictionary=D)
    p.add("Acct-Status-Type", "Start").add("Acct-Session-Id", "0001a2b3")
    p.add("User-Name", "alice").add("NAS-IP-Address", "10.0.0.1")
    p.add("Acct-Delay-Time", 0)
    return p


def test_rfc2866_accounting_request_authenticator() -> None:
    """RFC 2866 §3: Request Authenticator = MD5(Code+ID+Length+16 zero octets+Attributes+Secret)."""
    p = _accounting_request()
    data = encode_request(p, SECRET)
    assert data[4:20] == md5(data[:4] + ZERO16 + data[20:] + SECRET)
    assert p.authenticator == data[4:20]
    assert verify_hashed_request(data, SECRET)
    assert not verify_hashed_request(data, b"other")
    back = decode(data, D)
    assert back.get("Acct-Status-Type") == 1 and back.get("Acct-Session-Id") == "0001a2b3"
    assert back.to_bytes() == data


def test_rfc2866_accounting_response_authenticator() -> None:
    """RFC 2866 §4: Accounting-Response authenticator uses the request's authenticator."""
    data = encode_request(_accounting_request(), SECRET)
    request = decode(data, D)
    resp = encode_reply(request.reply(5), SECRET, message_auth=False)
    assert resp == b"\x05\x2a\x00\x14" + md5(b"\x05\x2a\x00\x14" + data[4:20] + SECRET)
    assert verify_response(resp, data[4:20], SECRET)


@pytest.mark.parametrize("code", [40, 43])
def test_rfc5176_request_authenticator_and_message_authenticator(code: int) -> None:
    """RFC 5176 §2.3: CoA/Disconnect-Request authenticator is computed like Accounting's;
    §3.4: its Message-Authenticator is computed with the authenticator field zeroed,
    before the Request Authenticator (which then covers it)."""
    p = Packet(code, 9, dictionary=D).add("User-Name", "bob").add("Acct-Session-Id", "s-1")
    data = encode_request(p, SECRET, message_auth=True)
    assert data[20:22] == b"\x50\x12"
    mac_input = data[:4] + ZERO16 + data[20:22] + ZERO16 + data[38:]
    assert data[22:38] == hmac_md5(SECRET, mac_input)
    assert data[4:20] == md5(data[:4] + ZERO16 + data[20:] + SECRET)
    assert verify_hashed_request(data, SECRET)
    assert verify_message_authenticator(data, SECRET, ZERO16) is True
    assert verify_message_authenticator(data, SECRET) is False  # not with its own authenticator
    # the ACK answers with the request's authenticator (RFC 5176 §2.3, RFC 3579 §3.2)
    req = decode(data, D)
    ack = encode_reply(req.reply(code + 1), SECRET)
    assert verify_response(ack, data[4:20], SECRET)
    assert verify_message_authenticator(ack, SECRET, data[4:20]) is True


# -- RFC 2865 §5.2: User-Password hiding ---------------------------------------------------

AUTH = bytes(range(16))


@pytest.mark.parametrize("n", range(0, 129))
def test_user_password_roundtrip_every_length(n: int) -> None:
    """RFC 2865 §5.2: padded to a multiple of 16 (at least 16), chained MD5, up to 128."""
    pw = bytes((i % 255) + 1 for i in range(n))  # no NUL octets (they are padding)
    hidden = hide_user_password(pw, SECRET, AUTH)
    assert len(hidden) == max(16, -(-n // 16) * 16)
    assert recover_user_password(hidden, SECRET, AUTH) == pw
    # first block = p1 XOR MD5(S + RA), independently
    b1 = md5(SECRET + AUTH)
    first = pw[:16].ljust(16, b"\x00")
    assert hidden[:16] == bytes(a ^ b for a, b in zip(first, b1, strict=True))
    if n > 16:  # second block chains on the first cipher block
        b2 = md5(SECRET + hidden[:16])
        second = pw[16:32].ljust(16, b"\x00")
        assert hidden[16:32] == bytes(a ^ b for a, b in zip(second, b2, strict=True))


def test_user_password_over_128_refused() -> None:
    """RFC 2865 §5.2: the password is at most 128 octets."""
    with pytest.raises(ValueError, match="128"):
        hide_user_password(b"x" * 129, SECRET, AUTH)
    with pytest.raises(MalformedPacket) as e:
        recover_user_password(bytes(144), SECRET, AUTH)
    assert e.value.reason == "bad-user-password"


@pytest.mark.parametrize("n", [0, 1, 15, 17, 31, 33, 127])
def test_user_password_hidden_length_not_multiple_of_16(n: int) -> None:
    """RFC 2865 §5.2: the hidden value is 16..128 octets, a multiple of 16; a packet
    carrying another length gives MalformedPacket when the password is read."""
    body = bytes((2, n + 2)) + bytes(n)
    data = bytes((1, 5)) + (20 + len(body)).to_bytes(2, "big") + AUTH + body
    p = decode(data, D)
    with pytest.raises(MalformedPacket) as e:
        p.user_password(SECRET)
    assert e.value.reason == "bad-user-password"


def test_set_user_password_then_recover() -> None:
    """RFC 2865 §5.2: a client-side Access-Request round-trips through the wire."""
    p = Packet(1, 3, dictionary=D).add("User-Name", "carol")
    p.set_user_password(b"s3cret!", SECRET)
    data = encode_request(p, SECRET, message_auth=True)
    back = decode(data, D)
    assert back.user_password(SECRET) == b"s3cret!"
    assert verify_message_authenticator(data, SECRET) is True


# -- RFC 2868 §3.5 / RFC 2548 §2.4.2: salt encryption ---------------------------------------


def _salt_reference(plain: bytes, secret: bytes, ra: bytes, salt: bytes) -> bytes:
    data = bytes((len(plain),)) + plain
    data += bytes(-len(data) % 16)
    out, prev = b"", ra + salt
    for i in range(0, len(data), 16):
        block = bytes(a ^ b for a, b in zip(data[i : i + 16], md5(secret + prev), strict=True))
        out += block
        prev = block
    return salt + out


@pytest.mark.parametrize("n", [0, 1, 14, 15, 16, 31, 32, 100, 239])
def test_salt_encrypt_matches_rfc2868_formula(n: int) -> None:
    """RFC 2868 §3.5: b(1) = MD5(S + R + A), c(1) = p(1) xor b(1), b(i) = MD5(S + c(i-1));
    the plaintext starts with its own length octet and is padded to 16."""
    plain = bytes(range(n))
    salt = b"\x80\x01"
    enc = salt_encrypt(plain, SECRET, AUTH, salt)
    assert enc == _salt_reference(plain, SECRET, AUTH, salt)
    assert salt_decrypt(enc, SECRET, AUTH) == plain
    random_salt = salt_encrypt(plain, SECRET, AUTH)
    assert random_salt[0] & 0x80 and salt_decrypt(random_salt, SECRET, AUTH) == plain


def test_salt_must_have_high_bit_and_value_must_be_blocks() -> None:
    """RFC 2868 §3.5: "The most significant bit (leftmost) of the Salt field MUST be set"."""
    with pytest.raises(ValueError):
        salt_encrypt(b"x", SECRET, AUTH, b"\x01\x02")
    with pytest.raises(ValueError):
        salt_decrypt(b"\x80\x01" + bytes(15), SECRET, AUTH)
    bad_len_octet = _salt_reference(b"", SECRET, AUTH, b"\x80\x01")
    forged = bytearray(bad_len_octet)
    forged[2] ^= 0xFF  # length octet now 255 > 15 octets of data
    with pytest.raises(ValueError):
        salt_decrypt(bytes(forged), SECRET, AUTH)


def test_tunnel_password_tagged_roundtrip() -> None:
    """RFC 2868 §3.5: Tunnel-Password = Tag + Salt + encrypted String, in a reply."""
    request = decode(RFC2865_7_1_REQUEST, D)
    reply = request.reply(2)
    reply.add("Tunnel-Password", salt_encrypt(b"tunnel-pw", SECRET, request.authenticator), tag=1)
    back = decode(encode_reply(reply, SECRET), D)
    [(tag, value)] = back.get_tagged("Tunnel-Password")
    assert tag == 1 and len(value) == 18
    assert salt_decrypt(value, SECRET, request.authenticator) == b"tunnel-pw"


def test_ms_mppe_send_key_roundtrip() -> None:
    """RFC 2548 §2.4.2: MS-MPPE-Send-Key (Microsoft 311, type 16) is salt-encrypted with
    the Access-Request's authenticator; 16-octet key + length octet = 32 octets + salt."""
    request = decode(RFC2865_7_1_REQUEST, D)
    key = bytes(range(100, 116))
    reply = request.reply(2).add("MS-MPPE-Send-Key", salt_encrypt(key, SECRET, request.authenticator))
    data = encode_reply(reply, SECRET)
    vsa = decode(data, D).raw("Vendor-Specific")
    assert vsa is not None and vsa[:6] == b"\x00\x00\x01\x37\x10\x24"  # 311, type 16, len 36
    value = decode(data, D).get("MS-MPPE-Send-Key")
    assert len(value) == 34 and salt_decrypt(value, SECRET, request.authenticator) == key


# -- tagged, vendor, extended attributes ----------------------------------------------------


def test_tagged_integer_tunnel_type_vlan() -> None:
    """RFC 2868 §3.1 + RFC 3580 §3.31: Tunnel-Type:1 = VLAN (13): the tag replaces the
    integer's first octet; Tunnel-Private-Group-Id:1 = "100" carries its tag octet."""
    p = Packet(2, 1, dictionary=D)
    p.add("Tunnel-Type", "VLAN", tag=1).add("Tunnel-Medium-Type", "IEEE-802", tag=1)
    p.add("Tunnel-Private-Group-Id", "100", tag=1)
    assert p.attributes[0] == (64, b"\x01\x00\x00\x0d")
    assert p.attributes[2] == (81, b"\x01100")
    back = decode(p.to_bytes(), D)
    assert back.get_tagged("Tunnel-Type") == [(1, 13)]
    assert back.get("Tunnel-Type") == 13
    assert back.get_tagged("Tunnel-Private-Group-Id") == [(1, "100")]
    assert ("Tunnel-Type:1", "VLAN") in [(n, v) for n, v, _ in back.items()]


def test_tagged_string_without_tag() -> None:
    """RFC 2868 §3.3: a first octet above 0x1F is the string itself, not a tag."""
    body = bytes((81, 5)) + b"200"
    p = decode(bytes((2, 1, 0, 25)) + AUTH + body, D)
    assert p.get_tagged("Tunnel-Private-Group-Id") == [(0, "200")]


def test_vsa_mikrotik_rate_limit_and_cisco_avpair_order() -> None:
    """RFC 2865 §5.26: Vendor-Id, then Vendor type / length / value; repeats and the
    order of attributes (top level and vendor) are kept."""
    p = Packet(2, 1, dictionary=D)
    p.add("Cisco-AVPair", "ip:addr-pool=a").add("Mikrotik-Rate-Limit", "10M/20M")
    p.add("Cisco-AVPair", "ip:vrf-id=b").add("Session-Timeout", 60)
    p.add("Cisco-AVPair", "subscriber:service=c")
    assert p.attributes[1] == (26, b"\x00\x00\x3a\x8c\x08\x09" + b"10M/20M")  # 14988, type 8
    data = p.to_bytes()
    back = decode(data, D)
    assert back.get("Mikrotik-Rate-Limit") == "10M/20M"
    assert back.get_all("Cisco-AVPair") == ["ip:addr-pool=a", "ip:vrf-id=b", "subscriber:service=c"]
    assert [t for t, _ in back.attributes] == [26, 26, 26, 27, 26]
    assert [(v, t) for v, t, _, _ in back.vendor_attributes()] == [(9, 1), (14988, 8), (9, 1), (9, 1)]
    assert back.to_bytes() == data


def test_vsa_with_several_sub_attributes() -> None:
    """RFC 2865 §5.26: one Vendor-Specific may carry several sub-attributes."""
    value = b"\x00\x00\x3a\x8c" + b"\x08\x05abc" + b"\x03\x04gr"
    p = decode(bytes((2, 1, 0, 20 + 2 + len(value))) + AUTH + bytes((26, 2 + len(value))) + value, D)
    assert p.get("Mikrotik-Rate-Limit") == "abc" and p.get("Mikrotik-Group") == "gr"


@pytest.fixture(scope="module")
def ext_dict(tmp_path_factory: pytest.TempPathFactory) -> Dictionary:
    """The shipped dictionaries plus test attributes in the RFC 6929 spaces."""
    extra = tmp_path_factory.mktemp("dict") / "dictionary.test"
    extra.write_text(
        "ATTRIBUTE Test-Ext-String 241.200 string\n"
        "ATTRIBUTE Test-Long-Octets 245.200 octets\n"
        "ATTRIBUTE Test-Long-Evs 245.26.9.7 octets\n"
        "ATTRIBUTE Test-Evs-Integer 241.26.9.5 integer\n"
    )
    d = Dictionary.load(default_dictionary_path())
    d.load_file(Path(extra))
    return d


def test_rfc6929_extended_attribute(ext_dict: Dictionary) -> None:
    """RFC 6929 §2.1: Type 241, Length, Extended-Type, Value; Frag-Status is 241.1 (RFC 7499)."""
    p = Packet(1, 1, dictionary=ext_dict).add("Test-Ext-String", "hello").add("Frag-Status", 2)
    assert p.attributes == [(241, b"\xc8hello"), (241, b"\x01\x00\x00\x00\x02")]
    back = decode(p.to_bytes(), ext_dict)
    assert back.get("Test-Ext-String") == "hello" and back.get("Frag-Status") == 2


def test_rfc6929_extended_vendor_specific(ext_dict: Dictionary) -> None:
    """RFC 6929 §2.4: Extended-Type 26, then Vendor-Id (4), Vendor-Type (1), value."""
    p = Packet(1, 1, dictionary=ext_dict).add("Test-Evs-Integer", 77)
    assert p.attributes == [(241, b"\x1a\x00\x00\x00\x09\x05\x00\x00\x00\x4d")]
    assert decode(p.to_bytes(), ext_dict).get("Test-Evs-Integer") == 77


@pytest.mark.parametrize("n", [1, 250, 251, 252, 502, 600])
def test_rfc6929_long_extended_fragmentation(ext_dict: Dictionary, n: int) -> None:
    """RFC 6929 §2.2 / §3.5: a long value is split into fragments of at most 251 octets;
    every fragment but the last has the M (More) flag; the value is their concatenation."""
    value = bytes(i % 256 for i in range(n))
    p = Packet(2, 1, dictionary=ext_dict).add("Test-Long-Octets", value).add("Session-Timeout", 5)
    frags = [v for t, v in p.attributes if t == 245]
    assert len(frags) == -(-n // 251)
    for f in frags[:-1]:
        assert f[0] == 200 and f[1] == 0x80 and len(f) == 253  # Length 255
    assert frags[-1][:2] == b"\xc8\x00"
    back = decode(encode_reply(p, SECRET, AUTH), ext_dict)
    assert back.get("Test-Long-Octets") == value


def test_rfc6929_long_extended_evs_fragmented(ext_dict: Dictionary) -> None:
    """RFC 6929 §2.4 inside §2.2: the Vendor-Id/Vendor-Type header is in the first fragment."""
    value = bytes(range(256)) * 2
    p = Packet(2, 1, dictionary=ext_dict).add("Test-Long-Evs", value)
    assert p.attributes[0][1][:8] == b"\x1a\x80\x00\x00\x00\x09\x07\x00"
    assert decode(p.to_bytes(), ext_dict).get("Test-Long-Evs") == value


def test_rfc6929_long_extended_fragment_without_flags(ext_dict: Dictionary) -> None:
    """RFC 6929 §2.2: a 245 attribute of Length 3 has no Flags octet: invalid, so absent
    (regression: it raised IndexError from get())."""
    body = b"\xf5\x03\xc8" + b"\xf5\x03\x1a"
    p = decode(bytes((2, 1, 0, 20 + len(body))) + AUTH + body, ext_dict)
    assert p.get("Test-Long-Octets") is None
    assert p.get("Test-Long-Evs") is None


# -- value types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "raw"),
    [
        ("2001:db8::/56", "00 38 20 01 0d b8 00 00 00"),
        ("2001:db8:1:2::/64", "00 40 20 01 0d b8 00 01 00 02"),
        ("::/0", "00 00"),
        ("2001:db8::1/128", "00 80 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01"),
        ("2001:db8::/33", "00 21 20 01 0d b8 00"),
    ],
)
def test_rfc3162_ipv6prefix(prefix: str, raw: str) -> None:
    """RFC 3162 §2.3: Reserved, Prefix-Length, then only the octets the prefix needs."""
    p = Packet(2, 1, dictionary=D).add("Framed-IPv6-Prefix", prefix)
    assert p.attributes == [(97, h(raw))]
    assert decode(p.to_bytes(), D).get("Framed-IPv6-Prefix") == prefix


def test_rfc3162_ipv6prefix_full_16_octets_accepted() -> None:
    """RFC 3162 §2.3 allows up to 16 prefix octets; many NASes always send 16."""
    raw = b"\x00\x38" + bytes.fromhex("20010db8000000000000000000000000")
    p = Packet(2, 1, dictionary=D).add_raw(97, raw)
    assert decode(p.to_bytes(), D).get("Framed-IPv6-Prefix") == "2001:db8::/56"


@pytest.mark.parametrize("raw", ["00", "00 81" + "00" * 16, "00 40 20 01", "00 00" + "00" * 17])
def test_rfc3162_ipv6prefix_invalid_is_absent(raw: str) -> None:
    """RFC 3162 §2.3 / RFC 6929 §2.8: a prefix of impossible shape is an invalid attribute."""
    p = Packet(2, 1, dictionary=D).add_raw(97, h(raw)).add_raw(27, b"\x00\x00\x00\x05")
    back = decode(p.to_bytes(), D)
    assert back.get("Framed-IPv6-Prefix") is None
    assert back.get("Session-Timeout") == 5


def test_rfc3162_ifid() -> None:
    """RFC 3162 §2.2: Framed-Interface-Id is 8 octets."""
    p = Packet(2, 1, dictionary=D).add("Framed-Interface-Id", "0211:22ff:fe33:4455")
    assert p.attributes == [(96, h("02 11 22 ff fe 33 44 55"))]
    assert decode(p.to_bytes(), D).get("Framed-Interface-Id") == "0211:22ff:fe33:4455"


def test_ipv6addr() -> None:
    """RFC 6911 §3.1: Framed-IPv6-Address is 16 octets."""
    p = Packet(2, 1, dictionary=D).add("Framed-IPv6-Address", "2001:db8::7")
    assert decode(p.to_bytes(), D).get("Framed-IPv6-Address") == "2001:db8::7"


def test_integer64() -> None:
    """RFC 8044 §3.3 integer64: 8 octets, network order (Ubiquiti data rates use it)."""
    p = Packet(2, 1, dictionary=D).add("Ubiquiti-Data-Rate-DL", 2**40 + 5)
    vsa = p.attributes[0][1]
    assert vsa[-8:] == (2**40 + 5).to_bytes(8, "big")
    assert decode(p.to_bytes(), D).get("Ubiquiti-Data-Rate-DL") == 2**40 + 5


def test_date() -> None:
    """RFC 2869 §5.3 / RFC 8044 §3.5: Event-Timestamp, seconds since 1970 in 4 octets."""
    p = Packet(4, 1, dictionary=D).add("Event-Timestamp", 1_700_000_000)
    assert p.attributes == [(55, (1_700_000_000).to_bytes(4, "big"))]
    assert decode(p.to_bytes(), D).get("Event-Timestamp") == 1_700_000_000


@pytest.mark.parametrize(
    ("name", "value"),
    [("Session-Timeout", -1), ("Session-Timeout", 2**32), ("Ubiquiti-Data-Rate-DL", 2**64)],
)
def test_integer_out_of_range_is_value_error(name: str, value: int) -> None:
    """RFC 2865 §5 integers are 32-bit unsigned: out of range is a ValueError
    (regression: it leaked struct.error)."""
    with pytest.raises(ValueError):
        Packet(2, 1, dictionary=D).add(name, value)


@pytest.mark.parametrize(
    ("code", "name", "bad"),
    [
        (8, "Framed-IP-Address", b"\x0a\x00\x00"),
        (27, "Session-Timeout", b"\x00\x00\x00\x00\x05"),
        (55, "Event-Timestamp", b"\x01\x02"),
        (96, "Framed-Interface-Id", b"\x01" * 7),
        (168, "Framed-IPv6-Address", b"\x20" * 15),
    ],
)
def test_invalid_length_value_is_absent_but_packet_kept(code: int, name: str, bad: bytes) -> None:
    """RFC 6929 §2.8: an attribute of the wrong length for its type is "invalid": it is
    treated as absent, the packet is not discarded, and re-encoding keeps it unchanged."""
    p = Packet(1, 1, AUTH, dictionary=D).add("User-Name", "u").add_raw(code, bad).add("NAS-Port", 1)
    data = p.to_bytes()
    back = decode(data, D)
    assert back.get(name) is None and back.get(name, "dflt") == "dflt"
    assert back.get_all(name) == []
    assert back.raw(name) == bad
    assert back.get("User-Name") == "u" and back.get("NAS-Port") == 1
    assert back.to_bytes() == data
    assert dict((n, v) for n, v, _ in back.items())[name] == bad  # logged as raw octets
    assert verify_response(encode_reply(back.reply(2), SECRET), AUTH, SECRET)


def test_invalid_value_followed_by_valid_repeat() -> None:
    """RFC 6929 §2.8: get_all() leaves out the invalid occurrences and keeps the valid ones."""
    p = Packet(2, 1, dictionary=D).add_raw(8, b"\x01").add("Framed-IP-Address", "10.0.0.9")
    back = decode(p.to_bytes(), D)
    assert back.get_all("Framed-IP-Address") == ["10.0.0.9"]


def test_proxy_state_copied_in_order() -> None:
    """RFC 2865 §5.33: Proxy-State attributes are copied unmodified, in order, into replies."""
    p = Packet(1, 1, AUTH, dictionary=D).add_raw(33, b"one").add("User-Name", "x").add_raw(33, b"two")
    reply = decode(p.to_bytes(), D).reply(2).add("Session-Timeout", 10)
    back = decode(encode_reply(reply, SECRET), D)
    assert back.raw_all("Proxy-State") == [b"one", b"two"]
    assert back.attributes[0][0] == 80  # Message-Authenticator first (BlastRADIUS guidance)


def test_padding_after_length_is_ignored() -> None:
    """RFC 2865 §3: octets beyond Length are padding and are ignored."""
    p = decode(RFC2865_7_1_REQUEST + b"\x00" * 7 + b"junk", D)
    assert p.to_bytes() == RFC2865_7_1_REQUEST
    assert p.user_password(SECRET) == b"arctangent"


@pytest.mark.parametrize("value", ["10.0.0.1", 167772161])
def test_ipaddr_encodes(value: str | int) -> None:
    """RFC 2865 §5.8: Framed-IP-Address is 4 octets, from dotted-quad text or an integer."""
    assert Packet(2, 1, dictionary=D).add("Framed-IP-Address", value).attributes == [(8, b"\x0a\x00\x00\x01")]


@pytest.mark.parametrize(
    "value", ["10.0.0", "10.0.0.256", "010.0.0.1", " 10.0.0.1", "10.0.0.1\x00", "::1", ""]
)
def test_ipaddr_encoder_is_strict(value: str) -> None:
    """RFC 2865 §5.8: only a dotted quad is an address; anything else is a ValueError."""
    with pytest.raises(ValueError):
        Packet(2, 1, dictionary=D).add("Framed-IP-Address", value)
