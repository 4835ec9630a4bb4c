"""How many processes ``serve`` runs: 1 by default, auto = CPU cores on PostgreSQL, never
several on SQLite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from radiusd.config import load_settings
from radiusd.server.cluster import StartRefused
from radiusd.server.supervisor import resolve_workers

PG = "postgresql+asyncpg://u@h/db"
SQLITE = "sqlite+aiosqlite:///x.sqlite3"


def test_default_is_one_process_on_both_backends() -> None:
    assert resolve_workers(load_settings(database_url=PG)) == 1
    assert resolve_workers(load_settings(database_url=SQLITE)) == 1


def test_auto_is_the_cores_on_postgresql_and_one_on_sqlite() -> None:
    assert resolve_workers(load_settings(database_url=PG, workers=0)) == (os.cpu_count() or 1)
    assert resolve_workers(load_settings(database_url=SQLITE, workers=0)) == 1


def test_auto_in_the_environment_and_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RADIUSD_WORKERS", "auto")
    assert load_settings().workers == 0
    monkeypatch.delenv("RADIUSD_WORKERS")
    (tmp_path / "radiusd.toml").write_text('[radiusd]\nworkers = "auto"\n')
    assert load_settings(tmp_path / "radiusd.toml").workers == 0


def test_several_on_sqlite_are_refused() -> None:
    with pytest.raises(StartRefused, match=r"^--workers 3 on SQLite: SQLite serves one process"):
        resolve_workers(load_settings(database_url=SQLITE, workers=3))
