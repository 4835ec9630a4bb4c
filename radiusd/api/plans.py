"""``/plans``: service plans (rate limit, pools, reply attributes), through radiusd.store.plans."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.params import Depends
from pydantic import BaseModel, Field

from radiusd.store import plans, validate
from radiusd.store.errors import InvalidInput, NotFound
from radiusd.store.records import PlanRecord

from .crud import (
    DELETE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    IdempotencyKey,
    Limit,
    Offset,
    body_config,
    changes,
    create_or_same,
    idempotent,
)
from .schemas import Name, Page, Text

Seconds = Annotated[int, Field(ge=1, le=2**31 - 1)]
Reply = list[tuple[Annotated[str, Field(min_length=1, max_length=64)], Annotated[str, Field(max_length=253)]]]
PlanName = Annotated[Name, Path(description="The plan's name.")]


class PlanIn(BaseModel):
    model_config = body_config(
        name="gold", rate_limit="20M/100M", pool="cgnat", interim_interval=300,
        reply_attributes=[["Framed-MTU", "1492"]],
    )  # fmt: skip

    name: Name
    pool: Name | None = None
    walled_garden_pool: Name | None = None
    rate_limit: Annotated[str, Field(max_length=255)] | None = None
    session_timeout: Seconds | None = None
    interim_interval: Seconds | None = None
    simultaneous_use: Seconds | None = None
    reply_attributes: Reply = Field(
        default_factory=list, description="[attribute, value] pairs (dictionary names)."
    )
    description: Text | None = None


class PlanPatch(BaseModel):
    model_config = body_config(rate_limit="50M/200M", pool=None)

    new_name: Name | None = Field(None, description="Rename the plan (its subscribers stay on it).")
    pool: Name | None = None
    walled_garden_pool: Name | None = None
    rate_limit: Annotated[str, Field(max_length=255)] | None = None
    session_timeout: Seconds | None = None
    interim_interval: Seconds | None = None
    simultaneous_use: Seconds | None = None
    reply_attributes: Reply | None = Field(None, description="Replaces the list; null or [] clears it.")
    description: Text | None = None


class PlanOut(BaseModel):
    id: int
    name: str
    description: str | None
    pool: str | None
    walled_garden_pool: str | None
    simultaneous_use: int | None
    session_timeout: int | None
    interim_interval: int | None
    rate_limit: str | None
    reply_attributes: list[list[str]]
    created_at: str | None
    updated_at: str | None


def _out(record: PlanRecord) -> PlanOut:
    return PlanOut.model_validate(record.to_json())


def _same(record: PlanRecord, body: PlanIn) -> bool:
    try:
        reply = validate.known_reply_attributes(body.reply_attributes)
    except InvalidInput:
        return False
    mine = {k: v for k, v in body.model_dump().items() if k not in ("name", "reply_attributes")}
    stored = record.to_json()
    return (
        all(stored[k] == (validate.blank_to_none(v) if isinstance(v, str) else v) for k, v in mine.items())
        and [list(p) for p in record.reply_attributes] == reply
    )


def install(app: FastAPI, state: Any, read: list[Depends], write: list[Depends]) -> None:
    """Add the ``/plans`` routes."""
    engine = state.engine
    tags: list[str | Any] = ["plans"]

    @app.get("/plans", tags=tags, dependencies=read)
    async def list_plans(
        limit: Limit = 100, offset: Offset = 0, pool: Annotated[Name | None, Query()] = None
    ) -> Page[PlanOut]:
        """Plans by name; ``pool`` keeps those using that pool (as pool or walled garden)."""
        items = await plans.page_plans(engine, limit=limit + 1, offset=offset, pool=pool)
        nxt = str(offset + limit) if len(items) > limit else None
        return Page[PlanOut](
            items=[_out(p) for p in items[:limit]], limit=limit, offset=offset, next_cursor=nxt
        )

    @app.post("/plans", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_plan(
        body: PlanIn, request: Request, response: Response, idempotency_key: IdempotencyKey = None
    ) -> PlanOut:
        """Create a plan: its pools must exist, its reply attributes be in the dictionary with
        values of their type (422). Idempotent: 200 for an identical existing plan, else 409."""

        async def run() -> PlanOut:

            async def existing() -> PlanRecord | None:
                try:
                    return await plans.get_plan(engine, body.name)
                except NotFound:
                    return None

            values = body.model_dump()
            record = await create_or_same(
                lambda: plans.add_plan(engine, values.pop("name"), **values),
                existing,
                lambda r: _same(r, body),
                response,
            )
            return _out(record)

        return await idempotent(request, response, idempotency_key, run)

    @app.get("/plans/{name}", tags=tags, dependencies=read, responses=READ_ERRORS)
    async def get_plan(name: PlanName) -> PlanOut:
        return _out(await plans.get_plan(engine, name))

    @app.patch("/plans/{name}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def patch_plan(name: PlanName, body: PlanPatch) -> PlanOut:
        """Change the fields given (null clears); subscribers get it at their next login."""
        fields = changes(body)
        if "reply_attributes" in fields and fields["reply_attributes"] is None:
            fields["reply_attributes"] = []
        if fields.get("new_name", "") is None:
            del fields["new_name"]
        return _out(await plans.update_plan(engine, name, **fields))

    @app.delete("/plans/{name}", tags=tags, dependencies=write, status_code=204, responses=DELETE_ERRORS)
    async def delete_plan(
        name: PlanName,
        replace: Annotated[Name | None, Query(description="Move its subscribers to this plan first.")] = None,
        force: Annotated[bool, Query(description="Leave its subscribers without a plan.")] = False,
    ) -> Response:
        """Remove a plan: 409 with the number of its subscribers, unless ``replace`` or ``force``."""
        await plans.remove_plan(engine, name, replace=replace, force=force)
        return Response(status_code=204)
