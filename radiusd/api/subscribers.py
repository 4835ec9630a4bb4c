"""``/subscribers``: create, read, change and remove subscribers, suspend/resume/set-plan them,
and provision one (address, account, PPPoE credentials on the router) in one call.

The list (``GET /subscribers``) lives in radiusd.api.app. The credential is write-only: no
reply ever carries it. Writes go through radiusd.store.subscribers, as the CLI's do.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.params import Depends
from pydantic import BaseModel, Field

from inventory.actions import ProvisionError, apply_plan
from inventory.actions import provision as provision_flow
from inventory.offboard import remove_online_subscriber
from radiusd.coa.sessions import open_sessions_of
from radiusd.model.credentials import parse_credential, password_store
from radiusd.policy.credentials import verify_pap
from radiusd.store import subscribers as subs
from radiusd.store.errors import Conflict, InvalidInput, NotFound
from radiusd.store.plans import get_plan
from radiusd.store.records import SubscriberRecord

from .coa import daemon_coa
from .crud import (
    DELETE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    IdempotencyKey,
    body_config,
    changes,
    create_or_same,
    idempotent,
)
from .schemas import DisconnectOut, Name, Secret, SubscriberOut

Status = Literal["active", "suspended", "disabled"]
PasswordStore = Literal["cleartext", "nt", "hashed"]
STORE_FIELD = Field(
    None,
    description="What to keep of the password (as `subscriber add --store`): cleartext, nt or "
    "hashed. Default: the password_store setting of the daemon.",
)
Count = Annotated[int, Field(ge=1, le=2**31 - 1)]
Username = Annotated[Name, Path(description="The subscriber's username.")]


class SubscriberIn(BaseModel):
    model_config = body_config(
        username="alice", password="s3cret-pw", plan="gold", pool="cgnat", static_ip="100.64.0.10"
    )

    username: Annotated[str, Field(min_length=1, max_length=253)]
    password: Secret | None = None
    credential: Secret | None = Field(None, description="A stored credential instead of a password.")
    password_store: PasswordStore | None = STORE_FIELD
    plan: Name | None = None
    pool: Name | None = None
    static_ip: Name | None = None
    status: Status = "active"
    simultaneous_use: Count | None = None


class SubscriberPatch(BaseModel):
    model_config = body_config(plan="silver", static_ip=None, status="active")

    password: Secret | None = None
    credential: Secret | None = None
    password_store: PasswordStore | None = STORE_FIELD
    plan: Name | None = None
    pool: Name | None = None
    static_ip: Name | None = None
    status: Status | None = None
    simultaneous_use: Count | None = None


class PlanChange(BaseModel):
    model_config = body_config(plan="silver")

    plan: Name | None = Field(description="The new plan; null takes the subscriber off any plan.")


class ProvisionIn(BaseModel):
    model_config = body_config(username="bob", password="s3cret-pw", plan="gold", pool="pppoe", nas="r1")

    username: Annotated[str, Field(min_length=1, max_length=253)]
    password: Secret
    plan: Name
    pool: Name
    nas: Name


class ProvisionOut(BaseModel):
    username: str
    address: str
    plan: str
    pool: str
    nas: str


class ActionOut(BaseModel):
    """The subscriber after the change, and what was done to its open sessions."""

    subscriber: SubscriberOut
    sessions: list[DisconnectOut] = []


def _out(record: SubscriberRecord) -> SubscriberOut:
    return SubscriberOut.model_validate(
        {**record.to_json(), "password_store": password_store(record.credential)}
    )


def _password_matches(stored: str, password: str) -> bool:
    """Would ``password`` log in against the stored credential (a hashed one is salted, so the
    stored strings of two identical POSTs differ)?"""
    try:
        return verify_pap(parse_credential(stored), password.encode()).ok
    except ValueError:
        return False


def _store_for(body: SubscriberIn | SubscriberPatch, settings: Any) -> str:
    """The password store a body asks for, else the daemon's setting; 422 when it names one
    for a body without a password (a credential is kept as given)."""
    if body.password_store is not None and body.password is None:
        raise InvalidInput("password_store applies to a password (a credential is kept as given)")
    return body.password_store or settings.password_store


def _same(record: SubscriberRecord, body: SubscriberIn) -> bool:
    """Does the stored subscriber match the POSTed one (credential included)?"""
    if body.credential is not None:
        credential_same = record.credential == body.credential
    else:
        wanted = body.password_store  # None: whatever the setting made of it
        credential_same = _password_matches(record.credential, body.password or "") and (
            wanted is None or password_store(record.credential) == wanted
        )
    static = body.static_ip
    if static is not None:
        try:
            static = str(ipaddress.IPv4Address(static.strip()))
        except ValueError:
            return False
    return credential_same and (
        record.plan,
        record.pool,
        record.static_ip,
        record.status,
        record.simultaneous_use,
    ) == (body.plan, body.pool, static, body.status, body.simultaneous_use)


def install(app: FastAPI, state: Any, read: list[Depends], write: list[Depends], send: Any) -> None:  # noqa: C901  (route closures over engine and state: their branches count here, each is short)
    """Add the subscriber routes; ``send(state, session_id)`` disconnects one session."""
    engine = state.engine
    tags: list[str | Any] = ["subscribers"]

    async def disconnect(refs: list[Any]) -> list[dict[str, Any]]:
        return [await send(state, str(ref.id)) for ref in refs]

    @app.post("/subscribers", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_subscriber(
        body: SubscriberIn, request: Request, response: Response, idempotency_key: IdempotencyKey = None
    ) -> SubscriberOut:
        """Create a subscriber (its plan and pool must exist). Idempotent: 200 with the stored
        subscriber when an identical one exists, 409 when the username or static IP is taken."""

        store = _store_for(body, state.settings)

        async def run() -> SubscriberOut:

            async def existing() -> SubscriberRecord | None:
                try:
                    return await subs.get_subscriber(engine, body.username.strip())
                except NotFound:
                    return None

            record = await create_or_same(
                lambda: subs.add_subscriber(
                    engine, body.username, body.password, plan=body.plan, pool=body.pool,
                    static_ip=body.static_ip, status=body.status, simultaneous_use=body.simultaneous_use,
                    credential=body.credential, store=store,
                ),
                existing, lambda r: _same(r, body), response,
            )  # fmt: skip
            return _out(record)

        return await idempotent(request, response, idempotency_key, run)

    @app.get("/subscribers/{username}", tags=tags, dependencies=read, responses=READ_ERRORS)
    async def get_subscriber(username: Username) -> SubscriberOut:
        """One subscriber (never its credential)."""
        return _out(await subs.get_subscriber(engine, username))

    @app.patch("/subscribers/{username}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def patch_subscriber(username: Username, body: SubscriberPatch) -> SubscriberOut:
        """Change the fields given (``null`` clears plan, pool, static IP or simultaneous use);
        the running daemon applies it within a second."""
        store = _store_for(body, state.settings)
        fields = {k: v for k, v in changes(body).items() if k != "password_store"}
        return _out(await subs.update_subscriber(engine, username, **fields, store=store))

    @app.delete("/subscribers/{username}", tags=tags, dependencies=write, status_code=204,
                responses=DELETE_ERRORS)  # fmt: skip
    async def delete_subscriber(
        username: Username,
        disconnect_first: Annotated[
            bool, Query(alias="disconnect", description="Disconnect its open sessions first.")
        ] = False,
    ) -> Response:
        """Remove a subscriber: 409 naming its session while it is online, unless
        ``?disconnect=true`` (then 409 if a session could not be disconnected)."""
        await remove_online_subscriber(engine, username, disconnect=disconnect_first, send=disconnect)
        return Response(status_code=204)

    async def _status(username: str, status: str, cut: bool) -> ActionOut:
        record = await subs.set_subscriber_status(engine, username, status)
        done = await disconnect(await open_sessions_of(engine, username)) if cut else []
        return ActionOut(subscriber=_out(record), sessions=[DisconnectOut.model_validate(d) for d in done])

    @app.post("/subscribers/{username}/suspend", tags=tags, dependencies=write, responses=READ_ERRORS)
    async def suspend(username: Username) -> ActionOut:
        """Suspend (rejected, or walled garden if the plan has one) and disconnect its open sessions."""
        return await _status(username, "suspended", True)

    @app.post("/subscribers/{username}/resume", tags=tags, dependencies=write, responses=READ_ERRORS)
    async def resume(username: Username) -> ActionOut:
        """Make a suspended or disabled subscriber active again."""
        return await _status(username, "active", False)

    @app.post("/subscribers/{username}/set-plan", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def set_plan(username: Username, body: PlanChange) -> ActionOut:
        """Move to another plan (422 if it does not exist); open sessions get it through their
        NAS's plugin (CoA, or a disconnect where the vendor cannot change it live)."""
        record = await subs.set_subscriber_plan(engine, username, body.plan)
        done: list[dict[str, Any]] = []
        sessions = await open_sessions_of(engine, username)
        if record.plan and sessions:
            plan = await get_plan(engine, record.plan)
            done = [a.to_json() for a in await apply_plan(engine, sessions, plan, daemon_coa(state))]
        return ActionOut(subscriber=_out(record), sessions=[DisconnectOut.model_validate(d) for d in done])

    @app.post(
        "/subscribers/provision",
        tags=tags,
        dependencies=write,
        status_code=201,
        responses={**WRITE_ERRORS, 502: {"description": "The router refused the credentials (all undone)"}},
    )
    async def provision(
        body: ProvisionIn, request: Request, response: Response, idempotency_key: IdempotencyKey = None
    ) -> ProvisionOut:
        """Provision a subscriber: reserve a free address of ``pool`` as its static address,
        create the account on ``plan``, push the PPPoE credentials to ``nas`` (as
        `radiusd subscriber provision`). All or nothing. Idempotent: 200 when the subscriber
        already exists with this plan, pool and a static address."""

        async def run() -> ProvisionOut:
            try:
                done = await provision_flow(
                    engine, body.username, body.password, plan=body.plan, pool=body.pool, nas=body.nas,
                    coa=daemon_coa(state),
                )  # fmt: skip
            except ProvisionError as exc:
                try:
                    have = await subs.get_subscriber(engine, body.username)
                except NotFound:
                    have = None
                if have is not None and exc.step == "check":
                    same = (have.plan, have.pool) == (body.plan, body.pool) and have.static_ip is not None
                    if same and _password_matches(have.credential, body.password):
                        response.status_code = 200
                        return ProvisionOut(username=have.username, address=str(have.static_ip),
                                            plan=body.plan, pool=body.pool, nas=body.nas)  # fmt: skip
                if exc.step.startswith("push"):
                    raise HTTPException(502, str(exc)) from None
                if exc.step == "check" and have is None and isinstance(exc.__context__, NotFound):
                    raise InvalidInput(str(exc)) from None
                raise Conflict(str(exc)) from None
            return ProvisionOut(username=body.username, address=done.address, plan=body.plan, pool=body.pool,
                                nas=done.nas)  # fmt: skip

        return await idempotent(request, response, idempotency_key, run)
