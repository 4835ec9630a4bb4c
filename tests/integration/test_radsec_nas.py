"""RadSec clients in the NAS list: ``nas add/set --radsec-fingerprint/--radsec-subject`` and the
``/nas`` API fields, on SQLite and PostgreSQL. A RadSec client needs a certificate identity, a
certificate names at most one NAS, bad values are one-line errors that change nothing."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.cli.main import cli
from radiusd.daemon import Daemon
from radiusd.store import nas
from radiusd.store.errors import Conflict, InvalidInput
from tests.integration import test_api_app as base
from tests.integration.test_api_app import auth

# the seeded daemon of test_api_app and its API client
daemon = base.daemon
tokens = base.tokens
client = base.client

FP = hashlib.sha256(b"pop1 certificate").hexdigest()
FP2 = hashlib.sha256(b"pop2 certificate").hexdigest()
SECRET = "coa-Secr3t-for-pop-1"


async def test_store_radsec_fields(store_engine: AsyncEngine) -> None:
    colons = ":".join(FP[i : i + 2] for i in range(0, 64, 2)).upper()
    rec = await nas.add_nas(store_engine, "pop1", "192.0.2.1", SECRET, radsec=True, radsec_fingerprint=colons)
    assert (rec.radsec, rec.radsec_fingerprint, rec.radsec_subject) == (True, FP, None)
    plain = await nas.add_nas(store_engine, "edge", "192.0.2.2", SECRET)
    assert not plain.radsec and plain.to_json()["radsec_fingerprint"] is None
    with pytest.raises(Conflict, match="already belongs to NAS 'pop1'"):
        await nas.add_nas(store_engine, "pop9", "192.0.2.9", SECRET, radsec=True, radsec_fingerprint=FP)
    with pytest.raises(InvalidInput, match="needs --radsec-fingerprint or --radsec-subject"):
        await nas.add_nas(store_engine, "pop9", "192.0.2.9", SECRET, radsec=True)
    with pytest.raises(Conflict, match="already belongs to NAS 'pop1'"):
        await nas.update_nas(store_engine, "edge", radsec=True, radsec_fingerprint=FP)
    rec = await nas.update_nas(store_engine, "pop1", radsec_subject="CN=pop1.example.net")
    assert (rec.radsec_fingerprint, rec.radsec_subject) == (FP, "CN=pop1.example.net")
    rec = await nas.update_nas(store_engine, "pop1", radsec_fingerprint=None)
    assert rec.radsec and rec.radsec_fingerprint is None
    with pytest.raises(InvalidInput, match="needs"):  # the last identity of a RadSec client
        await nas.update_nas(store_engine, "pop1", radsec_subject="")
    rec = await nas.update_nas(store_engine, "pop1", radsec=False)
    assert not rec.radsec and rec.radsec_subject == "CN=pop1.example.net"
    assert [r.name for r in await nas.list_nas(store_engine) if r.radsec] == []


def _run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database", url, *args])


def test_cli_radsec_options(db_url: str, migrated_db: None) -> None:
    added = _run(db_url, "nas", "add", "pop1", "--address", "192.0.2.1", "--secret", SECRET,
                 "--radsec-fingerprint", FP, "--json")  # fmt: skip
    assert added.exit_code == 0, added.output
    data = json.loads(added.stdout)
    assert (data["radsec"], data["radsec_fingerprint"]) == (True, FP)
    assert "secret" not in data
    text = _run(db_url, "nas", "add", "pop2", "--address", "192.0.2.2", "--secret", SECRET,
                "--radsec-subject", "pop2.example.net")  # fmt: skip
    assert text.exit_code == 0 and "RadSec client: TLS only" in text.stdout
    bad = _run(db_url, "nas", "add", "pop3", "--address", "192.0.2.3", "--secret", SECRET,
               "--radsec-fingerprint", "12:34")  # fmt: skip
    assert bad.exit_code != 0 and "expected a SHA-256" in bad.stderr and "Traceback" not in bad.output
    assert SECRET not in bad.output
    clash = _run(db_url, "nas", "set", "pop2", "--radsec-fingerprint", FP)
    assert clash.exit_code != 0 and "already belongs to NAS 'pop1'" in clash.stderr
    moved = _run(db_url, "nas", "set", "pop2", "--radsec-fingerprint", FP2, "--json")
    assert moved.exit_code == 0 and json.loads(moved.stdout)["radsec_fingerprint"] == FP2
    back = _run(db_url, "nas", "set", "pop2", "--no-radsec", "--json")
    assert back.exit_code == 0 and json.loads(back.stdout)["radsec"] is False
    shown = json.loads(_run(db_url, "nas", "list", "--json").stdout)
    assert {r["name"]: r["radsec"] for r in shown} == {"pop1": True, "pop2": False}
    assert _run(db_url, "nas", "add", "pop4", "--address", "192.0.2.4", "--secret", SECRET).exit_code == 0


async def test_api_radsec_fields(client: httpx.AsyncClient, tokens: dict[str, str], daemon: Daemon) -> None:
    h = auth(tokens["admin"])
    body = {
        "name": "pop1",
        "address": "192.0.2.71",
        "secret": SECRET,
        "radsec": True,
        "radsec_fingerprint": FP,
    }
    created = await client.post("/nas", json=body, headers=h)
    assert created.status_code == 201, created.text
    assert created.json()["radsec_fingerprint"] == FP and SECRET not in created.text
    assert (await client.post("/nas", json=body, headers=h)).status_code == 200, "identical: idempotent"
    bad = await client.patch("/nas/pop1", json={"radsec_fingerprint": "nope"}, headers=h)
    assert bad.status_code == 422 and "SHA-256" in bad.text
    change = {"radsec_subject": "CN=pop1", "radsec_fingerprint": None}
    cleared = await client.patch("/nas/pop1", json=change, headers=h)
    assert cleared.status_code == 200 and cleared.json()["radsec_fingerprint"] is None
    await daemon.apply_changes()  # the running daemon maps the certificate subject to the NAS
    found = daemon.registry.by_certificate(FP2, [frozenset({("cn", "pop1")})])
    assert found is not None and found.name == "pop1"
    assert (await client.delete("/nas/pop1", headers=h)).status_code == 204


def test_serve_names_a_taken_radsec_port(tmp_path: Path) -> None:
    """``serve`` with the RadSec port held by another program: one line, exit 1, no traceback."""
    from .conftest import radiusd_script

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")}
        env |= {
            "RADIUSD_RADSEC": "true", "RADIUSD_RADSEC_PORT": str(port), "RADIUSD_RADSEC_CERT": "c.pem",
            "RADIUSD_RADSEC_KEY": "k.pem", "RADIUSD_RADSEC_CA": "ca.pem", "RADIUSD_DATA_DIR": str(tmp_path),
        }  # fmt: skip
        done = subprocess.run(
            [radiusd_script(), "serve", "--bind", "127.0.0.1", "--auth-port", "0", "--acct-port", "0"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"another program is listening on 127.0.0.1:{port}/tcp" in done.stderr
    assert "radsec_port" in done.stderr and "Traceback" not in done.stderr
