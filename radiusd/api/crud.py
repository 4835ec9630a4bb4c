"""Shared pieces of the admin API's create/read/update/delete routes.

POST is idempotent on the natural key (username, plan/NAS/pool name, address): posting an
object identical to the stored one answers 200 with it (a billing system retrying a request
creates nothing twice), a different object under the same key answers 409. PATCH bodies carry
only the fields to change (``null`` clears an optional field); the store's ``update_*``
functions, shared with the CLI's ``set`` commands, check and write them in one transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict

from radiusd.store.errors import Conflict

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
