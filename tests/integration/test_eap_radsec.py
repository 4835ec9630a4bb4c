"""EAP over RadSec with real parts: ``eapol_test`` -> radsecproxy (RADIUS/UDP on loopback) ->
TLS (RFC 6614) -> ``radiusd serve``. The EAP conversation, its State and the MPPE keys
(re-encrypted by radsecproxy for the UDP hop) cross the proxy: "MPPE keys OK" at the
supplicant means the keys radiusd derived are the ones the supplicant derived.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from radiusd.eap.certs import make_test_pki

from .conftest import DaemonProcess, stop_and_check, unavailable
from .radsec_helpers import CertificateAuthority, RadsecProxy, free_port, radsec_env

UDP_SECRET = "proxy-Secr3t-udp-eap"
PASSWORD = "alice-Pw-eap-77"


@pytest.fixture(scope="module")
def tools() -> tuple[str, str]:
    proxy = shutil.which("radsecproxy") or shutil.which("radsecproxy", path="/usr/sbin:/sbin")
    eapol = shutil.which("eapol_test")
    if proxy is None or eapol is None:
        unavailable("radsecproxy and eapol_test are needed (Debian packages radsecproxy, eapoltest)")
    return proxy, eapol


@pytest.fixture(scope="module")
def setup(
    module_db_url: str, daemon_factory: Callable[..., DaemonProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DaemonProcess, CertificateAuthority, dict[str, Path], int, Path]]:
    root = tmp_path_factory.mktemp("eap-radsec")
    radsec_ca = CertificateAuthority(root / "radsec-ca")
    server = radsec_ca.issue_daemon()
    eap_pki = make_test_pki(root / "eap-pki")
    config = root / "radiusd.toml"
    config.write_text(f'[eap]\ncert = "{eap_pki["server.pem"]}"\nkey = "{eap_pki["server.key"]}"\n')
    tls_port = free_port()

    def seed(d: DaemonProcess) -> None:
        d.cli(
            "nas", "add", "ap7", "--address", "192.0.2.77", "--secret", "coa-Secr3t-ap7-xxxx",
            "--radsec-subject", "CN=bridge.ap7.example.net,O=radiusd tests",
        )  # fmt: skip
        d.cli("plan", "add", "wifi")
        d.cli("subscriber", "add", "alice", "--password", PASSWORD, "--plan", "wifi")

    env = radsec_env(server, radsec_ca.path, radsec_port=str(tls_port), config=str(config))
    d = daemon_factory(module_db_url, env=env, seed=seed)
    yield d, radsec_ca, eap_pki, tls_port, root
    problem = stop_and_check(d)  # before the next backend's daemon takes the same TLS port
    assert not problem, problem


def test_peap_through_radsecproxy(
    tools: tuple[str, str], setup: tuple[DaemonProcess, CertificateAuthority, dict[str, Path], int, Path]
) -> None:
    proxy_bin, eapol = tools
    d, radsec_ca, eap_pki, tls_port, root = setup
    bridge = radsec_ca.issue("bridge.ap7.example.net")
    proxy = RadsecProxy(
        proxy_bin, root / f"proxy-{d.auth_port}", tls_port=tls_port, ca=radsec_ca.path,
        client=bridge, udp_secret=UDP_SECRET,
    ).start()  # fmt: skip
    try:
        conf = root / f"peap-{d.auth_port}.conf"
        conf.write_text(
            'network={\n  key_mgmt=WPA-EAP\n  eap=PEAP\n  identity="alice"\n'
            '  anonymous_identity="anonymous"\n'
            f'  password="{PASSWORD}"\n  phase2="auth=MSCHAPV2"\n  ca_cert="{eap_pki["ca.pem"]}"\n}}\n'
        )
        cmd = [eapol, "-c", str(conf), "-a", "127.0.0.1", "-p", str(proxy.udp_port), "-s", UDP_SECRET]
        out = subprocess.run([*cmd, "-t", "20"], capture_output=True, text=True, timeout=60, check=False)
    finally:
        proxy.stop()
    assert out.returncode == 0, out.stdout[-3000:] + proxy.output()[-2000:]
    assert "MPPE keys OK: 1  mismatch: 0" in out.stdout
    assert d.events("radsec.connected", nas="ap7")
