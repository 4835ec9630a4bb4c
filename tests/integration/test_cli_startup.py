"""The admin CLI imports only what a command needs: start-up time is mostly imports.

Timing itself is measured by bench/cli_startup.py (a busy machine makes timings a poor test);
here the imports are checked in a fresh interpreter, which a regression cannot slip past.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from radiusd.cli.schema import shipped_head
from radiusd.store.engine import MIGRATIONS_DIR, head_revision, upgrade_database

HEAVY = {"sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "rich", "asyncpg", "pydantic"}
PROBE = """
import json, sys
from radiusd.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)
"""


def imported(cwd: Path, *args: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["nas", "--help"]])
def test_help_and_version_import_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    assert imported(tmp_path, *args) & HEAVY == set()


def test_list_on_sqlite_imports_no_alembic_or_api(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'radiusd.sqlite3'}"
    upgrade_database(url)
    modules = imported(tmp_path, "--database", url, "nas", "list")
    assert "sqlalchemy" in modules  # it did read the database
    assert modules & {"alembic", "fastapi", "starlette", "uvicorn", "rich", "asyncpg"} == set()


def test_shipped_head_matches_alembic(tmp_path: Path) -> None:
    assert shipped_head(MIGRATIONS_DIR / "versions") == head_revision()
    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text('revision: str = "b"\ndown_revision: str | None = "a"\n')
    assert shipped_head(tmp_path) == "b"
    (tmp_path / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')  # two heads
    assert shipped_head(tmp_path) is None
    (tmp_path / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')  # merged
    assert shipped_head(tmp_path) == "d"
