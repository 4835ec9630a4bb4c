"""EAP over RADIUS/1.1 (RFC 9765) on the daemon's RadSec listener: an EAP-TTLS/PAP conversation
from the test's TLS peer (tests/eap_peer.py), each step an Access-Request built by hand with a
Token and no Message-Authenticator, over a real TLS connection that negotiated ALPN
``radius/1.1``. What RADIUS/1.1 changes for EAP:

- no Message-Authenticator in either direction (§5.2), though RFC 3579 §3.2 requires it with
  EAP-Message over RADIUS/1.0: the TLS connection authenticates the packets instead;
- the State attribute ties the round trips together as before, and each reply echoes its
  request's Token (§4.1);
- MS-MPPE-Send-Key and -Recv-Key carry the keys themselves, with no salt and no MD5 (§5.1.4):
  32 octets each, where RADIUS/1.0's RFC 2548 §2.4.2 form is 2 + 1 + 32 + padding = 50.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from radiusd.eap import packet as eap
from radiusd.eap.certs import make_test_pki
from radiusd.eap.engine import Outcome
from tests.eap_peer import ttls_pap

from .conftest import DaemonProcess
from .radsec_helpers import CertificateAuthority, TlsClient, radsec_env
from .test_radsec_radius11 import (
    ACCESS_ACCEPT,
    ACCESS_REJECT,
    ACCESS_REQUEST,
    ALPN_11,
    MESSAGE_AUTHENTICATOR,
    MS_MPPE_RECV_KEY,
    MS_MPPE_SEND_KEY,
    NAS_IP,
    USER_NAME,
    answered,
    attr,
    attributes,
    microsoft,
    packet11,
    token,
)

PASSWORD = "ttls-Pw-r11-42"
EAP_MESSAGE, STATE, FRAMED_MTU = 79, 24, 12
ACCESS_CHALLENGE = 11


class Setup:
    def __init__(self, root: Path) -> None:
        self.ca = CertificateAuthority(root / "radsec-ca")
        self.server = self.ca.issue_daemon()
        self.ap = self.ca.issue("ap11.example.net")
        self.eap = make_test_pki(root / "eap-pki")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(tmp_path_factory.mktemp("eap-r11"))


@pytest.fixture(scope="module")
def daemon(
    setup: Setup, daemon_factory: Callable[..., DaemonProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaemonProcess]:
    root = tmp_path_factory.mktemp("eap-r11-daemon")
    config = root / "radiusd.toml"
    config.write_text(
        f'[eap]\ncert = "{setup.eap["server.pem"]}"\nkey = "{setup.eap["server.key"]}"\n'
        'methods = ["ttls"]\ndefault_method = "ttls"\n'
    )

    def seed(d: DaemonProcess) -> None:
        d.cli(
            "nas", "add", "ap11", "--address", "192.0.2.111", "--secret", "udp-Secr3t-ap11-xx",
            "--radsec-fingerprint", setup.ap.fingerprint,
        )  # fmt: skip
        d.cli("plan", "add", "wifi")
        d.cli("subscriber", "add", "alice", "--password", PASSWORD, "--plan", "wifi")

    url = f"sqlite+aiosqlite:///{(root / 'radiusd.sqlite3').as_posix()}"
    env = radsec_env(setup.server, setup.ca.path, reject_delay="0", config=str(config))
    yield daemon_factory(url, env=env, seed=seed)


class Radius11Nas:
    """An access point relaying EAP over RADIUS/1.1: each EAP-Response becomes an Access-Request
    (EAP-Message split at 253 octets, RFC 3579 §3.1; the last State echoed), each reply an
    Outcome for the peer. Every reply is checked to be RADIUS/1.1 for its Token."""

    def __init__(self, client: TlsClient) -> None:
        self.client = client
        self.replies: list[bytes] = []

    def step(self, data: bytes, state: bytes | None, mtu: int | None) -> Outcome:
        t = token()
        attrs = attr(USER_NAME, b"anonymous") + attr(NAS_IP, socket.inet_aton("192.0.2.111"))
        attrs += b"".join(attr(EAP_MESSAGE, data[i : i + 253]) for i in range(0, len(data), 253))
        if state is not None:
            attrs += attr(STATE, state)
        if mtu is not None:
            attrs += attr(FRAMED_MTU, mtu.to_bytes(4, "big"))
        self.client.send(packet11(ACCESS_REQUEST, t, attrs))
        reply = self.client.recv_packet()
        assert reply is not None and reply[0] in (ACCESS_CHALLENGE, ACCESS_ACCEPT, ACCESS_REJECT), reply
        answered(reply, reply[0], t)  # Token echoed, reserved octets zero, no Message-Authenticator
        self.replies.append(reply)
        found = attributes(reply)
        kind = {ACCESS_CHALLENGE: "challenge", ACCESS_ACCEPT: "accept", ACCESS_REJECT: "reject"}[reply[0]]
        return Outcome(kind, [(k, v) for k, v in found if k in (EAP_MESSAGE, STATE)])


def conversation(d: DaemonProcess, setup: Setup, password: str) -> tuple[Outcome, Radius11Nas]:
    port = int(d.bound["radsec"][0][1])
    with TlsClient(port, setup.ca.path, setup.ap, alpn=(ALPN_11,)) as client:
        assert client.sock.selected_alpn_protocol() == ALPN_11
        nas = Radius11Nas(client)
        out = ttls_pap(nas.step, setup.eap["ca.pem"], b"alice", password.encode())
    return out, nas


def test_ttls_pap_over_radius11_gets_plain_mppe_keys(daemon: DaemonProcess, setup: Setup) -> None:
    out, nas = conversation(daemon, setup, PASSWORD)
    assert out.kind == "accept", out
    assert len(nas.replies) > 4  # the TLS handshake took several round trips, tied by State
    accept = nas.replies[-1]
    final = eap.decode(eap.join_eap_messages(attributes(accept)) or b"")
    assert final.code == eap.SUCCESS
    keys = microsoft(accept)
    assert len(keys[MS_MPPE_RECV_KEY]) == 32 and len(keys[MS_MPPE_SEND_KEY]) == 32  # §5.1.4: no salt
    assert keys[MS_MPPE_RECV_KEY] != keys[MS_MPPE_SEND_KEY]
    assert all(MESSAGE_AUTHENTICATOR not in [t for t, _ in attributes(r)] for r in nas.replies)


def test_wrong_inner_password_over_radius11_is_rejected_with_eap_failure(
    daemon: DaemonProcess, setup: Setup
) -> None:
    out, nas = conversation(daemon, setup, "not-the-password")
    assert out.kind == "reject"
    reject = nas.replies[-1]
    assert eap.decode(eap.join_eap_messages(attributes(reject)) or b"").code == eap.FAILURE
    assert not microsoft(reject)  # no keys for a failed authentication
