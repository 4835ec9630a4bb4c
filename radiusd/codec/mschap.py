"""MS-CHAP v1/v2 and MPPE key derivation: pure functions over bytes.

References (texts in /work/shared/rfc):

- RFC 2433 (MS-CHAP v1): Appendix A pseudocode (NtPasswordHash, LmPasswordHash,
  ChallengeResponse, DesEncrypt), Appendix B vectors.
- RFC 2759 (MS-CHAP v2): §8 pseudocode (GenerateNTResponse, ChallengeHash,
  GenerateAuthenticatorResponse), §9.2 vectors, §6 Failure message format.
- RFC 3079 (MPPE keys): §2 keys from MS-CHAP v1, §3 keys from MS-CHAP v2, §2.5/§3.5 vectors.
- RFC 2548 (Microsoft RADIUS attributes): §2.1.3 MS-CHAP-Response, §2.1.5 MS-CHAP-Error,
  §2.3.2 MS-CHAP2-Response, §2.3.3 MS-CHAP2-Success, §2.4.1 MS-CHAP-MPPE-Keys,
  §2.4.2/§2.4.3 MS-MPPE-Send-Key/Recv-Key.

Nothing here does I/O, draws random numbers or logs: callers pass challenges in and
decide what to send. Every function raises ``ValueError`` on wrong input lengths (never
with secret material in the message), because a silently truncated key is a security bug.

MD4 and DES come from pycryptodome: hashlib has no MD4 under OpenSSL 3.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from Crypto.Cipher import DES
from Crypto.Hash import MD4

__all__ = [
    "Mschap2Response",
    "MschapResponse",
    "challenge_hash",
    "challenge_response",
    "des_key_from_7",
    "generate_authenticator_response",
    "generate_nt_response",
    "get_asymmetric_start_key",
    "get_master_key",
    "get_new_key_from_sha",
    "get_start_key",
    "hash_nt_password_hash",
    "lm_password_hash",
    "mppe_keys_mschap2",
    "mschap1_mppe_keys_value",
    "mschap1_nt_response",
    "mschap2_success_value",
    "mschap_error_value",
    "nt_password_hash",
    "strip_domain",
    "verify_mschap1",
    "verify_mschap2",
]


def _check_len(name: str, value: bytes, length: int) -> None:
    if len(value) != length:
        raise ValueError(f"{name} must be {length} octets, got {len(value)}")


# --------------------------------------------------------------------------- hashes


def nt_password_hash(password: str) -> bytes:
    """NtPasswordHash (RFC 2433 A.6, RFC 2759 §8.3): MD4 of the UTF-16LE password, 16 octets."""
    return MD4.new(password.encode("utf-16-le")).digest()


def hash_nt_password_hash(nt_hash: bytes) -> bytes:
    """HashNtPasswordHash (RFC 2759 §8.4): MD4 of the 16-octet NT hash."""
    _check_len("nt_hash", nt_hash, 16)
    return MD4.new(nt_hash).digest()


_LM_MAGIC = b"KGS!@#$%"


def lm_password_hash(password: str) -> bytes | None:
    """LmPasswordHash (RFC 2433 A.2): only used for MS-CHAP v1 MPPE keys (RFC 3079 §2.1-2.2).

    Returns None when the password has no LM hash: LM is defined over at most 14 OEM
    characters; we accept only ASCII (the OEM code page is a client-side setting we
    cannot know), so longer or non-ASCII passwords simply get no LM key.
    """
    try:
        raw = password.upper().encode("ascii")
    except UnicodeEncodeError:
        return None
    if len(raw) > 14:
        return None
    raw = raw.ljust(14, b"\x00")
    return _des_encrypt(_LM_MAGIC, raw[:7]) + _des_encrypt(_LM_MAGIC, raw[7:14])


# --------------------------------------------------------------------------- DES


def des_key_from_7(key7: bytes) -> bytes:
    """Spread 56 key bits over 8 octets with odd parity in each low bit (RFC 2433 A.4, B.3)."""
    _check_len("key7", key7, 7)
    n = int.from_bytes(key7, "big")
    out = bytearray(8)
    for i in range(8):
        b = ((n >> (49 - 7 * i)) & 0x7F) << 1
        out[i] = b | ((b.bit_count() + 1) & 1)
    return bytes(out)


def _des_encrypt(clear8: bytes, key7: bytes) -> bytes:
    """DesEncrypt (RFC 2433 A.4 / RFC 2759 §8.6): DES-ECB of one block with a 7-octet key."""
    return DES.new(des_key_from_7(key7), DES.MODE_ECB).encrypt(clear8)


def challenge_response(challenge8: bytes, password_hash16: bytes) -> bytes:
    """ChallengeResponse (RFC 2433 A.7, RFC 2759 §8.5): 3 DES blocks keyed by the zero-padded hash."""
    _check_len("challenge", challenge8, 8)
    _check_len("password hash", password_hash16, 16)
    z = password_hash16 + b"\x00" * 5
    return (
        _des_encrypt(challenge8, z[0:7])
        + _des_encrypt(challenge8, z[7:14])
        + _des_encrypt(challenge8, z[14:21])
    )


# --------------------------------------------------------------------------- MS-CHAP v1


def mschap1_nt_response(challenge8: bytes, nt_hash: bytes) -> bytes:
    """NtChallengeResponse (RFC 2433 A.5) from an NT hash: 24 octets."""
    return challenge_response(challenge8, nt_hash)


def verify_mschap1(challenge8: bytes, nt_response24: bytes, nt_hash: bytes) -> bool:
    """Check an MS-CHAP v1 NT-Response (RFC 2433 §6) in constant time.

    LM-Response-only answers (Flags = 0) are not accepted by this server: the LM hash
    is crackable in seconds, so a peer must send an NT-Response.
    """
    if len(nt_response24) != 24:
        return False
    return hmac.compare_digest(mschap1_nt_response(challenge8, nt_hash), nt_response24)


# --------------------------------------------------------------------------- MS-CHAP v2


def strip_domain(username: bytes) -> bytes:
    """The user name as ChallengeHash wants it: without a "DOMAIN\\" prefix (RFC 2759 §8.2).

    Windows peers send "DOMAIN\\user" and hash only "user"; like FreeRADIUS we cut at
    the first backslash.
    """
    _, sep, rest = username.partition(b"\\")
    return rest if sep else username


def challenge_hash(peer_challenge: bytes, authenticator_challenge: bytes, username: bytes) -> bytes:
    """ChallengeHash (RFC 2759 §8.2): first 8 octets of SHA1(peer || authenticator || name).

    The domain prefix is removed here, as the RFC pseudocode says, so that every caller
    (generation and verification) hashes the same name.
    """
    _check_len("peer_challenge", peer_challenge, 16)
    _check_len("authenticator_challenge", authenticator_challenge, 16)
    return hashlib.sha1(peer_challenge + authenticator_challenge + strip_domain(username)).digest()[:8]


def generate_nt_response(
    auth_challenge16: bytes, peer_challenge16: bytes, username: bytes, nt_hash: bytes
) -> bytes:
    """GenerateNTResponse (RFC 2759 §8.1) from an NT hash: 24 octets."""
    return challenge_response(challenge_hash(peer_challenge16, auth_challenge16, username), nt_hash)


_AUTH_MAGIC1 = b"Magic server to client signing constant"
_AUTH_MAGIC2 = b"Pad to make it do more than one iteration"


def generate_authenticator_response(
    nt_hash: bytes, nt_response: bytes, peer_challenge: bytes, auth_challenge: bytes, username: bytes
) -> str:
    """GenerateAuthenticatorResponse (RFC 2759 §8.7): "S=" + 40 uppercase hex digits.

    This proves to the peer that the server knows its password too (mutual auth).
    """
    _check_len("nt_response", nt_response, 24)
    digest = hashlib.sha1(hash_nt_password_hash(nt_hash) + nt_response + _AUTH_MAGIC1).digest()
    challenge = challenge_hash(peer_challenge, auth_challenge, username)
    digest = hashlib.sha1(digest + challenge + _AUTH_MAGIC2).digest()
    return "S=" + digest.hex().upper()


def verify_mschap2(
    nt_hash: bytes, username: bytes, auth_challenge: bytes, peer_challenge: bytes, nt_response: bytes
) -> str | None:
    """Verify an MS-CHAP v2 NT-Response (RFC 2759 §5); return the authenticator response or None.

    ``username`` is the name the peer sent (User-Name); its domain prefix is dropped.
    """
    if len(nt_response) != 24:
        return None
    expected = generate_nt_response(auth_challenge, peer_challenge, username, nt_hash)
    if not hmac.compare_digest(expected, nt_response):
        return None
    return generate_authenticator_response(nt_hash, nt_response, peer_challenge, auth_challenge, username)


# --------------------------------------------------------------------------- MPPE (RFC 3079)

_SHS_PAD1 = b"\x00" * 40
_SHS_PAD2 = b"\xf2" * 40
_MPPE_MAGIC1 = b"This is the MPPE Master Key"
_MPPE_MAGIC2 = b"On the client side, this is the send key; on the server side, it is the receive key."
_MPPE_MAGIC3 = b"On the client side, this is the receive key; on the server side, it is the send key."


def get_master_key(password_hash_hash: bytes, nt_response: bytes) -> bytes:
    """GetMasterKey (RFC 3079 §3.4): SHA1(hash-hash || NT-Response || Magic1)[:16]."""
    _check_len("password_hash_hash", password_hash_hash, 16)
    _check_len("nt_response", nt_response, 24)
    return hashlib.sha1(password_hash_hash + nt_response + _MPPE_MAGIC1).digest()[:16]


def get_asymmetric_start_key(master_key: bytes, length: int, is_send: bool, is_server: bool) -> bytes:
    """GetAsymetricStartKey (RFC 3079 §3.4): one direction's master session key (8 or 16 octets).

    The server's send key equals the client's receive key (both use Magic3).
    """
    _check_len("master_key", master_key, 16)
    if length not in (8, 16):
        raise ValueError("MPPE session key length must be 8 or 16 octets")
    magic = _MPPE_MAGIC3 if is_send == is_server else _MPPE_MAGIC2
    return hashlib.sha1(master_key + _SHS_PAD1 + magic + _SHS_PAD2).digest()[:length]


def get_new_key_from_sha(start_key: bytes, session_key: bytes, length: int) -> bytes:
    """GetNewKeyFromSHA (RFC 3078 §7.3) = Get_Key (RFC 3079 §2.4): next transient key.

    The RADIUS server does not need this (the NAS derives transient keys from the
    MS-MPPE-*-Key values); it is here for the RFC 3079 vectors.
    """
    if length not in (8, 16) or len(start_key) < length or len(session_key) < length:
        raise ValueError("GetNewKeyFromSHA needs keys of at least `length` (8 or 16) octets")
    return hashlib.sha1(start_key[:length] + _SHS_PAD1 + session_key[:length] + _SHS_PAD2).digest()[:length]


def get_start_key(challenge8: bytes, nt_password_hash_hash: bytes) -> bytes:
    """Get_Start_Key (RFC 3079 §2.4): MS-CHAP v1 128-bit initial session key."""
    _check_len("challenge", challenge8, 8)
    _check_len("nt_password_hash_hash", nt_password_hash_hash, 16)
    h = nt_password_hash_hash
    return hashlib.sha1(h + h + challenge8).digest()[:16]


def mppe_keys_mschap2(nt_hash: bytes, nt_response: bytes) -> tuple[bytes, bytes]:
    """128-bit MPPE master session keys after MS-CHAP v2 (RFC 3079 §3.3), server's view.

    Returns (send_key, recv_key): send_key is the MS-MPPE-Send-Key value (RFC 2548
    §2.4.2, NAS -> peer) and recv_key the MS-MPPE-Recv-Key value, both before the
    salt encryption that the codec applies.
    """
    master = get_master_key(hash_nt_password_hash(nt_hash), nt_response)
    return (
        get_asymmetric_start_key(master, 16, is_send=True, is_server=True),
        get_asymmetric_start_key(master, 16, is_send=False, is_server=True),
    )


def mschap1_mppe_keys_value(nt_hash: bytes, lm_hash: bytes | None = None) -> bytes:
    """MS-CHAP-MPPE-Keys value (RFC 2548 §2.4.1) before encryption: 32 octets.

    LM-Key (first 8 octets of the LM hash, zeros when unknown) || NT-Key (16) || 8 zero
    octets of padding. RFC 2548 calls the NT-Key "the hashed Windows NT password", but
    the key MPPE derives from (RFC 3079 §2.3) is the hash of that hash, and that is what
    deployed servers (FreeRADIUS, IAS) send and NASes expect: we send the hash-hash.
    """
    lm_key = lm_hash[:8] if lm_hash is not None else b"\x00" * 8
    _check_len("lm key", lm_key, 8)
    return lm_key + hash_nt_password_hash(nt_hash) + b"\x00" * 8


# --------------------------------------------------------------------------- RADIUS attribute values


@dataclass(frozen=True, slots=True)
class MschapResponse:
    """MS-CHAP-Response attribute value (RFC 2548 §2.1.3): 50 octets."""

    ident: int
    flags: int
    lm_response: bytes
    nt_response: bytes

    @classmethod
    def from_value(cls, value: bytes) -> MschapResponse:
        _check_len("MS-CHAP-Response", value, 50)
        return cls(value[0], value[1], value[2:26], value[26:50])

    @property
    def use_nt(self) -> bool:
        """Flags = 1: the NT-Response is to be used (RFC 2548 §2.1.3)."""
        return self.flags & 0x01 == 0x01


@dataclass(frozen=True, slots=True)
class Mschap2Response:
    """MS-CHAP2-Response attribute value (RFC 2548 §2.3.2): 50 octets."""

    ident: int
    flags: int
    peer_challenge: bytes
    nt_response: bytes

    @classmethod
    def from_value(cls, value: bytes) -> Mschap2Response:
        # Ident, Flags, Peer-Challenge(16), Reserved(8, ignored), Response(24).
        _check_len("MS-CHAP2-Response", value, 50)
        return cls(value[0], value[1], value[2:18], value[26:50])


def mschap2_success_value(ident: int, auth_response: str) -> bytes:
    """MS-CHAP2-Success attribute value (RFC 2548 §2.3.3): Ident || 42-octet "S=..." string."""
    if not 0 <= ident <= 255:
        raise ValueError("ident must be 0..255")
    raw = auth_response.encode("ascii")
    if len(raw) != 42 or not raw.startswith(b"S="):
        raise ValueError("authenticator response must be 'S=' + 40 hex digits")
    return bytes([ident]) + raw


def mschap_error_value(
    ident: int,
    code: int = 691,
    *,
    retry: bool = False,
    challenge: bytes | None = None,
    version: int | None = 3,
    message: str | None = "Authentication failed",
) -> bytes:
    """MS-CHAP-Error attribute value (RFC 2548 §2.1.5): Ident || "E=691 R=0 C=... V=3 M=...".

    Text format from RFC 2759 §6 (v2: C is 16 octets = 32 hex digits and MUST be there,
    so pass a fresh random challenge) and RFC 2433 §8 (v1: C optional, 8 octets; pass
    ``version=None, message=None`` for the classic "E=691 R=0"). 691 means
    authentication failure, 647 account disabled, 648 password expired.
    """
    if not 0 <= ident <= 255:
        raise ValueError("ident must be 0..255")
    parts = [f"E={code}", f"R={1 if retry else 0}"]
    if challenge is not None:
        if len(challenge) not in (8, 16):
            raise ValueError("MS-CHAP-Error challenge must be 8 (v1) or 16 (v2) octets")
        parts.append("C=" + challenge.hex().upper())
    if version is not None:
        parts.append(f"V={version}")
    if message is not None:
        parts.append(f"M={message}")
    return bytes([ident]) + " ".join(parts).encode("utf-8")
