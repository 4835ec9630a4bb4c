"""Every shipped vendor dictionary loads on its own, under the vendor id its source gives,
and defines the attributes the router plugins send."""

from __future__ import annotations

from pathlib import Path

import pytest

from radiusd.codec.dictionary import Dictionary, default_dictionary, default_dictionary_path

DICT_DIR = default_dictionary_path().parent
VENDOR_FILES = sorted(p for p in DICT_DIR.glob("dictionary.*") if not p.name.startswith("dictionary.rfc"))

#: file -> {vendor name: IANA Private Enterprise Number}
EXPECTED_VENDORS = {
    "dictionary.accel-ppp": {},
    "dictionary.cambium": {"Cambium": 17713},
    "dictionary.cisco": {"Cisco": 9},
    "dictionary.dslforum": {"DSL-Forum": 3561},
    "dictionary.erx": {"ERX": 4874},
    "dictionary.huawei": {"Huawei": 2011},
    "dictionary.juniper": {"Juniper": 2636},
    "dictionary.microsoft": {"Microsoft": 311},
    "dictionary.mikrotik": {"Mikrotik": 14988},
    "dictionary.nokia": {"Nokia-SR": 6527},
    "dictionary.redback": {"Redback": 2352},
    "dictionary.ubiquiti": {"Ubiquiti": 41112},
    "dictionary.wispr": {"WISPr": 14122},
}


def test_every_vendor_file_is_listed() -> None:
    assert {p.name for p in VENDOR_FILES} == set(EXPECTED_VENDORS)


@pytest.mark.parametrize("path", VENDOR_FILES, ids=lambda p: p.name)
def test_vendor_dictionary_loads_alone(path: Path) -> None:
    d = Dictionary.load(path)
    vendors = {v.name: v.id for v in d.vendors_by_id.values()}
    assert vendors == EXPECTED_VENDORS[path.name]
    for attr in d.by_key.values():  # each attribute of the file is in its vendor's space
        assert attr.key[:2] == (26, attr.vendor) and attr.vendor in vendors.values(), attr.name
    header = "\n".join(path.read_text().splitlines()[:12])
    assert "Source:" in header or "RFC " in header, f"{path.name} names no source"


@pytest.mark.parametrize(
    ("name", "vendor", "number", "type_"),
    [
        ("Mikrotik-Rate-Limit", 14988, 8, "string"),
        ("Cisco-AVPair", 9, 1, "string"),
        ("WISPr-Bandwidth-Max-Up", 14122, 7, "integer"),
        ("WISPr-Bandwidth-Max-Down", 14122, 8, "integer"),
        ("ERX-Ingress-Policy-Name", 4874, 10, "string"),
        ("ERX-Egress-Policy-Name", 4874, 11, "string"),
        ("ERX-Qos-Profile-Name", 4874, 26, "string"),
        ("Huawei-Input-Average-Rate", 2011, 2, "integer"),
        ("Huawei-Output-Average-Rate", 2011, 5, "integer"),
        ("Alc-Subscriber-QoS-Override", 6527, 126, "string"),
        ("Alc-SLA-Prof-Str", 6527, 13, "string"),
        ("Cambium-ePMP-Max-Burst-Uplink-Rate", 17713, 26, "integer"),
        ("Cambium-ePMP-Max-Burst-Downlink-Rate", 17713, 27, "integer"),
        ("Rate-Limit-Rate", 2352, 10, "integer"),
        ("Juniper-Local-User-Name", 2636, 1, "string"),
    ],
)
def test_rate_attributes_are_defined(name: str, vendor: int, number: int, type_: str) -> None:
    attr = default_dictionary().attribute(name)
    assert (attr.key, attr.vendor, attr.type) == ((26, vendor, number), vendor, type_)


# -- vendor dictionaries as FreeRADIUS ships them, dropped in beside ours -----------------------

FREERADIUS = Path("/usr/share/freeradius")


@pytest.mark.parametrize(
    "name",
    [
        "erx", "juniper", "huawei", "alcatel.sr", "ericsson.ab", "cambium", "wimax", "wimax.wichorus",
        "ruckus", "3gpp", "mikrotik", "cisco", "wispr",
    ],
)  # fmt: skip
def test_freeradius_vendor_dictionary_loads_beside_ours(name: str) -> None:
    """An operator's $INCLUDE of the vendor file FreeRADIUS ships (where it is installed)."""
    path = FREERADIUS / f"dictionary.{name}"
    if not path.is_file():
        pytest.skip(f"{path} not installed")
    d = Dictionary.load(default_dictionary_path())
    d.load_file(path)
    assert len(d) >= len(default_dictionary())  # ours and theirs agree where both define


def _load(tmp_path: Path, text: str) -> Dictionary:
    path = tmp_path / "dictionary"
    path.write_text(text)
    return Dictionary.load(path)


def test_second_vendor_name_is_an_alias(tmp_path: Path) -> None:
    """FreeRADIUS names vendor 2352 both Redback and Ericsson-AB."""
    d = _load(
        tmp_path,
        "VENDOR Redback 2352\nVENDOR Ericsson-AB 2352\n"
        "BEGIN-VENDOR Ericsson-AB\nATTRIBUTE Context-Name 4 string\nEND-VENDOR Ericsson-AB\n",
    )
    assert d.vendor("ericsson-ab") is d.vendor("Redback")
    assert d.attribute("Context-Name").key == (26, 2352, 4)


def test_begin_tlv_numbers_are_relative(tmp_path: Path) -> None:
    d = _load(
        tmp_path,
        "VENDOR WiMAX 24757 format=1,1,c\nBEGIN-VENDOR WiMAX\nATTRIBUTE WiMAX-Capability 1 tlv\n"
        "BEGIN-TLV WiMAX-Capability\nATTRIBUTE WiMAX-Release 1 string\nEND-TLV WiMAX-Capability\n"
        "ATTRIBUTE WiMAX-Hotline 24 string\nEND-VENDOR WiMAX\n",
    )
    assert d.attribute("WiMAX-Release").key == (26, 24757, 1, 1)
    assert d.attribute("WiMAX-Hotline").key == (26, 24757, 24)


def test_sized_octets_vendor_type_0_and_reused_vendor_numbers(tmp_path: Path) -> None:
    d = _load(
        tmp_path,
        "VENDOR V 9999\nBEGIN-VENDOR V\nATTRIBUTE V-Zero 0 octets\nATTRIBUTE V-Zone 23 octets[2]\n"
        "ATTRIBUTE V-Old 10 integer\nATTRIBUTE V-New 10 string\nEND-VENDOR V\n",
    )
    assert d.attribute("V-Zero").key == (26, 9999, 0)
    assert d.attribute("V-Zone").type == "octets"
    assert d.lookup((26, 9999, 10)) is d.attribute("V-Old")  # a received value reads as the first
    assert d.attribute("V-New").type == "string"  # the name still encodes as written
