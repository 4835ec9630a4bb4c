"""crypt(3) and bcrypt password hashes, with a ceiling on what one check may cost.

A crypt string chooses its own cost: ``$6$rounds=999999999$...`` is a valid SHA-512 crypt hash
that takes about 25 minutes of CPU to check once. A hash read from an import or the database
could therefore stall the server, so each form has a ceiling, checked when the credential is
parsed (``subscriber add``, the FreeRADIUS import, the daemon's load) and again before every
check; a credential above it is refused with the reason, never verified.

=============  ==========================  =========================  ========================
form           cost parameter              default                    ceiling
=============  ==========================  =========================  ========================
``$1$``        MD5-crypt, fixed            1,000 rounds               (fixed)
``$5$``        SHA-256-crypt ``rounds=``   5,000                      ``MAX_CRYPT_ROUNDS``
``$6$``        SHA-512-crypt ``rounds=``   5,000                      ``MAX_CRYPT_ROUNDS``
``$2a/b/y$``   bcrypt cost (log2 rounds)   usually 10-12              ``MAX_BCRYPT_COST``
=============  ==========================  =========================  ========================

The stdlib ``crypt`` module is gone from Python 3.13: MD5/SHA crypt are checked through libpass
(the maintained fork of passlib, pure Python: about 5 ms for 5,000 SHA-512 rounds on the
development machine, so the ceiling of 100,000 rounds bounds one check near 0.1 s), bcrypt
through the ``bcrypt`` package. Both run on the policy's bounded hashing pool, never on the
event loop. Messages name the form and the numbers, never any part of the hash.
"""

from __future__ import annotations

import re

import bcrypt
from passlib.hash import md5_crypt, sha256_crypt, sha512_crypt

MAX_CRYPT_ROUNDS = 100_000
MAX_BCRYPT_COST = 13
_SHA_DEFAULT_ROUNDS = 5_000
_MD5_ROUNDS = 1_000
#: bcrypt reads at most this many octets of a password (longer ones were hashed truncated)
_BCRYPT_MAX_PASSWORD = 72

_SHA = re.compile(r"(\$([56])\$(?:rounds=([0-9]{1,10})\$)?)([^$]*)(\$[./0-9A-Za-z]+)")
_SHA_SALT_MAX = 16  # longer salts are cut to 16 characters (as glibc does)
_MD5 = re.compile(r"\$1\$[^$]*\$[./0-9A-Za-z]{22}")
_BCRYPT = re.compile(r"\$2[aby]\$([0-9]{2})\$[./0-9A-Za-z]{53}")
_HANDLERS = {"md5-crypt": md5_crypt, "sha256-crypt": sha256_crypt, "sha512-crypt": sha512_crypt}


class CostTooHigh(ValueError):
    """The hash asks for more rounds than a check may cost (the message gives both numbers)."""


def crypt_cost(stored: str) -> tuple[str, int]:
    """(form, rounds or bcrypt cost) of a crypt string; ValueError when it is not one we can
    check, :class:`CostTooHigh` when its cost is above the ceiling."""
    if m := _SHA.fullmatch(stored):
        form = "sha256-crypt" if m.group(2) == "5" else "sha512-crypt"
        rounds = int(m.group(3)) if m.group(3) else _SHA_DEFAULT_ROUNDS
        if rounds > MAX_CRYPT_ROUNDS:
            raise CostTooHigh(
                f"{form} credential asks for {rounds} rounds, above the limit of {MAX_CRYPT_ROUNDS}"
            )
        return form, rounds
    if _MD5.fullmatch(stored):
        return "md5-crypt", _MD5_ROUNDS
    if m := _BCRYPT.fullmatch(stored):
        cost = int(m.group(1))
        if not 4 <= cost <= MAX_BCRYPT_COST:
            raise CostTooHigh(f"bcrypt credential has cost {cost}: the limit is 4..{MAX_BCRYPT_COST}")
        return "bcrypt", cost
    raise ValueError("crypt credential is not MD5-, SHA-256-, SHA-512-crypt or bcrypt in the usual layout")


def verify(stored: str, password: bytes) -> bool:
    """Whether ``password`` matches the crypt string ``stored`` (whose cost is checked again
    first: :class:`CostTooHigh` rather than a check that would stall a worker)."""
    form, _ = crypt_cost(stored)
    if form == "bcrypt":
        return bool(bcrypt.checkpw(password[:_BCRYPT_MAX_PASSWORD], stored.encode("ascii")))
    if (m := _SHA.fullmatch(stored)) is not None and len(m.group(4)) > _SHA_SALT_MAX:
        stored = m.group(1) + m.group(4)[:_SHA_SALT_MAX] + m.group(5)
    try:
        return bool(_HANDLERS[form].verify(password, stored))
    except ValueError:  # a malformed salt or checksum: say so without quoting it
        pass
    raise ValueError(f"{form} credential cannot be read")
