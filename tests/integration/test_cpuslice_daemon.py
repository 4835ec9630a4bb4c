"""``radiusd serve`` asks the kernel for a short CPU slice (``sched_slice_us``, default 100 µs)
before any thread starts, so every thread of the daemon (event loop, database and hash
threads) has it; ``sched_slice_us = 0`` leaves the kernel's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import DaemonProcess
from tests.unit.test_cpuslice import kernel_takes_custom_slices


def thread_slices(pid: int) -> dict[str, int]:
    """se.slice (ns) of each thread, from /proc/PID/task/TID/sched."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "sched").read_text().splitlines():
            if line.startswith("se.slice"):
                out[task.name] = int(line.split(":")[1])
    return out


@pytest.mark.parametrize("setting", [None, "0"])
def test_every_daemon_thread_has_the_slice(
    daemon_factory: Callable[..., DaemonProcess], tmp_path: Path, setting: str | None
) -> None:
    url = f"sqlite+aiosqlite:///{(tmp_path / 'radiusd.sqlite3').as_posix()}"
    d = daemon_factory(url, env={"RADIUSD_SCHED_SLICE_US": setting})
    assert d.proc is not None
    slices = thread_slices(d.proc.pid)
    assert len(slices) >= 2  # the loop and at least the database's thread
    if setting == "0" or not kernel_takes_custom_slices():
        assert 100_000 not in slices.values()
    else:
        assert set(slices.values()) == {100_000}, slices
