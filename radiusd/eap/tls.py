"""The TLS layer of EAP-TLS, EAP-TTLS and PEAP: a TLS server over memory buffers, and the
EAP-TLS framing around it (RFC 5216 §3: Flags L, M, S, the TLS Message Length, fragments).

Why pyOpenSSL and not the standard ``ssl`` module: ``ssl.SSLObject`` over ``ssl.MemoryBIO``
does the handshake, but exports no keying material, and every EAP method here needs it (the
MSK: RFC 5216 §2.3 and RFC 5281 §8 for TLS 1.2, RFC 9190 §2.3 / RFC 9427 for TLS 1.3, and
the TTLS implicit challenge). ``OpenSSL.SSL.Connection`` gives memory BIOs and
``export_keying_material`` (RFC 5705; with no context it is exactly the TLS 1.2 PRF over
master secret and both randoms that RFC 5216 specifies) from the same OpenSSL.

Nothing here does I/O or blocks on a lock: one :class:`TlsTunnel` belongs to one conversation,
whose packets arrive one at a time; the handshake's CPU work runs on the EAP thread pool.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from OpenSSL import SSL, crypto

from .packet import EapError

FLAG_L = 0x80  # TLS Message Length included
FLAG_M = 0x40  # more fragments
FLAG_S = 0x20  # start
#: the largest TLS message a peer may send us in fragments (a client chain of a few certs)
MAX_MESSAGE = 64 * 1024
_VERSIONS = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: str
    key: str
    ca: str = ""
    crl: str = ""
    min_version: str = "1.2"
    max_version: str = "1.3"


class TlsContexts:
    """The server's TLS contexts, built from files: ``tunnel`` (PEAP: no client certificate
    asked), ``fresh`` (TTLS: the same without resumption, see below) and ``mutual`` (EAP-TLS: a
    client certificate issued by the CA, not on the CRL). :meth:`reload` swaps in new ones
    (SIGHUP); conversations under way keep theirs.

    TTLS gets no resumption: a supplicant resuming a TTLS session skips phase 2 (wpa_supplicant
    does), and the server would then have to remember the inner identity with the TLS session,
    tickets included; a full handshake each time is the simple, safe choice. PEAP resumes and
    runs phase 2 again, which MS-PEAP §3.3.7.1 allows when the server does no fast reconnect;
    EAP-TLS resumes with the certificate of the full handshake (OpenSSL keeps it in the
    session)."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self.tunnel, self.fresh, self.mutual = self._build(files)

    def reload(self, files: TlsFiles | None = None) -> None:
        built = self._build(files or self.files)  # raises (and changes nothing) on a bad file
        with self._lock:
            self.files = files or self.files
            self.tunnel, self.fresh, self.mutual = built

    @staticmethod
    def _base(files: TlsFiles, session_id: bytes) -> SSL.Context:
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(_VERSIONS[files.min_version])
        ctx.set_max_proto_version(_VERSIONS[files.max_version])
        try:
            ctx.use_certificate_chain_file(files.cert)
            ctx.use_privatekey_file(files.key)
            ctx.check_privatekey()
        except SSL.Error as exc:
            raise EapError(f"EAP certificate {files.cert} / key {files.key}: {_ssl_reason(exc)}") from None
        # Session resumption (RFC 5216 §2.1.2): a server-side cache and tickets (OpenSSL default).
        ctx.set_session_id(session_id)
        ctx.set_session_cache_mode(SSL.SESS_CACHE_SERVER)
        ctx.set_timeout(3600)
        return ctx

    def _build(self, files: TlsFiles) -> tuple[SSL.Context, SSL.Context, SSL.Context | None]:
        for name in ("cert", "key", "ca", "crl"):
            path = getattr(files, name)
            if path and not Path(path).is_file():
                raise EapError(f"EAP {name} file {path} does not exist")
        tunnel = self._base(files, b"radiusd-eap-tunnel")
        fresh = self._base(files, b"radiusd-eap-ttls")
        fresh.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        fresh.set_options(SSL.OP_NO_TICKET)
        if not files.ca:
            return tunnel, fresh, None
        mutual = self._base(files, b"radiusd-eap-tls")
        mutual.load_verify_locations(files.ca)
        mutual.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, _verified)
        mutual.set_verify_depth(5)
        if files.crl:
            data = Path(files.crl).read_bytes()
            try:
                crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
            except ValueError as exc:
                raise EapError(f"EAP CRL {files.crl}: {exc}") from None
            store = mutual.get_cert_store()
            assert store is not None
            store.add_crl(crl)
            store.set_flags(crypto.X509StoreFlags.CRL_CHECK)
        return tunnel, fresh, mutual

    def context(self, kind: str) -> SSL.Context:
        """``tunnel``, ``fresh`` or ``mutual``."""
        with self._lock:
            ctx = {"tunnel": self.tunnel, "fresh": self.fresh, "mutual": self.mutual}[kind]
        if ctx is None:
            raise EapError("EAP-TLS needs a CA ([eap] ca)")
        return ctx


def _verified(conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
    if not ok:
        conn.set_app_data(f"certificate at depth {depth} refused (X509 error {errno}: {_x509_error(errno)})")
    return bool(ok)


def _x509_error(errno: int) -> str:
    """OpenSSL's words for a certificate verification error (pyOpenSSL has no wrapper)."""
    from OpenSSL._util import ffi, lib

    return str(ffi.string(lib.X509_verify_cert_error_string(errno)).decode("ascii", "replace"))


def _ssl_reason(exc: SSL.Error) -> str:
    parts = [
        str(e[2]) for e in (exc.args[0] if exc.args and isinstance(exc.args[0], list) else []) if len(e) > 2
    ]
    return ", ".join(parts) or str(exc) or type(exc).__name__


class TlsTunnel:
    """One TLS server connection and the EAP-TLS framing of its records.

    ``receive`` takes the Type-Data of a peer's EAP-TLS/TTLS/PEAP Response and says whether
    the message is whole (a fragment is answered with an ACK). ``flight`` hands out what the
    server has to send, one fragment per EAP Request, the first with L and the length.
    """

    def __init__(self, ctx: SSL.Context, fragment: int, version_bits: int = 0) -> None:
        self.conn = SSL.Connection(ctx, None)
        self.conn.set_accept_state()
        self.fragment = fragment
        self.version_bits = version_bits
        self._in = bytearray()
        self._in_total = 0
        self._out = b""
        self._out_pos = 0
        self.handshake_done = False
        self.peer_version = 0  # the version bits of the peer's first response (PEAP, TTLS)

    # -- framing --------------------------------------------------------------------------

    def start(self) -> bytes:
        """Type-Data of the Start request (S bit, our version)."""
        return bytes((FLAG_S | self.version_bits,))

    @property
    def buffered(self) -> int:
        """Octets of the peer's incomplete TLS message held here (the engine's max_buffered)."""
        return len(self._in)

    @property
    def sending(self) -> bool:
        return self._out_pos < len(self._out)

    def receive(self, data: bytes) -> bool:
        """Take one peer fragment; True when a whole TLS message (or an ACK) is in."""
        if not data:
            raise EapError("EAP-TLS response without Flags")
        flags = data[0]
        self.peer_version = flags & 0x07
        body = data[1:]
        if flags & FLAG_L:
            if len(body) < 4:
                raise EapError("EAP-TLS L bit without a TLS Message Length")
            total = int.from_bytes(body[:4], "big")
            body = body[4:]
            if total > MAX_MESSAGE:
                raise EapError(f"TLS message of {total} octets announced (at most {MAX_MESSAGE})")
            if not self._in:
                self._in_total = total
        if self.sending and body:
            raise EapError("the peer sent data while our fragments were still going out")
        self._in += body
        if len(self._in) > MAX_MESSAGE or (self._in_total and len(self._in) > self._in_total):
            raise EapError("the peer's fragments exceed the announced TLS Message Length")
        return not flags & FLAG_M

    def completes_client_hello(self, data: bytes) -> bool:
        """Whether ``data`` (a peer's Type-Data, not yet taken) is the last fragment of a TLS
        message whose first record is a handshake record holding a ClientHello (RFC 5246
        §6.2.1, §7.4: content type 22, handshake type 1)."""
        if len(data) < 2 or data[0] & FLAG_M:
            return False
        body = data[5:] if data[0] & FLAG_L else data[1:]
        head = bytes(self._in[:6]) + body[:6] if self._in else body[:6]
        return len(head) >= 6 and head[0] == 22 and head[5] == 1

    def ack(self) -> bytes:
        """Type-Data acknowledging a fragment (RFC 5216 §3.2: no data, Flags only)."""
        return bytes((self.version_bits,))

    def take_input(self) -> bytes:
        data = bytes(self._in)
        self._in.clear()
        self._in_total = 0
        return data

    def queue(self, data: bytes) -> None:
        self._out, self._out_pos = data, 0

    def flight(self) -> bytes:
        """Type-Data of the next fragment of what we queued."""
        total = len(self._out)
        chunk = self._out[self._out_pos : self._out_pos + self.fragment]
        first = self._out_pos == 0
        self._out_pos += len(chunk)
        flags = self.version_bits
        more = self._out_pos < total
        if more:
            flags |= FLAG_M
        if first and more:
            return bytes((flags | FLAG_L,)) + total.to_bytes(4, "big") + chunk
        return bytes((flags,)) + chunk

    # -- TLS ------------------------------------------------------------------------------

    def feed(self, records: bytes) -> None:
        """Give the peer's TLS records to OpenSSL and advance the handshake.
        EapError (with OpenSSL's or the certificate check's reason) when it fails."""
        if records:
            self.conn.bio_write(records)
        failure = self.handshake()
        if failure is not None:
            self.failed(failure)

    def handshake(self) -> SSL.Error | None:
        """Advance the handshake over what :meth:`feed` or ``conn.bio_write`` gave OpenSSL:
        one call into OpenSSL (the one a pool thread runs: the GIL is released throughout,
        and taken back once); the error, if it failed (see :meth:`failed`)."""
        if self.handshake_done:
            return None
        try:
            self.conn.do_handshake()
        except SSL.WantReadError:
            return None
        except SSL.Error as exc:
            return exc
        self.handshake_done = True
        return None

    def failed(self, exc: SSL.Error) -> None:
        """Queue the alert OpenSSL wrote, if any; EapError with the reason."""
        reason = self.conn.get_app_data() or _ssl_reason(exc)
        self._out, self._out_pos = self.pending(), 0
        raise EapError(f"TLS handshake failed: {reason}") from None

    def pending(self) -> bytes:
        """Whatever OpenSSL wants sent (handshake flights, alerts, application records)."""
        out = bytearray()
        while True:
            try:
                chunk = self.conn.bio_read(16384)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def read_app(self) -> bytes:
        """Application data the peer sent inside the tunnel (b"" when none is whole yet)."""
        out = bytearray()
        while True:
            try:
                chunk = self.conn.recv(16384)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                raise EapError("the peer closed the TLS tunnel") from None
            except SSL.Error as exc:
                raise EapError(f"TLS record error: {_ssl_reason(exc)}") from None
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def send_app(self, data: bytes) -> None:
        self.conn.sendall(data)

    @property
    def version(self) -> str:
        return self.conn.get_protocol_version_name()

    @property
    def tls13(self) -> bool:
        return self.conn.get_protocol_version() >= 0x304 or self.version == "TLSv1.3"

    def keep_session(self) -> bool:
        """Mark the connection as closed cleanly, so that OpenSSL keeps its session for
        resumption (it drops the session of a connection freed without a shutdown); only
        after the method succeeded."""
        self.conn.set_shutdown(SSL.SENT_SHUTDOWN | SSL.RECEIVED_SHUTDOWN)
        return True

    def resumed(self) -> bool:
        from OpenSSL._util import lib  # SSL_session_reused: pyOpenSSL has no wrapper for it

        return bool(lib.SSL_session_reused(self.conn._ssl))

    def export(self, label: bytes, length: int, context: bytes | None = None) -> bytes:
        return self.conn.export_keying_material(label, length, context)

    def msk(self, eap_type: int, tls12_label: bytes) -> bytes:
        """The 64-octet MSK: TLS 1.2 PRF with the method's label (RFC 5216 §2.3 "client EAP
        encryption", RFC 5281 §8 "ttls keying material"); TLS 1.3 the exporter
        "EXPORTER_EAP_TLS_Key_Material" with the method's Type as context, 128 octets of which
        the first 64 (RFC 9190 §2.3, RFC 9427 §2)."""
        if self.tls13:
            return self.export(b"EXPORTER_EAP_TLS_Key_Material", 128, bytes((eap_type,)))[:64]
        return self.export(tls12_label, 64)

    def peer_certificate(self) -> x509.Certificate | None:
        cert = self.conn.get_peer_certificate()
        return cert.to_cryptography() if cert is not None else None
