"""The wheel, installed in a fresh venv outside the source tree, serves a login.

Catches files read at run time (dictionaries, migrations) that the wheel does not carry. The
venv sees this interpreter's packages (``--system-site-packages``) and gets the wheel with
``--no-deps``, so the test exercises the wheel's contents; ``.ci/run`` also installs it with its
pinned dependencies in a venv of its own (scripts/wheel-smoke.sh).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("RADIUSD_")}
    argv = [str(a) for a in args]
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_wheel_installed_outside_the_source_tree_serves_a_login(tmp_path: Path) -> None:
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, ROOT, cwd=tmp_path)
    (wheel,) = dist.glob("radiusd-*.whl")
    run(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", wheel, cwd=work)

    probe = "import radiusd, radiusd.codec.dictionary as d\n"
    probe += "print(radiusd.__file__, d.default_dictionary_path())"
    where = run(python, "-c", probe, cwd=work).split()
    assert all(Path(p).is_relative_to(venv) for p in where), where
    # the codec's C extension is built into the wheel where a compiler is at hand (CI has one)
    probe = "import radiusd.codec.scanning as s, radiusd.codec._speedups as c\n"
    probe += "print(s.IMPLEMENTATION, c.__file__)"
    if os.environ.get("CI") == "true" or shutil.which("gcc"):
        implementation, module = run(python, "-c", probe, cwd=work).split()
        assert implementation == "c" and Path(module).is_relative_to(venv), (implementation, module)
    # the web console's templates and static files are package data
    probe = "import radiusd.web.render as r\n"
    probe += "names = r._env.list_templates()\n"
    probe += "print(r.__file__, len(names), 'login.html' in names, r.static('console.css').status_code)"
    module, count, login, status = run(python, "-c", probe, cwd=work).split()
    assert Path(module).is_relative_to(venv) and int(count) >= 10 and login == "True" and status == "200"
    smoke = ROOT / "scripts" / "serve_login.py"
    radiusd = venv / "bin" / "radiusd"
    out = run(sys.executable, smoke, "--radiusd", radiusd, "--workdir", work / "run", cwd=work)
    assert "answered Access-Accept" in out and "stopped cleanly" in out
