"""The admin CLI against real databases (SQLite and PostgreSQL) through click's CliRunner.

Every command is run as ``radiusd --database URL ...``; the database starts at the head
revision (a copy of one migrated once per session: ``migrated_db``), except in
test_demo_seed_is_idempotent, where it starts empty and the CLI migrates it on first use.
Errors must be one ``radiusd: error: ...`` line on stderr, exit 1 (data) or 2 (usage), and
leave the database unchanged. Secrets never appear in any output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from radiusd.cli.main import cli

NAS_SECRET = "s3cr3t-nas-Xy"
PASSWORD = "pa55-w0rd-Qz"


class Cli:
    """Runs ``radiusd --database URL ARGS`` in-process and checks the outcome."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.outputs: list[str] = []

    def run(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(cli, ["--database", self.url, *args], input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.outputs.append(result.stdout + result.stderr)
        return result

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def error(self, *args: str, code: int = 1, input: str | None = None) -> str:
        """Run a failing command; return its single error line (without the prefix)."""
        result = self.run(*args, input=input)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("radiusd: error: "), lines[0]
        return lines[0].removeprefix("radiusd: error: ")

    def assert_no_secret(self, *secrets: str) -> None:
        for text in self.outputs:
            for secret in secrets:
                assert secret not in text


@pytest.fixture
def radiusd(db_url: str, migrated_db: None) -> Cli:
    return Cli(db_url)


# --- NAS ---------------------------------------------------------------------------------------


def test_nas_lifecycle(radiusd: Cli) -> None:
    out = radiusd.ok("nas", "add", "core-1", "--address", "10.0.0.1", "--secret", NAS_SECRET)
    assert "core-1" in out
    radiusd.ok(
        "nas", "add", "edge-2", "--address", "2001:db8::2", "--secret", NAS_SECRET + "2",
        "--vendor", "mikrotik", "--no-message-authenticator", "--coa-port", "1700",
    )  # fmt: skip
    listed = radiusd.json("nas", "list")
    assert [n["name"] for n in listed] == ["core-1", "edge-2"]
    edge = listed[1]
    assert edge["address"] == "2001:db8::2"
    assert edge["vendor"] == "mikrotik"
    assert edge["require_message_authenticator"] is False
    assert edge["coa_port"] == 1700
    assert listed[0]["require_message_authenticator"] is True
    assert listed[0]["vendor"] == "generic" and listed[0]["coa_port"] == 3799
    assert all("secret" not in n for n in listed)

    table = radiusd.ok("nas", "list")
    assert "core-1" in table and "10.0.0.1" in table

    shown = radiusd.ok("nas", "show", "edge-2")
    assert "secret:" in shown and "********" in shown
    assert radiusd.json("nas", "show", "core-1")["name"] == "core-1"

    radiusd.ok("nas", "remove", "edge-2")
    assert [n["name"] for n in radiusd.json("nas", "list")] == ["core-1"]
    radiusd.assert_no_secret(NAS_SECRET)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nas", "add", "core-1", "--address", "10.0.0.9", "--secret", "x"], "NAS 'core-1' already exists"),
        (["nas", "add", "other", "--address", "10.0.0.1", "--secret", "x"], "10.0.0.1 already belongs"),
        (["nas", "add", "other", "--address", "10.0.0.256", "--secret", "x"], "malformed IP address"),
        (["nas", "add", "other", "--address", "10.0.0.7", "--secret", ""], "secret must not be empty"),
        (["nas", "show", "nope"], "NAS 'nope' does not exist"),
        (["nas", "remove", "nope"], "NAS 'nope' does not exist"),
    ],
)
def test_nas_errors_write_nothing(radiusd: Cli, args: list[str], message: str) -> None:
    radiusd.ok("nas", "add", "core-1", "--address", "10.0.0.1", "--secret", NAS_SECRET)
    before = radiusd.json("nas", "list")
    assert message in radiusd.error(*args)
    assert radiusd.json("nas", "list") == before
    radiusd.assert_no_secret(NAS_SECRET)


# --- plans -------------------------------------------------------------------------------------


def test_plan_lifecycle(radiusd: Cli) -> None:
    radiusd.ok("pool", "add", "gold-v4", "--range", "100.64.0.0/24")
    radiusd.ok("pool", "add", "garden", "--range", "100.65.0.0/24")
    radiusd.ok(
        "plan", "add", "gold", "--rate-limit", "10M/20M", "--session-timeout", "86400",
        "--interim-interval", "300", "--simultaneous-use", "2", "--pool", "gold-v4",
        "--walled-garden-pool", "garden", "--reply", "Cisco-AVPair=ip:addr-pool=gold",
        "--reply", "Class=0x676f6c64",
    )  # fmt: skip
    radiusd.ok("plan", "add", "basic")
    plan = radiusd.json("plan", "show", "gold")
    assert plan["name"] == "gold"
    assert plan["rate_limit"] == "10M/20M"
    assert plan["session_timeout"] == 86400
    assert plan["interim_interval"] == 300
    assert plan["simultaneous_use"] == 2
    assert plan["pool"] == "gold-v4"
    assert plan["walled_garden_pool"] == "garden"
    assert plan["reply_attributes"] == [["Cisco-AVPair", "ip:addr-pool=gold"], ["Class", "0x676f6c64"]]
    assert [p["name"] for p in radiusd.json("plan", "list")] == ["basic", "gold"]
    assert "10M/20M" in radiusd.ok("plan", "list")
    assert "Class=0x676f6c64" in radiusd.ok("plan", "show", "gold")
    radiusd.ok("plan", "remove", "basic")
    assert [p["name"] for p in radiusd.json("plan", "list")] == ["gold"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["plan", "add", "gold"], 1, "plan 'gold' already exists"),
        (["plan", "show", "silver"], 1, "plan 'silver' does not exist"),
        (["plan", "remove", "silver"], 1, "plan 'silver' does not exist"),
        (["plan", "add", "silver", "--rate-limit", "fast"], 2, "--rate-limit"),
        (["plan", "add", "silver", "--reply", "Class"], 2, "ATTR=VALUE"),
        (["plan", "add", "silver", "--session-timeout", "0"], 2, "--session-timeout"),
    ],
)
def test_plan_errors_write_nothing(radiusd: Cli, args: list[str], code: int, message: str) -> None:
    radiusd.ok("plan", "add", "gold")
    before = radiusd.json("plan", "list")
    assert message in radiusd.error(*args, code=code)
    assert radiusd.json("plan", "list") == before


# --- subscribers -------------------------------------------------------------------------------


def test_subscriber_lifecycle(radiusd: Cli) -> None:
    radiusd.ok("plan", "add", "gold", "--rate-limit", "10M/20M")
    out = radiusd.ok(
        "subscriber", "add", "alice", "--password", PASSWORD, "--plan", "gold", "--static-ip", "100.64.0.10"
    )
    assert "alice" in out
    radiusd.ok("pool", "add", "cgnat", "--range", "100.72.0.0/24")
    radiusd.ok("subscriber", "add", "bob", "--password", PASSWORD + "b", "--pool", "cgnat")
    alice = radiusd.json("subscriber", "show", "alice")
    assert alice["username"] == "alice"
    assert alice["status"] == "active"
    assert alice["plan"] == "gold"
    assert alice["static_ip"] == "100.64.0.10"
    assert "credential" not in alice and "password" not in alice
    assert radiusd.json("subscriber", "show", "bob")["pool"] == "cgnat"

    assert "suspended" in radiusd.ok("subscriber", "suspend", "alice")
    assert radiusd.json("subscriber", "show", "alice")["status"] == "suspended"
    assert [s["username"] for s in radiusd.json("subscriber", "list", "--status", "suspended")] == ["alice"]
    assert [s["username"] for s in radiusd.json("subscriber", "list", "--plan", "gold")] == ["alice"]
    radiusd.ok("subscriber", "resume", "alice")
    assert radiusd.json("subscriber", "show", "alice")["status"] == "active"

    table = radiusd.ok("subscriber", "list")
    assert "alice" in table and "bob" in table
    assert "alice" in radiusd.ok("subscriber", "show", "alice")
    radiusd.ok("subscriber", "remove", "bob")
    assert [s["username"] for s in radiusd.json("subscriber", "list")] == ["alice"]
    radiusd.assert_no_secret(PASSWORD)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["subscriber", "add", "alice", "--password", "x"], "subscriber 'alice' already exists"),
        (["subscriber", "add", "carol", "--password", "x", "--plan", "platinum"], "unknown plan 'platinum'"),
        (["subscriber", "add", "carol", "--password", "x", "--static-ip", "100.64.0.300"], "100.64.0.300"),
        (["subscriber", "add", "carol", "--password", "x", "--static-ip", "100.64.0.10"], "100.64.0.10"),
        (["subscriber", "add", "carol", "--password", ""], "password must not be empty"),
        (["subscriber", "show", "zed"], "subscriber 'zed' does not exist"),
        (["subscriber", "suspend", "zed"], "subscriber 'zed' does not exist"),
        (["subscriber", "resume", "zed"], "subscriber 'zed' does not exist"),
        (["subscriber", "remove", "zed"], "subscriber 'zed' does not exist"),
    ],
)
def test_subscriber_errors_write_nothing(radiusd: Cli, args: list[str], message: str) -> None:
    radiusd.ok("subscriber", "add", "alice", "--password", PASSWORD, "--static-ip", "100.64.0.10")
    before = radiusd.json("subscriber", "list")
    assert message in radiusd.error(*args)
    assert radiusd.json("subscriber", "list") == before
    radiusd.assert_no_secret(PASSWORD)


# --- CSV import --------------------------------------------------------------------------------

GOOD_CSV = (
    "username,password,plan,pool,static_ip,status\n"
    f"alice,{PASSWORD},gold,,100.64.0.1,active\n"
    f"bob,{PASSWORD},,cgnat,,suspended\n"
    f"carol,{PASSWORD},gold,,,\n"
)


def test_import_file_and_stdin(radiusd: Cli, tmp_path: Path) -> None:
    radiusd.ok("plan", "add", "gold")
    radiusd.ok("pool", "add", "cgnat", "--range", "100.72.0.0/24")
    path = tmp_path / "subs.csv"
    path.write_text(GOOD_CSV)
    assert "imported 3 subscribers" in radiusd.ok("subscriber", "import", str(path))
    subs = {s["username"]: s for s in radiusd.json("subscriber", "list")}
    assert subs["alice"]["static_ip"] == "100.64.0.1" and subs["alice"]["plan"] == "gold"
    assert subs["bob"]["status"] == "suspended" and subs["bob"]["pool"] == "cgnat"
    assert subs["carol"]["status"] == "active"

    assert "imported 2 subscribers" in radiusd.ok(
        "subscriber", "import", "-", input=f"password,username\n{PASSWORD},dave\n{PASSWORD},erin\n"
    )
    assert len(radiusd.json("subscriber", "list")) == 5
    csv_text = f"username,password\nfay,{PASSWORD}\n"
    report = json.loads(radiusd.ok("subscriber", "import", "--json", "-", input=csv_text))
    assert report["imported"] == 1 and report["source"] == "stdin"
    assert "imported 1 subscriber from" in radiusd.ok(
        "subscriber", "import", "-", input=f"username,password\ngus,{PASSWORD}\n"
    )
    radiusd.assert_no_secret(PASSWORD)


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        (GOOD_CSV.replace("carol,", "carol,").replace(",gold,,,", ",platinum,,,"), "row 3: unknown plan"),
        (GOOD_CSV.replace("100.64.0.1", "100.64.0.999"), "row 1:"),
        (GOOD_CSV.replace("suspended", "frozen"), "row 2: status 'frozen'"),
        (GOOD_CSV.replace("cgnat", "nopool"), "row 2: pool 'nopool' does not exist"),
        (GOOD_CSV + f"alice,{PASSWORD},,,,\n", "row 4: username 'alice' repeats row 1"),
        (GOOD_CSV + f"zoe,{PASSWORD},,,100.64.0.1,\n", "row 4:"),
        (GOOD_CSV + f"old,{PASSWORD},,,,\n", "row 4:"),  # exists in the database already
        (GOOD_CSV + "frank\n", "row 4: expected 6 fields"),
        ("user,password\nalice,x\n", "unknown column 'user'"),
        ("", "empty file"),
        ("username,password\n", "no data rows"),
    ],
)
def test_bad_import_writes_nothing(radiusd: Cli, tmp_path: Path, csv_text: str, message: str) -> None:
    radiusd.ok("plan", "add", "gold")
    radiusd.ok("pool", "add", "cgnat", "--range", "100.72.0.0/24")
    radiusd.ok("subscriber", "add", "old", "--password", "x")
    before = radiusd.json("subscriber", "list")
    path = tmp_path / "subs.csv"
    path.write_text(csv_text)
    line = radiusd.error("subscriber", "import", str(path))
    assert message in line and str(path) in line
    assert radiusd.json("subscriber", "list") == before
    radiusd.assert_no_secret(PASSWORD)


def test_import_missing_file(radiusd: Cli, tmp_path: Path) -> None:
    assert "no-such.csv" in radiusd.error("subscriber", "import", str(tmp_path / "no-such.csv"))


def test_import_thousands_of_rows(radiusd: Cli, tmp_path: Path) -> None:
    radiusd.ok("plan", "add", "gold")
    rows = "".join(
        f"user{i:05d},pw-{i},gold,,100.{64 + i // 65536}.{i // 256 % 256}.{i % 256}\n" for i in range(5000)
    )
    path = tmp_path / "many.csv"
    path.write_text("username,password,plan,pool,static_ip\n" + rows)
    out = radiusd.ok("subscriber", "import", str(path))
    assert "imported 5000 subscribers" in out
    match = re.search(r"\((\d+)/s\)", out)
    assert match is not None, out
    rate = int(match.group(1))
    assert rate > 1000, out
    assert len(radiusd.json("subscriber", "list", "--plan", "gold")) == 5000


# --- demo --------------------------------------------------------------------------------------


def test_demo_seed_is_idempotent(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from radiusd.cli.context import run_store
    from radiusd.cli.demo import RADTEST_LINE, seed_demo

    for _ in range(2):
        run_store(seed_demo, url=db_url)
        assert capsys.readouterr().out == RADTEST_LINE + "\n"
    radiusd = Cli(db_url)
    nas = radiusd.json("nas", "list")
    assert [(n["address"], n["require_message_authenticator"]) for n in nas] == [("127.0.0.1", False)]
    plan = radiusd.json("plan", "show", "demo-10M")
    assert plan["rate_limit"] == "10M/10M" and plan["interim_interval"] == 300
    demo = radiusd.json("subscriber", "show", "demo")
    assert demo["plan"] == "demo-10M" and demo["status"] == "active"
    assert RADTEST_LINE == "radtest demo demo-password 127.0.0.1 0 testing123"


def test_plan_in_use_cannot_be_removed(radiusd: Cli) -> None:
    radiusd.ok("plan", "add", "gold")
    radiusd.ok("subscriber", "add", "alice", "--password", PASSWORD, "--plan", "gold")
    assert "gold" in radiusd.error("plan", "remove", "gold")
    assert [p["name"] for p in radiusd.json("plan", "list")] == ["gold"]
    radiusd.ok("subscriber", "set-plan", "alice", "--none")
    assert radiusd.json("subscriber", "show", "alice")["plan"] is None
    radiusd.ok("plan", "remove", "gold")


def test_set_plan_disable_and_credentials(radiusd: Cli) -> None:
    nt_hash = "8846F7EAEE8FB117AD06BDD830B7586C"
    radiusd.ok("plan", "add", "gold")
    radiusd.ok("subscriber", "add", "win", "--credential", f"nt:{nt_hash}")
    assert "gold" in radiusd.ok("subscriber", "set-plan", "win", "gold")
    assert radiusd.json("subscriber", "show", "win")["plan"] == "gold"
    assert "unknown plan 'silver'" in radiusd.error("subscriber", "set-plan", "win", "silver")
    assert radiusd.json("subscriber", "show", "win")["plan"] == "gold"
    radiusd.error("subscriber", "set-plan", "win", code=2)
    radiusd.ok("subscriber", "disable", "win")
    assert radiusd.json("subscriber", "show", "win")["status"] == "disabled"
    assert "credential" in radiusd.error("subscriber", "add", "bad", "--credential", "nt:zz")
    radiusd.error("subscriber", "add", "both", "--password", "x", "--credential", f"nt:{nt_hash}", code=2)
    radiusd.error("subscriber", "add", "neither", code=2)
    assert [s["username"] for s in radiusd.json("subscriber", "list")] == ["win"]
    radiusd.assert_no_secret(nt_hash, nt_hash.lower())


# --- secrets from standard input ---------------------------------------------------------------


def test_secrets_read_from_stdin_stay_off_the_command_line(radiusd: Cli) -> None:
    """A secret option given as '-' reads its value from standard input (one line each, in the
    order given), so it never shows in ps or shell history; an empty input is a usage error
    that writes nothing."""
    from radiusd.model.credentials import parse_credential
    from radiusd.policy.credentials import verify_pap
    from radiusd.store.engine import create_engine
    from radiusd.store.nas import get_nas
    from radiusd.store.subscribers import get_subscriber
    from tests.conftest import _run

    radiusd.ok("nas", "add", "core-1", "--address", "10.0.0.1", "--secret", "-", input=NAS_SECRET + "\n")
    radiusd.ok("subscriber", "add", "alice", "--password", "-", input=PASSWORD + "\r\n")
    radiusd.ok(
        "router", "add", "edge-9", "--address", "10.0.0.9", "--secret", "-", "--api-user", "admin",
        "--api-password", "-", input=f"{NAS_SECRET}9\n{PASSWORD}9\n",
    )  # fmt: skip

    async def stored() -> tuple[str, str, str, str | None]:
        engine = create_engine(radiusd.url)
        try:
            nas = await get_nas(engine, "core-1")
            router = await get_nas(engine, "edge-9")
            sub = await get_subscriber(engine, "alice")
            return nas.secret, sub.credential, router.secret, router.api_password
        finally:
            await engine.dispose()

    nas_secret, credential, router_secret, api_password = _run(stored())
    assert nas_secret == NAS_SECRET and router_secret == NAS_SECRET + "9"
    assert verify_pap(parse_credential(credential), PASSWORD.encode()).ok
    assert api_password == PASSWORD + "9"

    message = radiusd.error(
        "nas", "add", "core-2", "--address", "10.0.0.2", "--secret", "-", input="", code=2
    )
    assert "standard input is empty" in message
    assert "empty" in radiusd.error("subscriber", "add", "bob", "--password", "-", input="\n", code=2)
    assert [n["name"] for n in radiusd.json("nas", "list")] == ["core-1", "edge-9"]
    assert [s["username"] for s in radiusd.json("subscriber", "list")] == ["alice"]
    radiusd.assert_no_secret(NAS_SECRET, PASSWORD)
