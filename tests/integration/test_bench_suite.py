"""``bench/suite.py --quick`` end to end on SQLite with a tiny request count: the daemon is
seeded and served as users run it, every workload is driven, and the Markdown table and the
PNG chart are written with numbers in them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ("PAP logins", "logins + pool allocation", "accounting Start/Interim/Stop", "whole sessions")


@pytest.mark.slow
def test_quick_suite_on_sqlite(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "bench" / "suite.py"), "--quick", "--backends", "sqlite"]
    cmd += ["--requests", "120", "--concurrency", "32", "--output", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]

    text = (tmp_path / "suite.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| radiusd SQLite |")]
    main = [r for r in rows if any(f"| {w}" in r for w in WORKLOADS)]
    assert len(main) == 4, text
    for row in main:
        cells = [c.strip() for c in row.strip("|").split("|")]
        requests, rate, p50, p95, p99, server_us = cells[2:8]
        assert int(requests.replace(",", "")) > 0
        assert float(rate.replace(",", "")) > 0
        assert 0 < float(p50) <= float(p95) <= float(p99)
        assert float(server_us) > 0
        assert cells[8] == "n/a"  # SQLite: no database server
        assert cells[12:14] == ["0", "0"], row  # no timeouts, no rejects
    assert re.search(r"load average at the end \d+\.\d", text)
    for kind in ("access", "accounting_start", "accounting_interim", "accounting_stop"):
        assert f"| radiusd SQLite | {kind} |" in text

    png = (tmp_path / "suite.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
