"""NAS-Filter-Rule (RFC 4849 §2): all rules of a packet are one rule set.

The rules are separated by a NUL octet, the whole set is cut across as many attributes
as needed, and a receiver concatenates every NAS-Filter-Rule of the packet before
splitting on NUL. Sending each rule as its own attribute therefore glues them together
on the device ("hello" + "bob" reads "hellobob"); these helpers keep one rule set.
"""

from __future__ import annotations

from collections.abc import Iterable

from .attributes_gen import NAS_FILTER_RULE

_MAX = 253


def chunks(rule_set: bytes) -> list[tuple[int, bytes]]:
    """A rule set on the wire: attributes of at most 253 octets, none empty."""
    return [(NAS_FILTER_RULE, rule_set[i : i + _MAX]) for i in range(0, len(rule_set), _MAX)]


def join(rules: Iterable[bytes]) -> bytes:
    """Rules (without NULs of their own) as one NUL-separated rule set."""
    return b"\x00".join(r for r in rules if r)


def split(raws: Iterable[bytes]) -> list[str]:
    """The rules of a packet's NAS-Filter-Rule values, concatenated then split on NUL."""
    return [r.decode("utf-8", "replace") for r in b"".join(raws).split(b"\x00") if r]


def combine(
    attributes: list[tuple[int, bytes]], more: Iterable[tuple[int, bytes]]
) -> list[tuple[int, bytes]]:
    """``attributes`` followed by ``more``, each holding at most one rule set: when both have
    NAS-Filter-Rule, the two sets become one (joined by a NUL) where the first one was."""
    more = list(more)
    theirs = [v for t, v in more if t == NAS_FILTER_RULE]
    if not theirs or all(t != NAS_FILTER_RULE for t, _ in attributes):
        return [*attributes, *more]
    ours = [v for t, v in attributes if t == NAS_FILTER_RULE]
    rule_set = b"".join(ours) + b"\x00" + b"".join(theirs)
    out: list[tuple[int, bytes]] = []
    placed = False
    for t, v in [*attributes, *more]:
        if t != NAS_FILTER_RULE:
            out.append((t, v))
        elif not placed:
            out += chunks(rule_set)
            placed = True
    return out
