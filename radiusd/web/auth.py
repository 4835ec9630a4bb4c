"""Who is at the console: the session cookie, the CSRF token of every form, and the roles.

- The cookie ``radiusd_ui`` (HttpOnly, SameSite=Strict, Secure under TLS, Path=/ui) holds 32
  random bytes; the database keeps their SHA-256 (radiusd.store.operators). Login always
  issues a new value and ends the one the browser sent (no session fixation).
- Every POST carries the session's CSRF token in the form field ``csrf`` (compared in constant
  time) and, when the browser sends ``Origin``, it must be this host: a POST without them is
  refused 403 and written to the audit log. The login form uses a double-submit token (a
  cookie and the same value in the form), since there is no session yet.
- Roles: ``readonly`` sees everything an operator may see; ``helpdesk`` also acts on
  subscribers and sessions; ``admin`` also sees the audit log and the operators.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request

from radiusd.store.operators import WebSession, audit, resume

COOKIE = "radiusd_ui"
LOGIN_CSRF_COOKIE = "radiusd_ui_login"
ACTORS = ("helpdesk", "admin")
MAX_FIELDS = 200


class WebError(Exception):
    """Answered as an HTML page with ``status`` (radiusd.web.install maps it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoginRequired(Exception):
    """No valid session: redirect to the login page."""


def client_address(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def cookie_options(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": "/ui",
    }


async def current(request: Request) -> WebSession:
    """The operator's session, or LoginRequired (the dependency of every page)."""
    request.state.started = time.perf_counter()
    cookie = request.cookies.get(COOKIE)
    found = await resume(request.app.state.live.engine, cookie) if cookie else None
    if found is None:
        raise LoginRequired
    request.state.web = found
    return found


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded body as name -> values (at most MAX_FIELDS fields; the guard bounds size)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise WebError(415, "forms are sent as application/x-www-form-urlencoded")
    body = (await request.body()).decode("utf-8", "replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise WebError(400, "too many form fields") from None
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # a browser sends it on every POST; curl and old clients may not
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def checked_form(
    request: Request,
    web: WebSession,
    action: str,
    target: str | None,
    fields: dict[str, list[str]] | None = None,
) -> dict[str, str]:
    """The form of a POST that changes something: CSRF token, origin and role checked (each
    refusal audited); one value per field."""
    engine = request.app.state.live.engine
    if fields is None:
        fields = await read_form(request)
    token = (fields.get("csrf") or [""])[0]
    source = client_address(request)
    if not token or not hmac.compare_digest(token.encode(), web.csrf.encode()) or not same_origin(request):
        await audit(engine, web.operator, action, target, "refused", "missing or wrong CSRF token", source)
        raise WebError(403, "this form is out of date or was not sent from the console: reload and retry")
    if web.role not in ACTORS:
        await audit(engine, web.operator, action, target, "refused", f"role {web.role}", source)
        raise WebError(403, f"the {web.role} role cannot do this")
    return {k: v[0] for k, v in fields.items()}


def new_login_token() -> str:
    return secrets.token_urlsafe(24)
