"""A plan's rate limit follows the NAS's vendor: each router plugin renders it in its own
attributes (inventory.plugins.rates), the Access-Accept carries only those, and a generic
NAS gets none. Rendered once per (plan, vendor)."""

from __future__ import annotations

from typing import Any

import pytest

from inventory.plugins import rates
from inventory.plugins.base import PluginError
from inventory.plugins.registry import plugin_class, plugin_names, rate_limit_attributes
from radiusd.codec import Packet, decode, encode_reply
from radiusd.codec.dictionary import default_dictionary
from radiusd.policy.directory import PlanView
from radiusd.store.records import PlanRecord

D = default_dictionary()
SECRET = b"rate-limits"
AUTH = bytes(16)

EXPECTED: dict[str, list[tuple[str, Any]]] = {
    "generic": [],
    "mikrotik": [("Mikrotik-Rate-Limit", "10M/20M")],
    "cisco": [
        ("Cisco-AVPair", "subscriber:sub-qos-policy-in=RATE-10M-IN"),
        ("Cisco-AVPair", "subscriber:sub-qos-policy-out=RATE-20M-OUT"),
    ],
    "ubiquiti": [("WISPr-Bandwidth-Max-Up", 10_000_000), ("WISPr-Bandwidth-Max-Down", 20_000_000)],
    "juniper": [("ERX-Ingress-Policy-Name", "RATE-10M-IN"), ("ERX-Egress-Policy-Name", "RATE-20M-OUT")],
    "huawei": [("Huawei-Input-Average-Rate", 10_000_000), ("Huawei-Output-Average-Rate", 20_000_000)],
    "nokia": [
        ("Alc-Subscriber-QoS-Override", "i:q:1:pir=10000"),
        ("Alc-Subscriber-QoS-Override", "e:r:rate=20000"),
    ],
    "accel-ppp": [("Filter-Id", "20000/10000")],
    "cambium": [
        ("Cambium-ePMP-Max-Burst-Uplink-Rate", 10000),
        ("Cambium-ePMP-Max-Burst-Downlink-Rate", 20000),
    ],
}


def test_every_vendor_is_a_plugin() -> None:
    assert set(EXPECTED) <= set(plugin_names())
    for name in EXPECTED:
        assert plugin_class(name).name == name


@pytest.mark.parametrize("vendor", sorted(EXPECTED))
def test_vendor_renders_the_rate_limit(vendor: str) -> None:
    assert list(rate_limit_attributes(vendor, "10M/20M")) == EXPECTED[vendor]


@pytest.mark.parametrize("vendor", sorted(EXPECTED))
def test_accept_carries_only_the_vendors_rate_attributes(vendor: str) -> None:
    """Through the plan's cached reply: what a NAS of ``vendor`` receives on the wire."""
    plan = PlanView.from_record(PlanRecord(id=1, name="gold", rate_limit="10M/20M", session_timeout=60), D)
    reply = Packet.from_encoded(2, 1, AUTH, plan.reply.encoded_for(vendor), D)
    got = decode(encode_reply(reply, SECRET), D)
    names = [name for name, _, _ in got.items() if name != "Message-Authenticator"]
    assert names == ["Session-Timeout", *(n for n, _ in EXPECTED[vendor])]
    for name, value in EXPECTED[vendor]:
        assert value in got.get_all(name)
    assert plan.reply.encoded_for(vendor) is plan.reply.encoded_for(vendor)  # cached per vendor


def test_generic_nas_gets_no_mikrotik_rate_limit() -> None:
    plan = PlanView.from_record(PlanRecord(id=1, name="gold", rate_limit="10M/20M"), D)
    assert plan.reply.for_vendor("generic") == ()
    assert plan.reply.names_for("huawei") == (
        ("Huawei-Input-Average-Rate", "10000000"),
        ("Huawei-Output-Average-Rate", "20000000"),
    )


@pytest.mark.parametrize(
    ("text", "up", "down"),
    [("10M/20M", 10**7, 2 * 10**7), ("512k/1.5M", 512_000, 1_500_000), ("1G/1G 2G/2G 10/10 8", 10**9, 10**9)],
)
def test_rate_limit_parsing(text: str, up: int, down: int) -> None:
    r = rates.parse(text)
    assert (r.up, r.down) == (up, down)


@pytest.mark.parametrize("text", ["", "10M", "fast/slow", "10X/1M"])
def test_bad_rate_limit_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        rates.parse(text)


def test_bursts_go_only_to_mikrotik() -> None:
    text = "10M/20M 20M/40M 8M/16M 10/10"
    assert rate_limit_attributes("mikrotik", text) == (("Mikrotik-Rate-Limit", text),)
    assert rate_limit_attributes("huawei", text)[0] == ("Huawei-Input-Average-Rate", 10_000_000)


def test_rates_above_32_bits_are_capped() -> None:
    assert rate_limit_attributes("huawei", "10G/10G")[0] == ("Huawei-Input-Average-Rate", 0xFFFFFFFF)


def test_unknown_vendor_is_a_plugin_error() -> None:
    with pytest.raises(PluginError, match="no router plugin named 'nope'"):
        rate_limit_attributes("nope", "1M/1M")


def test_unreadable_rate_limit_sends_nothing_and_keeps_the_rest() -> None:
    plan = PlanView.from_record(PlanRecord(id=1, name="odd", rate_limit="lots", session_timeout=5), D)
    assert plan.reply.for_vendor("huawei") == ((27, b"\x00\x00\x00\x05"),)


def test_plan_filter_rules_are_one_rule_set() -> None:
    """RFC 4849 §2: a plan's NAS-Filter-Rule values go out as one NUL-separated set."""
    rec = PlanRecord(
        id=1, name="f", reply_attributes=(("NAS-Filter-Rule", "hello"), ("NAS-Filter-Rule", "bob"))
    )
    plan = PlanView.from_record(rec, D)
    assert plan.reply.for_vendor("generic") == ((92, b"hello\x00bob"),)


def test_empty_reply_attribute_is_skipped() -> None:
    rec = PlanRecord(id=1, name="e", reply_attributes=(("Reply-Message", ""), ("Filter-Id", "x")))
    assert PlanView.from_record(rec, D).reply.for_vendor("generic") == ((11, b"x"),)


@pytest.mark.parametrize("vendor", ["juniper", "huawei", "nokia", "accel-ppp", "mikrotik", "ubiquiti"])
def test_plan_change_coa_carries_the_vendors_rate(vendor: str) -> None:
    """RFC 5176 §3.2: a CoA changing the plan live carries the same attributes as the Accept."""
    from radiusd.store.records import NasRecord

    plugin = plugin_class(vendor)(
        NasRecord(id=1, name="n", address="192.0.2.1", secret="s", vendor=vendor), None
    )
    assert plugin.can_change_plan_live
    assert plugin.plan_attributes(PlanRecord(id=1, name="gold", rate_limit="10M/20M")) == EXPECTED[vendor]


@pytest.mark.parametrize("vendor", ["generic", "cambium"])
def test_vendors_without_live_rate_change_disconnect(vendor: str) -> None:
    assert not plugin_class(vendor).can_change_plan_live
