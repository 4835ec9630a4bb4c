"""The web console under ``/ui`` on the admin API's port, for the NOC and the help desk.

Server-rendered pages (Jinja2 templates and static files shipped in this package, SVG charts
drawn here, one small script for the live parts), operators with roles logged in by a session
cookie (radiusd.web.auth), and every action written to the audit log. The admin API's bearer
tokens are not accepted here and the console's cookie is not accepted by the API: machines and
people each keep their own way in.

Modules: auth (cookie, CSRF, roles), pages (GET), actions (what helpdesk does, through the
API's own code paths), lookup (the search box and the reads the API has no route for),
charts (SVG), rates (requests/s), render (templates, static files, security headers).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from radiusd.store.operators import LoginRefused, WebSession, audit, login, logout

from . import pages
from .actions import SUBSCRIBER_ACTIONS, Actions, Send
from .auth import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    LoginRequired,
    WebError,
    checked_form,
    client_address,
    cookie_options,
    current,
    read_form,
    same_origin,
)
from .auth import new_login_token as _new_login_token
from .render import SECURITY_HEADERS, page, static

PREFIX = "/ui"
Web = Annotated[WebSession, Depends(current)]


def is_console(path: str) -> bool:
    """Paths the console answers itself (its own login instead of the API's bearer token)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def _safe_next(value: str | None) -> str:
    """Where to go after login: a console path only (no open redirect)."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/dashboard"


def install(app: FastAPI, state: Any, send: Send) -> None:  # noqa: C901  (route closures: their branches count here, each route is short)
    """Mount the console on ``app`` (the admin API of ``state``, the running daemon)."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    actions = Actions(state, send)
    engine = state.engine

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        if request.method != "GET":
            return HTMLResponse("login required", status_code=403, headers=SECURITY_HEADERS)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"{PREFIX}/login?next={_quote(target)}", status_code=303)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError) -> Response:
        return page(request, "error.html", status=exc.status, message=exc.message)

    @router.get("", response_class=HTMLResponse)
    @router.get("/", response_class=HTMLResponse)
    async def root() -> Response:
        return RedirectResponse(f"{PREFIX}/dashboard", status_code=303)

    @router.get("/static/{name}")
    async def static_file(name: str) -> Response:
        return static(name)

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: Annotated[str, Query(max_length=500)] = "") -> Response:
        token = _new_login_token()
        response = page(request, "login.html", token=token, next=_safe_next(next), error=None)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **cookie_options(request))
        return response

    @router.post("/login", response_class=HTMLResponse)
    async def login_submit(request: Request) -> Response:
        fields = await read_form(request)
        name = (fields.get("username") or [""])[0].strip()[:128]
        password = (fields.get("password") or [""])[0]
        token = (fields.get("csrf") or [""])[0]
        target = _safe_next((fields.get("next") or [""])[0])
        source = client_address(request)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if (
            not token
            or not hmac.compare_digest(token.encode(), expected.encode())
            or not same_origin(request)
        ):
            await audit(
                engine, name or "-", "login", name or None, "refused", "missing or wrong CSRF token", source
            )
            raise WebError(403, "the login form is out of date: reload the page and retry")
        try:
            done = await login(engine, name, password, replaces=request.cookies.get(COOKIE))
        except LoginRefused as exc:
            await audit(engine, name or "-", "login", name or None, "refused", exc.reason, source)
            fresh = _new_login_token()
            refused = page(
                request, "login.html", status=401, token=fresh, next=target,
                error="Wrong name or password, or the account is locked.",
            )  # fmt: skip
            refused.set_cookie(LOGIN_CSRF_COOKIE, fresh, max_age=3600, **cookie_options(request))
            return refused
        await audit(engine, done.operator, "login", done.operator, "ok", f"role {done.role}", source)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, done.cookie, **cookie_options(request))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
        return response

    @router.post("/logout")
    async def logout_submit(request: Request, web: Web) -> Response:
        fields = await read_form(request)
        token = (fields.get("csrf") or [""])[0]
        if not hmac.compare_digest(token.encode(), web.csrf.encode()):
            raise WebError(403, "the form is out of date: reload the page and retry")
        await logout(engine, request.cookies.get(COOKIE, ""))
        await audit(engine, web.operator, "logout", web.operator, "ok", None, client_address(request))
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    @router.get("/confirm", response_class=HTMLResponse)
    async def confirm(
        request: Request,
        web: Web,
        action: Annotated[str, Query(max_length=32)],
        user: Annotated[str, Query(max_length=253)] = "",
        session: Annotated[list[str] | None, Query(max_length=64)] = None,
    ) -> Response:
        """The confirmation step: what will be done, and a form to do it (POST /ui/act)."""
        if web.role not in ("helpdesk", "admin"):
            raise WebError(403, f"the {web.role} role cannot do this")
        ids = [s for s in (session or []) if s][:200]
        if action == "unlock-operator":
            if web.role != "admin" or not user:
                raise WebError(403, "only an admin operator unlocks operators")
            return page(request, "confirm.html", action=action, user=user, sessions=[], plans=[])
        if action == "disconnect-sessions" and not ids:
            raise WebError(400, "select at least one session")
        if action != "disconnect-sessions" and (action not in SUBSCRIBER_ACTIONS or not user):
            raise WebError(400, "unknown action")
        plans = []
        if action == "set-plan":
            from radiusd.store.plans import list_plans

            plans = [p.name for p in await list_plans(engine)]
        return page(request, "confirm.html", action=action, user=user, sessions=ids, plans=plans)

    @router.post("/act", response_class=HTMLResponse)
    async def act(request: Request, web: Web) -> Response:
        fields = await read_form(request)
        action = (fields.get("action") or [""])[0]
        user = (fields.get("user") or [""])[0]
        ids = [s for s in fields.get("session", []) if s][:200]
        target = user or (",".join(ids)[:255] if ids else None)
        form = await checked_form(request, web, action or "act", target, fields)
        source = client_address(request)
        if action == "unlock-operator" and user:
            if web.role != "admin":
                await audit(
                    engine, web.operator, "operator-unlock", user, "refused", f"role {web.role}", source
                )
                raise WebError(403, "only an admin operator unlocks operators")
            outcome = await actions.unlock(web, user, source)
            return page(request, "result.html", status=200 if outcome.ok else 409, outcome=outcome,
                        user="", back="/ui/audit")  # fmt: skip
        elif action == "disconnect-sessions" and ids:
            outcome = await actions.disconnect(web, ids, source)
        elif action in SUBSCRIBER_ACTIONS and user:
            outcome = await actions.subscriber(web, action, user, form, source)
        else:
            raise WebError(400, "unknown action")
        return page(
            request, "result.html", status=200 if outcome.ok else 502, outcome=outcome, user=user, back=None
        )

    pages.install(router, state)
    app.include_router(router)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")
