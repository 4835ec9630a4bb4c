"""Templates (Jinja2, autoescaped) and the console's static files, both read from the package.

Every page carries a Content-Security-Policy that allows scripts, styles and images from the
console itself only: no CDN, no inline script, so an injected string cannot run.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import time
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from .charts import human_bytes

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}  # fmt: skip


def _when(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _duration(seconds: Any) -> str:
    s = int(seconds or 0)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}d {h:02d}:{m:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("radiusd.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["when"] = _when
_env.filters["bytes"] = human_bytes
_env.filters["duration"] = _duration
#: a name as one path segment or query value (usernames may hold '/', '?', '#', '&')
_env.filters["q"] = lambda value: quote(str(value), safe="@")


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the operator's session (``request.state.web``) in context."""
    web = getattr(request.state, "web", None)
    body = _env.get_template(template).render(
        web=web, path=request.url.path, can_act=web is not None and web.role in ("helpdesk", "admin"),
        is_admin=web is not None and web.role == "admin", **context,
    )  # fmt: skip
    headers = SECURITY_HEADERS
    started = getattr(request.state, "started", None)
    if started is not None:  # the page's time in the server, for bench/web.py and the curious
        headers = headers | {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"}
    return HTMLResponse(body, status_code=status, headers=headers)


_static: dict[str, bytes] = {}


def static(name: str) -> Response:
    """A file of radiusd/web/static (names listed in the package only; nothing else is read)."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in STATIC_TYPES or "/" in name or name.startswith("."):
        return Response("not found", status_code=404, media_type="text/plain")
    if name not in _static:
        entry = importlib.resources.files("radiusd.web") / "static" / name
        if not entry.is_file():
            return Response("not found", status_code=404, media_type="text/plain")
        _static[name] = entry.read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(_static[name], media_type=STATIC_TYPES[suffix], headers=headers)
