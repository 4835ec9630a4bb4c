"""Runs snmpsim's command responder (PyPI ``snmpsim``) on 127.0.0.1 over tests/data/snmprec.

Each ``NAME.snmprec`` recording answers to community ``NAME``. Started as a subprocess of this
module (``python -m tests.integration.snmpsim_agent ARGS``): snmpsim refuses to run as root
unless it drops to another user, and once dropped the interpreter of this machine (under
/root) can no longer load the modules snmpsim imports lazily, so here it keeps the user it was
started as. It only reads the recordings and answers on a loopback port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "snmprec"


def available() -> str | None:
    """Why snmpsim cannot run here (None: it can)."""
    try:
        import snmpsim.commands.responder  # noqa: F401
    except ImportError as exc:
        return f"snmpsim is not installed ({exc})"
    return None


class _KeepUser:
    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SnmpSim:
    """``with SnmpSim() as sim: sim.port``: the responder, stopped and its cache removed after."""

    def __init__(self) -> None:
        self.port = _free_udp_port()
        self.cache = Path(tempfile.mkdtemp(prefix="radiusd-snmpsim-"))
        self.log = self.cache / "responder.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SnmpSim:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.integration.snmpsim_agent",
                    f"--data-dir={RECORDINGS}",
                    f"--cache-dir={self.cache}",
                    f"--agent-udpv4-endpoint=127.0.0.1:{self.port}",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while b"Listening at" not in self.log.read_bytes() and b"istening" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = self.log.read_text(errors="replace")[-1500:]
                self.__exit__(None, None, None)
                raise RuntimeError(f"snmpsim did not start: {text}")
            time.sleep(0.1)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.cache, ignore_errors=True)


def main() -> int:
    import snmpsim.daemon
    from snmpsim.commands import responder

    snmpsim.daemon.PrivilegesOf = _KeepUser
    with contextlib.suppress(KeyboardInterrupt):
        return int(responder.main() or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
