"""RadSec test parts: certificates made with ``cryptography``, RADIUS packets built by hand
(hashlib/hmac, no radiusd code: an independent check of the daemon's crypto), a TLS client on
the ``ssl`` module, and radsecproxy as a subprocess."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import socket
import ssl
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

RADSEC_SECRET = b"radsec"
MESSAGE_AUTHENTICATOR = 80


# -- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the DER certificate, hex
    subject: str


def radsec_env(server: Issued, client_ca: Path, **settings: str) -> dict[str, str]:
    """The daemon's environment for a RadSec listener on an ephemeral port with ``server``'s
    certificate, trusting clients of ``client_ca``; ``settings`` add RADIUSD_* values."""
    return {
        "RADIUSD_RADSEC": "true",
        "RADIUSD_RADSEC_PORT": "0",
        "RADIUSD_RADSEC_CERT": str(server.cert),
        "RADIUSD_RADSEC_KEY": str(server.key),
        "RADIUSD_RADSEC_CA": str(client_ca),
        **{f"RADIUSD_{name.upper()}": value for name, value in settings.items()},
    }


def _name(cn: str, org: str = "radiusd tests") -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _write(dir: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    cert_path, key_path = dir / f"{stem}.pem", dir / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key_path, 0o600)
    der = cert.public_bytes(serialization.Encoding.DER)
    return Issued(cert_path, key_path, hashlib.sha256(der).hexdigest(), cert.subject.rfc4514_string())


class CertificateAuthority:
    """A throw-away CA that issues server and client certificates into ``dir``."""

    def __init__(self, dir: Path, name: str = "radiusd test CA") -> None:
        self.dir = dir
        dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        stem = name.replace(" ", "-")
        self.issued = _write(dir, stem, self.cert, self.key)
        self.path = self.issued.cert

    def issue_daemon(self) -> Issued:
        """The daemon's server certificate: ``radiusd.test`` on 127.0.0.1, what the clients check."""
        return self.issue("radiusd.test", server=True, dns=("radiusd.test",), ips=("127.0.0.1",))

    def issue(
        self, cn: str, *, server: bool = False, dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return _write(self.dir, cn, builder.sign(self.key, hashes.SHA256()), key)


# -- RADIUS packets by hand -------------------------------------------------------------------


def _attr(t: int, value: bytes) -> bytes:
    return bytes([t, len(value) + 2]) + value


def hide_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """RFC 2865 §5.2."""
    padded = password + b"\0" * (-len(password) % 16 or (16 if not password else 0))
    out, last = b"", authenticator
    for i in range(0, len(padded), 16):
        b = hashlib.md5(secret + last).digest()
        last = bytes(x ^ y for x, y in zip(padded[i : i + 16], b, strict=True))
        out += last
    return out


def _with_message_authenticator(code: int, ident: int, auth: bytes, attrs: bytes, secret: bytes) -> bytes:
    attrs += _attr(MESSAGE_AUTHENTICATOR, b"\0" * 16)
    head = struct.pack("!BBH", code, ident, 20 + len(attrs)) + auth
    mac = hmac.new(secret, head + attrs, hashlib.md5).digest()
    return head + attrs[:-16] + mac


def access_request(ident: int, user: str, password: str, secret: bytes = RADSEC_SECRET) -> bytes:
    """An Access-Request with PAP and Message-Authenticator (RFC 2865, RFC 3579 §3.2)."""
    auth = os.urandom(16)
    attrs = _attr(1, user.encode()) + _attr(2, hide_password(password.encode(), secret, auth))
    attrs += _attr(4, socket.inet_aton("192.0.2.10"))  # NAS-IP-Address
    return _with_message_authenticator(1, ident, auth, attrs, secret)


def status_server(ident: int, secret: bytes = RADSEC_SECRET) -> bytes:
    """RFC 5997 §3: Message-Authenticator required."""
    return _with_message_authenticator(
        12, ident, os.urandom(16), _attr(4, socket.inet_aton("192.0.2.10")), secret
    )


def accounting_request(
    ident: int, user: str, session: str, status: int = 1, secret: bytes = RADSEC_SECRET
) -> bytes:
    """An Accounting-Request (RFC 2866 §3: its authenticator is an MD5 over the packet)."""
    attrs = _attr(40, struct.pack("!I", status)) + _attr(44, session.encode()) + _attr(1, user.encode())
    attrs += _attr(4, socket.inet_aton("192.0.2.10")) + _attr(8, socket.inet_aton("100.64.0.9"))
    head = struct.pack("!BBH", 4, ident, 20 + len(attrs))
    auth = hashlib.md5(head + b"\0" * 16 + attrs + secret).digest()
    return head + auth + attrs


def coa_request(ident: int, session: str, secret: bytes = RADSEC_SECRET) -> bytes:
    """A CoA-Request (RFC 5176 §2.3: its authenticator is computed as an Accounting-Request's)."""
    attrs = _attr(44, session.encode()) + _attr(1, b"alice")
    head = struct.pack("!BBH", 43, ident, 20 + len(attrs))
    return head + hashlib.md5(head + b"\0" * 16 + attrs + secret).digest() + attrs


def reply_ok(reply: bytes, request: bytes, secret: bytes = RADSEC_SECRET) -> bool:
    """The Response Authenticator (RFC 2865 §3) checks out against ``request``."""
    expected = hashlib.md5(reply[:4] + request[4:20] + reply[20:] + secret).digest()
    return reply[1] == request[1] and hmac.compare_digest(reply[4:20], expected)


# -- a TLS client -----------------------------------------------------------------------------


class TlsClient:
    """A blocking RadSec client: raw octets out, RADIUS packets (framed by Length) in."""

    def __init__(
        self, port: int, ca: Path, client: Issued | None, host: str = "127.0.0.1", timeout: float = 5.0,
        alpn: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.check_hostname = False  # the test server certificate is for "radiusd.test"
        if alpn:  # RFC 7301 names offered in the ClientHello (RFC 9765: radius/1.0, radius/1.1)
            ctx.set_alpn_protocols(list(alpn))
        if client is not None:
            ctx.load_cert_chain(client.cert, client.key)
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ctx.wrap_socket(raw, server_hostname="radiusd.test")
        self.sock.settimeout(timeout)
        self._buf = b""

    def __enter__(self) -> TlsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_packet(self) -> bytes | None:
        """The next packet, or None when the server closed the connection."""
        while True:
            if len(self._buf) >= 4:
                length = struct.unpack("!H", self._buf[2:4])[0]
                if len(self._buf) >= length:
                    packet, self._buf = self._buf[:length], self._buf[length:]
                    return packet
            try:
                chunk = self.sock.recv(65536)
            except (ssl.SSLError, ConnectionError):
                return None
            if not chunk:
                return None
            self._buf += chunk

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True once the server closed the connection (EOF, reset or TLS alert) within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except TimeoutError:
            return False
        except (ssl.SSLError, ConnectionError, OSError):
            return True


# -- radsecproxy ------------------------------------------------------------------------------


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RadsecProxy:
    """radsecproxy taking RADIUS/UDP on loopback from ``udp_secret`` clients and forwarding it
    over TLS to radiusd (the UDP->TLS bridge of docs/radsec.md)."""

    def __init__(
        self, binary: str, workdir: Path, *, tls_port: int, ca: Path, client: Issued, udp_secret: str,
        status_server: bool = False,
    ) -> None:  # fmt: skip
        self.binary = binary
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.conf = workdir / "radsecproxy.conf"
        self.log = workdir / "radsecproxy.log"
        self.conf.write_text(
            f"""ListenUDP 127.0.0.1:{self.udp_port}
LogLevel 4
tls default {{
    CACertificateFile {ca}
    CertificateFile {client.cert}
    CertificateKeyFile {client.key}
}}
client loopback {{
    host 127.0.0.1
    type udp
    secret {udp_secret}
}}
server radiusd {{
    host 127.0.0.1
    port {tls_port}
    type tls
    secret radsec
    CertificateNameCheck off
    StatusServer {"on" if status_server else "off"}
}}
realm * {{
    server radiusd
    accountingServer radiusd
}}
"""
        )
        os.chmod(self.conf, 0o600)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RadsecProxy:
        # -f: foreground, logging to stderr (LogDestination applies to the background only)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-f", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"radsecproxy exited {self.proc.returncode}: {self.output()}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", self.udp_port))
                except OSError:
                    return self  # radsecproxy holds the port
            time.sleep(0.05)
        raise AssertionError("radsecproxy did not bind its UDP port")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
