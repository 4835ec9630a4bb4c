"""Reply attributes are checked against the shipped dictionary and the value encoders."""

from __future__ import annotations

import pytest

from radiusd.store.errors import InvalidInput
from radiusd.store.validate import UNSET, given, known_reply_attributes


def test_known_reply_attributes_normalise_names() -> None:
    pairs = [("framed-mtu", "1500"), ("Mikrotik-Rate-Limit", "10M/10M"), ("Class", "0x676f6c64")]
    assert known_reply_attributes(pairs) == [
        ["Framed-MTU", "1500"], ["Mikrotik-Rate-Limit", "10M/10M"], ["Class", "0x676f6c64"],
    ]  # fmt: skip
    assert known_reply_attributes([("Service-Type", "Framed-User")]) == [["Service-Type", "Framed-User"]]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (("Bogus-Attr", "1"), "'Bogus-Attr' is not in the RADIUS dictionary"),
        (("Framed-MTU", "abc"), "Framed-MTU: 'abc' is not a valid integer value"),
        (("Framed-MTU", "99999999999"), "Framed-MTU"),
        (("Framed-IP-Address", "10.0.0.300"), "not a valid ipaddr value"),
        (("Class", "gold"), "octets are written in hex"),
        (("Service-Type", "No-Such-Value"), "Service-Type"),
    ],
)
def test_unknown_attributes_and_bad_values_are_refused(pair: tuple[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        known_reply_attributes([pair])


def test_unset_is_not_given() -> None:
    assert not given(UNSET) and given(None) and given(0)
