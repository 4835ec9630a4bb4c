"""A laboratory PKI for EAP: a CA, a server certificate, a client certificate, a revoked
client certificate and a CRL that lists it (``radiusd eap test-cert --out DIR``).

For labs and tests only: a production server certificate comes from the operator's CA, and
the supplicants must be told to check it (its CA and its name), or PEAP and TTLS protect
nothing against a rogue access point.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: what :func:`make_test_pki` writes, by role
FILES = (
    "ca.pem",
    "ca.key",
    "server.pem",
    "server.key",
    "client.pem",
    "client.key",
    "revoked.pem",
    "revoked.key",
    "crl.pem",
)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "radiusd lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    days: int,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_test_pki(
    out: Path, server_name: str = "radiusd.lab", client_name: str = "eapuser", days: int = 825
) -> dict[str, Path]:
    """Write the files of :data:`FILES` into ``out`` (created, mode 0700); keys are mode 0600.
    ``client_name`` is the CN (and e-mail SAN) of both client certificates: the subscriber
    an EAP-TLS login maps to."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key, server_key, client_key, revoked_key = _key(), _key(), _key(), _key()
    ca_name = _name("radiusd lab CA")
    ca = _cert("radiusd lab CA", ca_key, ca_name, ca_key, days, ca=True)
    server = _cert(server_name, server_key, ca_name, ca_key, days, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                   san=[x509.DNSName(server_name)])  # fmt: skip
    client_san: list[x509.GeneralName] = [x509.RFC822Name(f"{client_name}@{server_name}")]
    client = _cert(
        client_name, client_key, ca_name, ca_key, days, usage=ExtendedKeyUsageOID.CLIENT_AUTH, san=client_san
    )
    revoked = _cert(
        client_name, revoked_key, ca_name, ca_key, days, usage=ExtendedKeyUsageOID.CLIENT_AUTH, san=client_san
    )
    now = dt.datetime.now(dt.UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_name)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=days))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(revoked.serial_number).revocation_date(now).build()
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = {name: out / name for name in FILES}
    paths["ca.pem"].write_bytes(ca.public_bytes(pem))
    paths["server.pem"].write_bytes(server.public_bytes(pem))
    paths["client.pem"].write_bytes(client.public_bytes(pem))
    paths["revoked.pem"].write_bytes(revoked.public_bytes(pem))
    paths["crl.pem"].write_bytes(crl.public_bytes(pem))
    for name, key in (
        ("ca.key", ca_key),
        ("server.key", server_key),
        ("client.key", client_key),
        ("revoked.key", revoked_key),
    ):
        _write_key(paths[name], key)
    return paths
