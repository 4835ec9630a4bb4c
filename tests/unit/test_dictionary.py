"""Tests of the dictionary loader and of the shipped dictionaries.

The shipped files are checked against the RFC numbers they cite, and cross-checked with an
independent parser (pyrad's) on every attribute that pyrad can read.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest

from radiusd.codec.dictionary import (
    ENCRYPT_NONE,
    ENCRYPT_TUNNEL_PASSWORD,
    ENCRYPT_USER_PASSWORD,
    Dictionary,
    default_dictionary,
    default_dictionary_path,
)
from radiusd.codec.errors import DictionaryError

DICT_DIR = default_dictionary_path().parent


@pytest.fixture(scope="module")
def d() -> Dictionary:
    return default_dictionary()


def write(tmp_path: Path, text: str, name: str = "dictionary") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the shipped dictionaries ----------------------------------------------------------------


def test_default_dictionary_is_cached_and_fast() -> None:
    assert default_dictionary() is default_dictionary()
    start = time.perf_counter()
    fresh = Dictionary.load(default_dictionary_path())
    elapsed = time.perf_counter() - start
    assert len(fresh) == len(default_dictionary())
    assert elapsed < 1.0  # about 3 ms on a laptop; generous so CI noise cannot fail it


def test_every_shipped_file_is_included_and_cites_its_source(d: Dictionary) -> None:
    shipped = {p.resolve() for p in DICT_DIR.iterdir() if p.name.startswith("dictionary")}
    assert shipped == set(d.files)
    for path in shipped:
        header = [ln for ln in path.read_text().splitlines()[:12] if ln.startswith("#")]
        assert header, f"{path.name} has no header comment"
        text = "\n".join(header)
        assert re.search(r"RFC \d{4}|Source:|documentation", text), f"{path.name} cites no source"


@pytest.mark.parametrize(
    ("name", "key", "type_"),
    [
        ("User-Name", (1,), "string"),
        ("CHAP-Password", (3,), "octets"),
        ("NAS-IP-Address", (4,), "ipaddr"),
        ("Framed-IP-Address", (8,), "ipaddr"),
        ("Vendor-Specific", (26,), "vsa"),
        ("Session-Timeout", (27,), "integer"),
        ("Acct-Status-Type", (40,), "integer"),
        ("Acct-Input-Gigawords", (52,), "integer"),
        ("Event-Timestamp", (55,), "date"),
        ("NAS-Port-Type", (61,), "integer"),
        ("EAP-Message", (79,), "octets"),
        ("Message-Authenticator", (80,), "octets"),
        ("Acct-Interim-Interval", (85,), "integer"),
        ("NAS-Port-Id", (87,), "string"),
        ("Chargeable-User-Identity", (89,), "octets"),
        ("NAS-IPv6-Address", (95,), "ipv6addr"),
        ("Framed-Interface-Id", (96,), "ifid"),
        ("Framed-IPv6-Prefix", (97,), "ipv6prefix"),
        ("Framed-IPv6-Pool", (100,), "string"),
        ("Error-Cause", (101,), "integer"),
        ("EAP-Key-Name", (102,), "octets"),
        ("Digest-Response", (103,), "string"),
        ("SIP-AOR", (122,), "string"),
        ("Delegated-IPv6-Prefix", (123,), "ipv6prefix"),
        ("Framed-IPv6-Address", (168,), "ipv6addr"),
        ("Stateful-IPv6-Address-Pool", (172,), "string"),
        ("WLAN-RF-Band", (190,), "integer"),
        ("Egress-VLANID", (56,), "integer"),
        ("Extended-Attribute-1", (241,), "extended"),
        ("Extended-Attribute-4", (244,), "extended"),
        ("Extended-Attribute-5", (245,), "long-extended"),
        ("Extended-Attribute-6", (246,), "long-extended"),
        ("Extended-Vendor-Specific-1", (241, 26), "evs"),
        ("Extended-Vendor-Specific-6", (246, 26), "evs"),
        ("Frag-Status", (241, 1), "integer"),
        ("Proxy-State-Length", (241, 2), "integer"),
    ],
)
def test_standard_and_extended_lookup(d: Dictionary, name: str, key: tuple[int, ...], type_: str) -> None:
    attr = d.attribute(name)
    assert attr.key == key
    assert attr.type == type_
    assert attr.vendor == 0
    assert d.lookup(key) is attr
    assert d.attribute(name.upper()) is attr  # names are case-insensitive
    assert name in d


@pytest.mark.parametrize(
    ("name", "vendor", "number", "type_"),
    [
        ("MS-CHAP-Response", 311, 1, "octets"),
        ("MS-CHAP-Error", 311, 2, "string"),
        ("MS-CHAP-CPW-1", 311, 3, "octets"),
        ("MS-MPPE-Encryption-Policy", 311, 7, "integer"),
        ("MS-MPPE-Encryption-Types", 311, 8, "integer"),
        ("MS-CHAP-Challenge", 311, 11, "octets"),
        ("MS-MPPE-Send-Key", 311, 16, "octets"),
        ("MS-MPPE-Recv-Key", 311, 17, "octets"),
        ("MS-CHAP2-Response", 311, 25, "octets"),
        ("MS-CHAP2-Success", 311, 26, "octets"),
        ("MS-Primary-DNS-Server", 311, 28, "ipaddr"),
        ("Mikrotik-Recv-Limit", 14988, 1, "integer"),
        ("Mikrotik-Xmit-Limit", 14988, 2, "integer"),
        ("Mikrotik-Group", 14988, 3, "string"),
        ("Mikrotik-Wireless-Forward", 14988, 4, "integer"),
        ("Mikrotik-Rate-Limit", 14988, 8, "string"),
        ("Mikrotik-Realm", 14988, 9, "string"),
        ("Mikrotik-Host-IP", 14988, 10, "ipaddr"),
        ("Mikrotik-Mark-Id", 14988, 11, "string"),
        ("Mikrotik-Advertise-URL", 14988, 12, "string"),
        ("Mikrotik-Advertise-Interval", 14988, 13, "integer"),
        ("Mikrotik-Recv-Limit-Gigawords", 14988, 14, "integer"),
        ("Mikrotik-Xmit-Limit-Gigawords", 14988, 15, "integer"),
        ("Mikrotik-Address-List", 14988, 19, "string"),
        ("Mikrotik-Wireless-Comment", 14988, 21, "string"),
        ("Mikrotik-Delegated-IPv6-Pool", 14988, 22, "string"),
        ("Cisco-AVPair", 9, 1, "string"),
        ("Cisco-NAS-Port", 9, 2, "string"),
        ("Cisco-Account-Info", 9, 250, "string"),
        ("Cisco-Command-Code", 9, 252, "string"),
        ("WISPr-Location-ID", 14122, 1, "string"),
        ("WISPr-Bandwidth-Max-Down", 14122, 8, "integer"),
        ("Ubiquiti-Data-Rate-DL", 41112, 1, "integer64"),
        ("ADSL-Agent-Circuit-Id", 3561, 1, "string"),
        ("Actual-Data-Rate-Downstream", 3561, 130, "integer"),
    ],
)
def test_vendor_lookup(d: Dictionary, name: str, vendor: int, number: int, type_: str) -> None:
    attr = d.attribute(name)
    assert attr.key == (26, vendor, number)
    assert attr.vendor == vendor
    assert attr.code == number
    assert attr.type == type_
    assert d.lookup((26, vendor, number)) is attr


@pytest.mark.parametrize(
    ("name", "vid", "type_len", "len_len"),
    [("Microsoft", 311, 1, 1), ("Mikrotik", 14988, 1, 1), ("Cisco", 9, 1, 1), ("WISPr", 14122, 1, 1),
     ("Ubiquiti", 41112, 1, 1), ("DSL-Forum", 3561, 1, 1)],
)  # fmt: skip
def test_vendors(d: Dictionary, name: str, vid: int, type_len: int, len_len: int) -> None:
    vendor = d.vendor(name)
    assert d.vendor(vid) is vendor
    assert d.vendor(name.lower()) is vendor
    assert (vendor.id, vendor.type_len, vendor.len_len) == (vid, type_len, len_len)


def test_flags(d: Dictionary) -> None:
    assert d.attribute("User-Password").encrypt == ENCRYPT_USER_PASSWORD  # RFC 2865 §5.2
    assert not d.attribute("User-Password").has_tag
    tunnel_password = d.attribute("Tunnel-Password")  # RFC 2868 §3.5
    assert tunnel_password.has_tag and tunnel_password.encrypt == ENCRYPT_TUNNEL_PASSWORD
    for name in ("Tunnel-Type", "Tunnel-Medium-Type", "Tunnel-Client-Endpoint", "Tunnel-Server-Endpoint",
                 "Tunnel-Private-Group-Id", "Tunnel-Assignment-Id", "Tunnel-Preference",
                 "Tunnel-Client-Auth-Id", "Tunnel-Server-Auth-Id"):  # fmt: skip
        assert d.attribute(name).has_tag, name
        assert d.attribute(name).encrypt == ENCRYPT_NONE, name
    assert d.attribute("MS-MPPE-Send-Key").encrypt == ENCRYPT_TUNNEL_PASSWORD  # RFC 2548 §2.4.2
    assert d.attribute("MS-MPPE-Recv-Key").encrypt == ENCRYPT_TUNNEL_PASSWORD
    assert d.attribute("MS-CHAP-MPPE-Keys").encrypt == ENCRYPT_USER_PASSWORD  # RFC 2548 §2.4.1
    assert d.attribute("EAP-Message").concat  # RFC 3579 §3.1
    assert not d.attribute("Message-Authenticator").concat
    assert not d.attribute("User-Name").has_tag
    tagged = {a.name for a in d.by_key.values() if a.has_tag}
    assert all(n.startswith(("Tunnel-", "ERX-")) for n in tagged)  # RFC 2868, and Juniper ERX's own
    encrypted = {a.name for a in d.by_key.values() if a.encrypt}
    assert encrypted == {"User-Password", "Tunnel-Password", "MS-CHAP-MPPE-Keys", "MS-MPPE-Send-Key",
                         "MS-MPPE-Recv-Key", "ERX-LI-Action", "ERX-Med-Dev-Handle", "ERX-Med-Ip-Address",
                         "ERX-Med-Port-Number"}  # fmt: skip


def test_values(d: Dictionary) -> None:
    assert d.value("Acct-Status-Type", "Start") == 1
    assert d.value("Acct-Status-Type", "Stop") == 2
    assert d.value("Acct-Status-Type", "Interim-Update") == 3
    assert d.value("Acct-Status-Type", "Accounting-On") == 7
    assert d.value("Acct-Status-Type", "Accounting-Off") == 8
    assert d.value("Acct-Status-Type", "Tunnel-Link-Reject") == 14  # RFC 2867 §3.6
    assert d.value_name("Acct-Status-Type", 3) == "Interim-Update"
    assert d.value_name("Acct-Status-Type", 999) is None
    assert d.value("Service-Type", "Framed-User") == 2
    assert d.value("Service-Type", "Authorize-Only") == 17  # RFC 3576 §3.2
    assert d.value("Framed-Protocol", "PPP") == 1
    assert d.value("NAS-Port-Type", "Ethernet") == 15
    assert d.value("NAS-Port-Type", "Wireless-802.11") == 19
    assert d.value("NAS-Port-Type", "PPPoEoQinQ") == 34  # RFC 4603
    assert d.value("Acct-Authentic", "RADIUS") == 1
    assert d.value("Tunnel-Type", "L2TP") == 3
    assert d.value("Tunnel-Type", "VLAN") == 13  # RFC 3580 §3.31
    assert d.value("Tunnel-Medium-Type", "IEEE-802") == 6
    assert d.value("Error-Cause", "Session-Context-Not-Found") == 503  # RFC 5176 §3.5
    assert d.value("Error-Cause", "Invalid-Attribute-Value") == 407
    assert d.value("Error-Cause", "Multiple-Session-Selection-Unsupported") == 508
    assert d.value_name("Error-Cause", 201) == "Residual-Session-Context-Removed"
    assert d.value("Error-Cause", "Residual-Context-Removed") == 201  # alias, not printed
    assert d.value("Frag-Status", "More-Data-Pending") == 2  # RFC 7499 §10.1
    assert d.value("MS-MPPE-Encryption-Policy", "Encryption-Required") == 2
    assert d.value("Mikrotik-Wireless-Enc-Algo", "AES-CCM") == 3


def test_acct_terminate_cause_is_complete(d: Dictionary) -> None:
    """RFC 2866 §5.10 defines 1..18 and RFC 3580 §3.32 adds 19..22: no gaps."""
    names = d.attribute("Acct-Terminate-Cause").value_names
    assert set(range(1, 23)) <= set(names)
    assert names[1] == "User-Request"
    assert names[4] == "Idle-Timeout"
    assert names[6] == "Admin-Reset"
    assert names[10] == "NAS-Request"
    assert names[22] == "Port-Administratively-Disabled"


def test_names_and_keys_are_consistent(d: Dictionary) -> None:
    for key, attr in d.by_key.items():
        assert attr.key == key
        assert d.by_name[attr.name.lower()] is attr
        for value_name, number in attr.values.items():
            assert attr.value_names[number] in attr.values
            assert attr.values[attr.value_names[number]] == number, value_name
        if key[0] == 26 and len(key) == 3:
            assert attr.vendor == key[1] and key[1] in d.vendors_by_id


# -- parser features -----------------------------------------------------------------------


def test_include_is_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "ATTRIBUTE Deep 200 integer\n", "sub/inner/dictionary.deep")
    write(tmp_path, "$INCLUDE inner/dictionary.deep\nATTRIBUTE Mid 201 string\n", "sub/dictionary.mid")
    top = write(tmp_path, "# top\n$INCLUDE sub/dictionary.mid\n$INCLUDE- does-not-exist\nVALUE Deep One 1\n")
    d = Dictionary.load(top)
    assert d.attribute("Deep").key == (200,)
    assert d.attribute("Mid").type == "string"
    assert d.value("Deep", "One") == 1
    assert [p.name for p in d.files] == ["dictionary", "dictionary.mid", "dictionary.deep"]


def test_syntax_variants(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
# comments, blank lines, tabs, hex numbers, aliases and deferred VALUEs
VALUE	Later	Up	0x01   # VALUE before its ATTRIBUTE: kept until the end of the load
ATTRIBUTE	Hexed	0x1f	string	# = 31
ATTRIBUTE	V4	200	ipv4addr
ATTRIBUTE	Later	201	uint32
ATTRIBUTE	Tagged	202	integer	has_tag
ATTRIBUTE	Pw	203	string	has_tag,encrypt=2
ATTRIBUTE	Hidden	204	string	encrypt=1
ATTRIBUTE	Joined	205	octets	concat
ATTRIBUTE	Hidden	204	string	encrypt=1
ATTRIBUTE	Hidden-Alias	204	string	encrypt=1
ATTRIBUTE	Parent	206	tlv
ATTRIBUTE	Child	206.1	short
ATTRIBUTE	Extended-Attribute-1	241	extended
ATTRIBUTE	Ext-Thing	241.7	ipv6prefix
ATTRIBUTE	Ext-Long	245.3	octets
ATTRIBUTE	Evs-Thing	241.26.9.4	integer64
VALUE	Later	Down	2
VALUE	Later	Also-Up	1
""",
    )
    d = Dictionary.load(path)
    assert d.attribute("Hexed").key == (31,)
    assert d.attribute("V4").type == "ipaddr"
    assert d.attribute("Later").type == "integer"
    assert d.attribute("Later").values == {"Up": 1, "Down": 2, "Also-Up": 1}
    assert d.value_name("Later", 1) == "Up"  # the first name of a number is the one printed
    assert d.attribute("Tagged").has_tag and d.attribute("Tagged").encrypt == 0
    assert d.attribute("Pw").has_tag and d.attribute("Pw").encrypt == 2
    assert d.attribute("Joined").concat
    assert d.attribute("Hidden-Alias") is d.attribute("Hidden")
    assert d.lookup((204,)) is d.attribute("Hidden")
    assert d.attribute("Child").key == (206, 1)
    assert d.attribute("Ext-Thing").key == (241, 7)
    assert d.attribute("Ext-Long").key == (245, 3)
    evs = d.attribute("Evs-Thing")
    assert (evs.key, evs.vendor, evs.type) == ((241, 26, 9, 4), 9, "integer64")


def test_vendor_formats_and_blocks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
VENDOR	Plain	1000
VENDOR	Wide	2000	format=2,2
VENDOR	Long	3000	format=4,0
VENDOR	Wimax	24757	format=1,1,c
VENDOR	Ext	4000
VENDOR	Plain	1000
BEGIN-VENDOR	Plain
ATTRIBUTE	Plain-A	1	string
ATTRIBUTE	Plain-T	2	tlv
ATTRIBUTE	Plain-T-Sub	2.3	ipaddr
END-VENDOR	Plain
BEGIN-VENDOR	Wide
ATTRIBUTE	Wide-A	0x1234	integer
END-VENDOR	Wide
BEGIN-VENDOR	Long
ATTRIBUTE	Long-A	70000	octets
END-VENDOR	Long
BEGIN-VENDOR	Ext	format=Extended-Vendor-Specific-5
ATTRIBUTE	Ext-A	9	string
END-VENDOR	Ext
ATTRIBUTE	Old-Style	7	integer	Plain
""",
    )
    d = Dictionary.load(path)
    assert (d.vendor("Wide").type_len, d.vendor("Wide").len_len) == (2, 2)
    assert (d.vendor(3000).type_len, d.vendor(3000).len_len) == (4, 0)
    assert d.vendor("wimax").continuation
    assert not d.vendor("Plain").continuation
    assert d.attribute("Plain-A").key == (26, 1000, 1)
    assert d.attribute("Plain-T-Sub").key == (26, 1000, 2, 3)
    assert d.attribute("Wide-A").key == (26, 2000, 0x1234)
    assert d.attribute("Long-A").key == (26, 3000, 70000)
    assert d.attribute("Ext-A").key == (245, 26, 4000, 9)
    assert d.attribute("Ext-A").vendor == 4000
    assert d.attribute("Old-Style").key == (26, 1000, 7)


def test_load_file_adds_to_a_dictionary(tmp_path: Path) -> None:
    d = Dictionary.load(default_dictionary_path())
    d.load_file(write(tmp_path, "ATTRIBUTE Site-Local 250 string\nVALUE Service-Type Site-Thing 200\n"))
    assert d.attribute("Site-Local").key == (250,)
    assert d.value("Service-Type", "Site-Thing") == 200
    assert "Site-Local" not in default_dictionary()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("ATTRIBUTE A 1 string\nFROB x\n", 2, "unknown keyword"),
        ("ATTRIBUTE A one string\n", 1, "bad attribute number"),
        ("ATTRIBUTE A 0x string\n", 1, "bad attribute number"),
        ("ATTRIBUTE A 256 string\n", 1, "out of range"),
        ("ATTRIBUTE A 0 string\n", 1, "out of range"),
        ("ATTRIBUTE A 1 strung\n", 1, "unknown type"),
        ("ATTRIBUTE A 1\n", 1, "expected ATTRIBUTE"),
        ("ATTRIBUTE A 1 string has_tags\n", 1, "unknown flag"),
        ("ATTRIBUTE A 1 string encrypt=7\n", 1, "encrypt=7"),
        ("ATTRIBUTE A 1 tlv encrypt=1\n", 1, "encrypt=1 on type tlv"),
        ("ATTRIBUTE A 1 ipaddr has_tag\n", 1, "has_tag"),
        ("ATTRIBUTE A 1 string concat\n", 1, "concat"),
        ("# x\nATTRIBUTE A 1 string\nATTRIBUTE A 2 string\n", 3, "redefined"),
        ("ATTRIBUTE A 1 string\nATTRIBUTE A 1 octets\n", 2, "redefined"),
        ("ATTRIBUTE A 1 string\nATTRIBUTE B 1 integer\n", 2, "another format"),
        ("ATTRIBUTE A 1 extended\n", 1, "not allowed"),
        ("ATTRIBUTE A 241 long-extended\n", 1, "not allowed"),
        ("ATTRIBUTE A 5 vsa\n", 1, "only for attribute 26"),
        ("ATTRIBUTE A 241.26 string\n", 1, "evs"),
        ("ATTRIBUTE A 241.256 string\n", 1, "out of range"),
        ("ATTRIBUTE A 241.26.9 string\n", 1, "EVS numbers"),
        ("ATTRIBUTE A 1.1 string\n", 1, "not a defined tlv"),
        ("ATTRIBUTE A 1 string\n\n\nVALUE A x 1\n", 4, "not integer"),
        ("ATTRIBUTE A 1 byte\nVALUE A x 256\n", 2, "out of range"),
        ("ATTRIBUTE A 1 integer\nVALUE A x 1\nVALUE A x 2\n", 3, "redefined"),
        ("ATTRIBUTE A 1 integer\nVALUE A x one\n", 2, "bad VALUE number"),
        ("ATTRIBUTE A 1 integer\nVALUE A x\n", 2, "expected VALUE"),
        ("\nVALUE Nowhere x 1\n", 2, "unknown attribute 'Nowhere'"),
        ("VENDOR V\n", 1, "expected VENDOR"),
        ("VENDOR V 0\n", 1, "out of range"),
        ("VENDOR V 10 format=3,1\n", 1, "bad format"),
        ("VENDOR V 10 format=1,1,x\n", 1, "bad format"),
        ("VENDOR V 10 frob=1\n", 1, "unknown VENDOR option"),
        ("VENDOR V 10\nVENDOR W 10 format=2,2\n", 2, "conflicts"),
        ("VENDOR V 10\nVENDOR V 11\n", 2, "conflicts"),
        ("VENDOR V 10\nVENDOR V 10 format=2,2\n", 2, "conflicts"),
        ("BEGIN-VENDOR Nobody\n", 1, "unknown vendor"),
        ("VENDOR V 10\nBEGIN-VENDOR V\nATTRIBUTE V-A 1 string\n", 2, "never ended"),
        ("VENDOR V 10\nBEGIN-VENDOR V\nBEGIN-VENDOR V\n", 3, "inside BEGIN-VENDOR"),
        ("VENDOR V 10\nBEGIN-VENDOR V\nEND-VENDOR W\n", 3, "does not match"),
        ("END-VENDOR V\n", 1, "without BEGIN-VENDOR"),
        ("VENDOR V 10\nBEGIN-VENDOR V format=Extended-Vendor-Specific-7\n", 2, "1..6"),
        ("VENDOR V 10\nBEGIN-VENDOR V\nATTRIBUTE V-A 256 string\n", 3, "out of range for V"),
        ("VENDOR V 10\nBEGIN-VENDOR V\nATTRIBUTE V-A 1 extended\n", 3, "cannot be a vendor attribute"),
        ("VENDOR V 10 format=2,1\nBEGIN-VENDOR V\nATTRIBUTE V-A 65536 string\n", 3, "out of range"),
        ("ATTRIBUTE Bad?Name 1 string\n", 1, "bad attribute name"),
        ("$INCLUDE\n", 1, "one file name"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DictionaryError) as info:
        Dictionary.load(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert message in str(info.value)


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    inner = write(tmp_path, "ATTRIBUTE Ok 1 string\nATTRIBUTE Bad 2 nonsense\n", "dictionary.inner")
    top = write(tmp_path, "$INCLUDE dictionary.inner\n")
    with pytest.raises(DictionaryError, match=rf"^{re.escape(str(inner))}:2: unknown type"):
        Dictionary.load(top)


def test_missing_files_and_include_loops(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match="cannot read"):
        Dictionary.load(tmp_path / "absent")
    write(tmp_path, "$INCLUDE dictionary.b\n", "dictionary.a")
    write(tmp_path, "# b\n$INCLUDE dictionary.a\n", "dictionary.b")
    with pytest.raises(DictionaryError, match="loop"):
        Dictionary.load(tmp_path / "dictionary.a")
    with pytest.raises(DictionaryError, match="cannot read"):
        Dictionary.load(write(tmp_path, "$INCLUDE nope\n", "dictionary.c"))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "dictionary"
    path.write_bytes(b"ATTRIBUTE A\xff 1 string\n")
    with pytest.raises(DictionaryError, match="UTF-8"):
        Dictionary.load(path)


# -- cross-check with pyrad's parser -------------------------------------------------------

#: Things pyrad 2.x cannot read: RFC 6929 types and extended numbering, vendor formats.
_PYRAD_UNSUPPORTED_TYPES = {"vsa", "extended", "long-extended", "evs", "ipv4prefix", "combo-ip"}


def _pyrad_subset(d: Dictionary, out_dir: Path) -> tuple[Path, set[str]]:
    """Copy the shipped files to ``out_dir`` keeping only lines pyrad understands.

    Returns the copied top file and the names of the attributes that were kept.
    """
    kept: set[str] = set()
    dropped: set[str] = set()
    for attr in d.by_key.values():
        vendor = d.vendors_by_id.get(attr.vendor)
        unsupported = (
            attr.type in _PYRAD_UNSUPPORTED_TYPES
            or attr.key[0] in range(241, 247)
            or (
                vendor is not None and (vendor.type_len, vendor.len_len, vendor.continuation) != (1, 1, False)
            )
        )
        (dropped if unsupported else kept).add(attr.name.lower())
    for name, attr in d.by_name.items():  # aliases follow their attribute
        (dropped if attr.name.lower() in dropped else kept).add(name)

    def keep(line: str) -> bool:
        tokens = line.split("#", 1)[0].split()
        if tokens and tokens[0] == "ATTRIBUTE":
            return tokens[1].lower() in kept
        if tokens and tokens[0] == "VALUE":
            return tokens[1].lower() in kept
        return True

    for path in d.files:
        lines = path.read_text().splitlines()
        (out_dir / path.name).write_text("\n".join(ln for ln in lines if keep(ln)) + "\n")
    return out_dir / default_dictionary_path().name, kept


def test_pyrad_reads_our_files_and_agrees(
    d: Dictionary, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pyrad_dictionary = pytest.importorskip("pyrad.dictionary")
    pyrad_tools = pytest.importorskip("pyrad.tools")
    top, kept = _pyrad_subset(d, tmp_path)
    with caplog.at_level(logging.DEBUG, logger="pyrad"):
        theirs: Any = pyrad_dictionary.Dictionary(str(top))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert not getattr(theirs, "skipped_attributes", set()), "the subset should hold only readable lines"

    compared = 0
    for name, pattr in theirs.attributes.items():
        ours = d.attribute(name)
        assert ours.name.lower() in kept
        if pattr.vendor:
            vid = theirs.vendors.GetForward(pattr.vendor)
            assert ours.key == (26, vid, pattr.code), name
            assert ours.vendor == vid
            assert d.vendor(pattr.vendor).id == vid
        else:
            assert ours.key == (pattr.code,), name
        assert ours.type == pattr.type, name
        assert ours.has_tag == bool(pattr.has_tag), name
        assert ours.encrypt == pattr.encrypt, name
        # Every VALUE pyrad read means the same number in ours (pyrad stores them encoded).
        for value_name, encoded in pattr.values.forward.items():
            assert pyrad_tools.EncodeAttr(ours.type, ours.values[value_name]) == encoded, (name, value_name)
        assert len(pattr.values.forward) == len(ours.values), name
        compared += 1
    assert compared == len(theirs.attributes)
    assert compared >= 250  # everything but the RFC 6929 containers and attributes
    assert {d.by_name[n].name for n in kept} <= set(theirs.attributes)
