"""Inventory records and link-end parsing, without a database."""

from __future__ import annotations

import pytest

from inventory.records import DeviceRecord, LinkEnd, RouterRecord, parse_link_end
from radiusd.cli import inventory_common as cli_inventory
from radiusd.store import models
from radiusd.store.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("sw1", LinkEnd("sw1")),
        ("sw1:ge-0/0/1", LinkEnd("sw1", "ge-0/0/1")),
        ("router:core1", LinkEnd("core1", None, "router")),
        ("device:core1:ac", LinkEnd("core1", "ac", "device")),
        ("olt1:0:1:2", LinkEnd("olt1", "0:1:2")),  # a port may contain ':'
        (" sw1:1 ", LinkEnd("sw1", "1")),
    ],
)
def test_parse_link_end(text: str, end: LinkEnd) -> None:
    assert parse_link_end(text) == end
    assert parse_link_end(str(end)) == end


@pytest.mark.parametrize("text", ["", "  ", ":1", "sw1:", "router:"])
def test_parse_link_end_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_link_end(text)


def test_records_keep_secrets_out_of_json_and_repr() -> None:
    router = RouterRecord(
        id=1, name="r", address="10.0.0.1", secret="S1", api_username="a", api_password="S2"
    )
    device = DeviceRecord(
        id=1, name="d", kind="olt", snmp_version="v3", snmp_user="u", snmp_auth_key="S3", snmp_priv_key="S4"
    )
    v2 = DeviceRecord(id=2, name="e", kind="switch", snmp_community="S5")
    text = repr([router, device, v2]) + str([router.to_json(), device.to_json(), v2.to_json()])
    for secret in ("S1", "S2", "S3", "S4", "S5"):
        assert f"'{secret}'" not in text
    assert router.to_json()["api_password_set"] is True
    assert (v2.to_json()["snmp_community_set"], device.to_json()["snmp_auth_key_set"]) == (True, True)


def test_cli_choices_match_the_models() -> None:
    """The CLI repeats the value lists (no SQLAlchemy import for --help): keep them equal."""
    for name in (
        "VENDORS", "SITE_KINDS", "DEVICE_KINDS", "SNMP_VERSIONS", "SNMP_AUTH_PROTOCOLS",
        "SNMP_PRIV_PROTOCOLS", "LINK_MEDIA",
    ):  # fmt: skip
        assert set(getattr(cli_inventory, name)) == set(getattr(models, name)), name
