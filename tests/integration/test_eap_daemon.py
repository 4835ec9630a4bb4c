"""EAP against the running daemon with a real supplicant: ``eapol_test`` (wpa_supplicant's
RADIUS test client, Debian package eapoltest) for PEAP-MSCHAPv2, EAP-TTLS/PAP,
EAP-TTLS/MSCHAPv2 and EAP-TLS over TLS 1.2 and TLS 1.3. eapol_test derives the MSK itself
and compares it with the MS-MPPE keys of the Access-Accept: "MPPE keys OK: 1  mismatch: 0"
and exit status 0 only when both match (RFC 2548 §2.4, RFC 5216 §2.3, RFC 9190 §2.3).

Failures: a wrong password, a client certificate from another CA, a revoked one (CRL), a State
the daemon does not hold, a conversation abandoned halfway (forgotten after ``timeout``);
each gets an Access-Reject with an EAP-Failure (RFC 3579 §2.6.3) and the reason in the log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from radiusd.codec.packet import Packet, encode_request
from radiusd.eap.certs import make_test_pki
from tests.integration.conftest import HOST, DaemonProcess, UdpPeer, raw_attributes, wait_until
from tests.integration.radsec_helpers import free_port

SECRET = "eap-lab-secret-0123456789"
PASSWORD = "correct horse 42"
EAP_TIMEOUT = 2  # seconds a conversation may idle: the abandoned-conversation test waits it out
EAP_MESSAGE, STATE, USER_NAME = 79, 24, 1
TOKENS: dict[str, str] = {}
API_PORTS: dict[int, int] = {}  # id(daemon) -> its API port

#: the CPU the daemon's TLS thread is placed on ([eap] tls_cpus)
TLS_CPU = max(os.sched_getaffinity(0))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_test_pki(tmp_path_factory.mktemp("pki"), client_name="carol")


@pytest.fixture(scope="module")
def ca(pki: dict[str, Path]) -> str:
    return str(pki["ca.pem"])


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A second CA: its client certificate names a real subscriber, but nobody trusts it."""
    return make_test_pki(tmp_path_factory.mktemp("other"), client_name="carol")


@pytest.fixture(scope="module")
def daemon(
    module_db_url: str,
    daemon_factory: Callable[..., DaemonProcess],
    pki: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DaemonProcess]:
    config = tmp_path_factory.mktemp("conf") / "radiusd.toml"
    config.write_text(
        "[eap]\n"
        f'cert = "{pki["server.pem"]}"\nkey = "{pki["server.key"]}"\n'
        f'ca = "{pki["ca.pem"]}"\ncrl = "{pki["crl.pem"]}"\n'
        f"timeout = {EAP_TIMEOUT}\n"
        f'tls_cpus = "{TLS_CPU}"\n'  # every test here runs its handshakes on that CPU's thread
        '\n[eap.plan_methods]\niot = ["tls"]\n'
    )

    def seed(d: DaemonProcess) -> None:
        d.cli("nas", "add", "ap", "--address", HOST, "--secret", SECRET)
        d.cli("plan", "add", "wifi", "--rate-limit", "10M/10M")
        d.cli("subscriber", "add", "alice", "--password", PASSWORD, "--plan", "wifi")
        d.cli("subscriber", "add", "carol", "--password", "unused-here", "--plan", "wifi")
        d.cli("subscriber", "add", "dave", "--password", PASSWORD, "--plan", "wifi")
        d.cli("subscriber", "disable", "dave")
        d.cli("plan", "add", "iot")
        d.cli("subscriber", "add", "ivan", "--password", PASSWORD, "--plan", "iot")
        TOKENS["metrics"] = d.cli("api-token", "create", "eap-metrics", "--read-only").stdout.split()[0]

    api_port = free_port()  # one per backend: the other backend's daemon may still hold its port
    d = daemon_factory(
        module_db_url,
        env={"RADIUSD_CONFIG": str(config)},
        seed=seed,
        args=("--api-bind", f"{HOST}:{api_port}"),
    )
    API_PORTS[id(d)] = api_port
    yield d


def run_eapol(
    eapol_test: str, d: DaemonProcess, tmp: Path, network: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    body = "\n".join(f"  {k}={v}" for k, v in {"ssid": '"lab"', "key_mgmt": "WPA-EAP", **network}.items())
    conf = tmp / f"eapol-{time.monotonic_ns()}.conf"
    conf.write_text(f"network={{\n{body}\n}}\n")
    return subprocess.run(
        [eapol_test, "-c", str(conf), "-a", HOST, "-p", str(d.auth_port), "-s", SECRET, "-t", "15", *extra],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def tls_phase1(version: str) -> str:
    return f'"tls_disable_tlsv1_3={0 if version == "1.3" else 1} tls_disable_tlsv1_2=0"'


def assert_success(out: subprocess.CompletedProcess[str], version: str, auths: int = 1) -> None:
    assert out.returncode == 0, out.stdout[-3000:]
    assert f"MPPE keys OK: {auths}  mismatch: 0" in out.stdout
    assert out.stdout.rstrip().endswith("SUCCESS")
    assert f"SSL: Using TLS version TLSv{version}" in out.stdout


def assert_failure(out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode != 0
    assert "SUCCESS" not in out.stdout.splitlines()[-1]
    assert "EAP: Received EAP-Failure" in out.stdout, out.stdout[-2000:]


def last_reject(d: DaemonProcess, fragment: str) -> str:
    found = wait_until(lambda: [e for e in d.events("auth.reject") if fragment in e.get("reason", "")], 5)
    assert found, [e.get("reason") for e in d.events("auth.reject")]
    return str(found[-1]["reason"])


VERSIONS = ["1.2", "1.3"]


def test_tls_thread_runs_on_tls_cpus(eapol_test: str, daemon: DaemonProcess, ca: str, tmp_path: Path) -> None:
    """[eap] tls_cpus in a running daemon: after a PEAP handshake its TLS thread is on that
    CPU (read back from the kernel), the event loop's thread where the daemon was started."""
    net = {"eap": "PEAP", "identity": '"alice"', "password": f'"{PASSWORD}"', "phase2": '"auth=MSCHAPV2"',
           "ca_cert": f'"{ca}"'}  # fmt: skip
    assert_success(run_eapol(eapol_test, daemon, tmp_path, net), "1.2")
    assert daemon.proc is not None
    pid = daemon.proc.pid
    placed = {int(t): os.sched_getaffinity(int(t)) for t in os.listdir(f"/proc/{pid}/task")}
    assert placed.pop(pid) == os.sched_getaffinity(0)  # the loop: the CPUs it was started on
    assert {TLS_CPU} in placed.values()
    (moved,) = wait_until(lambda: daemon.events("eap.thread-cpus"), 5)
    assert moved["cpus"] == [TLS_CPU]


@pytest.mark.parametrize("version", VERSIONS)
def test_peap_mschapv2(eapol_test: str, daemon: DaemonProcess, ca: str, tmp_path: Path, version: str) -> None:
    net = {
        "eap": "PEAP",
        "identity": '"alice"',
        "anonymous_identity": '"anonymous"',
        "password": f'"{PASSWORD}"',
        "phase1": tls_phase1(version),
        "phase2": '"auth=MSCHAPV2"',
        "ca_cert": f'"{ca}"',
    }
    out = run_eapol(eapol_test, daemon, tmp_path, net, "-r", "2")  # and twice again, resumed
    assert_success(out, version, auths=3)
    # the Accept names the inner identity (the NAS accounts under it), never the outer one
    assert "Attribute 1 (User-Name) length=7" in out.stdout
    # a resumed session still runs MSCHAPv2 (no fast reconnect), and yields fresh keys
    assert out.stdout.count("OpenSSL: Handshake finished - resumed=1") == 2
    assert out.stdout.count("EAP-MSCHAPV2: Authentication succeeded") == 3


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("inner", ["PAP", "MSCHAPV2"])
def test_ttls(
    eapol_test: str, daemon: DaemonProcess, ca: str, tmp_path: Path, version: str, inner: str
) -> None:
    net = {
        "eap": "TTLS",
        "identity": '"alice"',
        "anonymous_identity": '"anon@lab"',
        "password": f'"{PASSWORD}"',
        "phase1": tls_phase1(version),
        "phase2": f'"auth={inner}"',
        "ca_cert": f'"{ca}"',
    }
    out = run_eapol(eapol_test, daemon, tmp_path, net, "-r", "1")
    assert_success(out, version, auths=2)
    assert "resumed=1" not in out.stdout  # TTLS never resumes: phase 2 would be skipped


@pytest.mark.parametrize("version", VERSIONS)
def test_eap_tls(
    eapol_test: str, daemon: DaemonProcess, tmp_path: Path, pki: dict[str, Path], version: str
) -> None:
    """The certificate's CN (carol) is the subscriber; the outer identity is not."""
    net = {
        "eap": "TLS",
        "identity": '"somebody-else"',
        "phase1": tls_phase1(version),
        "ca_cert": f'"{pki["ca.pem"]}"',
        "client_cert": f'"{pki["client.pem"]}"',
        "private_key": f'"{pki["client.key"]}"',
    }
    out = run_eapol(eapol_test, daemon, tmp_path, net, "-r", "1")
    assert_success(out, version, auths=2)
    assert "OpenSSL: Handshake finished - resumed=1" in out.stdout  # the session's certificate maps


@pytest.mark.parametrize("method", ["PEAP", "TTLS"])
def test_wrong_password(eapol_test: str, daemon: DaemonProcess, ca: str, tmp_path: Path, method: str) -> None:
    net = {
        "eap": method,
        "identity": '"alice"',
        "anonymous_identity": '"anonymous"',
        "password": '"wrong"',
        "phase2": '"auth=MSCHAPV2"',
        "ca_cert": f'"{ca}"',
    }
    assert_failure(run_eapol(eapol_test, daemon, tmp_path, net, "-n"))
    assert "wrong password" in last_reject(daemon, f"{method}/MSCHAPv2")


def test_disabled_subscriber_is_rejected_after_a_good_password(
    eapol_test: str, daemon: DaemonProcess, ca: str, tmp_path: Path
) -> None:
    net = {
        "eap": "PEAP",
        "identity": '"dave"',
        "password": f'"{PASSWORD}"',
        "phase2": '"auth=MSCHAPV2"',
        "ca_cert": f'"{ca}"',
    }
    assert_failure(run_eapol(eapol_test, daemon, tmp_path, net, "-n"))
    assert "disabled" in last_reject(daemon, "'dave'")


def test_plan_methods_refuse_peap_for_a_tls_only_plan(
    eapol_test: str, daemon: DaemonProcess, ca: str, tmp_path: Path
) -> None:
    """[eap.plan_methods] iot = ["tls"]: a right password over PEAP is still refused."""
    net = {"eap": "PEAP", "identity": '"ivan"', "password": f'"{PASSWORD}"', "phase2": '"auth=MSCHAPV2"',
           "ca_cert": f'"{ca}"'}  # fmt: skip
    assert_failure(run_eapol(eapol_test, daemon, tmp_path, net, "-n"))
    assert "not allowed for plan 'iot'" in last_reject(daemon, "'iot'")


@pytest.mark.parametrize("which", ["other-ca", "revoked"])
def test_bad_client_certificate(
    eapol_test: str,
    daemon: DaemonProcess,
    tmp_path: Path,
    pki: dict[str, Path],
    other_pki: dict[str, Path],
    which: str,
) -> None:
    cert, key = (
        (other_pki["client.pem"], other_pki["client.key"])
        if which == "other-ca"
        else (pki["revoked.pem"], pki["revoked.key"])
    )
    net = {
        "eap": "TLS",
        "identity": '"carol"',
        "ca_cert": f'"{pki["ca.pem"]}"',
        "client_cert": f'"{cert}"',
        "private_key": f'"{key}"',
    }
    assert_failure(run_eapol(eapol_test, daemon, tmp_path, net, "-n"))
    reason = last_reject(daemon, "certificate at depth 0 refused")
    assert ("certificate revoked" if which == "revoked" else "signature failure") in reason


def access_request(ident: int, eap: bytes, state: bytes | None = None) -> bytes:
    attrs = [(USER_NAME, b"anonymous"), (EAP_MESSAGE, eap)] + ([(STATE, state)] if state else [])
    pkt = Packet(1, ident, attributes=attrs)
    return encode_request(pkt, SECRET.encode(), message_auth=True)


def eap_of(reply: bytes) -> bytes:
    return b"".join(v for t, v in raw_attributes(reply) if t == EAP_MESSAGE)


def test_unknown_state_gets_an_eap_failure(daemon: DaemonProcess) -> None:
    response = bytes((2, 7, 0, 6, 25, 0))  # EAP-Response/PEAP, Identifier 7, flags only
    with UdpPeer() as peer:
        reply = peer.exchange(access_request(1, response, os.urandom(16)), daemon.auth_port)
    assert reply is not None and reply[0] == 3  # Access-Reject
    assert eap_of(reply) == bytes((4, 7, 0, 4))  # EAP-Failure, the response's Identifier
    last_reject(daemon, "unknown or expired EAP conversation")


def test_abandoned_conversation_is_forgotten(daemon: DaemonProcess) -> None:
    """The peer goes silent after the PEAP Start: after ``timeout`` its State is unknown."""
    identity = bytes((2, 1, 0, 10)) + b"\x01alice"
    with UdpPeer() as peer:
        reply = peer.exchange(access_request(2, identity), daemon.auth_port)
        assert reply is not None and reply[0] == 11  # Access-Challenge
        start = eap_of(reply)
        assert start[0] == 1 and start[4] == 25 and start[5] & 0x20  # EAP-Request/PEAP, S bit
        state = next(v for t, v in raw_attributes(reply) if t == STATE)
        time.sleep(EAP_TIMEOUT + 0.5)
        # any new conversation sweeps the idle ones
        assert peer.exchange(access_request(3, identity), daemon.auth_port) is not None
        late = peer.exchange(access_request(4, bytes((2, start[1], 0, 6, 25, 0)), state), daemon.auth_port)
    assert late is not None and late[0] == 3
    assert eap_of(late)[0] == 4
    last_reject(daemon, "unknown or expired EAP conversation")


def test_eap_without_message_authenticator_is_dropped(daemon: DaemonProcess) -> None:
    """RFC 3579 §3.2: an Access-Request with EAP-Message and no Message-Authenticator is
    silently discarded."""
    pkt = Packet(
        1, 9, attributes=[(USER_NAME, b"anonymous"), (EAP_MESSAGE, bytes((2, 1, 0, 10)) + b"\x01alice")]
    )
    with UdpPeer() as peer:
        assert peer.exchange(encode_request(pkt, SECRET.encode()), daemon.auth_port, timeout=1.0) is None


def test_sighup_reloads_the_certificate(
    eapol_test: str, daemon: DaemonProcess, tmp_path: Path, pki: dict[str, Path], ca: str
) -> None:
    """A renewed server certificate is served after SIGHUP; a file that does not load leaves
    the old one in force. (Last in the module: it puts the original files back.)"""
    original = {name: pki[name].read_bytes() for name in ("server.pem", "server.key")}
    renewed = make_test_pki(tmp_path / "renewed")

    def peap(ca_file: str) -> subprocess.CompletedProcess[str]:
        net = {"eap": "PEAP", "identity": '"alice"', "password": f'"{PASSWORD}"',
               "phase2": '"auth=MSCHAPV2"', "ca_cert": f'"{ca_file}"'}  # fmt: skip
        return run_eapol(eapol_test, daemon, tmp_path, net)

    def hup(event: str) -> None:
        before = len(daemon.events(event))
        daemon.signal(signal.SIGHUP)
        daemon.wait_event(event, timeout=10, count=before + 1)

    try:
        pki["server.pem"].write_text("not a certificate\n")
        hup("eap.reload-failed")
        assert_success(peap(ca), "1.2")  # the old certificate still in force (eapol_test: TLS 1.2 by default)
        for name in original:
            pki[name].write_bytes(renewed[name].read_bytes())
        hup("eap.reloaded")
        assert_success(peap(str(renewed["ca.pem"])), "1.2")
        assert_failure(peap(ca))  # the supplicant no longer trusts what it is shown
    finally:
        for name, data in original.items():
            pki[name].write_bytes(data)
        hup("eap.reloaded")
    assert_success(peap(ca), "1.2")


def eap_metrics(d: DaemonProcess) -> dict[str, float]:
    """The ``radiusd_eap_*`` samples of ``GET /metrics`` (name with labels -> value)."""
    text = httpx.get(
        f"http://{HOST}:{API_PORTS[id(d)]}/metrics", headers={"Authorization": f"Bearer {TOKENS['metrics']}"}
    ).text
    return {
        name: float(value)
        for name, value in re.findall(r"^(radiusd_eap_\S+) (\S+)$", text, re.MULTILINE)
        if not name.endswith("_created")
    }


def test_metrics_count_conversations_and_handshakes(
    eapol_test: str, daemon: DaemonProcess, ca: str, tmp_path: Path
) -> None:
    """One PEAP login over TLS 1.2 and one with a wrong password move the EAP counters of
    /metrics by exactly one each; nothing is left in flight (a conversation an earlier test
    left halfway is counted as expired instead)."""
    time.sleep(EAP_TIMEOUT)  # what earlier tests left halfway expires at our first packet
    before = eap_metrics(daemon)
    net = {
        "eap": "PEAP",
        "identity": '"alice"',
        "password": f'"{PASSWORD}"',
        "phase1": tls_phase1("1.2"),
        "phase2": '"auth=MSCHAPV2"',
        "ca_cert": f'"{ca}"',
    }
    assert_success(run_eapol(eapol_test, daemon, tmp_path, net), "1.2")
    assert_failure(run_eapol(eapol_test, daemon, tmp_path, {**net, "password": '"wrong horse"'}))
    after = eap_metrics(daemon)

    def moved(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert moved("radiusd_eap_conversations_started_total") == 2
    assert moved("radiusd_eap_conversations_completed_total") == 1
    assert moved("radiusd_eap_conversations_failed_total") == 1
    assert moved('radiusd_eap_handshakes_total{method="PEAP",resumed="false",version="TLSv1.2"}') == 2
    assert after["radiusd_eap_conversations_in_flight"] == 0
    assert moved("radiusd_eap_conversations_expired_total") == before["radiusd_eap_conversations_in_flight"]
    assert "radiusd_eap_busy_total" in after
