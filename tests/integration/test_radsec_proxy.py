"""RadSec end to end with real parts: FreeRADIUS ``radclient`` -> radsecproxy (RADIUS/UDP on
loopback) -> TLS -> ``radiusd serve``, on SQLite and PostgreSQL.

radsecproxy is what docs/radsec.md puts in front of NAS that speak only UDP: here it carries an
Access-Request (PAP, answered Accept with the plan's Mikrotik-Rate-Limit, and Reject) and an
Accounting-Request (Start, recorded as a session of the NAS its certificate names). A
radsecproxy holding a certificate of another CA, or of no NAS, gets no answer and the daemon
logs the refusal. A dropped connection (the daemon restarted) is re-established by radsecproxy
and requests flow again. Status-Server, the idle timeout and the
framing edge cases are in test_radsec_framing (a client that can be made to misbehave).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import DaemonProcess, run_radclient, stop_and_check, unavailable, wait_until
from .radsec_helpers import CertificateAuthority, Issued, RadsecProxy, free_port, radsec_env

UDP_SECRET = "proxy-Secr3t-udp-41"
PASSWORD = "alice-Pw-51x"
RECONNECT = 45.0  # seconds radsecproxy may take to connect again


@pytest.fixture(scope="module")
def radsecproxy() -> str:
    path = shutil.which("radsecproxy") or shutil.which(
        "radsecproxy", path="/usr/sbin:/sbin"
    )  # not in a user's PATH
    if path is None:
        unavailable("radsecproxy is not installed (Debian package radsecproxy)")
    return path


class Pki:
    def __init__(self, root: Path) -> None:
        self.ca = CertificateAuthority(root / "ca")
        self.server = self.ca.issue_daemon()
        self.bridge = self.ca.issue("bridge.pop7.example.net")
        self.stranger = self.ca.issue("stranger.example.net")
        self.foreign = CertificateAuthority(root / "foreign", "foreign CA").issue("bridge.pop7.example.net")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def daemon(
    module_db_url: str, daemon_factory: Callable[..., DaemonProcess], pki: Pki, tls_port: int
) -> Iterator[DaemonProcess]:
    def seed(d: DaemonProcess) -> None:
        d.cli(
            "nas", "add", "pop7", "--address", "192.0.2.7", "--secret", "coa-Secr3t-pop7-xx",
            "--vendor", "mikrotik", "--radsec-subject", "CN=bridge.pop7.example.net,O=radiusd tests",
        )  # fmt: skip
        d.cli("plan", "add", "gold", "--rate-limit", "10M/20M")
        csv = d.workdir / "subs.csv"
        csv.write_text(f"username,password,plan\nalice,{PASSWORD},gold\n")
        d.cli("subscriber", "import", str(csv))

    env = radsec_env(pki.server, pki.ca.path, radsec_port=str(tls_port))
    d = daemon_factory(module_db_url, env=env, seed=seed)
    yield d
    problem = stop_and_check(d)  # before the next backend's daemon takes the same TLS port
    assert not problem, problem


@pytest.fixture
def proxy_factory(
    radsecproxy: str, tmp_path: Path, pki: Pki, tls_port: int
) -> Iterator[Callable[..., RadsecProxy]]:
    made: list[RadsecProxy] = []

    def make(cert: Issued, status_server: bool = False) -> RadsecProxy:
        p = RadsecProxy(
            radsecproxy, tmp_path / f"proxy{len(made)}", tls_port=tls_port, ca=pki.ca.path,
            client=cert, udp_secret=UDP_SECRET, status_server=status_server,
        )  # fmt: skip
        made.append(p)
        return p.start()

    yield make
    for p in made:
        p.stop()


def login(radclient: str, proxy: RadsecProxy, password: str = PASSWORD, timeout: float = 3.0) -> str:
    return run_radclient(
        radclient, proxy.udp_port, UDP_SECRET, f"User-Name=alice,User-Password={password}", timeout=timeout
    )


def test_access_and_accounting_through_radsecproxy(
    daemon: DaemonProcess, radclient: str, proxy_factory: Callable[..., RadsecProxy], pki: Pki
) -> None:
    proxy = proxy_factory(pki.bridge)
    out = login(radclient, proxy)
    assert "Received Access-Accept" in out, out + proxy.output()
    assert "10M/20M" in out, "the plan's Mikrotik-Rate-Limit crossed the proxy"
    out = login(radclient, proxy, password="not-the-password")
    assert "Received Access-Reject" in out, out
    start = (
        "Acct-Status-Type=Start,Acct-Session-Id=rs-0001,User-Name=alice,"
        "NAS-IP-Address=192.0.2.7,Framed-IP-Address=100.64.7.9"
    )
    out = run_radclient(radclient, proxy.udp_port, UDP_SECRET, start, command="acct", timeout=3.0)
    assert "Received Accounting-Response" in out, out
    shown = daemon.cli("session", "list", "--json").stdout
    assert "rs-0001" in shown and "pop7" in shown
    connected = daemon.events("radsec.connected", nas="pop7")
    assert connected and connected[-1]["tls"] in ("TLSv1.2", "TLSv1.3")


def test_wrong_certificates_are_refused(
    daemon: DaemonProcess, radclient: str, proxy_factory: Callable[..., RadsecProxy], pki: Pki
) -> None:
    refused = len(daemon.events("radsec.refused"))
    for cert in (pki.foreign, pki.stranger):
        proxy = proxy_factory(cert)
        out = login(radclient, proxy, timeout=2.0)
        assert "Received Access" not in out, out
        proxy.stop()
    events = daemon.wait_event("radsec.refused", count=refused + 2)[refused:]
    reasons = {e["reason"] for e in events}
    assert reasons == {"handshake-failed", "unknown-certificate"}, events
    stranger = next(e for e in events if e["reason"] == "unknown-certificate")
    assert stranger["fingerprint"] == pki.stranger.fingerprint


def test_dropped_connection_is_reestablished(
    daemon: DaemonProcess, radclient: str, proxy_factory: Callable[..., RadsecProxy], pki: Pki, tls_port: int
) -> None:
    """The daemon restarts on the same port: the connection drops, radsecproxy connects again
    (it waits up to 30 s between two connection attempts: RECONNECT) and requests flow."""
    proxy = proxy_factory(pki.bridge)
    assert "Received Access-Accept" in login(radclient, proxy)
    connected = len(daemon.events("radsec.connected", nas="pop7"))
    daemon.stop()
    daemon.returncode = None
    daemon.start()
    assert int(daemon.bound["radsec"][0][1]) == tls_port
    out = wait_until(
        lambda: (o := login(radclient, proxy, timeout=2.0)) and "Received Access-Accept" in o and o,
        RECONNECT,
        1.0,
    )
    assert out, proxy.output()[-2000:]
    assert "lost" in proxy.output(), "radsecproxy saw the connection drop"
    assert len(daemon.events("radsec.connected", nas="pop7")) >= 1 and connected >= 1
