"""Start ``radiusd serve --demo`` on SQLite, log the demo subscriber in once (PAP), stop it.

A smoke test of an installed radiusd (CI runs it on a wheel installed in a fresh venv, outside
the source tree): only the standard library, so it needs nothing from that venv.

    python3 scripts/serve_login.py --radiusd /tmp/venv/bin/radiusd [--workdir DIR]

Exit status 0 and one line when the daemon answered Access-Accept and stopped cleanly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO_USER, DEMO_PASSWORD, DEMO_SECRET = b"demo", b"demo-password", b"testing123"
ACCESS_REQUEST, ACCESS_ACCEPT = 1, 2
START_TIMEOUT = 60.0


def access_request(identifier: int, authenticator: bytes) -> bytes:
    """An RFC 2865 Access-Request with User-Name and a PAP User-Password (section 5.2)."""
    padded = DEMO_PASSWORD + b"\0" * (-len(DEMO_PASSWORD) % 16)
    hidden, previous = b"", authenticator
    for i in range(0, len(padded), 16):
        key = hashlib.md5(DEMO_SECRET + previous).digest()
        previous = bytes(a ^ b for a, b in zip(padded[i : i + 16], key, strict=True))
        hidden += previous
    attributes = bytes([1, 2 + len(DEMO_USER)]) + DEMO_USER + bytes([2, 2 + len(hidden)]) + hidden
    header = struct.pack("!BBH", ACCESS_REQUEST, identifier, 20 + len(attributes))
    return header + authenticator + attributes


def login(port: int, timeout: float = 5.0) -> int:
    """Send one Access-Request to 127.0.0.1:``port``; the reply's code (checked authenticator)."""
    identifier, authenticator = secrets.randbelow(256), secrets.token_bytes(16)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(access_request(identifier, authenticator), ("127.0.0.1", port))
        reply, _ = sock.recvfrom(4096)
    code, got_id, length = struct.unpack("!BBH", reply[:4])
    expected = hashlib.md5(reply[:4] + authenticator + reply[20:length] + DEMO_SECRET).digest()
    if got_id != identifier or reply[4:20] != expected:
        raise SystemExit("serve_login: the reply does not match the request (identifier or authenticator)")
    return int(code)


def wait_ready(proc: subprocess.Popen[bytes], ready: Path, stderr: Path) -> int:
    """The auth port from the daemon's ready file, once it is listening."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = stderr.read_text()[-3000:]
            raise SystemExit(f"serve_login: radiusd serve exited {proc.returncode}:\n{log}")
        try:
            bound = json.loads(ready.read_text())
            return int(bound["auth"][0][1])
        except (FileNotFoundError, ValueError, KeyError, IndexError):
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"serve_login: radiusd serve not ready after {START_TIMEOUT} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radiusd", required=True, help="the installed radiusd script to run")
    parser.add_argument("--workdir", type=Path, help="current directory of the daemon (default: a temp dir)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="radiusd-smoke-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ready, stderr = workdir / "ready.json", workdir / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_") and k != "PYTHONPATH"}
    env.update(RADIUSD_READY_FILE=str(ready), RADIUSD_LOG_FORMAT="json")
    command = [args.radiusd, "serve", "--demo", "--bind", "127.0.0.1", "--auth-port", "0", "--acct-port", "0"]
    started = time.monotonic()
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        port = wait_ready(proc, ready, stderr)
        code = login(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = -1
    if code != ACCESS_ACCEPT:
        print(f"serve_login: expected Access-Accept (2), got code {code}", file=sys.stderr)
        return 1
    if status != 0:
        log = stderr.read_text()[-3000:]
        print(f"serve_login: radiusd serve exited {status} on SIGTERM:\n{log}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    print(
        f"serve_login: {args.radiusd} answered Access-Accept on 127.0.0.1:{port}, "
        f"stopped cleanly ({elapsed:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
