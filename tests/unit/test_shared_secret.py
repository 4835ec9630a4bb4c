"""Shared-secret strength (radiusd.codec.shared_secret) and the daemon's start-up warning."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from radiusd import daemon as app
from radiusd.codec import shared_secret
from radiusd.model.request import NasClient
from radiusd.server.nas import NasRegistry


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
    app.Daemon._warn_unsafe(SimpleNamespace(registry=registry))  # type: ignore[arg-type]
    weak = [kw for event, kw in log.events if event == "nas.weak-secret"]
    assert [kw["nas"] for kw in weak] == ["weak"]
    assert "short-secret" not in repr(log.events)
