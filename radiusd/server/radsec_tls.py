"""RadSec's TLS side: the server context (mutual TLS) and who a client certificate names.

RFC 6614 §2.3: TLS 1.2 or later, both peers present certificates, the client's checked
against the configured CA(s). ``VERIFY_X509_PARTIAL_CHAIN`` lets the CA file hold an
intermediate, or a NAS's self-signed certificate itself (the fingerprint model of §2.3: the
certificate is trusted because it is listed, and the NAS pins it by fingerprint).

A certificate is mapped to a NAS (radiusd.server.nas.NasRegistry.by_certificate) by its
SHA-256 fingerprint over the DER octets (RFC 6614 §2.3 recommends SHA-256 over SHA-1), or by
its subject: the whole subject, or one of its CNs or DNS subjectAltNames. Only the standard
library is used here, so the daemon needs no X.509 package.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from typing import Any

from radiusd.config import ConfigError

from .radsec_alpn import configure as configure_alpn

#: getpeercert()'s long attribute names -> the short ones of RFC 4514 (and OpenSSL's output)
_SHORT = {
    "commonName": "cn",
    "organizationName": "o",
    "organizationalUnitName": "ou",
    "countryName": "c",
    "localityName": "l",
    "stateOrProvinceName": "st",
    "domainComponent": "dc",
    "emailAddress": "emailaddress",
    "serialNumber": "serialnumber",
    "userId": "uid",
}


class TlsConfigError(ConfigError):
    """A certificate, key or CA file cannot be used; the message says which (never key material)."""


def server_context(cert: str, key: str, ca: str, alpn: str = "off") -> ssl.SSLContext:
    """A TLS server context that requires a client certificate chaining to ``ca``, announcing
    the ALPN names of ``alpn`` (radiusd.server.radsec_alpn: a ``radsec_alpn`` value)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.options |= ssl.OP_NO_COMPRESSION  # RFC 6614 §2.3: compression optional; CRIME says off
    ctx.options |= ssl.OP_NO_RENEGOTIATION  # a write never has to wait for a handshake
    configure_alpn(ctx, alpn)
    try:
        ctx.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TlsConfigError(f"RadSec certificate or key file {exc.filename!r} does not exist") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(
            f"RadSec certificate {cert!r} and key {key!r} cannot be loaded: {_reason(exc)}"
        ) from None
    try:
        ctx.load_verify_locations(cafile=ca)
    except FileNotFoundError:
        raise TlsConfigError(f"RadSec CA file {ca!r} does not exist") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(f"RadSec CA file {ca!r} cannot be loaded: {_reason(exc)}") from None
    return ctx


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    return getattr(exc, "strerror", None) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """What a verified client certificate says about its holder."""

    fingerprint: str  # SHA-256 of the DER certificate, 64 lower-case hex digits
    subject: str  # for logs: RFC 4514-like, most specific part first
    #: subject keys to try, in order (radiusd.server.nas.subject_key gives the stored side)
    keys: tuple[frozenset[tuple[str, str]], ...]


def peer_identity(ssl_object: Any) -> PeerIdentity | None:
    """The identity of the peer of ``ssl_object`` (an ssl.SSLObject after the handshake);
    None when it presented no certificate."""
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return identity_of(der, ssl_object.getpeercert() or {})


def identity_of(der: bytes, decoded: dict[str, Any]) -> PeerIdentity:
    """``der`` and ``decoded`` are getpeercert(True) and getpeercert() of one certificate."""
    pairs: list[tuple[str, str]] = []
    for rdn in decoded.get("subject", ()):
        for name, value in rdn:
            pairs.append((_SHORT.get(name, name.lower()), str(value)))
    lowered = [(k, v.lower()) for k, v in pairs]
    keys: list[frozenset[tuple[str, str]]] = [frozenset(lowered)]
    keys += [frozenset({("cn", v)}) for k, v in lowered if k == "cn"]
    keys += [
        frozenset({("cn", str(v).lower())}) for kind, v in decoded.get("subjectAltName", ()) if kind == "DNS"
    ]
    subject = ",".join(f"{k.upper()}={v}" for k, v in reversed(pairs))
    return PeerIdentity(hashlib.sha256(der).hexdigest(), subject, tuple(dict.fromkeys(keys)))
