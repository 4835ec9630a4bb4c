"""Output helpers and error handling of the ``radiusd`` command (no database)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from radiusd.cli.listing import render
from radiusd.cli.main import cli
from radiusd.cli.output import format_value, one_line, pick_columns, print_record


def test_format_value() -> None:
    assert format_value(None) == "-"
    assert format_value("") == "-"
    assert format_value(True) == "yes"
    assert format_value([1, "a"]) == "1, a"
    assert format_value({"a": 1}) == "a=1"
    assert format_value(3799) == "3799"
    assert format_value([["Session-Timeout", "60"], ("Class", "x")]) == "Session-Timeout=60, Class=x"


def test_one_line() -> None:
    assert one_line("a\n  b\tc ") == "a b c"


def test_pick_columns() -> None:
    records = [{"name": "x", "address": "1.2.3.4", "extra": 1}]
    assert pick_columns(records, ["name", "missing", "address"]) == ["name", "address"]
    assert pick_columns(records, ["nothing"]) == ["name", "address", "extra"]


def test_render_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    records: list[dict[str, Any]] = [{"name": "r1", "address": "10.0.0.1"}, {"name": "r2", "address": None}]
    render(records, ["name", "address"], as_json=True, empty="none")
    assert json.loads(capsys.readouterr().out) == records
    render(records, ["name", "address"], as_json=False, empty="none")
    out = capsys.readouterr().out
    assert "r1" in out and "10.0.0.1" in out and "address" in out
    render([], ["name"], as_json=False, empty="none")
    assert capsys.readouterr().out == "none\n"
    render([], ["name"], as_json=True, empty="none")
    assert json.loads(capsys.readouterr().out) == []


def test_print_record_masks(capsys: pytest.CaptureFixture[str]) -> None:
    print_record({"name": "r1", "coa_port": 3799}, extra=[("secret", "********")])
    assert capsys.readouterr().out.splitlines() == ["name:     r1", "coa_port: 3799", "secret:   ********"]


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["nas", "add"],
        ["nas", "add", "r1", "--address", "10.0.0.1"],
        ["nas", "add", "r1", "--address", "10.0.0.1", "--secret", "s", "--vendor", "acme"],
        ["nas", "add", "r1", "--address", "10.0.0.1", "--secret", "s", "--coa-port", "0"],
        ["plan", "add", "p", "--reply", "no-equals-sign"],
        ["plan", "add", "p", "--session-timeout", "abc"],
        ["subscriber", "list", "--status", "frozen"],
        ["serve", "--bind", "not-an-ip"],
        ["serve", "--api-bind", "127.0.0.1"],
        ["serve", "--auth-port", "70000"],
        ["nope"],
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("radiusd: error: "), result.stderr


def test_no_arguments_prints_help() -> None:
    result = CliRunner().invoke(cli, [])
    assert "Commands:" in result.output


def test_missing_config_file_is_one_line_exit_1() -> None:
    result = CliRunner().invoke(cli, ["--config", "/nonexistent/radiusd.toml", "db", "upgrade"])
    assert result.exit_code == 1
    assert result.stderr == "radiusd: error: config file /nonexistent/radiusd.toml does not exist\n"


def test_serve_without_daemon_module_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import radiusd.cli.serve as serve_mod

    monkeypatch.setattr(serve_mod, "APP_MODULE", "radiusd.server.no_such_module_for_tests")
    result = CliRunner().invoke(cli, ["serve", "--auth-port", "0"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "not part of this build" in result.stderr


def test_table_prints_data_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    """An IPv6 prefix keeps its ``:100:`` (no emoji) and ``[bold]`` stays text (no markup)."""
    records = [{"prefix": "2001:db8:100:100::/56", "name": "[bold]x[/bold] :smile:"}]
    render(records, ["prefix", "name"], as_json=False, empty="none")
    out = capsys.readouterr().out
    assert "2001:db8:100:100::/56" in out
    assert "[bold]x[/bold] :smile:" in out
    render([{"name": "two\nlines", "id": "\x1b[31mred"}], ["name", "id"], as_json=False, empty="none")
    assert capsys.readouterr().out.splitlines()[1] == "two lines  ?[31mred"


def test_plural() -> None:
    from radiusd.cli.output import plural

    assert [plural(n, "item") for n in (0, 1, 2)] == ["0 items", "1 item", "2 items"]
    assert plural(1, "NAS", "NAS") == "1 NAS" and plural(3, "NAS", "NAS") == "3 NAS"


def test_one_table_style_for_lists_and_streams(capsys: pytest.CaptureFixture[str]) -> None:
    """A streamed list (session list) and a held one (nas list) print the same table."""
    import asyncio
    import io
    from collections.abc import AsyncIterator

    from radiusd.cli.export import write_table

    records: list[dict[str, Any]] = [
        {"name": "r1", "address": "10.0.0.1"},
        {"name": "router-two", "address": None},
    ]
    render(records, ["name", "address"], as_json=False, empty="none")
    held = capsys.readouterr().out

    async def rows() -> AsyncIterator[dict[str, object]]:
        for record in records:
            yield record

    out = io.StringIO()
    asyncio.run(write_table(rows(), ["name", "address"], out, empty="none"))
    assert out.getvalue() == held == "name        address\nr1          10.0.0.1\nrouter-two  -\n"


# Commands that print no data, only a confirmation sentence (or run the daemon).
NO_DATA = {"remove", "revoke", "suspend", "resume", "disable", "set-plan", "add-range", "remove-range"}
NO_DATA |= {"serve", "help", "unassign"}


def test_every_command_that_prints_data_takes_json() -> None:
    import click

    missing = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if path[-1] not in NO_DATA and "--json" not in options:
            missing.append(" ".join(path))

    walk(cli, [])
    assert missing == []


def test_help_topics() -> None:
    listing = CliRunner().invoke(cli, ["help"])
    assert listing.exit_code == 0
    for topic in ("quickstart", "config", "nas", "pools", "postgres", "completion"):
        assert f"  {topic} " in listing.stdout
        shown = CliRunner().invoke(cli, ["help", topic])
        assert shown.exit_code == 0 and shown.stdout.startswith(topic.upper() + ":")
    assert "_RADIUSD_COMPLETE=bash_source radiusd" in CliRunner().invoke(cli, ["help", "completion"]).stdout
    unknown = CliRunner().invoke(cli, ["help", "serve"])
    assert unknown.exit_code == 2 and unknown.stderr.count("\n") == 1
    assert "no help topic 'serve'" in unknown.stderr and "radiusd serve --help" in unknown.stderr


def test_shell_completion_script() -> None:
    """What README tells users to eval: click's completion script for the radiusd command."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, _RADIUSD_COMPLETE="bash_source")
    code = "from radiusd.cli.main import main; main()"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "_radiusd_completion" in done.stdout
