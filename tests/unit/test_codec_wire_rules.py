"""Wire rules the encoder and decoder must keep: NAS-Filter-Rule sets (RFC 4849 §2), no
empty attributes (RFC 2865 §5), well-formed Vendor-Specific (RFC 2865 §5.26), RFC 6929
minimum lengths, nested TLVs (RFC 6929 §2.3), the WiMAX continuation format, and vendor
dictionaries as FreeRADIUS ships them."""

from __future__ import annotations

from pathlib import Path

import pytest

from radiusd.codec import Packet, decode, encode_reply, rulesets
from radiusd.codec.dictionary import Dictionary, default_dictionary

D = default_dictionary()
SECRET = b"wire-rules"
AUTH = bytes(range(16))


def _wire(p: Packet) -> bytes:
    """The attributes of ``p`` as sent (no Message-Authenticator)."""
    return encode_reply(p, SECRET, AUTH, message_auth=False)[20:]


def _packet(body: bytes, dictionary: Dictionary = D) -> Packet:
    return decode(bytes((2, 1)) + (20 + len(body)).to_bytes(2, "big") + AUTH + body, dictionary)


# -- 1. NAS-Filter-Rule: one rule set per packet (RFC 4849 §2) -----------------------------


def test_filter_rules_are_one_nul_separated_attribute() -> None:
    """RFC 4849 §2: two rules are one set, NUL separated; sent as two attributes they
    would be concatenated by the NAS into "hellobob"."""
    p = Packet(2, 1, dictionary=D).add("NAS-Filter-Rule", "hello").add("NAS-Filter-Rule", "bob")
    assert _wire(p) == bytes.fromhex("5c0b68656c6c6f00626f62")


def test_filter_rule_set_keeps_other_attributes_in_place() -> None:
    p = Packet(2, 1, dictionary=D).add("NAS-Filter-Rule", "a").add("Session-Timeout", 5)
    p.add("NAS-Filter-Rule", "b")
    assert [t for t, _ in p.attributes] == [92, 27]
    assert p.get_all("NAS-Filter-Rule") == ["a", "b"]


def test_filter_rules_decode_across_attributes() -> None:
    """RFC 4849 §2: the receiver concatenates every NAS-Filter-Rule, then splits on NUL."""
    body = bytes.fromhex("5c0568656c") + bytes.fromhex("5c096c6f00626f6200") + bytes.fromhex("5c0378")
    p = _packet(body)
    assert p.get_all("NAS-Filter-Rule") == ["hello", "bob", "x"]
    assert p.get("NAS-Filter-Rule") == "hello"


def test_plan_and_subscriber_rule_sets_become_one() -> None:
    """The Access-Accept joins a plan's attributes and a subscriber's: one rule set still."""
    plan = [(27, b"\x00\x00\x00\x05"), (92, b"a")]
    joined = rulesets.combine(plan, [(92, b"b"), (25, b"c")])
    assert joined == [(27, b"\x00\x00\x00\x05"), (92, b"a\x00b"), (25, b"c")]
    assert rulesets.combine([(27, b"x")], [(92, b"b")]) == [(27, b"x"), (92, b"b")]


def test_long_filter_rule_continues_in_the_next_attribute() -> None:
    rule = "permit in ip from any to 10.0.0.0/8 " * 10  # 360 octets
    p = Packet(2, 1, dictionary=D).add("NAS-Filter-Rule", rule).add("NAS-Filter-Rule", "deny")
    assert [len(v) for t, v in p.attributes] == [253, len(rule) + 1 + 4 - 253]
    assert decode(encode_reply(p, SECRET, AUTH), D).get_all("NAS-Filter-Rule") == [rule, "deny"]


# -- 2. no zero-length attributes (RFC 2865 §5) --------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("User-Name", ""), ("Reply-Message", ""), ("Class", b"")])
def test_empty_value_is_not_sent(name: str, value: object) -> None:
    """RFC 2865 §5: "attributes with a length of 2 ... MUST NOT be sent"."""
    p = Packet(2, 1, dictionary=D).add(name, value).add("Session-Timeout", 7)
    assert _wire(p) == bytes.fromhex("1b0600000007")


def test_empty_vendor_value_is_not_sent() -> None:
    p = Packet(2, 1, dictionary=D).add("Mikrotik-Rate-Limit", "")
    assert _wire(p) == b""


# -- 3. Vendor-Specific as raw octets must be a VSA (RFC 2865 §5.26) -----------------------


@pytest.mark.parametrize("value", ["0xabcdef", b"", b"\x00\x00\x00\x09", b"\x00\x00\x00\x09\x01\x09ab"])
def test_malformed_vendor_specific_is_refused(value: object) -> None:
    """RFC 2865 §5.26: Length >= 7; the sub-attributes must fill the String exactly."""
    p = Packet(2, 1, dictionary=D)
    if value == b"":
        assert _wire(p.add("Vendor-Specific", value)) == b""
        return
    with pytest.raises(ValueError, match="Vendor-Specific"):
        p.add("Vendor-Specific", value)
    assert p.attributes == []


def test_well_formed_vendor_specific_is_sent() -> None:
    raw = bytes.fromhex("00000009") + b"\x01\x05abc"
    p = Packet(2, 1, dictionary=D).add("Vendor-Specific", raw)
    assert decode(encode_reply(p, SECRET, AUTH), D).get("Cisco-AVPair") == "abc"


# -- 4. RFC 6929 attributes without a value are invalid ------------------------------------


@pytest.fixture(scope="module")
def ext_dict(tmp_path_factory: pytest.TempPathFactory) -> Dictionary:
    extra = tmp_path_factory.mktemp("dict") / "dictionary.test"
    extra.write_text(
        "ATTRIBUTE Test-Ext 241.1 octets\n"
        "ATTRIBUTE Test-Long 245.1 octets\n"
        "ATTRIBUTE Test-Evs 245.26.1.6 octets\n"
        "ATTRIBUTE Test-Short-Evs 241.26.1.6 octets\n"
    )
    return Dictionary.load(extra)  # 241.1 is Frag-Status in ours: the octets use it


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ("f10301", "Test-Ext"),  # RFC 6929 §2.1: Length 3 is invalid
        ("f5040100", "Test-Long"),  # §2.2: Length 4 is invalid
        ("f5091a000000000106", "Test-Evs"),  # §2.4: EVS-Value needs one octet
        ("f1081a0000000106", "Test-Short-Evs"),
    ],
)
def test_extended_attribute_without_value_is_invalid(ext_dict: Dictionary, body: str, name: str) -> None:
    p = _packet(bytes.fromhex(body), ext_dict)
    assert p.get(name) is None
    assert p.get_all(name) == []
    assert p.attributes == [(bytes.fromhex(body)[0], bytes.fromhex(body)[2:])]  # kept raw


def test_extended_attribute_too_short_is_listed_invalid(ext_dict: Dictionary) -> None:
    p = _packet(bytes.fromhex("f10301"), ext_dict)
    assert [name for name, _, _ in p.items()] == ["Invalid-Attribute-241"]


def test_extended_attribute_with_one_octet_is_fine(ext_dict: Dictionary) -> None:
    assert _packet(bytes.fromhex("f1040161"), ext_dict).get("Test-Ext") == b"a"
    assert _packet(bytes.fromhex("f505010061"), ext_dict).get("Test-Long") == b"a"
    assert _packet(bytes.fromhex("f50a1a00000000010661"), ext_dict).get("Test-Evs") == b"a"


# -- 5. nested TLVs (RFC 6929 §2.3) ---------------------------------------------------------

TLV_DICT = """
VENDOR		Nest		32473
BEGIN-VENDOR	Nest
ATTRIBUTE	Nest-Group		1	tlv
ATTRIBUTE	Nest-Name		1.1	string
ATTRIBUTE	Nest-Rate		1.2	integer
ATTRIBUTE	Nest-Inner		1.3	tlv
ATTRIBUTE	Nest-Inner-Addr		1.3.1	ipaddr
ATTRIBUTE	Nest-Inner-Port		1.3.2	short
END-VENDOR	Nest
ATTRIBUTE	Ext-Group		241.200	tlv
ATTRIBUTE	Ext-Group-A		241.200.1	string
ATTRIBUTE	Ext-Group-B		241.200.2	integer
"""


@pytest.fixture(scope="module")
def tlv_dict(tmp_path_factory: pytest.TempPathFactory) -> Dictionary:
    path = tmp_path_factory.mktemp("tlv") / "dictionary"
    path.write_text(TLV_DICT)
    return Dictionary.load(path)


def test_tlv_children_encode_inside_their_parent(tlv_dict: Dictionary) -> None:
    """RFC 6929 §2.3: TLV-Type, TLV-Length (header included), TLV-Value, nested."""
    p = Packet(2, 1, dictionary=tlv_dict).add("Nest-Name", "ab").add("Nest-Inner-Port", 80)
    vid = (32473).to_bytes(4, "big")
    assert p.attributes == [
        (26, vid + b"\x01\x06" + b"\x01\x04ab"),
        (26, vid + b"\x01\x08" + b"\x03\x06" + b"\x02\x04\x00\x50"),
    ]


def test_tlv_siblings_read_their_own_values(tlv_dict: Dictionary) -> None:
    vid = (32473).to_bytes(4, "big")
    inner = b"\x01\x06\x0a\x00\x00\x01" + b"\x02\x04\x00\x50"
    group = b"\x01\x04ab" + b"\x02\x06\x00\x00\x00\x07" + b"\x03" + bytes((len(inner) + 2,)) + inner
    vsa = vid + b"\x01" + bytes((len(group) + 2,)) + group
    p = _packet(bytes((26, len(vsa) + 2)) + vsa, tlv_dict)
    assert p.get("Nest-Name") == "ab"
    assert p.get("Nest-Rate") == 7
    assert p.get("Nest-Inner-Addr") == "10.0.0.1"
    assert p.get("Nest-Inner-Port") == 80


def test_tlv_roundtrip_standard_and_extended(tlv_dict: Dictionary) -> None:
    p = Packet(2, 1, dictionary=tlv_dict)
    p.add("Ext-Group-A", "x").add("Ext-Group-B", 9).add("Nest-Rate", 1).add("Nest-Inner-Addr", "192.0.2.1")
    back = decode(encode_reply(p, SECRET, AUTH), tlv_dict)
    assert (back.get("Ext-Group-A"), back.get("Ext-Group-B")) == ("x", 9)
    assert (back.get("Nest-Rate"), back.get("Nest-Inner-Addr")) == (1, "192.0.2.1")
    assert back.get("Nest-Name") is None


def test_overfilled_tlv_container_is_invalid(tlv_dict: Dictionary) -> None:
    """RFC 6929 §2.3.1: contained TLVs must fill the container exactly."""
    vid = (32473).to_bytes(4, "big")
    group = b"\x01\x09ab"  # claims 9 octets, has 4
    vsa = vid + b"\x01" + bytes((len(group) + 2,)) + group
    assert _packet(bytes((26, len(vsa) + 2)) + vsa, tlv_dict).get("Nest-Name") is None


# -- 6. format=1,1,c: the WiMAX continuation octet ----------------------------------------

WIMAX_DICT = """
VENDOR		WiMAX		24757	format=1,1,c
BEGIN-VENDOR	WiMAX
ATTRIBUTE	WiMAX-Capability	1	tlv
ATTRIBUTE	WiMAX-Release		1.1	string
ATTRIBUTE	WiMAX-Hotline-Indicator	24	string
ATTRIBUTE	WiMAX-Key		5	octets
END-VENDOR	WiMAX
"""


@pytest.fixture(scope="module")
def wimax_dict(tmp_path_factory: pytest.TempPathFactory) -> Dictionary:
    path = tmp_path_factory.mktemp("wimax") / "dictionary"
    path.write_text(WIMAX_DICT)
    return Dictionary.load(path)


def test_continuation_octet_is_written_and_read(wimax_dict: Dictionary) -> None:
    """WiMAX format: Vendor-Type, Vendor-Length (type, length, continuation and value),
    a continuation octet (0x80 = more follows), then the value."""
    p = Packet(2, 1, dictionary=wimax_dict).add("WiMAX-Hotline-Indicator", "hot")
    assert p.attributes == [(26, (24757).to_bytes(4, "big") + b"\x18\x06\x00hot")]
    assert _packet(_wire(p), wimax_dict).get("WiMAX-Hotline-Indicator") == "hot"


def test_continued_value_spans_vendor_attributes(wimax_dict: Dictionary) -> None:
    value = bytes(range(256)) * 2
    p = Packet(2, 1, dictionary=wimax_dict).add("WiMAX-Key", value)
    frags = [v for t, v in p.attributes if t == 26]
    assert len(frags) == 3
    assert [f[6] for f in frags] == [0x80, 0x80, 0x00]
    assert all(len(f) == 253 for f in frags[:-1])
    assert decode(encode_reply(p, SECRET, AUTH), wimax_dict).get("WiMAX-Key") == value


def test_continuation_with_tlv_child(wimax_dict: Dictionary) -> None:
    p = Packet(2, 1, dictionary=wimax_dict).add("WiMAX-Release", "1.0")
    assert p.attributes == [(26, (24757).to_bytes(4, "big") + b"\x01\x08\x00\x01\x051.0")]
    assert _packet(_wire(p), wimax_dict).get("WiMAX-Release") == "1.0"


def test_continued_value_without_its_last_fragment_is_invalid(wimax_dict: Dictionary) -> None:
    vsa = (24757).to_bytes(4, "big") + b"\x05\x05\x80ab"
    p = _packet(bytes((26, len(vsa) + 2)) + vsa, wimax_dict)
    assert p.get("WiMAX-Key") is None
    assert 0 in p.invalid


# -- 7. vendor dictionaries as FreeRADIUS ships them ---------------------------------------

ERX_EXCERPT = """
VENDOR		ERX				4874
BEGIN-VENDOR	ERX
ATTRIBUTE	ERX-Virtual-Router-Name			1	string
ATTRIBUTE	ERX-Ingress-Statistics			12	integer
ATTRIBUTE	ERX-LI-Action				58	integer	encrypt=2
ATTRIBUTE	ERX-Med-Dev-Handle			59	octets	encrypt=2
ATTRIBUTE	ERX-Med-Ip-Address			60	ipaddr	encrypt=2
ATTRIBUTE	ERX-Med-Port-Number			61	integer	encrypt=2
ATTRIBUTE	ERX-Service-Activate			65	string	has_tag
VALUE	ERX-Ingress-Statistics		disable			0
VALUE	ERX-Ingress-Statistics		enable			1
END-VENDOR	ERX
"""


def test_juniper_erx_dictionary_with_encrypted_integers_loads(tmp_path: Path) -> None:
    """Juniper's ERX dictionary hides integer and address attributes (encrypt=2)."""
    path = tmp_path / "dictionary.erx"
    path.write_text(ERX_EXCERPT)
    d = Dictionary.load(path)
    assert d.attribute("ERX-LI-Action").encrypt == 2
    assert d.attribute("ERX-Med-Ip-Address").type == "ipaddr"
    raw = b"\x00" * 16
    vsa = (4874).to_bytes(4, "big") + bytes((58, 18)) + raw
    assert _packet(bytes((26, len(vsa) + 2)) + vsa, d).get("ERX-LI-Action") == raw  # kept hidden
