"""The operator pages of docs/ run as written: every ``sh`` block, in page order, in one shell.

The pages build on each other as an operator would follow them: a PostgreSQL role and database
(on a server of the test's own, authenticating as Debian's does), an install under /opt with a
systemd service that answers radtest, NAS entries and pools, a backup and restore, a debug
session with ``-X``, and the Compose workflow. What the test changes so that it can run them
here, and nothing else:

- paths the pages name under /etc, /opt, /var, /usr/local and /tmp are moved into a scratch
  folder, and the PostgreSQL URL and the RADIUS/API ports to the test's own;
- ``apt-get``, ``useradd``, ``chown``, ``systemctl``, ``journalctl``, ``docker`` and
  ``runuser -u radiusd`` are stand-ins (tests/integration/doc_shims/, which say what each
  checks); ``systemctl`` starts the unit's real ExecStart, ``docker compose exec radiusd`` runs
  the real command, ``runuser -u postgres`` is the real one.
Router configuration blocks (RouterOS, IOS, EdgeOS) cannot run here: they are checked to use the
secret, server address and ports of the radiusd side on the same page.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.conftest import require_tool, unavailable
from tests.integration.pgserver import Server, free_port, production_like_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
SHIMS = Path(__file__).resolve().parent / "doc_shims"
#: the pages, in the order an operator follows them (later pages use what earlier ones set up)
PAGES = [
    "postgresql.md",
    "install-debian.md",
    "nas-examples.md",
    "pools-ipv6.md",
    "troubleshooting.md",
    "backup-upgrade.md",
    "docker.md",
]
#: folders the source tree must hold for ``pip install .`` and the pages' relative paths
SOURCE = ["radiusd", "ipam", "inventory", "dictionaries", "config", "pyproject.toml", "setup.py",
          "MANIFEST.in", "README.md", "constraints.txt", "compose.yaml", "Dockerfile"]  # fmt: skip
MOVED = ["/usr/local/bin/radiusd", "/etc/systemd/system", "/etc/radiusd", "/opt/radiusd",
         "/var/lib/radiusd", "/var/backups/radiusd", "/tmp/radiusd-debug.log"]  # fmt: skip
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(page: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall((DOCS / page).read_text()) if lang == language]


@dataclass
class Sandbox:
    """The scratch machine the pages run on, and how their text is moved onto it."""

    root: Path
    pg: Server
    auth_port: int = field(default_factory=free_port)
    acct_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    pages_run: list[str] = field(default_factory=list)

    @property
    def mapping(self) -> list[tuple[str, str]]:
        moved = [(path, f"{self.root}{path}") for path in MOVED]
        return [
            *moved,
            ("@127.0.0.1/", f"@127.0.0.1:{self.pg.port}/"),
            (" 127.0.0.1 0 ", f" 127.0.0.1:{self.auth_port} 0 "),  # radtest
            (" 127.0.0.1 auth ", f" 127.0.0.1:{self.auth_port} auth "),  # radclient
            ("127.0.0.1:8080", f"127.0.0.1:{self.api_port}"),
        ]

    def run(self, page: str) -> subprocess.CompletedProcess[str]:
        script = "set -euo pipefail\n" + "\n".join(blocks(page, "sh"))
        for old, new in self.mapping:
            script = script.replace(old, new)
        env = dict(self.env)
        config = Path(f"{self.root}/etc/radiusd/radiusd.toml")
        if config.exists():  # found at /etc/radiusd/radiusd.toml on a real machine
            env["RADIUSD_CONFIG"] = str(config)
        return subprocess.run(["bash", "-c", script], cwd=self.root / "src", env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    for tool in ("radtest", "sqlite3", "pg_dump", "systemd-analyze", "apt-cache"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (needed to run the operator docs)")
    require_tool("radtest")
    root = tmp_path_factory.mktemp("docroot")
    for sub in ("etc/systemd/system", "usr/local/bin", "tmp", "var/lib", "var/backups", "state", "shims"):
        (root / sub).mkdir(parents=True)
    for name in SOURCE:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(
                src, root / "src" / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            (root / "src").mkdir(exist_ok=True)
            shutil.copy2(src, root / "src" / name)
    for shim in SHIMS.iterdir():
        if shim.name != "README.md":
            shutil.copy2(shim, root / "shims" / shim.name)
    with production_like_server() as pg:
        box = Sandbox(root, pg)
        state = root / "state"
        box.env = {
            # the pages' own settings only, and this tree's code for every `radiusd`, the one
            # installed under /opt included (its files are checked with `python -I`)
            **{k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")},
            "PYTHONPATH": str(REPO),
            "PATH": f"{root}/shims:{root}/usr/local/bin:{os.environ['PATH']}",
            "PGHOST": str(pg.data),
            "PGPORT": str(pg.port),
            "DOC_STATE": str(state),
            "DOC_CALLS": str(state / "calls.log"),
            "DOC_UNIT_DIR": f"{root}/etc/systemd/system",
            "DOC_MAP": json.dumps(box.mapping),
            "DOC_DOCKER_DATABASE_URL": f"postgresql+asyncpg://radiusd:change-me@127.0.0.1:{pg.port}/radiusd_compose",
            "RADIUSD_BIND": "127.0.0.1",
            "RADIUSD_AUTH_PORT": str(box.auth_port),
            "RADIUSD_ACCT_PORT": str(box.acct_port),
            "RADIUSD_API_BIND": f"127.0.0.1:{box.api_port}",
            "RADIUSD_DATA_DIR": f"{root}/var/lib/radiusd",
            "RADIUSD_LOG_FORMAT": "json",
        }
        try:
            yield box
        finally:
            pid = state / "radiusd.pid"
            if pid.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid.read_text()), signal.SIGTERM)


def run_earlier_pages(sandbox: Sandbox, page: str) -> None:
    """The pages before ``page`` that have not run yet (each builds on them), so one test runs alone."""
    for earlier in PAGES[: PAGES.index(page)]:
        if earlier not in sandbox.pages_run:
            run_page(sandbox, earlier)


def run_page(sandbox: Sandbox, page: str) -> str:
    run_earlier_pages(sandbox, page)
    done = sandbox.run(page)
    sandbox.pages_run.append(page)
    output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{page} failed (exit {done.returncode}):\n{output}"
    return done.stdout


def calls(sandbox: Sandbox) -> str:
    path = sandbox.root / "state" / "calls.log"
    return path.read_text() if path.exists() else ""


def test_postgresql_page_creates_role_database_and_schema(sandbox: Sandbox) -> None:
    out = run_page(sandbox, "postgresql.md")
    assert "core-bng" in out and "mikrotik" in out  # the NAS row read back with psql


def test_install_page_serves_a_login_under_the_systemd_unit(sandbox: Sandbox) -> None:
    out = run_page(sandbox, "install-debian.md")
    assert "Access-Accept" in out
    assert "active (running)" in out
    assert os.path.islink(f"{sandbox.root}/usr/local/bin/radiusd")
    assert (sandbox.root / "opt/radiusd/bin/radiusd").exists()
    assert oct((sandbox.root / "var/lib/radiusd").stat().st_mode & 0o777) == "0o700"
    log = calls(sandbox)
    assert "systemctl enable --now radiusd" in log and "systemctl reload radiusd" in log
    assert "useradd --system" in log


def test_nas_page_commands_and_router_blocks_agree(sandbox: Sandbox) -> None:
    out = run_page(sandbox, "nas-examples.md")
    for name in ("mt-bng1", "asr-bng1", "edge1"):
        assert name in out
    sh = "\n".join(blocks("nas-examples.md", "sh"))
    secret = re.search(r"--secret '([^']+)'", sh)
    assert secret is not None
    for language in ("routeros", "cisco", "edgeos"):
        (router,) = blocks("nas-examples.md", language)
        assert secret.group(1) in router, f"the {language} block uses another secret"
        assert "192.0.2.10" in router, f"the {language} block points at another server"
    (routeros,) = blocks("nas-examples.md", "routeros")
    assert "authentication-port=1812" in routeros and "accounting-port=1813" in routeros
    assert "--coa-port 3799" in sh and "port=3799" in routeros
    (cisco,) = blocks("nas-examples.md", "cisco")
    assert "--coa-port 1700" in sh and "port 1700" in cisco


def test_pools_page_builds_dual_stack_pools(sandbox: Sandbox) -> None:
    out = run_page(sandbox, "pools-ipv6.md")
    for pool in ("cgnat", "public", "v6-wan", "v6-pd", "dualstack"):
        assert pool in out
    assert "100.64.1.10" in out  # the reservation appears in the pool's history


def test_troubleshooting_page_shows_the_causes(sandbox: Sandbox) -> None:
    out = run_page(sandbox, "troubleshooting.md")
    assert "reject: PAP: wrong password" in out
    assert "bad-message-authenticator" in out
    daemon_output = (sandbox.root / "tmp/radiusd-debug.log").read_text()
    daemon_output += (sandbox.root / "state/radiusd.log").read_text()
    assert "reject: PAP: wrong password" in daemon_output
    for secret in ("wrong-password", "alice-password", "a-long-random-secret-0123"):  # radtest shows them
        assert secret not in daemon_output, f"the daemon printed {secret!r}"
    assert re.search(r'radiusd_requests_total\{[^}]*result="reject"[^}]*\} [1-9]', out), out


def test_backup_page_restores_postgresql_and_sqlite(sandbox: Sandbox) -> None:
    out = run_page(sandbox, "backup-upgrade.md")
    assert "core-bng" in out  # the NAS of the PostgreSQL page, read from the restored copy
    assert "alice" in out  # the subscriber of the install page, read from the SQLite backup
    backup = sandbox.root / "var/backups/radiusd"
    assert oct(backup.stat().st_mode & 0o777) == "0o700"
    assert oct((backup / "radiusd.sqlite3").stat().st_mode & 0o777) == "0o600"
    assert "systemctl restart radiusd" in calls(sandbox)


def test_docker_page_commands_run_against_the_compose_database(sandbox: Sandbox) -> None:
    # the compose file's PostgreSQL service would come with its database; here it is made
    run_earlier_pages(sandbox, "docker.md")  # the radiusd role
    createdb = ["/usr/sbin/runuser", "-u", "postgres", "--", "createdb", "--owner=radiusd", "radiusd_compose"]
    done = subprocess.run(createdb, env=sandbox.env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    out = run_page(sandbox, "docker.md")
    assert "core-bng" in out
    import yaml  # PyYAML: only this test reads YAML

    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    service = compose["services"]["radiusd"]
    from radiusd.config import Settings

    known = {f"RADIUSD_{name.upper()}" for name in Settings.__dataclass_fields__}
    assert set(service["environment"]) <= known
    assert {"1812:1812/udp", "1813:1813/udp"} <= set(service["ports"])
