"""Shared-secret strength (radiusd.codec.shared_secret) and the daemon's start-up warning."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from radiusd import daemon as app
from radiusd.codec import shared_secret
from radiusd.model.request import NasClient
from radiusd.server.nas import NasRegistry
from radiusd.store.records import NasRecord


def test_secrets_under_16_octets_are_weak() -> None:
    assert shared_secret.is_weak("a" * 15) and shared_secret.is_weak(b"")
    assert not shared_secret.is_weak("a" * 16) and not shared_secret.is_weak(b"b" * 40)
    assert not shared_secret.is_weak("é" * 8)  # 16 octets in UTF-8, as sent on the wire


def test_generated_secrets_are_long_random_and_plain() -> None:
    made = {shared_secret.generate() for _ in range(50)}
    assert len(made) == 50
    for secret in made:
        assert len(secret) == shared_secret.GENERATED_SECRET_LENGTH and secret.isalnum()
        assert not shared_secret.is_weak(secret)


class _Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **kw: Any) -> None:
        self.events.append((event, kw))


def test_daemon_start_warns_about_each_weak_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    log = _Log()
    monkeypatch.setattr(app, "log", log)
    registry = NasRegistry(
        [NasClient(1, "weak", "192.0.2.1", b"short-secret"), NasClient(2, "ok", "192.0.2.2", b"s" * 24)]
    )
    app.Daemon._warn_unsafe(SimpleNamespace(registry=registry, _plain_api=[]))  # type: ignore[arg-type]
    weak = [kw for event, kw in log.events if event == "nas.weak-secret"]
    assert [kw["nas"] for kw in weak] == ["weak"]
    assert "short-secret" not in repr(log.events)


def test_daemon_start_warns_about_each_router_on_the_plain_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """A router added with --insecure-plain-api sends its API password in clear: one warning
    per router at start (the plugin warns again at every connection), the password never in it."""
    log = _Log()
    monkeypatch.setattr(app, "log", log)
    plain = NasRecord(id=1, name="mt-plain", address="192.0.2.1", secret="s" * 24, vendor="mikrotik",
                      api_username="admin", api_password="router-Pw-1", api_insecure_plain=True)  # fmt: skip
    tls = replace(plain, id=2, name="mt-tls", address="192.0.2.2", api_insecure_plain=False, api_tls=True)
    daemon = SimpleNamespace(registry=NasRegistry([]), _plain_api=app.plain_api_routers([tls, plain]))
    app.Daemon._warn_unsafe(daemon)  # type: ignore[arg-type]
    assert [kw["nas"] for event, kw in log.events if event == "router-api.insecure-plain"] == ["mt-plain"]
    assert "router-Pw-1" not in repr(log.events)
