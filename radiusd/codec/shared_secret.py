"""Strength of a RADIUS shared secret, and a strong one made on request.

RFC 2865 §3 asks for a secret "at least as large and unguessable as a well-chosen password"
and preferably at least 16 octets; the BlastRADIUS guidance (CVE-2024-3596) repeats it, as an
offline search of a short secret from one captured Access-Request is cheap. Shorter secrets
still work (many NAS were set up with them) but are warned about and counted.
"""

from __future__ import annotations

import secrets
import string

MIN_SECRET_LENGTH = 16
GENERATED_SECRET_LENGTH = 32
#: letters and digits only: every NAS configuration syntax and shell takes them unquoted
_ALPHABET = string.ascii_letters + string.digits


def is_weak(secret: str | bytes) -> bool:
    """True when ``secret`` is shorter than :data:`MIN_SECRET_LENGTH` octets."""
    size = len(secret.encode("utf-8")) if isinstance(secret, str) else len(secret)
    return size < MIN_SECRET_LENGTH


def generate() -> str:
    """A random secret of :data:`GENERATED_SECRET_LENGTH` letters and digits (about 190 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(GENERATED_SECRET_LENGTH))
