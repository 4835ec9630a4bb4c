"""The admin API against hostile or slow clients, over real sockets to ``radiusd serve``:
the token is checked before a body is read, bodies are bounded in size and time, request heads
in time, the concurrency slots are never held by an unauthenticated or slow client; the
documentation needs the token unless ``api_public_docs``; HTTPS with ``--api-tls-cert/-key``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import HOST, DaemonProcess, radiusd_script
from tests.integration.test_api_daemon import free_port

TOKENS: dict[str, str] = {}
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0


def seed(d: DaemonProcess) -> None:
    d.cli("pool", "add", "main", "--range", "10.81.0.0/24")
    TOKENS["admin"] = d.cli("api-token", "create", "admin").stdout.split()[0]


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, daemon_factory: Callable[..., DaemonProcess]
) -> DaemonProcess:
    url = f"sqlite+aiosqlite:///{(tmp_path_factory.mktemp('db') / 'r.sqlite3').as_posix()}"
    env = {
        "RADIUSD_API_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "RADIUSD_API_BODY_TIMEOUT": str(BODY_TIMEOUT),
    }
    return daemon_factory(url, args=("--api-bind", f"{HOST}:{free_port()}"), env=env, seed=seed)


def api_port(d: DaemonProcess) -> int:
    return int(d.bound["api"][0][1])


def connect(d: DaemonProcess) -> socket.socket:
    s = socket.create_connection((HOST, api_port(d)), timeout=5)
    return s


def head(method: str, path: str, *lines: str, token: bool = False) -> bytes:
    extra = [f"Authorization: Bearer {TOKENS['admin']}"] if token else []
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: api", *extra, *lines, "", ""]).encode()


def read_response(s: socket.socket, timeout: float = 5.0) -> tuple[int, bytes]:
    """The status and everything the server sent until it closed (or ``timeout``)."""
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data and b"connection: close" not in data.lower():
            break
    assert data.startswith(b"HTTP/1.1 "), data[:200]
    return int(data.split()[1]), data


def closed_by_server(s: socket.socket, timeout: float) -> bool:
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_a_body_without_token_is_refused_before_it_is_read(daemon: DaemonProcess) -> None:
    """20 MB announced, 1 kB sent, no token: 401 at once and the connection is closed, so the
    rest of the body is never read."""
    with connect(daemon) as s:
        s.sendall(
            head("POST", "/network/sites", "Content-Type: application/json", "Content-Length: 20000000")
        )
        s.sendall(b"x" * 1024)
        started = time.monotonic()
        status, data = read_response(s)
        assert status == 401, data
        assert b'"a valid bearer token is required"' in data
        assert closed_by_server(s, 2.0)
        assert time.monotonic() - started < 2.0
        with pytest.raises(OSError):
            for _ in range(2000):  # ~20 MB: the server stopped reading, the socket breaks
                s.sendall(b"x" * 10_000)


def test_an_oversized_body_is_413(daemon: DaemonProcess) -> None:
    with connect(daemon) as s:  # announced
        s.sendall(head("POST", "/network/sites", "Content-Length: 2000000", token=True))
        status, data = read_response(s)
        assert status == 413, data
        assert b"larger than 1048576 bytes" in data
    with connect(daemon) as s:  # chunked, found out while reading
        s.sendall(head("POST", "/network/sites", "Transfer-Encoding: chunked", token=True))
        status = 0
        try:
            for _ in range(130):
                s.sendall(b"2000\r\n" + b"x" * 0x2000 + b"\r\n")  # 130 x 8 kB > 1 MB
        except OSError:
            pass
        status, data = read_response(s)
        assert status == 413, data
    r = httpx.post(
        f"http://{HOST}:{api_port(daemon)}/network/sites",
        headers={"Authorization": f"Bearer {TOKENS['admin']}"},
        json={"name": "pop-1", "description": "d" * 200},
    )
    assert r.status_code == 201, r.text  # a normal body still goes through


def test_slow_clients_hold_no_slot_and_are_cut(daemon: DaemonProcess) -> None:
    """Eight stalled bodies with a token, eight without, eight stalled heads: an ordinary request
    is still answered at once; the stalled ones are answered 408/401 or closed in time."""
    with_token = [connect(daemon) for _ in range(8)]
    without = [connect(daemon) for _ in range(8)]
    heads = [connect(daemon) for _ in range(8)]
    try:
        started = time.monotonic()
        for s in with_token:
            s.sendall(head("POST", "/network/sites", "Content-Length: 100", token=True) + b'{"name":')
        for s in without:
            s.sendall(head("POST", "/network/sites", "Content-Length: 100") + b'{"name":')
        for s in heads:
            s.sendall(b"GET /ipam/pools HTTP/1.1\r\nHost: api\r\n")
        t = time.monotonic()
        r = httpx.get(
            f"http://{HOST}:{api_port(daemon)}/ipam/pools",
            headers={"Authorization": f"Bearer {TOKENS['admin']}"},
            timeout=5,
        )
        assert r.status_code == 200
        assert time.monotonic() - t < 1.0, "an ordinary request waited behind the slow ones"
        for s in without:
            assert read_response(s)[0] == 401
        for s in with_token:
            status, data = read_response(s, BODY_TIMEOUT + 3)
            assert status == 408, data
        assert time.monotonic() - started < BODY_TIMEOUT + 2
        for s in heads:  # a byte now and then does not keep a head alive past its deadline
            s.sendall(b"X")
        for s in heads:
            assert closed_by_server(s, HEADER_TIMEOUT + 2)
        assert time.monotonic() - started < HEADER_TIMEOUT + 3
    finally:
        for s in with_token + without + heads:
            s.close()
    assert daemon.running


def test_docs_need_the_token(daemon: DaemonProcess) -> None:
    base = f"http://{HOST}:{api_port(daemon)}"
    for path in ("/docs", "/openapi.json"):
        assert httpx.get(base + path).status_code == 401
        r = httpx.get(base + path, headers={"Authorization": f"Bearer {TOKENS['admin']}"})
        assert r.status_code == 200


# -- HTTPS -----------------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and localhost) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "radiusd test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "api.crt", folder / "api.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_daemon(
    tmp_path_factory: pytest.TempPathFactory, daemon_factory: Callable[..., DaemonProcess]
) -> Iterator[tuple[DaemonProcess, Path]]:
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    url = f"sqlite+aiosqlite:///{(tmp_path_factory.mktemp('db') / 'r.sqlite3').as_posix()}"
    args = ("--api-bind", f"{HOST}:{free_port()}", "--api-tls-cert", str(cert), "--api-tls-key", str(key))
    yield daemon_factory(url, args=args, seed=seed), cert


def test_https_with_the_configured_certificate(tls_daemon: tuple[DaemonProcess, Path]) -> None:
    d, cert = tls_daemon
    port = api_port(d)
    ctx = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(verify=ctx, timeout=5) as c:
        r = c.get(f"https://{HOST}:{port}/ipam/pools", headers={"Authorization": f"Bearer {TOKENS['admin']}"})
        assert r.status_code == 200, r.text
        assert [p["name"] for p in r.json()] == ["main"]
        assert c.get(f"https://{HOST}:{port}/ipam/pools").status_code == 401
    with pytest.raises(httpx.HTTPError):  # plain HTTP on the HTTPS port gets no answer
        httpx.get(f"http://{HOST}:{port}/ipam/pools", timeout=3)
    with pytest.raises(httpx.ConnectError):  # and an unknown CA is refused by the client
        httpx.get(f"https://{HOST}:{port}/ipam/pools", timeout=3)
    assert d.events("api.ready", scheme="https")


def test_tls_settings_errors_are_one_line(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_key = self_signed(other)
    url = f"sqlite+aiosqlite:///{(tmp_path / 'r.sqlite3').as_posix()}"
    base = [radiusd_script(), "--database", url, "serve", "--bind", HOST, "--auth-port", "0",
            "--acct-port", "0", "--api-bind", f"{HOST}:{free_port()}"]  # fmt: skip
    for extra, expected in (
        (["--api-tls-cert", str(cert)], "'api_tls_cert' and 'api_tls_key' go together"),
        (["--api-tls-cert", str(cert), "--api-tls-key", str(wrong_key)], "cannot use api_tls_cert"),
    ):
        done = subprocess.run(base + extra, capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert done.returncode != 0
        errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
        assert errors and expected in errors[-1], done.stderr
        assert "Traceback" not in done.stderr, done.stderr
