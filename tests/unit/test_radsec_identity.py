"""RadSec's certificate side without sockets: a certificate's identity (fingerprint, subject
keys) and its mapping to a NAS (RFC 6614 §2.3), the RadSec view of a NAS (secret ``radsec``),
the validation of stored identities, and the settings that go together."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from radiusd.config import ConfigError, load_settings
from radiusd.model.request import NasClient
from radiusd.server.nas import NasRegistry, subject_key
from radiusd.server.radsec import RADSEC_SECRET, radsec_client
from radiusd.server.radsec_tls import TlsConfigError, identity_of, server_context
from radiusd.store.errors import InvalidInput
from radiusd.store.validate import certificate_fingerprint, certificate_subject

DER = b"0\x82\x01\x00 a certificate's DER octets"
FP = hashlib.sha256(DER).hexdigest()
#: what ssl.SSLObject.getpeercert() returns for a verified certificate
DECODED = {
    "subject": ((("organizationName", "ISP Ltd"),), (("commonName", "pop1.example.net"),)),
    "subjectAltName": (("DNS", "pop1-alt.example.net"), ("IP Address", "192.0.2.1")),
}


def test_identity_lists_fingerprint_then_subject_then_names() -> None:
    ident = identity_of(DER, DECODED)
    assert ident.fingerprint == FP
    assert ident.subject == "CN=pop1.example.net,O=ISP Ltd"
    assert ident.keys[0] == frozenset({("o", "isp ltd"), ("cn", "pop1.example.net")})
    assert frozenset({("cn", "pop1.example.net")}) in ident.keys
    assert frozenset({("cn", "pop1-alt.example.net")}) in ident.keys
    assert all(("ip address", "192.0.2.1") not in k for k in ident.keys), "IP SANs name no NAS"


@pytest.mark.parametrize(
    "stored",
    ["CN=pop1.example.net,O=ISP Ltd", "o=isp ltd, cn=POP1.example.net", "/O=ISP Ltd/CN=pop1.example.net"],
)
def test_subject_key_ignores_order_case_and_openssl_slashes(stored: str) -> None:
    assert subject_key(stored) == identity_of(DER, DECODED).keys[0]


def radsec_nas(nid: int, name: str, fp: str | None = None, subject: str | None = None) -> NasClient:
    return NasClient(nid, name, f"192.0.2.{nid}", b"udp-secret", radsec=True, radsec_fingerprint=fp,
                     radsec_subject=subject)  # fmt: skip


def _name(client: NasClient | None) -> str | None:
    """The name of the NAS a certificate maps to (None: no NAS)."""
    return None if client is None else client.name


def test_registry_maps_certificates_to_radsec_nas_only() -> None:
    udp = NasClient(9, "udp", "192.0.2.9", b"s", radsec=False, radsec_fingerprint="ab" * 32)
    reg = NasRegistry(
        [radsec_nas(1, "by-fp", fp=FP), radsec_nas(2, "by-name", subject="pop1-alt.example.net"), udp]
    )
    keys = list(identity_of(DER, DECODED).keys)
    assert _name(reg.by_certificate(FP, keys)) == "by-fp"  # the fingerprint first
    assert _name(reg.by_certificate("00" * 32, keys)) == "by-name"  # else a DNS name of the certificate
    assert reg.by_certificate("ab" * 32, []) is None, "a NAS not marked radsec is never a RadSec client"
    assert reg.by_certificate("00" * 32, [frozenset({("cn", "nobody")})]) is None
    assert reg.radsec_count() == 2


def test_subject_match_with_a_pinned_fingerprint_needs_both() -> None:
    reg = NasRegistry([radsec_nas(1, "pinned", fp=FP, subject="pop1.example.net")])
    keys = list(identity_of(DER, DECODED).keys)
    assert _name(reg.by_certificate(FP, keys)) == "pinned"
    other = identity_of(b"another certificate", DECODED)  # same subject, other key pair
    assert reg.by_certificate(other.fingerprint, list(other.keys)) is None


def test_radsec_view_of_a_nas() -> None:
    nas = radsec_nas(1, "pop", fp=FP)
    view = radsec_client(nas, ("203.0.113.5", 40000))
    assert view.secret == RADSEC_SECRET == b"radsec"  # RFC 6614 §2.3
    assert view.address == "192.0.2.1", "the stored address (CoA goes there), not the NAT's"
    assert not view.require_message_authenticator
    subnet = NasClient(2, "net", "10.9.0.0/16", b"s", radsec=True, radsec_fingerprint=FP)
    view = radsec_client(subnet, ("10.9.3.4", 40000))
    assert (view.address, view.network) == ("10.9.3.4", "10.9.0.0/16")


def test_stored_identities_are_validated() -> None:
    colons = ":".join(FP[i : i + 2].upper() for i in range(0, 64, 2))
    assert certificate_fingerprint(colons) == FP
    assert certificate_fingerprint("sha256:" + FP) == FP
    for bad in ("", "abc", "zz" * 32, FP + "00"):
        with pytest.raises(InvalidInput, match="SHA-256"):
            certificate_fingerprint(bad)
    assert certificate_subject(" CN=a,O=b ") == "CN=a,O=b"
    for bad in ("", "CN=", "CN=a,junk", "x" * 513, "CN=a\nO=b"):
        with pytest.raises(InvalidInput):
            certificate_subject(bad)


def test_radsec_settings_go_together(tmp_path: Path) -> None:
    conf = tmp_path / "radiusd.toml"
    conf.write_text("[radiusd]\nradsec = true\nradsec_cert = 'c.pem'\n")
    with pytest.raises(ConfigError, match="radsec_key"):
        load_settings(conf)
    conf.write_text("[radiusd]\nradsec = true\nradsec_cert = 'c'\nradsec_key = 'k'\nradsec_ca = 'a'\n"
                    "radsec_bind = ['127.0.0.1', '::1']\nradsec_max_per_nas = 0\n")  # fmt: skip
    with pytest.raises(ConfigError, match="radsec_max_per_nas"):
        load_settings(conf)


def test_unusable_certificate_files_are_one_line_errors(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(TlsConfigError, match="does not exist"):
        server_context(missing, missing, missing)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(TlsConfigError, match="cannot be loaded") as err:
        server_context(str(junk), str(junk), str(junk))
    assert "\n" not in str(err.value)
