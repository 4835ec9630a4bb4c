"""``radiusd session`` / ``export`` / ``usage`` through the CLI on SQLite and PostgreSQL.

The database is migrated, then filled directly with SQLAlchemy Core (no daemon); the commands
run in-process with click's CliRunner. Checks the output contract users' scripts rely on:
JSON field names, ISO 8601 UTC times, CSV header rows, and one-line errors with a non-zero exit.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import subprocess
from typing import Any

import pytest
from click.testing import CliRunner, Result

from radiusd.cli.main import cli
from radiusd.store.engine import create_engine, upgrade_database
from tests.unit.test_reports_queries import Accounting, midnight_scenario

LIST_FIELDS = {"id", "username", "nas", "address", "started", "stopped", "input_octets", "output_octets"}
USAGE_FIELDS = ["username", "input_octets", "output_octets", "session_time", "sessions"]


class Cli:
    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, ["--database", self.url, *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args))

    def csv(self, *args: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(self.ok(*args))))

    def error(self, *args: str, code: int) -> str:
        result = self.run(*args)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("radiusd: error: "), lines[0]
        return lines[0].removeprefix("radiusd: error: ")


def fill(url: str, acct: Accounting) -> None:
    upgrade_database(url)

    async def write() -> None:
        engine = create_engine(url)
        try:
            await acct.write(engine)
        finally:
            await engine.dispose()

    asyncio.run(write())


@pytest.fixture
def radiusd(db_url: str, migrated_db: None) -> Cli:
    fill(db_url, midnight_scenario())
    return Cli(db_url)


# --- session ----------------------------------------------------------------------------------


def test_session_list_json_and_filters(radiusd: Cli) -> None:
    rows = radiusd.json("session", "list", "--json")
    assert [r["username"] for r in rows] == ["carol", "bob", "alice", "dave"]
    for row in rows:
        assert set(row) >= LIST_FIELDS
    alice = rows[2]
    assert alice["nas"] == "core-1" and alice["address"] == "10.1.0.1"
    assert alice["started"] == "2024-05-01T23:00:00+00:00"
    assert alice["stopped"] == "2024-05-02T00:30:00+00:00"
    assert (alice["input_octets"], alice["output_octets"], alice["status"]) == (180, 1900, "closed")
    online = radiusd.json("session", "list", "--online", "--json")
    assert [(r["username"], r["stopped"], r["status"]) for r in online] == [("bob", None, "open")]
    assert [r["username"] for r in radiusd.json("session", "list", "--nas", "core-1", "--json")] == [
        "carol",
        "alice",
    ]
    assert [r["username"] for r in radiusd.json("session", "list", "--user", "dave", "--json")] == ["dave"]
    assert len(radiusd.json("session", "list", "--limit", "3", "--json")) == 3
    assert radiusd.json("session", "list", "--user", "nobody", "--json") == []


def test_session_list_table(radiusd: Cli) -> None:
    out = radiusd.ok("session", "list", "--online")
    header, row = out.splitlines()
    assert header.split()[:4] == ["id", "username", "nas", "address"]
    assert row.split()[:3] == ["2", "bob", "192.0.2.9"]
    assert radiusd.ok("session", "list", "--user", "nobody").startswith("no sessions in ")


def test_session_show(radiusd: Cli) -> None:
    shown = radiusd.json("session", "show", "1", "--json")
    assert shown == radiusd.json("session", "show", "uid-00000001", "--json")
    assert set(shown) >= LIST_FIELDS
    assert [(u["status_type"], u["event_time"], u["session_time"]) for u in shown["updates"]] == [
        ("Start", "2024-05-01T23:00:00+00:00", 0),
        ("Interim-Update", "2024-05-01T23:50:00+00:00", 3000),
        ("Interim-Update", "2024-05-02T00:10:00+00:00", 4200),
        ("Stop", "2024-05-02T00:30:00+00:00", 5400),
    ]
    text = radiusd.ok("session", "show", "1")
    assert "username:" in text and "alice" in text
    assert "2024-05-02T00:10:00+00:00  Interim-Update" in text


def test_session_errors(radiusd: Cli) -> None:
    assert radiusd.error("session", "show", "999", code=1) == "no session '999'"
    assert radiusd.error("session", "list", "--nas", "edge-9", code=1) == "no NAS named 'edge-9'"
    assert "--limit" in radiusd.error("session", "list", "--limit", "0", code=2)


# --- export usage -----------------------------------------------------------------------------


def test_export_usage_csv_and_json(radiusd: Cli) -> None:
    rows = radiusd.csv("export", "usage", "--from", "2024-05-02", "--to", "2024-05-03")
    assert rows == [
        USAGE_FIELDS,
        ["alice", "80", "900", "2400", "0"],
        ["bob", "6700", "51900", "10800", "1"],
    ]
    data = radiusd.json("export", "usage", "--from", "2024-05-02", "--to", "2024-05-03", "--format", "json")
    assert data == [
        {"username": "alice", "input_octets": 80, "output_octets": 900, "session_time": 2400, "sessions": 0},
        {
            "username": "bob",
            "input_octets": 6700,
            "output_octets": 51900,
            "session_time": 10800,
            "sessions": 1,
        },
    ]
    assert (
        radiusd.json("export", "usage", "--from", "2020-01-01", "--to", "2020-02-01", "--format", "json")
        == []
    )
    assert radiusd.csv("export", "usage", "--from", "2020-01-01", "--to", "2020-02-01") == [USAGE_FIELDS]


def test_export_usage_splits_a_session_at_the_period_edge(radiusd: Cli) -> None:
    # alice: 23:00 Start, 23:50 (100/1000), 00:10 (150/1500), 00:30 Stop (180/1900)
    before = radiusd.json(
        "export", "usage", "--from", "2024-05-01T12:00:00Z", "--to", "2024-05-02", "--format", "json"
    )
    after = radiusd.json(
        "export", "usage", "--from", "2024-05-02", "--to", "2024-05-02T06:00:00Z", "--format", "json"
    )
    assert [r for r in before if r["username"] == "alice"] == [
        {"username": "alice", "input_octets": 100, "output_octets": 1000, "session_time": 3000, "sessions": 1}
    ]
    assert after == [
        {"username": "alice", "input_octets": 80, "output_octets": 900, "session_time": 2400, "sessions": 0}
    ]
    # An offset is converted to UTC: 02:05+02:00 is 00:05Z, so only the 00:10 and 00:30 deltas.
    shifted = radiusd.json(
        "export",
        "usage",
        "--from",
        "2024-05-02T02:05:00+02:00",
        "--to",
        "2024-05-02T01:00",
        "--format",
        "json",
    )
    assert shifted == after


def test_export_usage_by_day_and_session(radiusd: Cli) -> None:
    by_day = radiusd.csv("export", "usage", "--from", "2024-05-01", "--to", "2024-05-04", "--by", "day")
    assert by_day[0] == ["day", *USAGE_FIELDS]
    assert [row[:2] for row in by_day[1:]] == [
        ["2024-05-01", "alice"],
        ["2024-05-01", "dave"],
        ["2024-05-02", "alice"],
        ["2024-05-02", "bob"],
        ["2024-05-03", "carol"],
    ]
    sessions = radiusd.json(
        "export", "usage", "--from", "2024-05-01", "--to", "2024-05-04", "--by", "session", "--format", "json"
    )
    assert [(s["id"], s["username"], s["nas"]) for s in sessions] == [
        (1, "alice", "core-1"),
        (2, "bob", "192.0.2.9"),
        (3, "carol", "core-1"),
        (4, "dave", "192.0.2.1"),
    ]
    assert set(USAGE_FIELDS) <= set(sessions[0])
    assert sessions[0]["started"] == "2024-05-01T23:00:00+00:00"
    header = radiusd.csv("export", "usage", "--from", "2024-05-01", "--to", "2024-05-04", "--by", "session")[
        0
    ]
    assert header[:3] == ["id", "acct_unique_id", "username"] and header[-1] == "sessions"


# --- export sessions, usage rebuild -----------------------------------------------------------


def test_export_sessions(radiusd: Cli) -> None:
    rows = radiusd.csv("export", "sessions", "--from", "2024-05-02T00:15:00Z", "--to", "2024-05-04")
    assert rows[0][:4] == ["id", "acct_unique_id", "acct_session_id", "username"]
    assert "started" in rows[0] and "stopped" in rows[0] and "terminate_cause" in rows[0]
    assert [row[3] for row in rows[1:]] == ["alice", "carol"]
    data = radiusd.json(
        "export", "sessions", "--from", "2024-05-01", "--to", "2024-05-04", "--format", "json"
    )
    assert [(r["username"], r["stopped"], r["input_octets"]) for r in data] == [
        ("dave", "2024-05-02T00:00:00+00:00", 10),
        ("alice", "2024-05-02T00:30:00+00:00", 180),
        ("carol", "2024-05-03T08:00:00+00:00", 11),
    ]
    assert data[1]["framed_ip"] == "10.1.0.1" and data[1]["terminate_cause"] == "User-Request"


def test_usage_rebuild(radiusd: Cli) -> None:
    out = radiusd.ok("usage", "rebuild", "--from", "2024-05-01", "--to", "2024-05-04")
    assert out == (
        "rebuilt usage for 3 days from 2024-05-01 to 2024-05-04 (exclusive): 5 rows written, 0 replaced\n"
    )
    again = radiusd.json(
        "usage", "rebuild", "--from", "2024-05-02T10:00", "--to", "2024-05-02T11:00", "--json"
    )
    assert again == {"from": "2024-05-02", "to": "2024-05-03", "days": 1, "deleted": 2, "rows": 2}
    # The rebuilt roll-up and the export agree day by day.
    by_day = radiusd.json(
        "export", "usage", "--from", "2024-05-01", "--to", "2024-05-04", "--by", "day", "--format", "json"
    )
    assert len(by_day) == 5


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["--from", "2024-05-41", "--to", "2024-06-01"],
            "Invalid value for '--from': '2024-05-41' is not a date",
        ),
        (["--from", "2024-05-01", "--to", "soon"], "Invalid value for '--to': 'soon' is not a date"),
        (["--from", "2024-06-01", "--to", "2024-05-01"], "the period is empty"),
        (["--from", "2024-05-01", "--to", "2024-05-01"], "the period is empty"),
        (["--from", "2024-05-01"], "Missing option '--to'"),
    ],
)
@pytest.mark.parametrize("command", [["export", "usage"], ["export", "sessions"], ["usage", "rebuild"]])
def test_bad_periods_are_one_line_errors(
    sqlite_url: str, command: list[str], args: list[str], fragment: str
) -> None:
    assert fragment in Cli(sqlite_url).error(*command, *args, code=2)


def test_bad_choices(sqlite_url: str) -> None:
    radiusd = Cli(sqlite_url)
    period = ["--from", "2024-05-01", "--to", "2024-05-02"]
    assert "--format" in radiusd.error("export", "usage", *period, "--format", "xml", code=2)
    assert "--by" in radiusd.error("export", "usage", *period, "--by", "month", code=2)


def test_reader_stopping_early_is_not_an_error(sqlite_url: str) -> None:
    """``radiusd export ... | head -1``: no traceback, no "cannot reach the database"."""
    exe = shutil.which("radiusd")
    if exe is None:
        pytest.skip("the radiusd script is not installed")
    acct = Accounting()
    for i in range(3000):
        acct.session(
            f"user{i:05d}", [("2024-05-01 10:00", "Start", 0, 0, 0), ("2024-05-01 11:00", "Stop", 60, i, i)]
        )
    fill(sqlite_url, acct)
    args = ["--from", "2024-05-01", "--to", "2024-05-02"]
    for command in (["export", "usage", "--by", "session", *args], ["session", "list", "--json"]):
        proc = subprocess.Popen(
            [exe, "--database", sqlite_url, *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) in (0, 1)
        assert first.strip()
        assert stderr == ""


def test_help_documents_the_period() -> None:
    out = CliRunner().invoke(cli, ["export", "usage", "--help"]).stdout
    assert "--to is exclusive" in " ".join(out.split())
    assert "YYYY-MM-DD" in out


def test_export_json_flag_is_format_json(radiusd: Cli) -> None:
    """`--json` works on every command that prints data, exports included (`--format` stays)."""
    period = ["--from", "2024-05-01", "--to", "2024-05-04"]
    for command in (["export", "usage", "--by", "day"], ["export", "sessions"]):
        as_json = radiusd.json(*command, *period, "--json")
        assert as_json and as_json == radiusd.json(*command, *period, "--format", "json")
    assert "--json" in radiusd.error("export", "usage", *period, "--json", "--format", "csv", code=2)
