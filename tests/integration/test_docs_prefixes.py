"""The worked example of docs/prefixes.md, run as written on SQLite and PostgreSQL.

Every ```console block is read in order: a ``$ radiusd ...`` line is a command (run through
click with ``--database`` added), the lines after it are output it must print (each shown line
appears in its stdout or stderr; a ``radiusd: error:`` line means the command must fail).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from radiusd.cli.main import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "prefixes.md"


def steps(text: str) -> list[tuple[list[str], list[str]]]:
    """``(argv, expected lines)`` of every command in the doc's console blocks, in order."""
    out: list[tuple[list[str], list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                argv = shlex.split(line[2:])
                assert argv[0] == "radiusd", line
                out.append((argv[1:], []))
            elif line.strip():
                out[-1][1].append(line.rstrip())
    return out


def test_the_worked_example_runs_as_written(db_url: str, migrated_db: None) -> None:
    commands = steps(DOC.read_text())
    assert len(commands) >= 30
    runner = CliRunner()
    for argv, expected in commands:
        result = runner.invoke(cli, ["--database", db_url, *argv])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        failing = any(e.startswith("radiusd: error:") for e in expected)
        assert (result.exit_code != 0) == failing, (argv, result.stdout, result.stderr)
        printed = [line.rstrip() for line in (result.stdout + result.stderr).splitlines()]
        for line in expected:
            assert line in printed, (argv, line, printed)

    def run(*argv: str) -> str:
        result = runner.invoke(cli, ["--database", db_url, *argv])
        assert result.exit_code == 0, result.stderr
        return result.stdout

    # what the example built, checked beyond the printed lines
    pool = json.loads(run("pool", "show", "tower-north", "--json"))
    assert {r["kind"] for r in pool["ranges"]} == {"ipv4", "ipv6-pd", "ipv6-wan"}  # now dual-stack
    tree = json.loads(run("prefix", "tree", "--json"))
    assert tree["families"]["ipv4"]["used"] == 2 + 2 + 3 + 8  # two /31s, three loopbacks, the /29
    history = json.loads(run("lease", "history", "203.0.113.16/29", "--json"))
    assert [h["username"] for h in history] == ["acme-corp"]
