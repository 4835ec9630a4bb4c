"""EAP methods as state machines: a Step out for each peer Response in.

A method never sees RADIUS, sockets or the database: it gets the Type-Data of the peer's
Response and answers with the Type-Data of the next Request, or with the outcome. The inner
identity and the proof (password, certificate) are checked through :class:`MethodContext`,
which the access policy fills from its in-memory directory. A method object lives as long
as its conversation and is driven by one thread at a time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from radiusd.model.credentials import Credential

from . import packet as eap
from .packet import EapError
from .tls import TlsContexts, TlsTunnel


@dataclass(slots=True)
class Step:
    """``request`` (``data``: Type-Data of the next EAP-Request), ``success`` (the inner
    identity and the MSK) or ``failure`` (``reason`` in plain words)."""

    kind: str
    data: bytes = b""
    reason: str = ""
    username: str = ""
    msk: bytes | None = None


def request(data: bytes) -> Step:
    return Step("request", data)


def failed(reason: str) -> Step:
    return Step("failure", reason=reason)


@dataclass(slots=True)
class MethodContext:
    """What a method may ask of the rest of the daemon."""

    #: the credential of a subscriber by user name (None: unknown, or unreadable)
    credential: Callable[[str], Credential | None]
    #: whether a subscriber of this name exists (EAP-TLS maps a certificate name to one)
    known: Callable[[str], bool]
    tls: TlsContexts | None
    #: TLS octets per EAP-Request (from Framed-MTU, at most the ``[eap] fragment_size``)
    fragment: int = 1000
    #: plain words for ``serve -X``: never a key, a password or a hash
    notes: list[str] = field(default_factory=list)


class Method:
    """One EAP method of one conversation."""

    type = 0
    name = ""
    #: (TLS version, resumed) once a TLS method's handshake is done (the /metrics count)
    handshake: tuple[str, bool] | None = None

    def heavy_step(self, data: bytes) -> bool:
        """Whether answering ``data`` costs a TLS handshake step (a private-key operation, a
        key exchange): that runs on the EAP thread pool. The rest (an ACK, a fragment, tunnel
        records) runs at once: a hop to a thread costs more than it saves there."""
        return False

    def __init__(self, ctx: MethodContext, outer_identity: str) -> None:
        self.ctx = ctx
        self.outer_identity = outer_identity

    def start(self) -> Step:
        raise NotImplementedError

    @property
    def buffered(self) -> int:
        """Octets of incoming fragments held until the peer's message is whole."""
        return 0

    def process(self, identifier: int, data: bytes) -> Step:
        raise NotImplementedError

    # A heavy step (:meth:`heavy_step`) is split in three, so that the pool thread runs only
    # the expensive call: ``prepare`` and ``finish`` on the event loop, ``blocking`` between.
    def prepare(self, identifier: int, data: bytes) -> Step | None:
        return self.process(identifier, data)

    def blocking(self) -> object:
        return None

    def finish(self, result: object) -> Step:
        raise NotImplementedError

    def note(self, text: str) -> None:
        self.ctx.notes.append(f"{self.name}: {text}")


class Md5Method(Method):
    """EAP-MD5-Challenge (RFC 3748 §5.4, the CHAP computation of RFC 1994 §4.1). The outer
    identity is the user (nothing is tunnelled, no keys): only where ``allow_md5`` is set."""

    type = eap.MD5_CHALLENGE
    name = "EAP-MD5"

    def start(self) -> Step:
        self.challenge = os.urandom(16)
        return request(bytes((16,)) + self.challenge + b"radiusd")

    def process(self, identifier: int, data: bytes) -> Step:
        if len(data) < 17 or data[0] != 16:
            return failed("malformed MD5-Challenge response")
        cred = self.ctx.credential(self.outer_identity)
        if cred is None:
            return failed(f"unknown user {self.outer_identity!r}")
        clear = cred.cleartext()
        if clear is None:
            return failed("EAP-MD5 needs a cleartext password, and this subscriber's is hashed")
        expected = hashlib.md5(
            bytes((identifier,)) + clear.encode() + self.challenge, usedforsecurity=False
        ).digest()  # the protocol's hash (RFC 1994 §4.1): why allow_md5 is off by default
        if expected != data[1:17]:
            return failed("wrong password (MD5 response does not match)")
        self.note("response matches")
        return Step("success", username=self.outer_identity)


class TlsBased(Method):
    """The TLS part shared by EAP-TLS, TTLS and PEAP (RFC 5216 §2.1, §3): the start, the
    fragments both ways, the handshake; :meth:`after_handshake` is the method's own part."""

    #: which of the server's TLS contexts (radiusd.eap.tls.TlsContexts.context)
    context = "tunnel"

    def heavy_step(self, data: bytes) -> bool:
        """Only the ClientHello of a handshake: the server's answer to it holds the private-key
        operation (the ServerKeyExchange signature of TLS 1.2 ECDHE, the CertificateVerify of
        TLS 1.3), hundreds of microseconds of RSA. The client's second flight (key exchange,
        Finished, an EAP-TLS client chain) costs tens of microseconds: a hop to a pool thread
        and back, with the GIL handed over twice, costs more CPU than that, so it runs at once."""
        t = self.tunnel
        return not t.handshake_done and t.completes_client_hello(data)

    @property
    def buffered(self) -> int:
        tunnel = getattr(self, "tunnel", None)  # none before start(), or without a certificate
        return tunnel.buffered if tunnel is not None else 0

    def start(self) -> Step:
        if self.ctx.tls is None:
            return failed("no server certificate is configured ([eap] cert, key)")
        self.tunnel = TlsTunnel(self.ctx.tls.context(self.context), self.ctx.fragment)
        return request(self.tunnel.start())

    def send(self, out: bytes) -> Step:
        self.tunnel.queue(out)
        return request(self.tunnel.flight())

    def process(self, identifier: int, data: bytes) -> Step:
        early = self.prepare(identifier, data)
        if early is not None:
            return early
        return self.finish(self.blocking())

    def prepare(self, identifier: int, data: bytes) -> Step | None:
        """The event loop's part before the handshake step: the framing, and the peer's
        records written into OpenSSL. A Step when there is no handshake step to take (an
        ACK, our next fragment)."""
        t = self.tunnel
        if not t.receive(data):
            return request(t.ack())
        records = t.take_input()
        if t.sending:
            return request(t.flight())  # the peer acknowledged a fragment of ours
        self._was_done = t.handshake_done
        self._records = bool(records)
        if records:
            t.conn.bio_write(records)
        return None

    def blocking(self) -> object:
        """The handshake step alone (:meth:`TlsTunnel.handshake`): what a pool thread runs,
        so that it holds the GIL for as short a time as can be."""
        return self.tunnel.handshake()

    def finish(self, result: object) -> Step:
        """The event loop's part after the handshake step: our next flight, or the method."""
        t = self.tunnel
        was_done, records = self._was_done, self._records
        if isinstance(result, SSL.Error):
            try:
                t.failed(result)
            except EapError as exc:
                return failed(str(exc))
        if not t.handshake_done:
            out = t.pending()
            if not out:
                return failed("the TLS handshake stalled (nothing to send, nothing received)")
            return self.send(out)
        if not was_done:
            cipher = t.conn.get_cipher_name() or "?"
            self.handshake = (t.version, t.resumed())
            self.note(
                f"TLS handshake done: {t.version} {cipher}{', session resumed' if self.handshake[1] else ''}"
            )
        step = self.after_handshake(first=not was_done, records=records)
        if step.kind == "success":
            t.keep_session()
        return step

    def after_handshake(self, first: bool, records: bool) -> Step:
        raise NotImplementedError


class EapTlsMethod(TlsBased):
    """EAP-TLS (RFC 5216; TLS 1.3: RFC 9190): the client certificate is the proof; its
    subject CN or a subjectAltName (e-mail, DNS, UPN) names the subscriber."""

    type = eap.TLS
    name = "EAP-TLS"
    context = "mutual"

    def after_handshake(self, first: bool, records: bool) -> Step:
        t = self.tunnel
        if first:
            self.user = self._subscriber()
            if isinstance(self.user, Step):
                return self.user
            out = t.pending()
            if t.tls13:
                t.send_app(b"\x00")  # the protected success indication (RFC 9190 §2.5)
                out += t.pending()
            if out:
                return self.send(out)
        assert isinstance(self.user, str)
        return Step("success", username=self.user, msk=t.msk(eap.TLS, b"client EAP encryption"))

    def _subscriber(self) -> str | Step:
        cert = self.tunnel.peer_certificate()
        if cert is None:
            return failed("no client certificate")
        names = certificate_names(cert)
        for name in names:
            if self.ctx.known(name):
                self.note(f"client certificate names {name!r} (serial {cert.serial_number:x})")
                return name
        return failed(
            f"no subscriber matches the client certificate ({', '.join(map(repr, names)) or 'no names'})"
        )


def certificate_names(cert: x509.Certificate) -> list[str]:
    """Subject CN, then subjectAltName e-mail, DNS names and UPN (otherName), in that order."""
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return names
    names += san.get_values_for_type(x509.RFC822Name)
    names += san.get_values_for_type(x509.DNSName)
    upn = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == upn and len(other.value) > 2 and other.value[0] == 0x0C:
            names.append(other.value[2:].decode("utf-8", "replace"))
    return names
