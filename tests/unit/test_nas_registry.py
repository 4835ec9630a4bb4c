"""NAS lookup by source address: exact first, then the longest subnet; CoA for a subnet NAS
goes to the session's source address or is refused; subnets are accepted and imported."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from radiusd.coa.service import coa_address
from radiusd.coa.sessions import SessionRef
from radiusd.codec.dictionary import default_dictionary
from radiusd.importer.files import read_clients
from radiusd.importer.model import Report
from radiusd.importer.translate import SourceTables, Translator
from radiusd.model.request import NasClient
from radiusd.server.nas import NasRegistry
from radiusd.store.errors import InvalidInput
from radiusd.store.validate import nas_client_address


def found(reg: NasRegistry, address: str) -> NasClient:
    """The client ``reg`` matches for ``address`` (the test expects one)."""
    client = reg.get(address)
    assert client is not None, address
    return client


def test_exact_then_longest_prefix() -> None:
    reg = NasRegistry(
        [
            NasClient(1, "wide", "10.0.0.0/8", b"a"),
            NasClient(2, "bng", "10.1.0.0/24", b"b"),
            NasClient(3, "edge", "10.1.0.7", b"c"),
            NasClient(4, "v6", "2001:db8::/32", b"d"),
        ]
    )
    assert found(reg, "10.1.0.7").name == "edge"  # exact wins
    hit = found(reg, "10.1.0.9")
    assert (hit.name, hit.address, hit.network) == ("bng", "10.1.0.9", "10.1.0.0/24")
    assert found(reg, "10.200.0.1").name == "wide"
    assert found(reg, "::ffff:10.1.0.9").name == "bng"
    assert found(reg, "2001:db8:5::1").name == "v6"
    assert reg.get("192.0.2.1") is None and reg.get("2001:db9::1") is None
    assert len(reg) == 4 and reg.get("10.1.0.9") is reg.get("10.1.0.9")  # cached
    reg.replace_all([NasClient(1, "wide", "10.0.0.0/8", b"a")])
    assert found(reg, "10.1.0.9").name == "wide"  # cache cleared on reload


def test_subnet_text_is_checked() -> None:
    assert nas_client_address(" 10.0.0.0/24 ") == "10.0.0.0/24"
    assert nas_client_address("10.0.0.5/32") == "10.0.0.5"
    assert nas_client_address("2001:DB8::/48") == "2001:db8::/48"
    with pytest.raises(InvalidInput, match="malformed NAS subnet"):
        nas_client_address("10.0.0.1/24")


def test_coa_goes_to_the_sessions_source_or_is_refused() -> None:
    nas = SimpleNamespace(name="bng", address="10.1.0.0/24")
    single = SimpleNamespace(name="edge", address="192.0.2.1")
    assert coa_address(single, None) == "192.0.2.1"  # type: ignore[arg-type]
    assert coa_address(nas, SessionRef("u", nas_address="10.1.0.9")) == "10.1.0.9"  # type: ignore[arg-type]
    for ref in (None, SessionRef("u"), SessionRef("u", nas_address="10.2.0.9")):
        with pytest.raises(ValueError, match=re.escape("is the subnet 10.1.0.0/24")):
            coa_address(nas, ref)  # type: ignore[arg-type]


def test_clients_conf_subnets_are_imported(tmp_path: Path) -> None:
    conf = tmp_path / "clients.conf"
    conf.write_text(
        "client bngs { ipaddr = 10.0.0.0/24\n secret = s1 }\n"
        "client old { ipaddr = 10.5.0.0\n netmask = 16\n secret = s2 }\n"
        "client bad { ipaddr = 10.0.0.1/24\n secret = s3 }\n"
    )
    tables, report = SourceTables(), Report()
    read_clients(conf, tables, report)
    items = Translator(default_dictionary(), None, report).translate(tables).nas
    assert [(n.name, n.address) for n in items] == [("bngs", "10.0.0.0/24"), ("old", "10.5.0.0/16")]
    assert [s.subject for s in report.skipped] == ["10.0.0.1/24"]
