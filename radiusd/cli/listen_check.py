"""Check, before ``radiusd serve`` starts, that it can listen where it is told to.

Each RADIUS address/port pair (UDP), RadSec's and the admin API's (TCP) is bound once and
released. A
failure becomes one line that names the address, the port and what to do, instead of the
traceback the daemon's start-up would print half-way through. Port 0 (any free port) is not
checked. The daemon still binds for real afterwards; this only makes the common mistakes
(a FreeRADIUS still running, an address of another host, a port below 1024 without the
privilege) read well.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from radiusd.config import Settings


@dataclass(frozen=True)
class Endpoint:
    """One place to listen: ``host``, ``port``, ``udp`` or ``tcp``, and the option that sets it."""

    host: str
    port: int
    proto: str
    option: str
    what: str

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}/{self.proto}"


def endpoints(settings: Settings) -> list[Endpoint]:
    """Where ``settings`` make the daemon listen (ports given as 0 left out)."""
    found = []
    for host in settings.bind:
        if settings.auth_port:
            found.append(Endpoint(host, settings.auth_port, "udp", "--auth-port", "RADIUS server"))
        if settings.acct_port:
            found.append(Endpoint(host, settings.acct_port, "udp", "--acct-port", "RADIUS server"))
    if settings.radsec and settings.radsec_port:
        for host in settings.radsec_bind or settings.bind:
            found.append(Endpoint(host, settings.radsec_port, "tcp", "radsec_port", "RadSec server"))
    if settings.api_bind:
        host, _, port = settings.api_bind.rpartition(":")
        host = host[1:-1] if host.startswith("[") else host
        if int(port):
            found.append(Endpoint(host, int(port), "tcp", "--api-bind", "program"))
    return found


def problem(endpoint: Endpoint, exc: OSError) -> str:
    """The one-line explanation of why ``endpoint`` cannot be bound."""
    if exc.errno == errno.EADDRINUSE:
        if endpoint.proto == "udp":
            return (
                f"another RADIUS server (FreeRADIUS?) is listening on {endpoint}; "
                f"stop it or use {endpoint.option}"
            )
        return f"another program is listening on {endpoint}; stop it or choose another {endpoint.option}"
    if exc.errno == errno.EADDRNOTAVAIL:
        option = "--bind" if endpoint.proto == "udp" else endpoint.option
        return (
            f"cannot listen on {endpoint}: {endpoint.host} is not an address of this host; "
            f"use {option} with one of its addresses (see 'ip -brief address')"
        )
    if exc.errno == errno.EACCES:
        return (
            f"no permission to listen on {endpoint} (ports below 1024 need root or "
            f"CAP_NET_BIND_SERVICE); run it with that privilege or use {endpoint.option} above 1023"
        )
    return f"cannot listen on {endpoint}: {exc.strerror or exc}"


def check_listen(settings: Settings) -> str | None:
    """None when every endpoint can be bound now, else the first problem (one line)."""
    for endpoint in endpoints(settings):
        family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
        kind = socket.SOCK_DGRAM if endpoint.proto == "udp" else socket.SOCK_STREAM
        with socket.socket(family, kind) as sock:
            if endpoint.proto == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the API server does
            elif family == socket.AF_INET6 and endpoint.host != "::":
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((endpoint.host, endpoint.port))
                if endpoint.proto == "tcp":
                    sock.listen()
            except OSError as exc:
                return problem(endpoint, exc)
    return None
