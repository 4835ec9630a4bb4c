"""MS-CHAP v1/v2 and MPPE: the published RFC vectors, byte for byte, plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiusd.codec import mschap


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# RFC 2759 §9.2 (also the inputs of RFC 3079 §3.5)
USER = b"User"
PASSWORD = "clientPass"
AUTH_CHALLENGE = h("5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28")
PEER_CHALLENGE = h("21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E")
CHALLENGE = h("D0 2E 43 86 BC E9 12 26")
PASSWORD_HASH = h("44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE")
NT_RESPONSE = h("82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF")
PASSWORD_HASH_HASH = h("41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F")
AUTH_RESPONSE = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
MASTER_KEY = h("FD EC E3 71 7A 8C 83 8C B3 88 E5 27 AE 3C DD 31")
SEND_START_KEY_128 = h("8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB")


class TestRFC2759Section9_2:
    def test_password_is_utf16le(self) -> None:
        assert PASSWORD.encode("utf-16-le") == h(
            "63 00 6C 00 69 00 65 00 6E 00 74 00 50 00 61 00 73 00 73 00"
        )

    def test_challenge_hash(self) -> None:
        assert mschap.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, USER) == CHALLENGE

    def test_nt_password_hash(self) -> None:
        assert mschap.nt_password_hash(PASSWORD) == PASSWORD_HASH

    def test_nt_response(self) -> None:
        assert mschap.generate_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD_HASH) == NT_RESPONSE

    def test_challenge_response(self) -> None:
        assert mschap.challenge_response(CHALLENGE, PASSWORD_HASH) == NT_RESPONSE

    def test_password_hash_hash(self) -> None:
        assert mschap.hash_nt_password_hash(PASSWORD_HASH) == PASSWORD_HASH_HASH

    def test_authenticator_response(self) -> None:
        got = mschap.generate_authenticator_response(
            PASSWORD_HASH, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER
        )
        assert got == AUTH_RESPONSE
        assert len(got) == 42

    def test_verify(self) -> None:
        got = mschap.verify_mschap2(PASSWORD_HASH, USER, AUTH_CHALLENGE, PEER_CHALLENGE, NT_RESPONSE)
        assert got == AUTH_RESPONSE

    def test_verify_drops_domain_prefix(self) -> None:
        # §8.2: only the user name, without any prepended domain, is hashed.
        got = mschap.verify_mschap2(
            PASSWORD_HASH, b"EXAMPLE\\User", AUTH_CHALLENGE, PEER_CHALLENGE, NT_RESPONSE
        )
        assert got == AUTH_RESPONSE

    def test_verify_wrong_password(self) -> None:
        other = mschap.nt_password_hash("clientPasS")
        assert mschap.verify_mschap2(other, USER, AUTH_CHALLENGE, PEER_CHALLENGE, NT_RESPONSE) is None

    def test_verify_wrong_length_response(self) -> None:
        assert (
            mschap.verify_mschap2(PASSWORD_HASH, USER, AUTH_CHALLENGE, PEER_CHALLENGE, NT_RESPONSE[:23])
            is None
        )


class TestDesKeys:
    """RFC 2759 §9.3 and RFC 2433 Appendix B.3 (same numbers)."""

    def test_mypw_hash(self) -> None:
        assert mschap.nt_password_hash("MyPw") == h("FC 15 6A F7 ED CD 6C 0E DD E3 33 7D 42 7F 4E AC")

    def test_parity_keys(self) -> None:
        assert mschap.des_key_from_7(h("FC 15 6A F7 ED CD 6C")) == h("FD 0B 5B 5E 7F 6E 34 D9")
        assert mschap.des_key_from_7(h("0E DD E3 33 7D 42 7F")) == h("0E 6E 79 67 37 EA 08 FE")

    @given(st.binary(min_size=7, max_size=7))
    def test_odd_parity_and_bits_kept(self, key7: bytes) -> None:
        key8 = mschap.des_key_from_7(key7)
        assert all(b.bit_count() % 2 == 1 for b in key8)
        bits = "".join(f"{b:08b}"[:7] for b in key8)
        assert int(bits, 2) == int.from_bytes(key7, "big")

    def test_wrong_length(self) -> None:
        with pytest.raises(ValueError):
            mschap.des_key_from_7(b"123456")


class TestRFC2433AppendixB2:
    CHALLENGE = h("10 2D B5 DF 08 5D 30 41")

    def test_nt_password(self) -> None:
        assert "MyPw".encode("utf-16-le") == h("4D 00 79 00 50 00 77 00")

    def test_nt_challenge_response(self) -> None:
        nt = mschap.nt_password_hash("MyPw")
        expected = h("4E 9D 3C 8F 9C FD 38 5D 5B F4 D3 24 67 91 95 6C A4 C3 51 AB 40 9A 3D 61")
        assert mschap.mschap1_nt_response(self.CHALLENGE, nt) == expected
        assert mschap.verify_mschap1(self.CHALLENGE, expected, nt)
        assert not mschap.verify_mschap1(self.CHALLENGE, expected, mschap.nt_password_hash("MyPW"))
        assert not mschap.verify_mschap1(self.CHALLENGE, expected[:-1], nt)


class TestLmHash:
    def test_rfc3079_2_5_1(self) -> None:
        assert mschap.lm_password_hash("clientPass") == h("76 a1 52 93 60 96 d7 83 0e 23 90 22 74 04 af d2")

    def test_well_known(self) -> None:
        # The widely published LM and NT hashes of "password".
        assert mschap.lm_password_hash("password") == h("E52CAC67419A9A224A3B108F3FA6CB6D")
        assert mschap.nt_password_hash("password") == h("8846F7EAEE8FB117AD06BDD830B7586C")
        assert mschap.lm_password_hash("") == h("AAD3B435B51404EEAAD3B435B51404EE")

    def test_no_lm_hash(self) -> None:
        assert mschap.lm_password_hash("fifteen chars!!") is None
        assert mschap.lm_password_hash("pässword") is None


class TestRFC3079MschapV1Keys:
    """RFC 3079 §2.5: session keys from MS-CHAP v1 credentials."""

    def test_40_and_56_bit(self) -> None:
        lm = mschap.lm_password_hash("clientPass")
        assert lm is not None
        key = mschap.get_new_key_from_sha(lm[:8], lm[:8], 8)
        assert key == h("d8 08 01 53 8c ec 4a 08")
        assert b"\xd1\x26\x9e" + key[3:] == h("d1 26 9e 53 8c ec 4a 08")
        assert b"\xd1" + key[1:] == h("d1 08 01 53 8c ec 4a 08")

    def test_128_bit(self) -> None:
        challenge = h("10 2d b5 df 08 5d 30 41")
        hh = mschap.hash_nt_password_hash(mschap.nt_password_hash("clientPass"))
        assert hh == PASSWORD_HASH_HASH
        initial = mschap.get_start_key(challenge, hh)
        # The RFC prints "ac ca" in Step 3 and "ac c1" in Step 4 (a copy of the same
        # value); the Step 5 result below only follows from "ac c1", so Step 3 is the typo.
        assert initial == h("a8 94 78 50 cf c0 ac c1 d1 78 9f b6 2d dc dd b0")
        assert mschap.get_new_key_from_sha(initial, initial, 16) == h(
            "59 d1 59 bc 09 f7 6f 1d a2 a8 6a 28 ff ec 0b 1e"
        )

    def test_ms_chap_mppe_keys_value(self) -> None:
        nt = mschap.nt_password_hash("clientPass")
        lm = mschap.lm_password_hash("clientPass")
        value = mschap.mschap1_mppe_keys_value(nt, lm)
        assert value == h("76 a1 52 93 60 96 d7 83") + PASSWORD_HASH_HASH + bytes(8)
        assert mschap.mschap1_mppe_keys_value(nt) == bytes(8) + PASSWORD_HASH_HASH + bytes(8)


class TestRFC3079MschapV2Keys:
    """RFC 3079 §3.5.1-3.5.3."""

    def test_master_key(self) -> None:
        assert mschap.get_master_key(PASSWORD_HASH_HASH, NT_RESPONSE) == MASTER_KEY

    def test_128_bit(self) -> None:
        send = mschap.get_asymmetric_start_key(MASTER_KEY, 16, is_send=True, is_server=True)
        assert send == SEND_START_KEY_128
        assert mschap.get_new_key_from_sha(send, send, 16) == h(
            "40 5C B2 24 7A 79 56 E6 E2 11 00 7A E2 7B 22 D4"
        )

    def test_40_and_56_bit(self) -> None:
        send8 = mschap.get_asymmetric_start_key(MASTER_KEY, 8, is_send=True, is_server=True)
        assert send8 == h("8B 7C DC 14 9B 99 3A 1B")
        key = mschap.get_new_key_from_sha(send8, send8, 8)
        assert b"\xd1\x26\x9e" + key[3:] == h("D1 26 9E C4 9F A6 2E 3E")
        assert b"\xd1" + key[1:] == h("D1 5C 00 C4 9F A6 2E 3E")

    def test_server_view(self) -> None:
        send, recv = mschap.mppe_keys_mschap2(PASSWORD_HASH, NT_RESPONSE)
        assert send == SEND_START_KEY_128
        assert recv == mschap.get_asymmetric_start_key(MASTER_KEY, 16, is_send=False, is_server=True)
        assert send != recv
        # The peer's receive key is the server's send key and the other way round.
        assert mschap.get_asymmetric_start_key(MASTER_KEY, 16, is_send=False, is_server=False) == send
        assert mschap.get_asymmetric_start_key(MASTER_KEY, 16, is_send=True, is_server=False) == recv

    def test_bad_length(self) -> None:
        with pytest.raises(ValueError):
            mschap.get_asymmetric_start_key(MASTER_KEY, 12, is_send=True, is_server=True)


class TestAttributeValues:
    def test_success_value(self) -> None:
        value = mschap.mschap2_success_value(7, AUTH_RESPONSE)
        assert value == b"\x07" + AUTH_RESPONSE.encode("ascii")
        assert len(value) == 43  # Vendor-Length 45 minus type and length (RFC 2548 §2.3.3)

    def test_success_value_rejects_garbage(self) -> None:
        with pytest.raises(ValueError):
            mschap.mschap2_success_value(1, "S=123")
        with pytest.raises(ValueError):
            mschap.mschap2_success_value(256, AUTH_RESPONSE)

    def test_error_value_v2(self) -> None:
        value = mschap.mschap_error_value(3, challenge=bytes(range(16)))
        assert value == b"\x03E=691 R=0 C=000102030405060708090A0B0C0D0E0F V=3 M=Authentication failed"

    def test_error_value_v1(self) -> None:
        value = mschap.mschap_error_value(9, 647, retry=True, version=None, message=None)
        assert value == b"\x09E=647 R=1"

    def test_error_value_bad_challenge(self) -> None:
        with pytest.raises(ValueError):
            mschap.mschap_error_value(1, challenge=b"short")

    def test_mschap2_response_layout(self) -> None:
        value = b"\x05\x00" + PEER_CHALLENGE + bytes(8) + NT_RESPONSE
        parsed = mschap.Mschap2Response.from_value(value)
        assert (parsed.ident, parsed.flags) == (5, 0)
        assert parsed.peer_challenge == PEER_CHALLENGE
        assert parsed.nt_response == NT_RESPONSE
        with pytest.raises(ValueError):
            mschap.Mschap2Response.from_value(value[:-1])

    def test_mschap_response_layout(self) -> None:
        value = b"\x05\x01" + bytes(24) + NT_RESPONSE
        parsed = mschap.MschapResponse.from_value(value)
        assert parsed.use_nt and parsed.ident == 5 and parsed.nt_response == NT_RESPONSE
        assert not mschap.MschapResponse.from_value(b"\x05\x00" + bytes(48)).use_nt

    def test_strip_domain(self) -> None:
        assert mschap.strip_domain(b"DOM\\user") == b"user"
        assert mschap.strip_domain(b"user") == b"user"
        assert mschap.strip_domain(b"user@realm") == b"user@realm"


# ------------------------------------------------------------------------ properties

passwords = st.text(max_size=40)
challenges16 = st.binary(min_size=16, max_size=16)
usernames = st.binary(min_size=1, max_size=64).filter(lambda b: b"\\" not in b)


@given(passwords, challenges16, challenges16, usernames)
def test_mschap2_roundtrip(password: str, auth_ch: bytes, peer_ch: bytes, user: bytes) -> None:
    nt = mschap.nt_password_hash(password)
    response = mschap.generate_nt_response(auth_ch, peer_ch, user, nt)
    got = mschap.verify_mschap2(nt, user, auth_ch, peer_ch, response)
    assert got == mschap.generate_authenticator_response(nt, response, peer_ch, auth_ch, user)
    # Peer-side check of the server's proof (RFC 2759 §8.8).
    assert got is not None and got.startswith("S=") and got[2:] == got[2:].upper()


@given(passwords, challenges16, challenges16, usernames, st.integers(0, 23), st.integers(1, 255))
def test_mschap2_changed_byte_fails(
    password: str, auth_ch: bytes, peer_ch: bytes, user: bytes, pos: int, flip: int
) -> None:
    nt = mschap.nt_password_hash(password)
    response = bytearray(mschap.generate_nt_response(auth_ch, peer_ch, user, nt))
    response[pos] ^= flip
    assert mschap.verify_mschap2(nt, user, auth_ch, peer_ch, bytes(response)) is None


@given(passwords, challenges16, challenges16, usernames, st.integers(0, 15), st.integers(1, 255))
def test_mschap2_changed_challenge_fails(
    password: str, auth_ch: bytes, peer_ch: bytes, user: bytes, pos: int, flip: int
) -> None:
    nt = mschap.nt_password_hash(password)
    response = mschap.generate_nt_response(auth_ch, peer_ch, user, nt)
    changed = bytearray(auth_ch)
    changed[pos] ^= flip
    assert mschap.verify_mschap2(nt, user, bytes(changed), peer_ch, response) is None


@given(passwords, st.binary(min_size=8, max_size=8), st.integers(0, 23), st.integers(1, 255))
def test_mschap1_roundtrip_and_changed_byte(password: str, challenge: bytes, pos: int, flip: int) -> None:
    nt = mschap.nt_password_hash(password)
    response = mschap.mschap1_nt_response(challenge, nt)
    assert mschap.verify_mschap1(challenge, response, nt)
    changed = bytearray(response)
    changed[pos] ^= flip
    assert not mschap.verify_mschap1(challenge, bytes(changed), nt)
