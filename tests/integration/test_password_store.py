"""What is kept of a subscriber's password: the ``password_store`` setting and
``subscriber add --store``; the methods each form serves, and the log line of a refused one."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import structlog
from click.testing import CliRunner, Result

from radiusd.cli.main import cli
from radiusd.codec.codes import Code
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.mschap import nt_password_hash
from radiusd.codec.packet import Packet, encode_request
from radiusd.logs import configure_logging
from radiusd.model.request import NasClient
from radiusd.policy.access import AccessPolicy
from radiusd.policy.directory import Directory
from radiusd.server import dispatcher as dispatcher_module
from radiusd.server.dedupe import DedupeCache
from radiusd.server.dispatcher import Dispatcher
from radiusd.server.nas import NasRegistry
from radiusd.store.engine import create_engine
from radiusd.store.snapshot import load_subscribers

PASSWORD = "Store-Mode-Pw-42"
SECRET = b"store-mode-secret-0123"


def _run(url: str, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--database", url, *args], input=input, env=env)


def _stored(url: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.text("SELECT username, credential FROM subscribers"))
                return {name: cred for name, cred in rows}
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("RADIUSD_PASSWORD_STORE", raising=False)
    return f"sqlite:///{tmp_path / 'r.sqlite3'}"


def test_store_option_and_setting_decide_what_is_kept(url: str) -> None:
    assert _run(url, "subscriber", "add", "clear", "--password", PASSWORD).exit_code == 0
    assert (
        _run(
            url, "subscriber", "add", "nt", "--password", "-", "--store", "nt", input=PASSWORD + "\n"
        ).exit_code
        == 0
    )
    assert (
        _run(url, "subscriber", "add", "hashed", "--password", PASSWORD, "--store", "hashed").exit_code == 0
    )
    by_setting = _run(
        url, "subscriber", "add", "env", "--password", PASSWORD, env={"RADIUSD_PASSWORD_STORE": "nt"}
    )
    assert by_setting.exit_code == 0

    stored = _stored(url)
    assert stored["clear"] == "cleartext:" + PASSWORD
    assert stored["nt"].startswith("nt:") and stored["env"] == stored["nt"]
    assert stored["hashed"].startswith("$pbkdf2-sha256$")
    assert all(PASSWORD not in stored[name] for name in ("nt", "env", "hashed"))

    listed = json.loads(_run(url, "subscriber", "list", "--json").stdout)
    assert {s["username"]: s["password_store"] for s in listed} == {
        "clear": "cleartext",
        "env": "nt",
        "hashed": "hashed",
        "nt": "nt",
    }
    shown = json.loads(_run(url, "subscriber", "show", "nt", "--json").stdout)
    assert shown["password_store"] == "nt" and "credential" not in shown
    table = _run(url, "subscriber", "list")
    assert "hashed" in table.stdout and PASSWORD not in table.output


def test_bad_store_choices_are_one_line(url: str) -> None:
    bad = _run(url, "subscriber", "add", "x", "--password", PASSWORD, "--store", "md5")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    both = _run(url, "subscriber", "add", "x", "--credential", "nt:" + "00" * 16, "--store", "nt")
    assert both.exit_code == 2 and "--store applies to --password" in both.stderr
    env = _run(url, "subscriber", "add", "x", "--password", PASSWORD, env={"RADIUSD_PASSWORD_STORE": "md5"})
    assert env.exit_code != 0 and "password_store" in env.stderr and len(env.stderr.strip().splitlines()) == 1


def test_credential_takes_dash_from_stdin(url: str) -> None:
    nt = nt_password_hash(PASSWORD).hex()
    result = _run(url, "subscriber", "add", "carol", "--credential", "-", input=f"nt:{nt}\n")
    assert result.exit_code == 0, result.output
    assert nt not in result.output and _stored(url)["carol"] == f"nt:{nt}"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    before = structlog.get_config()
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    # no caching: a module logger first used here would keep writing to ``out`` after the test
    # (and escape the structlog.testing.capture_logs of later tests in the same process)
    structlog.configure(cache_logger_on_first_use=False)
    yield out
    structlog.configure(**before)


def test_chap_against_an_nt_hash_is_rejected_with_the_reason_in_the_log(
    url: str, json_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(url, "subscriber", "add", "ntonly", "--password", PASSWORD, "--store", "nt").exit_code == 0

    async def load() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await load_subscribers(conn)
        finally:
            await engine.dispose()

    monkeypatch.setattr(dispatcher_module, "log", structlog.get_logger("radiusd.server"))
    dictionary = default_dictionary()
    directory = Directory(dictionary)
    directory.set_subscribers(asyncio.run(load()).values())
    nas = NasClient(1, "edge", "127.0.0.1", SECRET)
    dispatcher = Dispatcher(
        registry=NasRegistry([nas]),
        handlers={Code.ACCESS_REQUEST: AccessPolicy(directory, dictionary)},
        dictionary=dictionary,
        dedupe=DedupeCache(30.0, 100),
        reject_delay=0.0,
    )
    p = Packet(Code.ACCESS_REQUEST, 9, os.urandom(16), dictionary=dictionary)
    p.add("User-Name", "ntonly")
    challenge = os.urandom(16)
    p.add_raw(60, challenge)
    p.add_raw(3, bytes([7]) + hashlib.md5(bytes([7]) + PASSWORD.encode() + challenge).digest())
    sent: list[bytes] = []
    dispatcher.datagram_received(
        encode_request(p, SECRET, message_auth=True), ("127.0.0.1", 5000), lambda d, a: sent.append(d)
    )
    assert len(sent) == 1 and sent[0][0] == Code.ACCESS_REJECT
    events = [json.loads(line) for line in json_log.getvalue().splitlines()]
    (rejected,) = [e for e in events if e["event"] == "auth.reject"]
    assert rejected["user"] == "ntonly"
    assert rejected["reason"] == "CHAP: stored credential is an NT hash: CHAP needs the cleartext password"


def test_credential_above_the_cost_ceiling_is_one_line(url: str) -> None:
    stored = "$6$rounds=999999999$saltsalt$" + "a" * 86
    result = _run(url, "subscriber", "add", "slow", "--credential", "-", input=stored + "\n")
    assert result.exit_code == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "999999999 rounds, above the limit" in line and "saltsalt" not in line
