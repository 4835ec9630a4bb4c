"""``radiusd serve`` refuses a SQLite database that other users may read (radiusd.cli.serve)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from radiusd.cli import serve as serve_module
from radiusd.cli.main import cli


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Stands in for the daemon: records the settings ``serve`` would run with."""
    runs: list[Any] = []
    monkeypatch.setattr(serve_module, "load_app_runner", lambda: lambda settings, **kw: runs.append(settings))
    monkeypatch.delenv("RADIUSD_ALLOW_READABLE_DATABASE", raising=False)
    return runs


def _serve(url: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["--database", url, "serve"], env=env)


def test_serve_refuses_a_database_others_can_read(tmp_path: Path, started: list[Any]) -> None:
    path = tmp_path / "radiusd.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    path.write_bytes(b"")
    path.chmod(0o644)

    result = _serve(url)
    assert result.exit_code == 1 and not started
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("radiusd: error: ") and str(path) in line and "0644" in line
    assert "allow_readable_database" in line and "Traceback" not in result.output

    assert _serve(url, {"RADIUSD_ALLOW_READABLE_DATABASE": "true"}).exit_code == 0
    assert len(started) == 1 and started[0].allow_readable_database

    path.chmod(0o600)
    assert _serve(url).exit_code == 0 and len(started) == 2


def test_serve_starts_on_a_database_not_created_yet(tmp_path: Path, started: list[Any]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'radiusd.sqlite3'}"
    assert _serve(url).exit_code == 0 and len(started) == 1
