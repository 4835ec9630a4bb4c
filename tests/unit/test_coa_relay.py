"""Where the CLI finds the daemon's API for a RadSec NAS's Disconnect (radiusd.cli.coa_relay),
and how the API's answers become the CLI's result lines (no sockets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from radiusd.cli.coa_relay import RelayError, _action, relay_of
from radiusd.coa.sessions import SessionRef
from radiusd.config import Settings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RADIUSD_API_URL", raising=False)
    monkeypatch.delenv("RADIUSD_API_TOKEN", raising=False)


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),  # a wildcard is reached on loopback
        ("[::]:8080", "http://[::1]:8080"),
        ("192.0.2.5:9000", "http://192.0.2.5:9000"),
        ("[2001:db8::5]:9000", "http://[2001:db8::5]:9000"),
    ],
)
def test_the_api_is_found_from_api_bind(bind: str, url: str) -> None:
    assert relay_of(Settings(api_bind=bind)).base == url


def test_https_trusts_the_apis_own_certificate(tmp_path: Path) -> None:
    from tests.integration.radsec_helpers import CertificateAuthority

    cert = CertificateAuthority(tmp_path).issue("api.test", server=True)
    relay = relay_of(
        Settings(api_bind="127.0.0.1:8443", api_tls_cert=str(cert.cert), api_tls_key=str(cert.key))
    )
    assert relay.base == "https://127.0.0.1:8443" and relay.context is not None
    assert relay.context.check_hostname is False  # pinned by certificate, reached by address


def test_environment_wins_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADIUSD_API_URL", "https://radius1.example.net:8443/")
    monkeypatch.setenv("RADIUSD_API_TOKEN", "tok")
    relay = relay_of(Settings())
    assert (relay.base, relay.token) == ("https://radius1.example.net:8443", "tok")
    monkeypatch.setenv("RADIUSD_API_URL", "file:///etc/passwd")
    with pytest.raises(RelayError, match="http:// or https://"):
        relay_of(Settings())


def test_no_api_is_one_clear_line() -> None:
    with pytest.raises(RelayError, match="no API to ask it is configured: set api_bind"):
        relay_of(Settings())


REF = SessionRef(id=12, acct_session_id="s1", username="alice", nas_address="192.0.2.7", router_id=1)


def test_answers_become_session_actions() -> None:
    ack = {"nas": "pop7", "outcome": "ack", "error_cause": None, "attempts": 1,
           "detail": "over RadSec 192.0.2.7:40211", "session_closed": False}  # fmt: skip
    a = _action(REF, "pop7", 200, ack, no_wait=False)
    assert a.ok and a.result is not None and a.result.detail == "by the daemon, over RadSec 192.0.2.7:40211"
    nak = dict(ack, outcome="nak", error_cause=503, session_closed=True)
    a = _action(REF, "pop7", 502, nak, no_wait=False)
    assert not a.ok and a.closed and a.result is not None and a.result.error_cause == 503
    a = _action(REF, "pop7", 401, {"title": "Unauthorized", "detail": "bad token"}, no_wait=False)
    assert a.error == "the daemon's API refused: bad token (RADIUSD_API_TOKEN: a write token)"
    a = _action(REF, "pop7", 202, {"job": "j1"}, no_wait=True)
    assert a.result is not None and a.result.outcome == "timeout" and a.result.detail == ""


def test_plan_change_answers_keep_the_daemons_action() -> None:
    """A plan change the daemon had to make a disconnect (the NAS refused the CoA) is printed
    as one, with the reason; a pending one names its job's own result URL."""
    body = {"nas": "pop7", "action": "disconnect", "outcome": "ack", "error_cause": None, "attempts": 1,
            "detail": "over RadSec 192.0.2.7:40211", "session_closed": False,
            "fallback": "CoA refused: NAK Resources-Unavailable (506)"}  # fmt: skip
    a = _action(REF, "pop7", 200, body, no_wait=False, action="change-plan")
    assert a.ok and a.action == "disconnect" and a.fallback == "CoA refused: NAK Resources-Unavailable (506)"
    a = _action(REF, "pop7", 200, dict(body, action="change-plan", fallback=None), False, "change-plan")
    assert a.action == "change-plan" and a.fallback is None
    a = _action(REF, "pop7", 202, {"job": "j1", "result_url": "/radius/coa/j1"}, False, "change-plan")
    assert (
        a.result is not None
        and a.result.detail == "the daemon is still waiting for the NAS (GET /radius/coa/j1)"
    )
    a = _action(REF, "pop7", 422, {"detail": "no plan named 'x'"}, False, "change-plan")
    assert a.action == "change-plan" and a.error == "the daemon's API refused: no plan named 'x'"
