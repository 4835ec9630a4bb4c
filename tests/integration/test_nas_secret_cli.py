"""``radiusd nas add``: a warning for a short secret, and --generate-secret printed once only."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from radiusd.cli.main import cli


def _run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database", url, *args])


def test_short_secret_is_accepted_with_a_warning(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    weak = _run(url, "nas", "add", "edge", "--address", "192.0.2.1", "--secret", "only-14-chars!")
    assert weak.exit_code == 0
    assert "shorter than 16 characters" in weak.stderr and "only-14-chars!" not in weak.output
    strong = _run(url, "nas", "add", "core", "--address", "192.0.2.2", "--secret", "x" * 16)
    assert strong.exit_code == 0 and "warning" not in strong.stderr


def test_generate_secret_prints_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    added = _run(url, "nas", "add", "edge", "--address", "192.0.2.1", "--generate-secret")
    assert added.exit_code == 0 and added.stderr == ""
    secret = added.stdout.strip().splitlines()[-1].rsplit(": ", 1)[1]
    assert len(secret) == 32 and secret.isalnum()
    as_json = json.loads(
        _run(url, "nas", "add", "bng", "--address", "192.0.2.3", "--generate-secret", "--json").stdout
    )
    assert len(as_json["secret"]) == 32 and as_json["secret"] != secret
    for later in (
        _run(url, "nas", "show", "edge"),
        _run(url, "nas", "show", "edge", "--json"),
        _run(url, "nas", "list", "--json"),
    ):
        assert later.exit_code == 0 and secret not in later.output and as_json["secret"] not in later.output


def test_secret_and_generate_secret_exclude_each_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    both = _run(
        url, "nas", "add", "edge", "--address", "192.0.2.1", "--secret", "y" * 20, "--generate-secret"
    )
    assert both.exit_code == 2 and "--secret or --generate-secret, not both" in both.stderr
    neither = _run(url, "nas", "add", "edge", "--address", "192.0.2.1")
    assert neither.exit_code == 2 and "Missing option '--secret' (or --generate-secret)" in neither.stderr
