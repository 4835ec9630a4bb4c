"""Stored credentials: parsing, making, and PAP/CHAP/MS-CHAP verification with reasons."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radiusd.codec import mschap
from radiusd.model.credentials import (
    DEFAULT_PBKDF2_ITERATIONS,
    MAX_PBKDF2_ITERATIONS,
    AuthMethod,
    Credential,
    CredentialKind,
    make_credential,
    parse_credential,
)
from radiusd.policy.credentials import verify_chap, verify_mschap1, verify_mschap2, verify_pap

SECRET = "s3cr3t-Pässword"
FAST = 10  # PBKDF2 rounds for tests that are not about cost


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def ab64(data: bytes) -> str:
    return b64(data).rstrip("=").replace("+", ".")


def chap_response(ident: int, password: bytes, challenge: bytes) -> bytes:
    return hashlib.md5(bytes([ident]) + password + challenge).digest()


# RFC 2759 §9.2 inputs
AUTH_CH = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CH = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
NT_RESP = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
MSCHAP2_RESPONSE = b"\x2a\x00" + PEER_CH + bytes(8) + NT_RESP


# ------------------------------------------------------------------ parse and make


class TestParse:
    def test_cleartext(self) -> None:
        cred = parse_credential("cleartext:" + SECRET)
        assert cred.kind is CredentialKind.CLEARTEXT
        assert cred.secret == SECRET.encode()
        assert cred.storage_string() == "cleartext:" + SECRET

    def test_cleartext_keeps_colons_and_spaces(self) -> None:
        assert parse_credential("cleartext: a:b ").secret == b" a:b "

    @pytest.mark.parametrize("prefix", ["{cleartext}", "{Cleartext}", "{clear}"])
    def test_cleartext_ldap(self, prefix: str) -> None:
        cred = parse_credential(prefix + SECRET)
        assert cred.kind is CredentialKind.CLEARTEXT
        assert verify_pap(cred, SECRET.encode()).ok

    @pytest.mark.parametrize(
        "stored",
        [
            "nt:8846f7eaee8fb117ad06bdd830b7586c",
            "nt:8846F7EAEE8FB117AD06BDD830B7586C",
            "nt:0x8846F7EAEE8FB117AD06BDD830B7586C",
            "{NT}8846F7EAEE8FB117AD06BDD830B7586C",
            "{nthash}8846f7eaee8fb117ad06bdd830b7586c",
        ],
    )
    def test_nt(self, stored: str) -> None:
        cred = parse_credential(stored)
        assert cred.kind is CredentialKind.NT_HASH
        assert cred.secret == bytes.fromhex("8846F7EAEE8FB117AD06BDD830B7586C")
        assert verify_pap(cred, b"password").ok

    @pytest.mark.parametrize(
        "stored",
        [
            "",
            "password",
            "nt:1234",
            "nt:zz46f7eaee8fb117ad06bdd830b7586c",
            "$pbkdf2-sha256$0$c2FsdA$" + ab64(bytes(32)),
            f"$pbkdf2-sha256${MAX_PBKDF2_ITERATIONS + 1}$c2FsdA${ab64(bytes(32))}",
            "$pbkdf2-sha256$10$c2FsdA$" + ab64(bytes(31)),
            "$pbkdf2-sha256$ten$c2FsdA$" + ab64(bytes(32)),
            "$pbkdf2-sha256$10$c2FsdA",
            "$2b$12$abcdefghijklmnopqrstuv",
            "{SSHA}not base64!",
            "{SHA}" + b64(bytes(19)),
            "{SSHA}" + b64(bytes(20)),  # salted needs a salt
            "{unknown}x",
            "pbkdf2_sha256$x$salt$" + b64(bytes(32)),
        ],
    )
    def test_malformed(self, stored: str) -> None:
        with pytest.raises(ValueError):
            parse_credential(stored)

    def test_error_messages_carry_no_secret(self) -> None:
        for stored in [
            "hunter2-secret",
            "{SSHA}hunter2-secret",
            "{SHA}hunter2",
            "nt:hunter2-secret",
            "$pbkdf2-sha256$hunter2$c2FsdA$hunter2",
            "$pbkdf2-sha256$10$hunter2$hunter2!",
            "pbkdf2_sha256$10$salt$hunter2!",
        ]:
            with pytest.raises(ValueError) as info:
                parse_credential(stored)
            exc: BaseException | None = info.value
            while exc is not None:  # nothing in the chain may quote the stored string
                assert "hunter2" not in str(exc)
                exc = exc.__cause__ or exc.__context__


class TestMake:
    def test_cleartext_roundtrip(self) -> None:
        cred = make_credential(SECRET, "cleartext")
        assert parse_credential(cred.storage_string()).secret == cred.secret

    def test_nt_roundtrip(self) -> None:
        cred = make_credential("clientPass", "nt-hash")
        assert cred.storage_string() == "nt:44ebba8d5312b8d611474411f56989ae"
        assert parse_credential(cred.storage_string()).secret == cred.secret

    def test_pbkdf2_format_is_passlib(self) -> None:
        salt = bytes(range(16))
        cred = make_credential("password", "pbkdf2-sha256", iterations=1000, salt=salt)
        expected = hashlib.pbkdf2_hmac("sha256", b"password", salt, 1000)
        assert cred.storage_string() == f"$pbkdf2-sha256$1000${ab64(salt)}${ab64(expected)}"
        parsed = parse_credential(cred.storage_string())
        assert (parsed.salt, parsed.iterations, parsed.secret) == (salt, 1000, expected)
        assert verify_pap(parsed, b"password").ok

    def test_pbkdf2_defaults(self) -> None:
        a = make_credential("pw", "pbkdf2-sha256")
        b = make_credential("pw", "pbkdf2-sha256")
        assert a.iterations == DEFAULT_PBKDF2_ITERATIONS
        assert a.salt != b.salt and len(a.salt) == 16  # fresh random salt each time
        assert a.expensive

    def test_refused(self) -> None:
        with pytest.raises(ValueError):
            make_credential("", "cleartext")
        with pytest.raises(ValueError):
            make_credential("pw", "md5")
        with pytest.raises(ValueError):
            make_credential("pw", "pbkdf2-sha256", iterations=0)


class TestMasking:
    def test_repr_masks(self) -> None:
        for cred in [
            make_credential(SECRET, "cleartext"),
            make_credential(SECRET, "nt-hash"),
            make_credential(SECRET, "pbkdf2-sha256", iterations=FAST),
        ]:
            for text in (repr(cred), str(cred), f"{cred}", f"{cred!r}"):
                assert SECRET not in text
                assert cred.secret.hex() not in text
                assert "masked" in text

    def test_results_repr_masks_keys(self) -> None:
        result = verify_mschap2(
            make_credential("clientPass", "cleartext"), b"User", AUTH_CH, MSCHAP2_RESPONSE
        )
        assert result.ok and result.send_key is not None and result.recv_key is not None
        assert result.send_key.hex() not in repr(result) and str(list(result.send_key)) not in repr(result)
        assert repr(result.send_key) not in repr(result) and repr(result.recv_key) not in repr(result)

    def test_no_equality_by_secret(self) -> None:
        a, b = parse_credential("cleartext:x"), parse_credential("cleartext:x")
        assert a != b and a == a


# ------------------------------------------------------------------ PAP


class TestPap:
    def test_cleartext(self) -> None:
        cred = make_credential(SECRET, "cleartext")
        assert verify_pap(cred, SECRET.encode()).ok
        result = verify_pap(cred, b"wrong")
        assert not result.ok and result.reason == "wrong password"

    def test_nt_hash(self) -> None:
        cred = make_credential(SECRET, "nt-hash")
        assert verify_pap(cred, SECRET.encode()).ok
        assert not verify_pap(cred, SECRET.upper().encode()).ok
        result = verify_pap(cred, b"\xff\xfe")
        assert not result.ok and "UTF-8" in result.reason

    @pytest.mark.parametrize(
        ("scheme", "algo", "salted"),
        [
            ("SHA", "sha1", False),
            ("SSHA", "sha1", True),
            ("SHA256", "sha256", False),
            ("SSHA256", "sha256", True),
            ("SHA512", "sha512", False),
            ("SSHA512", "sha512", True),
            ("MD5", "md5", False),
            ("SMD5", "md5", True),
        ],
    )
    def test_ldap_hashes(self, scheme: str, algo: str, salted: bool) -> None:
        salt = os.urandom(8) if salted else b""
        digest = hashlib.new(algo, SECRET.encode() + salt).digest()
        cred = parse_credential(f"{{{scheme}}}{b64(digest + salt)}")
        assert cred.kind is CredentialKind.HASH
        assert verify_pap(cred, SECRET.encode()).ok
        assert not verify_pap(cred, b"other").ok
        if not salted:  # FreeRADIUS also stores these as hex
            assert verify_pap(parse_credential(f"{{{scheme}}}{digest.hex()}"), SECRET.encode()).ok

    def test_well_known_sha(self) -> None:
        # {SHA} of "password" as printed by slappasswd -h {SHA} -s password.
        cred = parse_credential("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=")
        assert verify_pap(cred, b"password").ok

    def test_passlib_pbkdf2_variants(self) -> None:
        salt = b"saltysalt"
        for scheme, algo in [("pbkdf2", "sha1"), ("pbkdf2-sha256", "sha256"), ("pbkdf2-sha512", "sha512")]:
            digest = hashlib.pbkdf2_hmac(algo, b"pw", salt, 7)
            cred = parse_credential(f"${scheme}$7${ab64(salt)}${ab64(digest)}")
            assert verify_pap(cred, b"pw").ok, scheme
            assert not verify_pap(cred, b"pW").ok, scheme

    def test_django_pbkdf2(self) -> None:
        digest = hashlib.pbkdf2_hmac("sha256", b"letmein", b"seasalt", 20)
        cred = parse_credential(f"pbkdf2_sha256$20$seasalt${b64(digest)}")
        assert verify_pap(cred, b"letmein").ok
        assert not verify_pap(cred, b"letmeout").ok

    def test_crypt_sha_vectors(self) -> None:
        # Test vectors from Ulrich Drepper's SHA-crypt specification (the last: salt cut to 16).
        sha512 = (
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnI"
            "FNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        )
        sha256 = "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
        rounds = (
            "$6$rounds=10000$saltstringsaltstring$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/"
            "UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
        )
        for stored in (sha512, sha256, "{crypt}" + sha512, rounds):
            cred = parse_credential(stored)
            assert cred.kind is CredentialKind.HASH and cred.expensive
            assert verify_pap(cred, b"Hello world!").ok
            assert verify_pap(cred, b"Hello world?").reason == "wrong password"
        assert parse_credential(rounds).iterations == 10_000
        assert parse_credential(sha512).iterations == 5_000

    def test_md5_crypt_and_bcrypt(self) -> None:
        import bcrypt

        md5 = parse_credential("$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/")
        assert verify_pap(md5, b"password").ok and not verify_pap(md5, b"passwort").ok
        for ident in (b"2a", b"2b", b"2y"):
            made = bcrypt.hashpw(b"pw-bcrypt", bcrypt.gensalt(4, prefix=b"2b")).replace(
                b"$2b$", b"$" + ident + b"$"
            )
            cred = parse_credential(made.decode())
            assert cred.scheme == "bcrypt" and cred.iterations == 4 and cred.expensive
            assert verify_pap(cred, b"pw-bcrypt").ok and not verify_pap(cred, b"pw-bcrypT").ok

    @pytest.mark.parametrize(
        "stored",
        [
            "$6$rounds=999999999$saltsalt$" + "a" * 86,  # ~25 minutes of CPU for one check
            "$5$rounds=100001$saltsalt$" + "a" * 43,
            "{crypt}$6$rounds=1000000$saltsalt$" + "a" * 86,
            "$2b$14$" + "a" * 53,
            "$2y$31$" + "a" * 53,
        ],
    )
    def test_crypt_cost_above_the_ceiling_is_refused(self, stored: str) -> None:
        with pytest.raises(ValueError, match="limit") as err:
            parse_credential(stored)
        assert "a" * 20 not in str(err.value) and "saltsalt" not in str(err.value)

    def test_cost_is_checked_again_before_a_check(self) -> None:
        """A credential that did not come through parse_credential is refused, not computed."""
        stored = "$6$rounds=999999999$saltsalt$" + "a" * 86
        forged = Credential(CredentialKind.HASH, "crypt", stored.encode(), iterations=5000, stored=stored)
        result = verify_pap(forged, b"pw")
        assert not result.ok and "999999999 rounds" in result.reason
        pbkdf2 = make_credential("pw", "pbkdf2-sha256", iterations=FAST)
        big = Credential(
            CredentialKind.HASH, pbkdf2.scheme, pbkdf2.secret, salt=pbkdf2.salt, iterations=10**9
        )
        result = verify_pap(big, b"pw")
        assert not result.ok and "above" in result.reason

    def test_hash_cannot_serve_other_methods(self) -> None:
        cred = make_credential("pw", "pbkdf2-sha256", iterations=FAST)
        assert cred.serves(AuthMethod.PAP)
        assert not any(cred.serves(m) for m in (AuthMethod.CHAP, AuthMethod.MSCHAP1, AuthMethod.MSCHAP2))

    @settings(max_examples=50, deadline=None)
    @given(st.text(min_size=1, max_size=64), st.text(max_size=64))
    def test_property_pap(self, password: str, other: str) -> None:
        for kind in ("cleartext", "nt-hash", "pbkdf2-sha256"):
            cred = parse_credential(make_credential(password, kind, iterations=FAST).storage_string())
            assert verify_pap(cred, password.encode()).ok
            assert verify_pap(cred, other.encode()).ok == (other == password)


# ------------------------------------------------------------------ CHAP


class TestChap:
    CHALLENGE = bytes(range(16))

    def test_cleartext(self) -> None:
        cred = make_credential(SECRET, "cleartext")
        response = chap_response(7, SECRET.encode(), self.CHALLENGE)
        assert verify_chap(cred, 7, self.CHALLENGE, response).ok
        assert not verify_chap(cred, 8, self.CHALLENGE, response).ok
        assert not verify_chap(cred, 7, self.CHALLENGE[::-1], response).ok
        result = verify_chap(cred, 7, self.CHALLENGE, chap_response(7, b"nope", self.CHALLENGE))
        assert not result.ok and result.reason.startswith("wrong password")

    def test_nt_hash_refused(self) -> None:
        result = verify_chap(make_credential(SECRET, "nt-hash"), 1, self.CHALLENGE, bytes(16))
        assert not result.ok
        assert result.reason == "stored credential is an NT hash: CHAP needs the cleartext password"

    def test_salted_hash_refused(self) -> None:
        cred = make_credential(SECRET, "pbkdf2-sha256", iterations=FAST)
        result = verify_chap(cred, 1, self.CHALLENGE, bytes(16))
        assert result.reason == (
            "stored credential is a salted password hash (pbkdf2-sha256): CHAP needs the cleartext password"
        )

    def test_bad_input(self) -> None:
        cred = make_credential(SECRET, "cleartext")
        assert "16 octets" in verify_chap(cred, 1, self.CHALLENGE, bytes(15)).reason
        assert "empty" in verify_chap(cred, 1, b"", bytes(16)).reason
        assert not verify_chap(cred, 256, self.CHALLENGE, bytes(16)).ok

    @given(
        st.text(min_size=1, max_size=32),
        st.integers(0, 255),
        st.binary(min_size=1, max_size=32),
        st.integers(0, 15),
    )
    def test_property(self, password: str, ident: int, challenge: bytes, pos: int) -> None:
        cred = make_credential(password, "cleartext")
        response = chap_response(ident, password.encode(), challenge)
        assert verify_chap(cred, ident, challenge, response).ok
        changed = bytearray(response)
        changed[pos] ^= 0x01
        assert not verify_chap(cred, ident, challenge, bytes(changed)).ok


# ------------------------------------------------------------------ MS-CHAP


class TestMschap2:
    @pytest.mark.parametrize("kind", ["cleartext", "nt-hash"])
    def test_rfc2759_vector(self, kind: str) -> None:
        cred = make_credential("clientPass", kind)
        result = verify_mschap2(cred, b"User", AUTH_CH, MSCHAP2_RESPONSE)
        assert result.ok, result.reason
        assert result.ident == 0x2A
        assert result.success_value == b"\x2aS=407A5589115FD0D6209F510FE9C04566932CDA56"
        # RFC 3079 §3.5.3: the server's send key.
        assert result.send_key == bytes.fromhex("8B7CDC149B993A1BA118CB153F56DCCB")
        assert result.recv_key is not None and len(result.recv_key) == 16

    def test_domain_prefix(self) -> None:
        result = verify_mschap2(
            make_credential("clientPass", "cleartext"), b"CORP\\User", AUTH_CH, MSCHAP2_RESPONSE
        )
        assert result.ok

    def test_wrong_password(self) -> None:
        result = verify_mschap2(
            make_credential("clientpass", "cleartext"), b"User", AUTH_CH, MSCHAP2_RESPONSE
        )
        assert not result.ok and result.reason.startswith("wrong password")
        assert result.ident == 0x2A and result.success_value is None and result.send_key is None

    def test_wrong_user(self) -> None:
        assert not verify_mschap2(
            make_credential("clientPass", "cleartext"), b"user", AUTH_CH, MSCHAP2_RESPONSE
        ).ok

    def test_hash_refused(self) -> None:
        cred = parse_credential("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=")
        result = verify_mschap2(cred, b"User", AUTH_CH, MSCHAP2_RESPONSE)
        assert result.reason == (
            "stored credential is a password hash (sha): "
            "MS-CHAPv2 needs the cleartext password or its NT hash"
        )

    def test_bad_lengths(self) -> None:
        cred = make_credential("clientPass", "cleartext")
        assert "16 octets" in verify_mschap2(cred, b"User", AUTH_CH[:8], MSCHAP2_RESPONSE).reason
        assert "50 octets" in verify_mschap2(cred, b"User", AUTH_CH, MSCHAP2_RESPONSE[:49]).reason

    @settings(max_examples=50)
    @given(
        st.text(min_size=1, max_size=32),
        st.binary(min_size=1, max_size=32).filter(lambda b: b"\\" not in b),
        st.binary(min_size=16, max_size=16),
        st.binary(min_size=16, max_size=16),
        st.integers(26, 49),
    )
    def test_property(self, password: str, user: bytes, auth_ch: bytes, peer_ch: bytes, pos: int) -> None:
        nt = mschap.nt_password_hash(password)
        response = b"\x01\x00" + peer_ch + bytes(8) + mschap.generate_nt_response(auth_ch, peer_ch, user, nt)
        for cred in (make_credential(password, "cleartext"), make_credential(password, "nt-hash")):
            assert verify_mschap2(cred, user, auth_ch, response).ok
            changed = bytearray(response)
            changed[pos] ^= 0x80
            assert not verify_mschap2(cred, user, auth_ch, bytes(changed)).ok


class TestMschap1:
    CHALLENGE = bytes.fromhex("102DB5DF085D3041")
    NT = bytes.fromhex("4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61")  # RFC 2433 B.2, "MyPw"

    def test_rfc2433_vector(self) -> None:
        response = b"\x03\x01" + bytes(24) + self.NT
        result = verify_mschap1(make_credential("MyPw", "cleartext"), self.CHALLENGE, response)
        assert result.ok and result.ident == 3
        assert result.mppe_keys == (
            mschap.lm_password_hash("MyPw")[:8]  # type: ignore[index]
            + mschap.hash_nt_password_hash(mschap.nt_password_hash("MyPw"))
            + bytes(8)
        )
        from_nt = verify_mschap1(make_credential("MyPw", "nt-hash"), self.CHALLENGE, response)
        assert from_nt.ok and from_nt.mppe_keys is not None and from_nt.mppe_keys[:8] == bytes(8)

    def test_wrong_password(self) -> None:
        response = b"\x03\x01" + bytes(24) + self.NT
        result = verify_mschap1(make_credential("MyPW", "cleartext"), self.CHALLENGE, response)
        assert not result.ok and result.mppe_keys is None and result.reason.startswith("wrong password")

    def test_lm_only_refused(self) -> None:
        response = b"\x03\x00" + self.NT + bytes(24)
        result = verify_mschap1(make_credential("MyPw", "cleartext"), self.CHALLENGE, response)
        assert not result.ok and "LM" in result.reason

    def test_refusals(self) -> None:
        response = b"\x03\x01" + bytes(24) + self.NT
        cred = make_credential("MyPw", "pbkdf2-sha256", iterations=FAST)
        assert "MS-CHAPv1 needs" in verify_mschap1(cred, self.CHALLENGE, response).reason
        clear = make_credential("MyPw", "cleartext")
        assert "8 octets" in verify_mschap1(clear, self.CHALLENGE + b"x", response).reason
        assert "50 octets" in verify_mschap1(clear, self.CHALLENGE, response + b"x").reason


def test_credential_is_immutable() -> None:
    cred: Credential = make_credential("pw", "cleartext")
    with pytest.raises(AttributeError):
        cred.secret = b"x"  # type: ignore[misc]
