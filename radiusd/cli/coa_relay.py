"""The CLI's Disconnect and plan CoA for a session of a RadSec NAS, sent by the running daemon.

Why: a RadSec NAS (behind NAT, reached only over its own TLS connection, RFC 6614 §2.4) can
be sent a Disconnect- or CoA-Request only by the process that holds that connection: the
daemon. The CLI is a process of its own with no connection, so for such a session
``session disconnect`` asks the daemon's admin API (``POST /radius/sessions/ID/disconnect``,
the route the web console uses) and a live plan change (``subscriber set-plan``) asks
``POST /radius/sessions/ID/coa`` with the plan; the daemon sends it down the connection,
audits it and answers with the NAS's ACK/NAK, which the CLI prints as its own result.

Where the API is: ``RADIUSD_API_URL``, else ``api_bind`` of the configuration (a wildcard
address is reached on loopback; HTTPS when ``api_tls_cert`` is set, that certificate being
the one trusted). The token: ``RADIUSD_API_TOKEN``, else a one-off write token created in
the database (the CLI already holds the database, so it grants nothing new) and revoked when
the command ends. Without an API the session is not acted on, with one line saying so.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from inventory.actions import SessionAction
    from radiusd.coa.sessions import SessionRef
    from radiusd.config import Settings
    from radiusd.store.records import NasRecord

#: seconds one API call may wait for the NAS (the API's ceiling, ``?wait=``)
MAX_WAIT = 30.0


class RelayError(Exception):
    """The daemon's API cannot be used; the message is the one line to print."""


@dataclass
class Relay:
    """The daemon's API as the CLI reaches it, with the token it uses."""

    base: str
    context: ssl.SSLContext | None
    token: str = ""
    minted: str = ""  # name of the one-off token to revoke at the end

    def call(
        self, method: str, path: str, timeout: float, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One request (``body``: sent as JSON); (status, JSON body). RelayError when the API
        cannot be reached."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 (http(s) only: relay_of)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.context) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"{}")
            except ValueError:
                body = {}
            return exc.code, body if isinstance(body, dict) else {}
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RelayError(f"the daemon's API at {self.base} cannot be reached: {reason}") from None


def relay_of(settings: Settings) -> Relay:
    """Where the daemon's API is (see the module docstring); RelayError when nowhere."""
    url = os.environ.get("RADIUSD_API_URL", "").rstrip("/")
    context = None
    if not url:
        if not settings.api_bind:
            raise RelayError(
                "only the daemon holding the NAS's TLS connection can send it, and no API to ask "
                "it is configured: set api_bind (or RADIUSD_API_URL), or radsec_coa_udp_fallback"
            )
        host, _, port = settings.api_bind.rpartition(":")
        host = host.strip("[]")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
        scheme = "https" if settings.api_tls_cert else "http"
        url = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    if not url.startswith(("http://", "https://")):
        raise RelayError(f"RADIUSD_API_URL must be an http:// or https:// URL, not {url!r}")
    if url.startswith("https://"):
        context = ssl.create_default_context()
        if settings.api_tls_cert and not os.environ.get("RADIUSD_API_URL"):
            # our own API on this box: its certificate is the trust anchor, by address
            context = ssl.create_default_context(cafile=settings.api_tls_cert)
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
            context.check_hostname = False
    return Relay(url, context, token=os.environ.get("RADIUSD_API_TOKEN", ""))


async def ensure_token(relay: Relay, engine: AsyncEngine) -> None:
    """A write token for ``relay``: the given one, else a one-off one (see the module docstring)."""
    if relay.token:
        return
    from radiusd.store.api_tokens import create_token

    name = f"cli-relay-{secrets.token_hex(4)}"
    _info, relay.token = await create_token(engine, name)
    relay.minted = name


async def drop_token(relay: Relay, engine: AsyncEngine) -> None:
    if relay.minted:
        from radiusd.store.api_tokens import revoke_token

        await revoke_token(engine, relay.minted)
        relay.minted = ""


class DaemonRoute:
    """Sessions of RadSec NAS go through the daemon's API (built at first use, its one-off
    token revoked by :meth:`close`); other sessions are the caller's, as before."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.relay: Relay | None = None
        self.error = ""

    def wanted(self, nas: NasRecord | None) -> TypeGuard[NasRecord]:
        """A RadSec NAS, unless UDP is allowed for it (``radsec_coa_udp_fallback``)."""
        return nas is not None and nas.radsec and not self.settings.radsec_coa_udp_fallback

    async def _relay(self) -> Relay | None:
        if self.relay is None and not self.error:
            try:
                relay = relay_of(self.settings)
                await ensure_token(relay, self.engine)
                self.relay = relay
            except RelayError as exc:
                self.error = str(exc)
        return self.relay

    async def disconnect(self, ref: SessionRef, nas: str, *, wait: float, no_wait: bool) -> SessionAction:
        from inventory.actions import SessionAction

        relay = await self._relay()
        if relay is None:
            return SessionAction(ref, nas, "disconnect", error=f"RadSec NAS {nas}: {self.error}")
        return await relay_disconnect(relay, ref, nas, wait=wait, no_wait=no_wait)

    async def change_plan(self, ref: SessionRef, nas: str, plan: str, *, wait: float) -> SessionAction:
        """``ref`` gets ``plan`` from the daemon (a CoA-Request, or its disconnect fallback)."""
        from inventory.actions import SessionAction

        relay = await self._relay()
        if relay is None:
            return SessionAction(ref, nas, "change-plan", error=f"RadSec NAS {nas}: {self.error}")
        return await relay_change_plan(relay, ref, nas, plan, wait=wait)

    async def close(self) -> None:
        if self.relay is not None:
            await drop_token(self.relay, self.engine)


async def relay_disconnect(
    relay: Relay, ref: SessionRef, nas: str, *, wait: float, no_wait: bool
) -> SessionAction:
    """Have the daemon disconnect ``ref``, waiting up to ``wait`` seconds for the NAS (polling
    the job past the API's 30 s); its answer as the CLI's own SessionAction."""
    path = f"/radius/sessions/{ref.id}/disconnect"
    return await _run(relay, ref, nas, "disconnect", path, None, wait=wait, no_wait=no_wait)


async def relay_change_plan(
    relay: Relay, ref: SessionRef, nas: str, plan: str, *, wait: float
) -> SessionAction:
    """Have the daemon CoA ``ref`` with ``plan`` (``POST /radius/sessions/ID/coa``; it falls
    back to a disconnect as radiusd.cli.nas_actions does over UDP), waiting up to ``wait``
    seconds; its answer as the CLI's own SessionAction."""
    path = f"/radius/sessions/{ref.id}/coa"
    return await _run(relay, ref, nas, "change-plan", path, {"plan": plan}, wait=wait, no_wait=False)


async def _run(
    relay: Relay, ref: SessionRef, nas: str, action: str, path: str, body: dict[str, Any] | None,
    *, wait: float, no_wait: bool,
) -> SessionAction:  # fmt: skip
    """POST ``path`` and poll its job (past the API's 30 s) until ``wait`` seconds are up."""
    from inventory.actions import SessionAction

    first = 0.0 if no_wait else min(wait, MAX_WAIT)
    deadline = time.monotonic() + wait
    try:
        status, got = await asyncio.to_thread(relay.call, "POST", f"{path}?wait={first:g}", first + 15, body)
        while status == 202 and not no_wait and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            status, got = await asyncio.to_thread(relay.call, "GET", got["result_url"], 15)
    except RelayError as exc:
        return SessionAction(ref, nas, action, error=str(exc))
    return _action(ref, nas, status, got, no_wait, action)


def _action(
    ref: SessionRef, nas: str, status: int, body: dict[str, Any], no_wait: bool, action: str = "disconnect"
) -> SessionAction:
    from inventory.actions import SessionAction
    from radiusd.coa.client import CoaResult, Outcome

    if status == 202:  # --no-wait: sent; else the daemon still waits for the NAS
        job = f"GET {body.get('result_url')}"
        detail = "" if no_wait else f"the daemon is still waiting for the NAS ({job})"
        return SessionAction(ref, nas, action, CoaResult(Outcome.TIMEOUT, None, 1, 0, detail))
    if "outcome" not in body:  # a problem document: 401, 404, 409...
        why = body.get("detail") or body.get("title") or f"HTTP {status}"
        hint = " (RADIUSD_API_TOKEN: a write token)" if status in (401, 403) else ""
        return SessionAction(ref, nas, action, error=f"the daemon's API refused: {why}{hint}")
    if body["outcome"] is None:
        return SessionAction(ref, nas, action, error=body.get("detail") or "not sent by the daemon")
    detail = body.get("detail") or ""
    result = CoaResult(
        Outcome(body["outcome"]), body.get("error_cause"), body.get("attempts") or 0, 0,
        f"by the daemon, {detail}" if detail else "by the daemon",
    )  # fmt: skip
    closed = bool(body.get("session_closed"))
    done = body.get("action") or action  # a plan change the daemon had to make a disconnect
    return SessionAction(
        ref, body.get("nas") or nas, done, result, closed=closed, fallback=body.get("fallback")
    )
