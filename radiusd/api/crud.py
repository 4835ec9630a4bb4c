"""Shared pieces of the admin API's create/read/update/delete routes.

POST is idempotent on the natural key (username, plan/NAS/pool name, address): posting an
object identical to the stored one answers 200 with it (a billing system retrying a request
creates nothing twice), a different object under the same key answers 409. An
``Idempotency-Key`` header does the same for any POST (see :func:`idempotent`). PATCH bodies carry
only the fields to change (``null`` clears an optional field); the store's ``update_*``
functions, shared with the CLI's ``set`` commands, check and write them in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, cast

from fastapi import Header, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict

from radiusd.store.errors import Conflict
from radiusd.store.idempotency import recall, remember

from .schemas import MAX_LIMIT, Problem

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT}).")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip (done by the database).")]

READ_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such object"}}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"description": "An identical object already existed: nothing was created (idempotent retry)"},
    404: {"model": Problem, "description": "No such object"},
    409: {"model": Problem, "description": "Another object has this key, or the object is still in use"},
    422: {"model": Problem, "description": "Invalid field or unknown reference (named in detail)"},
}
DELETE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such object"},
    409: {"model": Problem, "description": "Still in use (what uses it is named in detail)"},
}


async def create_or_same(
    create: Callable[[], Awaitable[T]],
    existing: Callable[[], Awaitable[T | None]],
    same: Callable[[T], bool],
    response: Response,
) -> T:
    """``create()`` (201); on Conflict, the stored object when ``same(stored)`` (200), else 409."""
    try:
        record = await create()
    except Conflict:
        stored = await existing()
        if stored is None or not same(stored):
            raise
        response.status_code = 200
        return stored
    response.status_code = 201
    return record


def changes(body: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body set (``null`` included: it clears the field)."""
    return body.model_dump(exclude_unset=True)


def body_config(**example: Any) -> ConfigDict:
    """``model_config`` of a request body: unknown fields refused, ``example`` in the OpenAPI schema."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (e.g. a UUID): a retry with the same key and body gets the "
        "first reply again (for a day) instead of a second write; the same key with another body: 422.",
    ),
]


M = TypeVar("M", bound=BaseModel)


async def idempotent(
    request: Request, response: Response, key: str | None, run: Callable[[], Awaitable[M]]
) -> M:
    """``run()`` once per (token, ``Idempotency-Key``): a retry replays the remembered reply.

    With a key the reply is a ready :class:`Response` (FastAPI sends it as is), typed as the
    route's model so that the route keeps its response model in the OpenAPI schema."""
    if key is None:
        return await run()

    engine = request.app.state.live.engine
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    who = await request.app.state.tokens.check(token)
    if who is None:  # the route's dependency let it in a moment ago: revoked meanwhile
        raise HTTPException(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    digest = hashlib.sha256(
        f"{request.method} {request.url.path}\n".encode() + await request.body()
    ).hexdigest()
    stored = await recall(engine, who.id, key)
    if stored is not None:
        if stored.request_hash != digest:
            raise HTTPException(422, f"Idempotency-Key {key!r} was already used for a different request")
        replay = Response(
            stored.response,
            stored.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
        return cast(M, replay)
    text = json.dumps(jsonable_encoder(await run()))
    status = response.status_code or 201
    await remember(engine, who.id, key, digest, status, text)
    return cast(M, Response(text, status, media_type="application/json"))
