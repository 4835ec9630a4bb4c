"""The FastAPI application: routes, bearer-token authentication, error mapping.

:func:`create_app` takes the running daemon (anything with the attributes of :class:`LiveState`)
so that pools, sessions and counters are read live from memory; stored data is read with
bounded, paginated queries on the daemon's engine (radiusd.api.queries).

Errors: request validation 422 (FastAPI's body names the field), the store's InvalidInput 422,
NotFound 404, Conflict 409, database unreachable 503; no route answers 500 on any input.
"""

import importlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError, IntegrityError

from inventory.actions import disconnect_sessions
from ipam.groups import group_of
from ipam.report import pool_info
from radiusd.coa.service import CoaService
from radiusd.coa.sessions import find_open_session
from radiusd.logs import get_logger
from radiusd.store.errors import Conflict, InvalidInput, NotFound
from radiusd.web import install as install_console
from radiusd.web import is_console

from . import (
    cluster,
    discovery,
    docs,
    nas,
    netbox,
    network,
    network_edit,
    plans,
    pools,
    prefixes,
    queries,
    session_coa,
    subscribers,
)
from .coa import daemon_coa
from .guard import RequestGuard
from .jobs import Job, Jobs, TooManyJobs
from .metrics import make_registry
from .schemas import (
    DEFAULT_DISCONNECT_WAIT,
    DEFAULT_LIMIT,
    JOB_RESULT_RESPONSES,
    MAX_LIMIT,
    SESSION_ACTION_RESPONSES,
    DisconnectOut,
    DisconnectWait,
    LeaseOut,
    Name,
    Page,
    PoolOut,
    Problem,
    SessionOut,
    SubscriberOut,
)
from .state import LiveState
from .tokens import Principal, TokenCache

log = get_logger("radiusd.api")


#: ``(state, session id) -> SessionAction.to_json()`` (inventory.actions), replaceable in tests
DisconnectFn = Callable[["LiveState", str], Awaitable[dict[str, Any]]]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT}).")]
Offset = Annotated[int, Query(ge=0, le=queries.MAX_OFFSET, description="Rows to skip (cursor is cheaper).")]
Cursor = Annotated[
    str | None,
    Query(max_length=64, pattern=r"^[0-9A-Za-z:._@-]*$", description="next_cursor of the previous page."),
]
FilterName = Annotated[Name | None, Query(description="Exact match.")]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No or unknown bearer token"},
    403: {"model": Problem, "description": "Read-only token"},
    408: {"model": Problem, "description": "The body did not arrive within api_body_timeout"},
    413: {"model": Problem, "description": "The body is larger than api_max_body"},
}


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


#: what ``api_public_docs`` opens to callers without a token
DOC_PATHS = ("/docs", "/redoc", "/openapi.json")


def docs_are_public(path: str) -> bool:
    """``path`` is the documentation (Swagger UI, ReDoc, the spec, or an asset under /docs/)."""
    return path in DOC_PATHS or path.startswith("/docs/")


def create_app(  # noqa: C901  (the routes are closures over the state: their branches count here, each route is short)
    state: LiveState, *, disconnect: DisconnectFn | None = None, concurrency: int | None = None
) -> FastAPI:
    """The admin API over ``state`` (a running Daemon). ``disconnect`` overrides the CoA client;
    ``concurrency`` (default: the ``api_concurrency`` setting) bounds the requests served at
    once; token, body size and body time limits are checked first (radiusd.api.guard)."""
    settings = state.settings
    tokens = TokenCache(state.engine)
    send = disconnect if disconnect is not None else plugin_disconnect()
    bearer = HTTPBearer(auto_error=False, description="radiusd api-token create NAME")
    registry = make_registry(state)

    async def principal(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        found = None
        if creds is not None and creds.scheme.lower() == "bearer" and 0 < len(creds.credentials) <= 256:
            found = await tokens.check(creds.credentials)
        if found is None:
            raise HTTPException(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
        return found

    async def writer_principal(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.read_only:
            raise HTTPException(403, f"token {who.name!r} is read-only")
        return who

    read = [Depends(principal)]
    write = [Depends(writer_principal)]

    app = FastAPI(
        title="radiusd admin API",
        version="1",
        description=importlib.import_module("radiusd.api").__doc__ or "",
        responses=ERRORS,
        docs_url=None,  # docs.install: Swagger UI from local assets, no CDN
        redoc_url=None,
    )
    docs.install(app)
    app.state.live = state

    docs_public = settings.api_public_docs
    app.add_middleware(
        RequestGuard,
        check=tokens.check,
        # the console checks its own session cookie (radiusd.web.auth)
        public=lambda path: is_console(path) or (docs_public and docs_are_public(path)),
        max_body=settings.api_max_body,
        body_timeout=settings.api_body_timeout,
        concurrency=concurrency or settings.api_concurrency,
    )
    app.state.tokens = tokens

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return _problem(404, str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return _problem(409, str(exc))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        return _problem(409, "the change conflicts with stored data (duplicate or still referenced)")

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        return _problem(422, str(exc))

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        log.warning("api.database-error", path=request.url.path, error=type(exc.orig).__name__)
        return _problem(503, "the database is unavailable; RADIUS goes on from memory", {"Retry-After": "5"})

    @app.exception_handler(ConnectionError)
    async def _unreachable(request: Request, exc: ConnectionError) -> JSONResponse:
        return _problem(503, "the database is unreachable", {"Retry-After": "5"})

    @app.exception_handler(TimeoutError)
    async def _timed_out(request: Request, exc: TimeoutError) -> JSONResponse:
        log.warning("api.database-timeout", path=request.url.path)
        return _problem(503, "the database did not answer in time (db_command_timeout)", {"Retry-After": "5"})

    # -- network ----------------------------------------------------------------------------

    network.install(app, state, read, write)
    cluster.install(app, state, read, registry)
    network_edit.install(app, state, read, write)
    nas.install(app, state, read, write)
    plans.install(app, state, read, write)
    pools.install(app, state, read, write)
    prefixes.install(app, state, read, write)
    discovery.install(app, state, read, write)
    netbox.install(app, state, read, write)
    subscribers.install(app, state, read, write, send)
    install_console(app, state, send)

    # -- ipam -------------------------------------------------------------------------------

    def _pool(name: str) -> PoolOut:
        info = pool_info(state.ipam.configs, state.ipam.alloc, name, state.settings.utilisation_warning_pct)
        return PoolOut.model_validate(info, from_attributes=True)

    @app.get("/ipam/pools", tags=["ipam"], dependencies=read)
    async def list_pools() -> list[PoolOut]:
        """Every pool with its live utilisation (from the daemon's allocator)."""
        groups = sorted({group_of(name) for name in state.ipam.configs})
        return [_pool(g) for g in groups]

    @app.get("/ipam/pools/{name}", tags=["ipam"], dependencies=read, responses={404: {"model": Problem}})
    async def get_pool(name: Annotated[Name, Path()]) -> PoolOut:
        if not any(group_of(n) == name for n in state.ipam.configs):
            raise NotFound(f"no pool named {name!r}")
        return _pool(name)

    @app.get(
        "/ipam/pools/{name}/leases", tags=["ipam"], dependencies=read, responses={404: {"model": Problem}}
    )
    async def list_leases(
        name: Annotated[Name, Path()],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
        cursor: Cursor = None,
        lease_state: Annotated[
            Literal["offered", "leased", "released", "reserved"] | None, Query(alias="state")
        ] = None,
        user: FilterName = None,
    ) -> Page[LeaseOut]:
        """Leases of a pool (addresses in use, held or reserved), state read live."""
        found = await queries.leases_page(
            state.engine, state.ipam, state.registry, name,
            limit=limit, offset=offset, cursor=cursor, state=lease_state, user=user,
        )  # fmt: skip
        if found is None:
            raise NotFound(f"no pool named {name!r}")
        items, nxt = found
        return Page[LeaseOut](
            items=[LeaseOut.model_validate(i) for i in items], limit=limit, offset=offset, next_cursor=nxt
        )

    # -- radius -----------------------------------------------------------------------------

    @app.get(
        "/radius/sessions/online", tags=["radius"], dependencies=read, responses={404: {"model": Problem}}
    )
    async def online_sessions(
        nas: Annotated[Name | None, Query(description="NAS name or address.")] = None,
        user: FilterName = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
        cursor: Annotated[
            int | None, Query(ge=0, le=2**62, description="next_cursor of the previous page.")
        ] = None,
    ) -> Page[SessionOut]:
        """Open accounting sessions, newest first."""
        found = await queries.online_sessions_page(
            state.engine, state.registry, limit=limit, offset=offset, cursor=cursor, nas=nas, user=user
        )
        if found is None:
            raise NotFound(f"no NAS named {nas!r}")
        items, nxt = found
        return Page[SessionOut](
            items=[SessionOut.model_validate(i) for i in items], limit=limit, offset=offset, next_cursor=nxt
        )

    jobs = app.state.jobs = Jobs()

    def _job_reply(job: Job) -> Response:
        if not job.done:
            headers = {"Location": job.result_url}
            return JSONResponse(job.pending_json(), status_code=202, headers=headers)
        out = DisconnectOut.model_validate(job.task.result())  # a failure raises: mapped above
        if out.outcome is None and not out.ok:
            return _problem(409, out.detail or "the session's NAS cannot be reached through a plugin")
        status = 200 if out.ok or out.session_closed else 502
        return JSONResponse(out.model_dump(mode="json") | {"job": job.id}, status_code=status)

    @app.post(
        "/radius/sessions/{session_id}/disconnect",
        tags=["radius"],
        dependencies=write,
        responses=SESSION_ACTION_RESPONSES,
    )
    async def disconnect_session(
        session_id: Annotated[Name, Path(description="Session id or Acct-Unique-Session-Id.")],
        wait: DisconnectWait = DEFAULT_DISCONNECT_WAIT,
    ) -> Response:
        """Send a Disconnect-Request (RFC 5176) for an open session through its NAS's plugin."""
        found = await queries.open_session(state.engine, session_id)
        try:
            job = jobs.start(send(state, str(found["id"])), session_id)
        except TooManyJobs as exc:
            return _problem(503, str(exc), {"Retry-After": "5"})
        await job.wait(wait)
        return _job_reply(job)

    @app.get(
        "/radius/disconnects/{job_id}", tags=["radius"], dependencies=read, responses=JOB_RESULT_RESPONSES
    )
    async def disconnect_result(
        job_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9A-Za-z_-]+$")],
    ) -> Response:
        """The result of a disconnect started with ``POST /radius/sessions/{id}/disconnect``."""
        job = jobs.get(job_id)
        if job is None:
            raise NotFound(f"no disconnect job {job_id!r}")
        return _job_reply(job)

    session_coa.install(app, state, read, write, jobs, _job_reply)

    # -- subscribers ------------------------------------------------------------------------

    @app.get("/subscribers", tags=["subscribers"], dependencies=read)
    async def list_subscribers(
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
        cursor: Annotated[Name | None, Query(description="next_cursor of the previous page.")] = None,
        status: Annotated[Literal["active", "suspended", "disabled"] | None, Query()] = None,
        plan: FilterName = None,
    ) -> Page[SubscriberOut]:
        """Subscribers by username (never their credential)."""
        items, nxt = await queries.subscribers_page(
            state.engine, limit=limit, offset=offset, cursor=cursor, status=status, plan=plan
        )
        return Page[SubscriberOut](
            items=[SubscriberOut.model_validate(i) for i in items],
            limit=limit,
            offset=offset,
            next_cursor=nxt,
        )

    # -- metrics ----------------------------------------------------------------------------

    @app.get(
        "/metrics",
        tags=["metrics"],
        dependencies=read,
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
    )
    async def metrics() -> Response:
        """Prometheus metrics, read from the daemon's live counters (a read-only token will do)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def plugin_disconnect(coa: Any = None) -> DisconnectFn:
    """Disconnect through the session's NAS plugin (inventory.actions), audited by ``coa`` (a
    radiusd.coa CoaService; default: one on the daemon's engine, created at first use)."""
    services: list[CoaService] = [] if coa is None else [coa]

    async def send(state: LiveState, key: str) -> dict[str, Any]:
        if not services:
            services.append(daemon_coa(state))  # radiusd.api.coa
        ref = await find_open_session(state.engine, key)
        [action] = await disconnect_sessions(state.engine, [ref], services[0])
        return action.to_json()

    return send
