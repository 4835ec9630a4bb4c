"""A RouterOS API stand-in for tests: the API's length-prefixed word protocol over a real TCP
socket on 127.0.0.1, the post-6.43 login (``/login`` with =name= and =password=), and just
enough of /ppp/secret and /ppp/active (print with ?name= queries, add, set, remove by .id).

Every sentence received after login is recorded as ``(command, {attribute: value},
{query: value})`` so tests assert exactly what the client sent; replies are !re/!done/!trap.

Served as API-SSL with a :class:`SelfSigned` certificate made at test time (as a RouterOS
router makes its own), or plain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SelfSigned:
    """A self-signed certificate for 127.0.0.1 and its key, in ``folder``; ``fingerprint`` is the
    SHA-256 of its DER form (what ``--api-fingerprint`` pins)."""

    cert_file: Path
    key_file: Path
    fingerprint: str

    @classmethod
    def make(cls, folder: Path, name: str = "router") -> SelfSigned:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_file, key_file = folder / f"{name}.crt", folder / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(cert_file, key_file, hashlib.sha256(der).hexdigest())

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x4000:
        return (n | 0x8000).to_bytes(2, "big")
    if n < 0x200000:
        return (n | 0xC00000).to_bytes(3, "big")
    if n < 0x10000000:
        return (n | 0xE0000000).to_bytes(4, "big")
    return b"\xf0" + n.to_bytes(4, "big")


def encode_sentence(*words: str) -> bytes:
    out = b"".join(encode_length(len(w.encode())) + w.encode() for w in words)
    return out + b"\x00"


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_length(sock: socket.socket) -> int:
    first = _read_exact(sock, 1)[0]
    if first < 0x80:
        return first
    if first < 0xC0:
        return ((first & 0x3F) << 8) | _read_exact(sock, 1)[0]
    if first < 0xE0:
        return ((first & 0x1F) << 16) | int.from_bytes(_read_exact(sock, 2), "big")
    if first < 0xF0:
        return ((first & 0x0F) << 24) | int.from_bytes(_read_exact(sock, 3), "big")
    return int.from_bytes(_read_exact(sock, 4), "big")


def read_sentence(sock: socket.socket) -> list[str]:
    words: list[str] = []
    while True:
        n = read_length(sock)
        if n == 0:
            return words
        words.append(_read_exact(sock, n).decode())


Command = tuple[str, dict[str, str], dict[str, str]]


@dataclass
class RouterOS:
    """Router state and the command log; ``fail`` maps a command to the !trap message it gets."""

    username: str = "api-admin"
    password: str = "api-Pa55-Zq"
    commands: list[Command] = field(default_factory=list)
    logins: list[dict[str, str]] = field(default_factory=list)
    tables: dict[str, dict[str, dict[str, str]]] = field(
        default_factory=lambda: {
            "/ppp/secret": {},
            "/ppp/active": {},
            "/ip/neighbor": {},
            "/system/identity": {},
        }
    )
    fail: dict[str, str] = field(default_factory=dict)
    _next_id: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_row(self, table: str, **values: str) -> str:
        row_id = f"*{self._next_id:X}"
        self._next_id += 1
        self.tables[table][row_id] = {".id": row_id, **values}
        return row_id

    def handle(self, words: list[str]) -> list[list[str]]:
        command, attrs, queries = words[0], {}, {}
        for w in words[1:]:
            if w.startswith("="):
                key, _, value = w[1:].partition("=")
                attrs[key] = value
            elif w.startswith("?"):
                key, _, value = w[1:].partition("=")
                queries[key] = value
        if command == "/login":
            self.logins.append(attrs)
            if attrs.get("name") == self.username and attrs.get("password") == self.password:
                return [["!done"]]
            return [["!trap", "=message=invalid user name or password (6)"], ["!done"]]
        with self.lock:
            self.commands.append((command, attrs, queries))
            if command in self.fail:
                return [["!trap", f"=message={self.fail[command]}"], ["!done"]]
            table, _, verb = command.rpartition("/")
            rows = self.tables.get(table)
            if rows is None:
                return [["!trap", "=message=no such command prefix"], ["!done"]]
            if verb == "print":
                found = [r for r in rows.values() if all(r.get(k) == v for k, v in queries.items())]
                return [["!re", *(f"={k}={v}" for k, v in r.items())] for r in found] + [["!done"]]
            if verb == "add":
                if any(r.get("name") == attrs.get("name") for r in rows.values()):
                    return [
                        ["!trap", "=message=failure: secret with the same name already exists"],
                        ["!done"],
                    ]
                return [["!done", f"=ret={self.add_row(table, **attrs)}"]]
            attrs = dict(attrs)  # the recorded command keeps its .id
            target = attrs.pop(".id", "")
            if target not in rows:
                return [["!trap", "=message=no such item"], ["!done"]]
            if verb == "set":
                rows[target].update(attrs)
                return [["!done"]]
            if verb == "remove":
                del rows[target]
                return [["!done"]]
            return [["!trap", "=message=unknown command"], ["!done"]]


class RouterOSServer:
    """Serves a :class:`RouterOS` on 127.0.0.1 (port 0), one thread per connection."""

    def __init__(self, router: RouterOS | None = None, tls: SelfSigned | None = None) -> None:
        self.router = router or RouterOS()
        router_ = self.router
        context = tls.server_context() if tls is not None else None
        #: what a client pins (None: served plain)
        self.fingerprint = tls.fingerprint if tls is not None else None
        #: connections whose TLS handshake failed (a client that refused the certificate)
        self.handshake_failures = 0
        server_ = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                try:
                    if context is not None:
                        try:
                            sock = context.wrap_socket(sock, server_side=True)
                        except (ssl.SSLError, OSError):
                            server_.handshake_failures += 1
                            return
                    while True:
                        for reply in router_.handle(read_sentence(sock)):
                            sock.sendall(encode_sentence(*reply))
                except (EOFError, OSError):
                    return

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self) -> list[tuple[str, dict[str, str], dict[str, str]]]:
        with self.router.lock:
            return list(self.router.commands)

    def __enter__(self) -> RouterOSServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
