"""Run the admin API inside the daemon's event loop: ``uvicorn.Server.serve()`` as a task.

uvicorn's own signal handlers are disabled (the daemon owns SIGTERM/SIGINT/SIGHUP) and its
access log is off: request lines would carry query strings, and the Authorization header must
never reach a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import TYPE_CHECKING

import uvicorn

from radiusd.config import ConfigError
from radiusd.logs import get_logger

from .app import create_app
from .guard import guarded_protocol

if TYPE_CHECKING:
    from .state import LiveState

log = get_logger("radiusd.api")


def parse_bind(value: str) -> tuple[str, int]:
    """``ADDR:PORT`` or ``[V6ADDR]:PORT`` -> (address, port); ValueError when malformed."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"api_bind {value!r} is not ADDR:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


#: open connections beyond which the API answers 503 at once (uvicorn's limit_concurrency)
MAX_CONNECTIONS = 256


class TlsError(ConfigError):
    """The API's certificate or key cannot be read or do not match."""


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the daemon handles signals
        return None


class ApiServer:
    """The admin API bound to ``bind`` ("ADDR:PORT"), started and stopped with the daemon.

    HTTPS when the settings name a certificate and key (``api_tls_cert``, ``api_tls_key``);
    request heads must arrive within ``api_header_timeout`` seconds (radiusd.api.guard).
    """

    def __init__(self, state: LiveState, bind: str) -> None:
        self.host, self.port = parse_bind(bind)
        s = state.settings
        self.tls = bool(s.api_tls_cert and s.api_tls_key)
        self.app = create_app(state)
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            loop="none",
            lifespan="off",
            http=guarded_protocol(s.api_header_timeout),
            access_log=False,
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=5,
            limit_concurrency=MAX_CONNECTIONS,
            ssl_certfile=s.api_tls_cert or None,
            ssl_keyfile=s.api_tls_key or None,
        )
        if self.tls:
            try:
                config.load()  # reads the certificate and key now: a bad file stops the start
            except (OSError, ssl.SSLError) as exc:
                raise TlsError(f"cannot use api_tls_cert/api_tls_key: {exc}") from None
        self.server = _Server(config)
        self.task: asyncio.Task[None] | None = None
        self.bound: tuple[str, int] | None = None

    async def start(self) -> tuple[str, int]:
        """Bind (errors surface here, before the daemon reports ready) and serve in a task."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        name = sock.getsockname()
        self.bound = (name[0], name[1])
        self.task = asyncio.get_running_loop().create_task(self.server.serve([sock]), name="radiusd-api")
        while not self.server.started and not self.task.done():  # noqa: ASYNC110  (uvicorn sets a flag, no event)
            await asyncio.sleep(0.01)
        if self.task.done():
            self.task.result()  # raises what stopped it
        scheme = "https" if self.tls else "http"
        log.info("api.ready", bind=f"{self.bound[0]}:{self.bound[1]}", scheme=scheme, docs="/docs")
        return self.bound

    async def stop(self) -> None:
        if self.task is None:
            return
        self.app.state.jobs.cancel_all()  # disconnects still waiting for a NAS
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 5.0)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.task = None
