"""MikroTik RouterOS: RFC 5176 Disconnect and CoA (a plan change is a CoA carrying
Mikrotik-Rate-Limit), and the RouterOS API (librouteros) for local PPPoE secrets
(``/ppp/secret``, remote-address = the subscriber's assigned address) and active sessions
(``/ppp/active``).

The API is API-SSL (port 8729) unless the router was added with ``--insecure-plain-api``: the
login carries the router's password, and ``push_credentials`` the subscribers' passwords. The
router's certificate is checked against ``api_ca_file`` (the system's CAs without one) and/or
pinned by ``api_fingerprint``, the SHA-256 of its DER form, which a self-signed router needs:
the pin is compared before the login, so a wrong certificate never sees the password. The
plain API logs a warning at every connection.

RouterOS matches a Disconnect/CoA on User-Name, Acct-Session-Id and Framed-IP-Address.
The API login is the post-6.43 one (``/login`` with name and password). Router credentials
come from the NAS record and never reach a log line or an error message: librouteros logs
every API word at DEBUG, so a filter on its logger masks password words.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import librouteros
from librouteros.exceptions import LibRouterosError
from librouteros.login import async_plain

from radiusd.coa.client import CoaResult, Outcome
from radiusd.coa.service import CoaService
from radiusd.coa.sessions import SessionRef
from radiusd.logs import get_logger
from radiusd.model.credentials import parse_credential
from radiusd.store.records import NasRecord, PlanRecord, SubscriberRecord

from . import rates
from .base import PluginError, Rfc5176Plugin, Unsupported

API_PORT = 8728
API_SSL_PORT = 8729
API_TIMEOUT = 10.0
_SECRET_WORDS = ("=password=",)
log = get_logger("radiusd.plugins.mikrotik")


class _MaskPasswords(logging.Filter):
    """Masks ``=password=...`` words in librouteros's DEBUG lines (it logs every word sent)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for word in _SECRET_WORDS:
            if word in message:
                head = message[: message.index(word) + len(word)]
                record.msg, record.args = head + "********'", None
        return True


_MASK = _MaskPasswords()


def _mask_library_logs() -> None:
    for name in ("librouteros", "librouteros.protocol", "librouteros.api"):
        logger = logging.getLogger(name)
        if _MASK not in logger.filters:
            logger.addFilter(_MASK)


def _api_error(nas: NasRecord, exc: BaseException) -> PluginError:
    """One line naming the router, never its credentials (librouteros messages hold none)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = (
            f"API-SSL certificate not trusted ({exc.verify_message}): give the router a CA file "
            "(--api-ca-file) or pin its certificate (--api-fingerprint)"
        )
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return PluginError(f"RouterOS API of NAS {nas.name!r}: {text}")


def ssl_context(nas: NasRecord) -> ssl.SSLContext:
    """The TLS context of a router's API-SSL: its CA file (else the system's CAs) with host name
    checks; with a pinned fingerprint alone the chain is not checked, the pin is."""
    if nas.api_fingerprint and not nas.api_ca_file:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the pin, checked before the login, is the trust
        return context
    return ssl.create_default_context(cafile=nas.api_ca_file or None)


def peer_certificate(api: librouteros.AsyncApi) -> bytes | None:
    """The DER certificate the router presented on this connection (None: no TLS)."""
    writer = getattr(getattr(api.protocol, "transport", None), "writer", None)
    tls = writer.get_extra_info("ssl_object") if writer is not None else None
    return tls.getpeercert(binary_form=True) if tls is not None else None


def pinned_login(nas: NasRecord, fingerprint: str) -> Any:
    """librouteros's login, run only when the certificate matches ``fingerprint``."""

    async def login(api: librouteros.AsyncApi, username: str, password: str) -> None:
        der = peer_certificate(api)
        got = hashlib.sha256(der).hexdigest() if der else "none"
        if got != fingerprint:
            raise PluginError(
                f"RouterOS API of NAS {nas.name!r}: its API-SSL certificate (SHA-256 {got}) is not the "
                f"pinned one ({fingerprint}); nothing was sent"
            )
        await async_plain(api, username, password)

    return login


class Plugin(Rfc5176Plugin):
    name: ClassVar[str] = "mikrotik"
    can_change_plan_live: ClassVar[bool] = True
    identity: ClassVar[tuple[str, ...]] = ("User-Name", "Acct-Session-Id", "Framed-IP-Address")

    def __init__(self, nas: NasRecord, coa: CoaService, *, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(nas, coa)
        self.can_push_credentials = bool(nas.api_username and nas.api_password is not None)
        self._ssl_context = ssl_context
        _mask_library_logs()

    # -- RFC 5176 -------------------------------------------------------------------------

    rate_limit_attributes = staticmethod(rates.mikrotik)

    def plan_attributes(self, plan: PlanRecord) -> list[tuple[str, Any]]:
        return self.rate_limit_attributes(plan.rate_limit) if plan.rate_limit else []

    async def disconnect(self, session: SessionRef) -> CoaResult:
        """Disconnect-Request; when the router does not answer (or refuses for another reason
        than an unknown session) and its API is configured, remove it from /ppp/active."""
        result = await super().disconnect(session)
        if result.ok or not self.can_push_credentials:
            return result
        if result.outcome is Outcome.NAK and result.error_cause == 503:
            return result
        try:
            removed = await self.remove_active(session.username)
        except PluginError as exc:
            return CoaResult(result.outcome, result.error_cause, result.attempts, result.ignored, str(exc))
        if removed:
            return CoaResult(Outcome.ACK, None, result.attempts, result.ignored, "removed via /ppp/active")
        return result

    # -- RouterOS API ---------------------------------------------------------------------

    @asynccontextmanager
    async def api(self) -> AsyncIterator[librouteros.AsyncApi]:
        """A logged-in API connection (API-SSL unless api_insecure_plain), closed afterwards."""
        nas = self.nas
        if not nas.api_username or nas.api_password is None:
            raise Unsupported(f"NAS {nas.name!r} has no RouterOS API credentials")
        context: ssl.SSLContext | None = None
        login = async_plain
        if nas.api_insecure_plain:
            log.warning(
                "router-api.insecure-plain",
                nas=nas.name,
                detail="the plain RouterOS API sends the router's password in clear",
            )
        else:
            context = self._ssl_context or ssl_context(nas)
            if nas.api_fingerprint:
                login = pinned_login(nas, nas.api_fingerprint)
        port = nas.api_port or (API_PORT if nas.api_insecure_plain else API_SSL_PORT)
        host = nas.management_address or nas.address
        try:
            api = await librouteros.async_connect(
                host, nas.api_username, nas.api_password, port=port, ssl_wrapper=context,
                timeout=API_TIMEOUT, login_method=login,
            )  # fmt: skip
        except (OSError, LibRouterosError, TimeoutError) as exc:
            raise _api_error(nas, exc) from None
        try:
            yield api
        except (OSError, LibRouterosError, TimeoutError) as exc:
            raise _api_error(nas, exc) from None
        finally:
            try:
                await api.close()
            except (OSError, LibRouterosError):
                pass

    @staticmethod
    async def _ids(api: librouteros.AsyncApi, path: str, name: str) -> list[str]:
        rows = [row async for row in api.rawCmd(f"{path}/print", "=.proplist=.id,name", f"?name={name}")]
        return [str(row[".id"]) for row in rows if ".id" in row]

    async def push_credentials(self, subscriber: SubscriberRecord) -> None:
        """Add (or update) the PPPoE secret: name, password, service=pppoe, remote-address."""
        try:
            password = parse_credential(subscriber.credential).cleartext()
        except ValueError:
            password = None
        if password is None:
            raise PluginError(
                f"subscriber {subscriber.username!r} has no cleartext password to push as a PPPoE secret"
            )
        words: dict[str, Any] = {"name": subscriber.username, "password": password, "service": "pppoe"}
        if subscriber.static_ip:
            words["remote-address"] = subscriber.static_ip
        words["comment"] = "radiusd"
        async with self.api() as api:
            ids = await self._ids(api, "/ppp/secret", subscriber.username)
            if ids:
                [r async for r in api("/ppp/secret/set", **{".id": ids[0]}, **words)]
            else:
                [r async for r in api("/ppp/secret/add", **words)]

    async def remove_credentials(self, subscriber: SubscriberRecord) -> None:
        """Remove the subscriber's PPPoE secret(s), found by name (no-op when absent)."""
        async with self.api() as api:
            for secret_id in await self._ids(api, "/ppp/secret", subscriber.username):
                [r async for r in api("/ppp/secret/remove", **{".id": secret_id})]

    async def remove_active(self, username: str) -> int:
        """Remove the user's active PPP sessions (/ppp/active); how many were removed."""
        async with self.api() as api:
            ids = await self._ids(api, "/ppp/active", username)
            for active_id in ids:
                [r async for r in api("/ppp/active/remove", **{".id": active_id})]
        return len(ids)
