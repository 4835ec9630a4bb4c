"""One database for the CLI and the daemon: config file discovery, no accidental new database,
lists that say which database they read, and ``db upgrade`` saying what it did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import radiusd.config
from radiusd.cli.context import describe_database
from radiusd.cli.main import cli
from radiusd.store.engine import upgrade_database


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, no RADIUSD_* variables, no /etc/radiusd file."""
    for name in ("RADIUSD_DATABASE_URL", "RADIUSD_CONFIG", "RADIUSD_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    etc = tmp_path / "etc" / "radiusd.toml"
    monkeypatch.setattr(radiusd.config, "CONFIG_SEARCH", (Path("radiusd.toml"), etc))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def write_config(path: Path, data_dir: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[radiusd]\ndata_dir = "{data_dir.as_posix()}"\n')
    return path


def test_no_config_no_url_creates_nothing(workdir: Path) -> None:
    result = run("nas", "list")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("radiusd: error: no database at ")
    assert f"sqlite+aiosqlite:///{workdir}/var/radiusd.sqlite3" in result.stderr
    assert "--config" in result.stderr and "db upgrade" in result.stderr
    assert list(workdir.iterdir()) == []


def test_db_upgrade_reports_what_it_did(workdir: Path) -> None:
    created = run("db", "upgrade")
    assert created.exit_code == 0, created.stderr
    assert created.stdout.startswith("created ") and " tables in sqlite+aiosqlite:///" in created.stdout
    again = run("db", "upgrade", "--json")
    data = json.loads(again.stdout)
    assert data["from_revision"] == data["to_revision"] and data["tables_created"] == 0
    assert run("db", "upgrade").stdout.startswith(f"already at revision {data['to_revision']}: ")


def test_db_upgrade_from_an_older_revision(tmp_path: Path, workdir: Path) -> None:
    from alembic.script import ScriptDirectory

    from radiusd.store.engine import alembic_config, head_revision

    head = head_revision()
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade_database(url, previous)
    refused = run("--database", url, "nas", "list")  # the quick schema check lets no old schema by
    assert refused.exit_code == 1 and "run 'radiusd db upgrade'" in refused.stderr
    result = run("--database", url, "db", "upgrade")
    assert result.stdout.strip() == f"upgraded {url} from revision {previous} to {head}"


def test_empty_list_names_the_database(workdir: Path) -> None:
    run("db", "upgrade")
    for command, empty in (("nas", "no NAS clients"), ("plan", "no plans"), ("subscriber", "no subscribers")):
        out = run(command, "list").stdout
        assert out == f"{empty} in sqlite+aiosqlite:///{workdir}/var/radiusd.sqlite3\n"


def test_config_found_in_fixed_order(tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config, then RADIUSD_CONFIG, then ./radiusd.toml, then /etc/radiusd/radiusd.toml."""
    write_config(tmp_path / "etc" / "radiusd.toml", tmp_path / "etc-data")
    flag = write_config(tmp_path / "flag.toml", tmp_path / "flag-data")
    env = write_config(tmp_path / "env.toml", tmp_path / "env-data")

    def database() -> str:
        refused = run("plan", "list")  # the config's database does not exist yet
        assert refused.exit_code == 1 and "db upgrade" in refused.stderr, refused.stderr
        run("db", "upgrade")
        assert run("plan", "list", "--json").exit_code == 0
        return run("db", "upgrade").stdout.rsplit(": ", 1)[1].strip()

    assert database() == f"sqlite+aiosqlite:///{tmp_path}/etc-data/radiusd.sqlite3"
    write_config(workdir / "radiusd.toml", tmp_path / "cwd-data")
    assert database() == f"sqlite+aiosqlite:///{tmp_path}/cwd-data/radiusd.sqlite3"
    monkeypatch.setenv("RADIUSD_CONFIG", str(env))
    assert database() == f"sqlite+aiosqlite:///{tmp_path}/env-data/radiusd.sqlite3"
    run("--config", str(flag), "db", "upgrade")
    result = run("--config", str(flag), "plan", "list")
    assert result.stdout == f"no plans in sqlite+aiosqlite:///{tmp_path}/flag-data/radiusd.sqlite3\n"


def test_a_named_database_is_created(tmp_path: Path, workdir: Path) -> None:
    """--database / RADIUSD_DATABASE_URL / database_url name the file: it may be created there."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'named.sqlite3'}"
    assert run("--database", url, "plan", "add", "gold").exit_code == 0
    assert (tmp_path / "named.sqlite3").exists()


def test_named_config_must_exist(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADIUSD_CONFIG", "/nonexistent/radiusd.toml")
    result = run("nas", "list")
    assert result.exit_code == 1
    message = "config file /nonexistent/radiusd.toml (from RADIUSD_CONFIG) does not exist"
    assert result.stderr == f"radiusd: error: {message}\n"


def test_database_url_password_is_masked() -> None:
    assert describe_database("postgresql+asyncpg://radiusd:s3cret@db/radiusd") == (
        "postgresql+asyncpg://radiusd:***@db/radiusd"
    )


def test_unreadable_config_is_one_line(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "radiusd.toml").write_text("")

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", refuse)
    result = run("nas", "list")
    assert result.exit_code == 1
    assert result.stderr == "radiusd: error: cannot read config file radiusd.toml: Permission denied\n"
