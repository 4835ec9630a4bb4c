"""Stored subscriber credentials: the record, its storage strings, and making one from a password.

Verification (PAP, CHAP, MS-CHAP v1 and v2) is the policy's: ``radiusd.policy.credentials``.

A credential is stored as one string; its prefix says what it is:

=========================================  ===========  =================================
storage string                             kind         serves
=========================================  ===========  =================================
``cleartext:<password>``                   cleartext    PAP, CHAP, MS-CHAP v1, MS-CHAP v2
``nt:<32 hex digits>``                     nt-hash      PAP, MS-CHAP v1, MS-CHAP v2
``$pbkdf2-sha256$<rounds>$<salt>$<hash>``  hash         PAP
=========================================  ===========  =================================

The PBKDF2 form follows passlib's documented layout (salt and hash in "adapted base64":
``.`` for ``+``, no padding) so hashes can move between the two (not tested against
passlib itself, which is no dependency); it needs only hashlib. ``$pbkdf2$`` (SHA-1)
and ``$pbkdf2-sha512$`` are read too.

Forms read for imports from FreeRADIUS / LDAP / Django (canonical form is kept as is):
``{cleartext}pw``, ``{clear}pw``, ``{NT}hex`` / ``{nthash}hex`` (optionally ``0x``),
``{SHA}``, ``{SSHA}``, ``{SHA256}``, ``{SSHA256}``, ``{SHA512}``, ``{SSHA512}``,
``{MD5}``, ``{SMD5}`` (base64 of digest [+ salt]; unsalted ones also as hex),
``pbkdf2_sha256$<iter>$<salt>$<b64 hash>`` (Django), crypt strings ``$1$``, ``$5$``,
``$6$`` and bcrypt ``$2a$``/``$2b$``/``$2y$`` (optionally ``{crypt}``), verified through
:mod:`radiusd.model.unix_crypt` (libpass and bcrypt, on every supported Python).

Why some methods cannot be served: CHAP sends MD5(ident || password || challenge), so
the server needs the cleartext; MS-CHAP needs the NT hash (or the cleartext to make it);
a one-way hash can only check a password it is shown, i.e. PAP.

Cost on the login hot path (measured on the development machine, CPython 3.11, per
verification): cleartext PAP 0.5 µs, CHAP 1.2 µs; NT-hash PAP 7 µs (one pycryptodome MD4);
MS-CHAP v2 with MPPE keys about 75 µs (3 DES and 3 MD4 calls, mostly pycryptodome call
overhead); ``{SSHA}`` and friends about 1 µs, but they are fast to crack after a database
leak; sha512-crypt about 5 ms (libpass, pure Python, 5,000 rounds); PBKDF2-SHA256 about
0.25 µs per round, so the default ``DEFAULT_PBKDF2_ITERATIONS`` = 10,000 costs about 2.5
ms of CPU per PAP login (about 400 logins per second per core; a reconnect storm of 10,000
subscribers costs 25 core seconds) against the 20 µs per request budget that cleartext and
NT hashes meet. That is the deliberate trade: an ISP that wants leaked hashes to be
expensive pays for it at login time, and can choose fewer rounds with
``make_credential(..., iterations=)``. ``hashlib.pbkdf2_hmac`` releases the GIL, so the
policy layer can run expensive verifications (``Credential.expensive``) on its bounded
hashing pool. Stored rounds above ``MAX_PBKDF2_ITERATIONS`` (crypt and bcrypt: see
:mod:`radiusd.model.unix_crypt`) are refused when parsed and again before each check, so
an imported file cannot stall the server. Nothing is cached: every login recomputes from
the stored credential.

Secrets never appear in a repr, a reason string or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field
from enum import StrEnum

from radiusd.codec import mschap

from . import unix_crypt

DEFAULT_PBKDF2_ITERATIONS = 10_000
MAX_PBKDF2_ITERATIONS = 1_000_000
_SALT_BYTES = 16


class CredentialKind(StrEnum):
    CLEARTEXT = "cleartext"
    NT_HASH = "nt-hash"
    HASH = "hash"  # one-way password hash, salted or not: PAP only


class AuthMethod(StrEnum):
    PAP = "PAP"
    CHAP = "CHAP"
    MSCHAP1 = "MS-CHAPv1"
    MSCHAP2 = "MS-CHAPv2"


_SERVES: dict[CredentialKind, frozenset[AuthMethod]] = {
    CredentialKind.CLEARTEXT: frozenset(AuthMethod),
    CredentialKind.NT_HASH: frozenset({AuthMethod.PAP, AuthMethod.MSCHAP1, AuthMethod.MSCHAP2}),
    CredentialKind.HASH: frozenset({AuthMethod.PAP}),
}


@dataclass(frozen=True, slots=True, eq=False)
class Credential:
    """One subscriber's stored credential, parsed once at load time.

    ``secret`` is the UTF-8 cleartext, the 16-octet NT hash, or the digest; for crypt
    it is the whole crypt string. ``scheme`` names the exact format (``cleartext``,
    ``nt``, ``pbkdf2-sha256``, ``ssha``, ``crypt``...). Compare credentials through the
    verifiers, never with ``==`` (identity only, on purpose).
    """

    kind: CredentialKind
    scheme: str
    secret: bytes = field(repr=False)
    salt: bytes = field(default=b"", repr=False)
    iterations: int = 0
    stored: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"Credential(kind={self.kind.value!r}, scheme={self.scheme!r}, secret=<masked>)"

    __str__ = __repr__

    def serves(self, method: AuthMethod) -> bool:
        return method in _SERVES[self.kind]

    @property
    def expensive(self) -> bool:
        """True when PAP verification costs milliseconds (PBKDF2, crypt, bcrypt): run it off the loop."""
        return self.scheme in CRYPT_SCHEMES or self.iterations > 1000

    def storage_string(self) -> str:
        """The string to store in the database (as parsed, or canonical when made here)."""
        return self.stored

    def nt_hash(self) -> bytes | None:
        """The NT hash for MS-CHAP, or None when this kind cannot give one."""
        if self.kind is CredentialKind.NT_HASH:
            return self.secret
        if self.kind is CredentialKind.CLEARTEXT:
            return mschap.nt_password_hash(self.secret.decode("utf-8"))
        return None

    def cleartext(self) -> str | None:
        """The cleartext password (for LM keys of MS-CHAP v1 MPPE), when stored."""
        return self.secret.decode("utf-8") if self.kind is CredentialKind.CLEARTEXT else None


# --------------------------------------------------------------------------- parsing


def _ab64_encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=").replace("+", ".")


def _b64_field(text: str, what: str, *, adapted: bool = False) -> bytes:
    """Decode a base64 field; the error is raised outside ``except`` so no inner exception
    (whose message might quote the field) rides along as ``__context__``."""
    if adapted:  # passlib: "." for "+", padding stripped
        text = text.replace(".", "+")
        text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        pass
    raise _Malformed(f"{what} credential has a field that is not base64")


def _int_field(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise _Malformed(f"{what} credential has an iteration count that is not a number")
    n = int(text)
    if not 1 <= n <= MAX_PBKDF2_ITERATIONS:
        raise _Malformed(f"{what} credential: iteration count must be 1..{MAX_PBKDF2_ITERATIONS}")
    return n


PASSLIB_PBKDF2 = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}

# LDAP-style prefixes: scheme -> (hashlib name, salted)
LDAP_HASHES: dict[str, tuple[str, bool]] = {
    "sha": ("sha1", False),
    "ssha": ("sha1", True),
    "sha256": ("sha256", False),
    "ssha256": ("sha256", True),
    "sha512": ("sha512", False),
    "ssha512": ("sha512", True),
    "md5": ("md5", False),
    "smd5": ("md5", True),
}


_HEX = frozenset("0123456789abcdefABCDEF")


class _Malformed(ValueError):
    """A bad stored credential; the message names the format only, never any of its content."""


def _parse_nt(hex_text: str, stored: str) -> Credential:
    text = hex_text.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    if len(text) != 32 or not all(c in _HEX for c in text):
        raise _Malformed("NT-hash credential must be 32 hex digits")
    digest = bytes.fromhex(text)
    return Credential(CredentialKind.NT_HASH, "nt", digest, stored=stored)


def _parse_passlib_pbkdf2(stored: str) -> Credential:
    parts = stored.split("$")  # ['', 'pbkdf2-sha256', rounds, salt, hash]
    scheme = parts[1]
    if len(parts) != 5:
        raise _Malformed(f"{scheme} credential must be $scheme$rounds$salt$hash")
    rounds = _int_field(parts[2], scheme)
    salt = _b64_field(parts[3], scheme, adapted=True)
    digest = _b64_field(parts[4], scheme, adapted=True)
    if hashlib.new(PASSLIB_PBKDF2[scheme]).digest_size != len(digest):
        raise _Malformed(f"{scheme} credential hash has the wrong length")
    return Credential(CredentialKind.HASH, scheme, digest, salt=salt, iterations=rounds, stored=stored)


def _parse_django_pbkdf2(stored: str) -> Credential:
    parts = stored.split("$")
    if len(parts) != 4:
        raise _Malformed("pbkdf2_sha256 credential must be pbkdf2_sha256$iterations$salt$hash")
    rounds = _int_field(parts[1], "pbkdf2_sha256")
    digest = _b64_field(parts[3], "pbkdf2_sha256")
    if len(digest) != 32:
        raise _Malformed("pbkdf2_sha256 credential hash has the wrong length")
    return Credential(
        CredentialKind.HASH,
        "django-pbkdf2-sha256",
        digest,
        salt=parts[2].encode("utf-8"),
        iterations=rounds,
        stored=stored,
    )


def _parse_ldap_hash(scheme: str, value: str, stored: str) -> Credential:
    algo, salted = LDAP_HASHES[scheme]
    size = hashlib.new(algo).digest_size
    value = value.strip()
    raw: bytes
    if not salted and len(value) == 2 * size and all(c in _HEX for c in value):
        raw = bytes.fromhex(value)  # FreeRADIUS also accepts hex
    else:
        raw = _b64_field(value, f"{{{scheme.upper()}}}")
    if (salted and len(raw) <= size) or (not salted and len(raw) != size):
        raise _Malformed(f"{{{scheme.upper()}}} credential has the wrong length")
    return Credential(CredentialKind.HASH, scheme, raw[:size], salt=raw[size:], stored=stored)


CRYPT_SCHEMES = ("crypt", "bcrypt")
_CRYPT_IDS = ("1", "5", "6", "2a", "2b", "2y")


def _parse_crypt(value: str, stored: str) -> Credential:
    """A crypt(3) or bcrypt string; refused when malformed or when one check would cost more
    than :mod:`radiusd.model.unix_crypt` allows."""
    try:
        form, rounds = unix_crypt.crypt_cost(value)
    except ValueError as exc:
        message = str(exc)  # names the form and the numbers only
    else:
        scheme = "bcrypt" if form == "bcrypt" else "crypt"
        secret = value.encode("utf-8")
        return Credential(CredentialKind.HASH, scheme, secret, iterations=rounds, stored=stored)
    raise _Malformed(message)


def parse_credential(stored: str) -> Credential:
    """Parse a stored credential string; ValueError (naming the format, never the secret) if bad."""
    if stored.startswith("cleartext:"):
        return Credential(CredentialKind.CLEARTEXT, "cleartext", stored[10:].encode("utf-8"), stored=stored)
    if stored.startswith("nt:"):
        return _parse_nt(stored[3:], stored)
    if stored.startswith("$"):
        scheme = stored.split("$", 2)[1]
        if scheme in PASSLIB_PBKDF2:
            return _parse_passlib_pbkdf2(stored)
        if scheme in _CRYPT_IDS:
            return _parse_crypt(stored, stored)
        raise _Malformed("unsupported '$' credential scheme (known: pbkdf2, pbkdf2-sha256, 1, 5, 6, 2a/b/y)")
    if stored.startswith("pbkdf2_sha256$"):
        return _parse_django_pbkdf2(stored)
    if stored.startswith("{"):
        end = stored.find("}")
        if end > 0:
            scheme, value = stored[1:end].lower(), stored[end + 1 :]
            if scheme in ("cleartext", "clear"):
                return Credential(CredentialKind.CLEARTEXT, "cleartext", value.encode("utf-8"), stored=stored)
            if scheme in ("nt", "nthash"):
                return _parse_nt(value, stored)
            if scheme in LDAP_HASHES:
                return _parse_ldap_hash(scheme, value, stored)
            if scheme == "crypt" and value.startswith("$"):
                return _parse_crypt(value, stored)
    raise _Malformed(
        "unrecognised credential format (expected cleartext:, nt:, $pbkdf2-sha256$, {SSHA}, ... prefix)"
    )


#: what ``password_store`` (setting, ``subscriber add --store``) keeps of a new password, and
#: the methods each form can serve: see the module docstring
PASSWORD_STORES = {"cleartext": "cleartext", "nt": "nt-hash", "hashed": "pbkdf2-sha256"}


def password_store(stored: str) -> str:
    """How a stored credential keeps its password: ``cleartext``, ``nt`` or ``hashed`` (any
    one-way hash). Decided by the prefix alone (no parsing), for listings."""
    head = stored[:12].lower()
    if head.startswith(("cleartext:", "{cleartext}", "{clear}")):
        return "cleartext"
    if head.startswith(("nt:", "{nt}", "{nthash}")):
        return "nt"
    return "hashed"


def make_credential(
    password: str, kind: str, *, iterations: int = DEFAULT_PBKDF2_ITERATIONS, salt: bytes | None = None
) -> Credential:
    """Make a credential to store from a cleartext password.

    ``kind``: ``cleartext``, ``nt-hash`` (alias ``nt``) or ``pbkdf2-sha256``. ``salt``
    is for reproducible tests; by default 16 random octets. An empty password is refused:
    it would let anyone who knows the user name in.
    """
    if not password:
        raise ValueError("password is empty")
    if kind == "cleartext":
        return Credential(
            CredentialKind.CLEARTEXT, "cleartext", password.encode("utf-8"), stored="cleartext:" + password
        )
    if kind in ("nt-hash", "nt"):
        digest = mschap.nt_password_hash(password)
        return Credential(CredentialKind.NT_HASH, "nt", digest, stored="nt:" + digest.hex())
    if kind == "pbkdf2-sha256":
        if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
            raise ValueError(f"iterations must be 1..{MAX_PBKDF2_ITERATIONS}")
        salt = os.urandom(_SALT_BYTES) if salt is None else salt
        digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
        stored = f"$pbkdf2-sha256${iterations}${_ab64_encode(salt)}${_ab64_encode(digest)}"
        return Credential(CredentialKind.HASH, kind, digest, salt=salt, iterations=iterations, stored=stored)
    raise ValueError(f"unknown credential kind {kind!r} (cleartext, nt-hash, pbkdf2-sha256)")
