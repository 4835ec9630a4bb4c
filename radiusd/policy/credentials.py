"""Verification of stored credentials for PAP, CHAP, MS-CHAP v1 and v2.

The credential record and its storage strings (which forms exist, what each can serve, the
cost ceilings) are in :mod:`radiusd.model.credentials`. Why some methods cannot be served:
CHAP sends MD5(ident || password || challenge), so the server needs the cleartext; MS-CHAP
needs the NT hash (or the cleartext to make it); a one-way hash can only check a password it
is shown, i.e. PAP. Expensive checks (``Credential.expensive``: PBKDF2, crypt, bcrypt) run on
the policy's bounded hashing pool. Nothing is cached: every login recomputes from the stored
credential. Secrets never appear in a repr, a reason string or an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from radiusd.codec import mschap
from radiusd.model import unix_crypt
from radiusd.model.credentials import (
    CRYPT_SCHEMES,
    LDAP_HASHES,
    MAX_PBKDF2_ITERATIONS,
    PASSLIB_PBKDF2,
    AuthMethod,
    Credential,
    CredentialKind,
)

__all__ = [
    "Mschap1Result",
    "Mschap2Result",
    "VerifyResult",
    "verify_chap",
    "verify_mschap1",
    "verify_mschap2",
    "verify_pap",
]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of one check; ``reason`` is plain words for the debug log, without secrets."""

    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Mschap1Result(VerifyResult):
    """MS-CHAP v1 outcome; ``mppe_keys`` is the MS-CHAP-MPPE-Keys value before encryption."""

    ident: int = 0
    mppe_keys: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Mschap2Result(VerifyResult):
    """MS-CHAP v2 outcome.

    On success: ``success_value`` is the MS-CHAP2-Success attribute value, ``send_key``
    and ``recv_key`` the MS-MPPE-Send-Key / Recv-Key values before salt encryption.
    ``ident`` (from the response, 0 if unreadable) is for building MS-CHAP-Error on failure.
    """

    ident: int = 0
    success_value: bytes | None = None
    send_key: bytes | None = field(default=None, repr=False)
    recv_key: bytes | None = field(default=None, repr=False)


def _cannot(cred: Credential, method: AuthMethod) -> str:
    if cred.kind is CredentialKind.NT_HASH:
        what = "an NT hash"
    elif cred.kind is CredentialKind.HASH:
        salted = "salted " if cred.salt or cred.scheme in CRYPT_SCHEMES else ""
        what = f"a {salted}password hash ({cred.scheme})"
    else:  # pragma: no cover - cleartext serves every method
        what = "cleartext"
    needs = "the cleartext password" if method is AuthMethod.CHAP else "the cleartext password or its NT hash"
    return f"stored credential is {what}: {method.value} needs {needs}"


# --------------------------------------------------------------------------- PAP


def _pap_crypt(cred: Credential, password: bytes) -> VerifyResult:
    try:
        ok = unix_crypt.verify(cred.secret.decode("utf-8"), password)
    except ValueError as exc:  # over the cost ceiling, or unreadable: the reason names neither
        return VerifyResult(False, str(exc))
    return VerifyResult(ok, "password matches" if ok else "wrong password")


def _pap_hash(cred: Credential, password: bytes) -> VerifyResult:
    scheme = cred.scheme
    computed: bytes
    if scheme in CRYPT_SCHEMES:
        return _pap_crypt(cred, password)
    if cred.iterations > MAX_PBKDF2_ITERATIONS:
        return VerifyResult(
            False, f"{scheme} credential asks for {cred.iterations} iterations, above {MAX_PBKDF2_ITERATIONS}"
        )
    if scheme in PASSLIB_PBKDF2:
        computed = hashlib.pbkdf2_hmac(PASSLIB_PBKDF2[scheme], password, cred.salt, cred.iterations)
    elif scheme == "django-pbkdf2-sha256":
        computed = hashlib.pbkdf2_hmac("sha256", password, cred.salt, cred.iterations)
    elif scheme in LDAP_HASHES:
        computed = hashlib.new(LDAP_HASHES[scheme][0], password + cred.salt).digest()
    else:  # pragma: no cover - parse_credential only makes the schemes above
        return VerifyResult(False, f"unsupported hash scheme {scheme}")
    ok = hmac.compare_digest(computed, cred.secret)
    return VerifyResult(ok, "password matches" if ok else "wrong password")


# The two outcomes of a cheap PAP check, built once: a frozen dataclass costs ~0.5 µs to make.
_PAP_MATCH = VerifyResult(True, "password matches")
_PAP_WRONG = VerifyResult(False, "wrong password")


def verify_pap(cred: Credential, password: bytes) -> VerifyResult:
    """PAP (RFC 2865 §5.2): ``password`` is the decrypted User-Password, padding removed."""
    if cred.kind is CredentialKind.CLEARTEXT:
        return _PAP_MATCH if hmac.compare_digest(password, cred.secret) else _PAP_WRONG
    elif cred.kind is CredentialKind.NT_HASH:
        try:
            text = password.decode("utf-8")
        except UnicodeDecodeError:
            return VerifyResult(False, "password is not valid UTF-8, cannot compute its NT hash")
        ok = hmac.compare_digest(mschap.nt_password_hash(text), cred.secret)
    else:
        return _pap_hash(cred, password)
    return _PAP_MATCH if ok else _PAP_WRONG


# --------------------------------------------------------------------------- CHAP


def verify_chap(
    cred: Credential, chap_ident: int, chap_challenge: bytes, chap_response16: bytes
) -> VerifyResult:
    """CHAP (RFC 1994 §4.1, RFC 2865 §2.2): response = MD5(ident || password || challenge).

    ``chap_challenge`` is CHAP-Challenge, or the Request Authenticator when absent.
    """
    if not cred.serves(AuthMethod.CHAP):
        return VerifyResult(False, _cannot(cred, AuthMethod.CHAP))
    if len(chap_response16) != 16:
        return VerifyResult(False, f"CHAP response must be 16 octets, got {len(chap_response16)}")
    if not chap_challenge:
        return VerifyResult(False, "CHAP challenge is empty")
    if not 0 <= chap_ident <= 255:
        return VerifyResult(False, "CHAP identifier out of range")
    expected = hashlib.md5(bytes([chap_ident]) + cred.secret + chap_challenge).digest()
    ok = hmac.compare_digest(expected, chap_response16)
    return VerifyResult(
        ok, "CHAP response matches" if ok else "wrong password (CHAP response does not match)"
    )


# --------------------------------------------------------------------------- MS-CHAP


def _nt_hash_or_reason(cred: Credential, method: AuthMethod) -> bytes | str:
    nt = cred.nt_hash() if cred.serves(method) else None
    return nt if nt is not None else _cannot(cred, method)


def verify_mschap1(cred: Credential, challenge: bytes, response: bytes) -> Mschap1Result:
    """MS-CHAP v1 (RFC 2433): ``challenge`` = MS-CHAP-Challenge (8 octets), ``response`` =
    MS-CHAP-Response value (50 octets, RFC 2548 §2.1.3). LM-only responses are refused."""
    nt = _nt_hash_or_reason(cred, AuthMethod.MSCHAP1)
    if isinstance(nt, str):
        return Mschap1Result(False, nt)
    if len(challenge) != 8:
        return Mschap1Result(False, f"MS-CHAP-Challenge must be 8 octets for MS-CHAPv1, got {len(challenge)}")
    if len(response) != 50:
        return Mschap1Result(False, f"MS-CHAP-Response must be 50 octets, got {len(response)}")
    parsed = mschap.MschapResponse.from_value(response)
    if not parsed.use_nt:
        return Mschap1Result(
            False,
            "MS-CHAP-Response carries only an LM-Response; LM is refused as too weak",
            ident=parsed.ident,
        )
    if not mschap.verify_mschap1(challenge, parsed.nt_response, nt):
        return Mschap1Result(
            False, "wrong password (MS-CHAPv1 NT-Response does not match)", ident=parsed.ident
        )
    clear = cred.cleartext()
    lm = mschap.lm_password_hash(clear) if clear is not None else None
    return Mschap1Result(
        True,
        "MS-CHAPv1 response matches",
        ident=parsed.ident,
        mppe_keys=mschap.mschap1_mppe_keys_value(nt, lm),
    )


def verify_mschap2(cred: Credential, username: bytes, challenge: bytes, response: bytes) -> Mschap2Result:
    """MS-CHAP v2 (RFC 2759): ``username`` = User-Name as sent (a DOMAIN\\ prefix is dropped
    for hashing), ``challenge`` = MS-CHAP-Challenge (16 octets), ``response`` =
    MS-CHAP2-Response value (50 octets, RFC 2548 §2.3.2)."""
    nt = _nt_hash_or_reason(cred, AuthMethod.MSCHAP2)
    if isinstance(nt, str):
        return Mschap2Result(False, nt)
    if len(challenge) != 16:
        return Mschap2Result(
            False, f"MS-CHAP-Challenge must be 16 octets for MS-CHAPv2, got {len(challenge)}"
        )
    if len(response) != 50:
        return Mschap2Result(False, f"MS-CHAP2-Response must be 50 octets, got {len(response)}")
    parsed = mschap.Mschap2Response.from_value(response)
    auth = mschap.verify_mschap2(nt, username, challenge, parsed.peer_challenge, parsed.nt_response)
    if auth is None:
        return Mschap2Result(
            False, "wrong password (MS-CHAPv2 NT-Response does not match)", ident=parsed.ident
        )
    send_key, recv_key = mschap.mppe_keys_mschap2(nt, parsed.nt_response)
    return Mschap2Result(
        True,
        "MS-CHAPv2 response matches",
        ident=parsed.ident,
        success_value=mschap.mschap2_success_value(parsed.ident, auth),
        send_key=send_key,
        recv_key=recv_key,
    )
