"""``radiusd import freeradius``: the source password apart from the URL (radiusd.importer.source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from radiusd.cli.main import cli
from radiusd.importer import run, source
from radiusd.importer.translate import SourceTables

PW = "Src-Db-Pw-31f"


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Stands in for reading the source: records (URL, password) instead of connecting."""
    calls: list[tuple[str, str | None]] = []

    async def fake(url: str, password: str | None = None) -> tuple[SourceTables, list[str]]:
        calls.append((url, password))
        return SourceTables(), []

    monkeypatch.setattr(run, "read_tables", fake)
    monkeypatch.delenv("RADIUSD_IMPORT_PASSWORD", raising=False)
    return calls


def _import(tmp_path: Path, *args: str, **kw: Any) -> Any:
    target = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    url = "postgresql://radius@old-db/radius"
    return CliRunner().invoke(
        cli, ["--database", target, "import", "freeradius", "--from", url, "--dry-run", *args], **kw
    )


def test_password_from_stdin(tmp_path: Path, seen: list[Any]) -> None:
    result = _import(tmp_path, "--from-password", "-", input=PW + "\n")
    assert result.exit_code == 0, result.output
    assert seen == [("postgresql://radius@old-db/radius", PW)] and PW not in result.output


def test_password_from_the_environment(tmp_path: Path, seen: list[Any]) -> None:
    result = _import(tmp_path, env={"RADIUSD_IMPORT_PASSWORD": PW})
    assert result.exit_code == 0, result.output
    assert seen[0][1] == PW and PW not in result.output


def test_no_password_leaves_it_to_the_driver(tmp_path: Path, seen: list[Any]) -> None:
    assert _import(tmp_path).exit_code == 0 and seen[0][1] is None


def test_source_target_sets_the_password_apart_from_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, args = source.source_target("postgresql://radius:inurl@db/radius", PW)
    assert target.password == PW and target.drivername == "postgresql+asyncpg" and args == {}
    target, _ = source.source_target("postgresql://radius@db/radius")
    assert target.password is None  # asyncpg then reads PGPASSWORD / ~/.pgpass

    option_file = tmp_path / "my.cnf"
    monkeypatch.setattr(source, "MYSQL_OPTION_FILE", option_file)
    assert source.source_target("mysql://radius@db/radius")[1] == {}
    option_file.write_text("[client]\npassword=x\n")
    assert source.source_target("mysql://radius@db/radius")[1] == {"read_default_file": str(option_file)}
    assert source.source_target("mysql://radius@db/radius", PW)[1] == {}
