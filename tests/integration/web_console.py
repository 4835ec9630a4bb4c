"""What the web console tests share: a daemon seeded with a NAS whose CoA port is a pyrad
Disconnect/CoA stand-in, operators of each role, and a logged-in httpx client."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
from click.testing import CliRunner

from tests.integration.conftest import HOST, DaemonProcess, run_radclient

SECRET = "web-console-Kq7-secret"
PASSWORDS = {"hd": "helpdesk-pw-1234", "root": "admin-pw-123456", "ro": "readonly-pw-1234"}
ROLES = {"hd": "helpdesk", "root": "admin", "ro": "readonly"}
ALICE_PASSWORD = "alice-Pw-9"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def add_operator(url: str, name: str, role: str, password: str) -> None:
    from radiusd.cli.main import cli

    done = CliRunner().invoke(
        cli,
        ["--database", url, "operator", "add", name, "--role", role, "--password", "-"],
        input=password + "\n",
    )
    assert done.exit_code == 0, done.stderr


def seed(d: DaemonProcess, coa_port: int) -> None:
    d.cli("nas", "add", "lo", "--address", HOST, "--secret", SECRET, "--coa-port", str(coa_port))
    d.cli("site", "add", "tower-1", "--kind", "tower")
    d.cli("router", "set", "lo", "--site", "tower-1")
    d.cli("pool", "add", "cgnat", "--range", "100.64.3.0/24")
    d.cli("plan", "add", "basic", "--pool", "cgnat")
    d.cli("plan", "add", "gold", "--pool", "cgnat")
    d.cli("subscriber", "add", "alice", "--password", ALICE_PASSWORD, "--plan", "basic")
    d.cli("subscriber", "add", "bob", "--password", "bob-Pw-123", "--plan", "basic")
    for name, password in PASSWORDS.items():
        add_operator(d.url, name, ROLES[name], password)


def console_url(d: DaemonProcess) -> str:
    host, port = d.bound["api"][0]
    return f"http://{host}:{port}"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:2000]
    return found[1]


def login(
    base: str, name: str, password: str | None = None, client: httpx.Client | None = None
) -> httpx.Client:
    c = client or httpx.Client(base_url=base, timeout=20)
    form = c.get("/ui/login")
    assert form.status_code == 200
    r = c.post(
        "/ui/login",
        data={
            "username": name,
            "password": password or PASSWORDS[name],
            "csrf": csrf_of(form.text),
            "next": "",
        },
    )
    assert r.status_code == 303, r.text[:500]
    return c


def online(
    d: DaemonProcess, radclient: str, user: str, password: str, session: str, mac: str, port: str
) -> str:
    """A real Access-Request, then Accounting-Start with the address the Accept gave."""
    attrs = (
        f"User-Name = {user}\nUser-Password = {password}\nNAS-Port-Id = {port}\n"
        f"Calling-Station-Id = {mac}\nMessage-Authenticator = 0x00\n"
    )
    out = run_radclient(radclient, d.auth_port, SECRET, attrs)
    assert "Access-Accept" in out, out
    found = re.search(r"Framed-IP-Address = (\S+)", out)
    assert found is not None, out
    address = found[1]
    start = (
        f"User-Name = {user}\nAcct-Status-Type = Start\nAcct-Session-Id = {session}\n"
        f"Framed-IP-Address = {address}\nNAS-Port-Id = {port}\nCalling-Station-Id = {mac}\n"
    )
    out = run_radclient(radclient, d.acct_port, SECRET, start, command="acct")
    assert "Accounting-Response" in out, out
    return address


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def first(items: list[Any]) -> Any:
    assert items
    return items[0]


@contextlib.contextmanager
def session(base: str, name: str, password: str | None = None) -> Iterator[httpx.Client]:
    """A client logged in as ``name``, closed afterwards."""
    c = login(base, name, password)
    try:
        yield c
    finally:
        c.close()
