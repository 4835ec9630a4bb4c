"""A fragment storm against the running daemon, over real UDP (RFC 3579 §3.1: EAP-Message,
Message-Authenticator, State), while PAP logins and a real supplicant (``eapol_test``) go on.

Hundreds of PEAP conversations at once send EAP-TLS fragments (RFC 5216 §2.1.5: the L bit with
the TLS Message Length on the first, the M bit on every one) that never complete. The daemon
must acknowledge each fragment (an Access-Challenge with an EAP-Request carrying Flags only)
while within its bounds, answer a fragment past ``[eap] max_buffered`` (all conversations
together) or a message announced beyond 64 kB with an Access-Reject carrying an EAP-Failure
(RFC 3579 §2.6.3), refuse conversations beyond ``max_conversations``, free what an abandoned
conversation held at its ``timeout``, never raise, and keep answering PAP and the supplicant.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from radiusd.codec.packet import Packet, encode_request
from radiusd.eap.certs import make_test_pki
from tests.integration.conftest import (
    HOST,
    DaemonProcess,
    UdpPeer,
    raw_attributes,
    rss_kb,
    wait_until,
)
from tests.integration.radsec_helpers import free_port

SECRET = "eap-storm-secret-0123456789"
PASSWORD = "storm horse 42"
TIMEOUT = 3  # [eap] timeout: the abandoned conversations are waited out
MAX_BUFFERED = 256 * 1024  # [eap] max_buffered, small: the storm reaches it
MAX_CONVERSATIONS = 400
STORM = 240  # conversations of the storm at once
SOCKETS = 6  # their UDP source ports (40 conversations each)
BODY = 1000  # TLS octets per fragment
EAP_MESSAGE, STATE, USER_NAME = 79, 24, 1
ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE = 2, 3, 11
PEAP, FLAG_L, FLAG_M = 25, 0x80, 0x40
TOKEN: dict[str, str] = {}  # "metrics": the read-only API token, "port": the API port


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def daemon(
    module_db_url: str,
    daemon_factory: Callable[..., DaemonProcess],
    pki: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DaemonProcess]:
    config = tmp_path_factory.mktemp("conf") / "radiusd.toml"
    config.write_text(
        f'[eap]\ncert = "{pki["server.pem"]}"\nkey = "{pki["server.key"]}"\nmethods = ["peap"]\n'
        f"timeout = {TIMEOUT}\nmax_buffered = {MAX_BUFFERED}\nmax_conversations = {MAX_CONVERSATIONS}\n"
    )

    def seed(d: DaemonProcess) -> None:
        d.cli("nas", "add", "ap", "--address", HOST, "--secret", SECRET)
        d.cli("plan", "add", "wifi")
        d.cli("subscriber", "add", "alice", "--password", PASSWORD, "--plan", "wifi")
        TOKEN["metrics"] = d.cli("api-token", "create", "storm-metrics", "--read-only").stdout.split()[0]

    api_port = free_port()
    d = daemon_factory(
        module_db_url,
        env={"RADIUSD_CONFIG": str(config)},
        seed=seed,
        args=("--api-bind", f"{HOST}:{api_port}"),
    )
    TOKEN["port"] = str(api_port)
    yield d


def metrics() -> dict[str, float]:
    text = httpx.get(
        f"http://{HOST}:{TOKEN['port']}/metrics",
        headers={"Authorization": f"Bearer {TOKEN['metrics']}"},
    ).text
    return {n: float(v) for n, v in re.findall(r"^(radiusd_eap_\S+) (\S+)$", text, re.MULTILINE)}


# -- the storm's peers -----------------------------------------------------------------------


@dataclass
class Conv:
    peer: UdpPeer
    state: bytes = b""
    eap_id: int = 0  # the Identifier of the server's last EAP-Request
    outcome: str = ""  # "" while under way, then "reject"


def eap_packet(ident: int, type_data: bytes, eap_type: int = PEAP) -> bytes:
    return bytes((2, ident)) + (5 + len(type_data)).to_bytes(2, "big") + bytes((eap_type,)) + type_data


def fragment(total: int | None, size: int = BODY) -> bytes:
    """Type-Data of an EAP-TLS fragment with the M bit (and L with ``total``)."""
    if total is None:
        return bytes((FLAG_M,)) + os.urandom(size)
    return bytes((FLAG_M | FLAG_L,)) + total.to_bytes(4, "big") + os.urandom(size)


class Storm:
    """``STORM`` conversations over ``SOCKETS`` UDP ports; each round sends one packet per
    live conversation, all of them before reading any answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.peers = [UdpPeer() for _ in range(SOCKETS)]
        self.ids = dict.fromkeys(range(SOCKETS), 0)
        self.convs = [Conv(self.peers[i % SOCKETS]) for i in range(STORM)]
        self.replies: list[tuple[Conv, bytes]] = []

    def close(self) -> None:
        for p in self.peers:
            p.sock.close()

    def round(self, convs: list[Conv], eap_of: Callable[[Conv], bytes]) -> list[tuple[Conv, bytes]]:
        """Send each conversation's next packet, then collect every answer (by RADIUS Identifier)."""
        waiting: dict[tuple[int, int], Conv] = {}
        for conv in convs:
            index = self.peers.index(conv.peer)
            ident = self.ids[index] = (self.ids[index] + 1) & 0xFF
            data = eap_of(conv)
            attrs = [(USER_NAME, b"anonymous")]
            attrs += [(EAP_MESSAGE, data[i : i + 253]) for i in range(0, len(data), 253)]
            attrs += [(STATE, conv.state)] if conv.state else []
            conv.peer.send(
                encode_request(Packet(1, ident, attributes=attrs), SECRET.encode(), True), self.port
            )
            waiting[(index, ident)] = conv
        got: list[tuple[Conv, bytes]] = []
        deadline = time.monotonic() + 10
        while waiting and time.monotonic() < deadline:
            for index, peer in enumerate(self.peers):
                while (reply := peer.pending()) is not None:
                    found = waiting.pop((index, reply[1]), None)
                    if found is not None:
                        got.append((found, reply))
            time.sleep(0.002)
        assert not waiting, f"{len(waiting)} of {len(convs)} storm packets got no answer"
        return got


def begin(storm: Storm, convs: list[Conv]) -> None:
    """An EAP-Response/Identity per conversation, without State: each gets the PEAP Start."""
    for conv in convs:
        conv.state, conv.outcome = b"", ""
    for conv, reply in storm.round(convs, lambda c: eap_packet(1, b"anonymous", eap_type=1)):
        assert reply[0] == ACCESS_CHALLENGE
        conv.state, conv.eap_id = dict(raw_attributes(reply))[STATE], eap_in(reply)[1]


def eap_in(reply: bytes) -> bytes:
    return b"".join(v for t, v in raw_attributes(reply) if t == EAP_MESSAGE)


def check_answer(conv: Conv, reply: bytes) -> str:
    """'ack' (Access-Challenge, EAP-Request PEAP with Flags only, the same State) or 'reject'
    (Access-Reject with the EAP-Failure of the response's Identifier); anything else fails."""
    eap = eap_in(reply)
    if reply[0] == ACCESS_CHALLENGE:
        assert eap[0] == 1 and eap[4] == PEAP and eap[5:] == b"\x00", eap.hex()  # RFC 5216 §3.2: an ACK
        assert eap[1] == (conv.eap_id + 1) & 0xFF
        assert dict(raw_attributes(reply))[STATE] == conv.state
        conv.eap_id = eap[1]
        return "ack"
    assert reply[0] == ACCESS_REJECT, reply[0]
    assert eap == bytes((4, conv.eap_id, 0, 4)), eap.hex()  # EAP-Failure, the response's Identifier
    conv.outcome = "reject"
    return "reject"


# -- what must go on meanwhile ---------------------------------------------------------------


class Legitimate(threading.Thread):
    """PAP logins (each must be accepted) and a PEAP authentication by eapol_test, again and
    again until stopped."""

    def __init__(self, d: DaemonProcess, eapol_test: str, conf: Path) -> None:
        super().__init__(daemon=True)
        self.d, self.eapol_test, self.conf = d, eapol_test, conf
        self.stop = threading.Event()
        self.pap: list[int | None] = []
        self.eapol: list[tuple[int, bool]] = []

    def run(self) -> None:
        with UdpPeer() as peer:
            while not self.stop.is_set():
                pkt = Packet(1, len(self.pap) & 0xFF, attributes=[(USER_NAME, b"alice")])
                pkt.set_user_password(PASSWORD.encode(), SECRET.encode())
                reply = peer.exchange(encode_request(pkt, SECRET.encode(), True), self.d.auth_port)
                self.pap.append(reply[0] if reply else None)
                out = subprocess.run(
                    [self.eapol_test, "-c", str(self.conf), "-a", HOST, "-p", str(self.d.auth_port),
                     "-s", SECRET, "-t", "15"],
                    capture_output=True, text=True, timeout=60, check=False,
                )  # fmt: skip
                self.eapol.append((out.returncode, "MPPE keys OK: 1  mismatch: 0" in out.stdout))


# -- the test --------------------------------------------------------------------------------


def test_fragment_storm(daemon: DaemonProcess, eapol_test: str, pki: dict[str, Path], tmp_path: Path) -> None:
    conf = tmp_path / "peap.conf"
    conf.write_text(
        'network={\n  ssid="lab"\n  key_mgmt=WPA-EAP\n  eap=PEAP\n  identity="alice"\n'
        f'  password="{PASSWORD}"\n  phase2="auth=MSCHAPV2"\n  ca_cert="{pki["ca.pem"]}"\n}}\n'
    )
    rss_before = rss_kb(daemon.proc.pid)  # type: ignore[union-attr]
    legit = Legitimate(daemon, eapol_test, conf)
    storm = Storm(daemon.auth_port)
    outcomes = {"ack": 0, "reject": 0}
    peak = 0.0
    try:
        legit.start()
        begin(storm, storm.convs)  # every conversation: an Identity, the PEAP Start and a State
        # a few announce a TLS message beyond 64 kB: refused at once
        for conv, reply in storm.round(storm.convs[:6], lambda c: eap_packet(c.eap_id, fragment(70_000, 64))):
            assert check_answer(conv, reply) == "reject"
        # the others send fragments of a 60 kB message that never completes, until the budget
        # of all conversations refuses them; the budget holds, whatever the order
        first = True
        while live := [c for c in storm.convs if not c.outcome]:
            total = 60_000 if first else None

            def next_fragment(c: Conv, t: int | None = total) -> bytes:
                return eap_packet(c.eap_id, fragment(t))

            for conv, reply in storm.round(live, next_fragment):
                outcomes[check_answer(conv, reply)] += 1
            first = False
            held = metrics()["radiusd_eap_buffered_bytes"]
            assert held <= MAX_BUFFERED
            peak = max(peak, held)
            if outcomes["reject"] > STORM // 2:
                break
        still = [c for c in storm.convs if not c.outcome]
        # the storm goes on (refused conversations start over) until the supplicant is through
        while len(legit.eapol) < 3 and legit.is_alive():
            again = [c for c in storm.convs if c.outcome][:60]
            begin(storm, again)
            for conv, reply in storm.round(again, lambda c: eap_packet(c.eap_id, fragment(60_000))):
                outcomes[check_answer(conv, reply)] += 1
            assert metrics()["radiusd_eap_buffered_bytes"] <= MAX_BUFFERED
    finally:
        legit.stop.set()
        legit.join(90)
    assert outcomes["ack"] >= STORM  # the first round (240 x 1 kB) fits the 256 kB budget
    assert outcomes["reject"] > STORM // 2
    assert peak > MAX_BUFFERED - 2 * BODY  # the budget was reached, and not passed
    assert still, "some conversations were still holding fragments when the storm stopped"
    assert legit.pap and all(code == ACCESS_ACCEPT for code in legit.pap), legit.pap
    assert len(legit.eapol) >= 3 and all(rc == 0 and ok for rc, ok in legit.eapol), legit.eapol

    def reasons() -> list[str]:
        return [str(e.get("reason", "")) for e in daemon.events("auth.reject")]

    assert wait_until(lambda: sum("max_buffered" in r for r in reasons()) == outcomes["reject"], 10)
    assert sum("at most 65536" in r for r in reasons()) == 6
    # the rest are abandoned halfway: freed at their timeout, their State then unknown
    time.sleep(TIMEOUT + 0.5)
    after = metrics()
    assert after["radiusd_eap_buffered_bytes"] == 0
    assert after["radiusd_eap_conversations_in_flight"] == 0
    late = storm.round(still[:5], lambda c: eap_packet(c.eap_id, fragment(None)))
    assert all(reply[0] == ACCESS_REJECT and eap_in(reply)[0] == 4 for _, reply in late)
    # beyond max_conversations, a new conversation is refused with an EAP-Failure
    extra = Storm(daemon.auth_port)
    try:
        begun = extra.round(extra.convs, lambda c: eap_packet(1, b"anonymous", eap_type=1))
        more = Storm(daemon.auth_port)
        refused = more.round(more.convs, lambda c: eap_packet(1, b"anonymous", eap_type=1))
        more.close()
    finally:
        extra.close()
    answers = [reply[0] for _, reply in begun + refused]
    assert answers.count(ACCESS_CHALLENGE) == MAX_CONVERSATIONS
    assert answers.count(ACCESS_REJECT) == 2 * STORM - MAX_CONVERSATIONS
    assert any("(max_conversations)" in str(e.get("reason", "")) for e in daemon.events("auth.reject"))
    storm.close()
    # bounded memory (the budget is 256 kB; this allows for the allocator and the log), no traceback
    assert rss_kb(daemon.proc.pid) - rss_before < 64 * 1024  # type: ignore[union-attr]
    assert "Traceback" not in daemon.stderr() and not daemon.events("eap.method-failed")
