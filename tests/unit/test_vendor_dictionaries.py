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
        ("Cambium-Canopy-ULBR", 17713, 6, "integer"),
        ("Cambium-Canopy-DLBR", 17713, 8, "integer"),
        ("Rate-Limit-Rate", 2352, 10, "integer"),
        ("Juniper-Local-User-Name", 2636, 1, "string"),
    ],
)
def test_rate_attributes_are_defined(name: str, vendor: int, number: int, type_: str) -> None:
    attr = default_dictionary().attribute(name)
    assert (attr.key, attr.vendor, attr.type) == ((26, vendor, number), vendor, type_)
