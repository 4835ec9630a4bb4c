"""Masking of secret values in the import report (what is printed and returned as JSON).

A FreeRADIUS row that cannot be carried over is reported with its attribute and, to help the
operator, its value; the value of a password-like attribute (Cleartext-Password, Tunnel-Password,
a secret, a key...) is replaced by ``********`` instead. :func:`mask_text` is also applied to
every reason as a net for text quoted whole (a users-file line that could not be parsed).
"""

from __future__ import annotations

import re

MASK = "********"

_SECRET_NAME = re.compile(r"pass|secret|key|credential|token|hash|community", re.IGNORECASE)
# NAME OP VALUE, where NAME looks secret; VALUE quoted (with escapes) or up to a comma/space.
_SECRET_ITEM = re.compile(
    r"""(?P<head>[\w.-]*(?:pass|secret|key|credential|token|hash|community)[\w.-]*\s*"""
    r"""(?::=|\+=|==|!=|>=|<=|=~|!~|=\*|!\*|=|<|>)\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^\s,]+)""",
    re.IGNORECASE,
)


def is_secret_name(attribute: str) -> bool:
    """True when ``attribute`` names a password, secret, key or hash."""
    return bool(_SECRET_NAME.search(attribute))


def shown(attribute: str, value: str) -> str:
    """``value`` as quoted in a report: ``repr(value)``, or the mask for a secret attribute."""
    return MASK if is_secret_name(attribute) else repr(value)


def mask_text(text: str) -> str:
    """``text`` with the value after each secret-looking ``NAME OP`` replaced by the mask."""
    return _SECRET_ITEM.sub(lambda m: m.group("head") + MASK, text)
