"""Writes to ``/ipam/pools`` (create, change, ranges, remove) and ``/ipam/reservations``.

Reads of pools (live utilisation) are in radiusd.api.app; these routes go through the store
(radiusd.store.pools, radiusd.store.pool_edit) as the CLI's ``pool`` commands do, and each
write reaches the running daemon through the change feed (topic ``pool``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.params import Depends
from pydantic import BaseModel, Field

from ipam.errors import IpamError
from ipam.report import PoolInfo
from radiusd.store import pool_edit, pools
from radiusd.store.errors import Conflict, NotFound

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
from .schemas import Name, Page, PoolOut

Spec = Annotated[str, Field(min_length=1, max_length=64)]
Pct = Annotated[float, Field(gt=0, le=100)]
PoolName = Annotated[Name, Path(description="The pool's name.")]
Address = Annotated[str, Path(min_length=1, max_length=64, description="Address, or IPv6 prefix (a/b).")]


class PoolIn(BaseModel):
    model_config = body_config(name="cgnat", ranges=["100.64.0.0/16"], ipv6_prefixes=["2001:db8::/48"])

    name: Name
    ranges: list[Spec] = Field(default_factory=list, description="IPv4 prefixes or single addresses.")
    ipv6_prefixes: list[Spec] = Field(default_factory=list, description="2001:db8::/48 or 2001:db8::/48/64.")
    delegated: list[Spec] = Field(default_factory=list, description="2001:db8:100::/40/56 (default /56).")
    nas: Name | None = None
    fallback: Name | None = None
    warning_pct: Pct | None = None
    exclude: list[Spec] = Field(default_factory=list, description="IPv4 addresses never handed out.")


class PoolPatch(BaseModel):
    model_config = body_config(add_ranges=["100.65.0.0/24"], warning_pct=80, gateway="100.65.0.1")

    add_ranges: list[Spec] = Field(default_factory=list, description="IPv4 ranges to add.")
    add_ipv6_prefixes: list[Spec] = Field(default_factory=list)
    add_delegated: list[Spec] = Field(default_factory=list)
    remove_ranges: list[Spec] = Field(default_factory=list, description="Ranges as GET shows them.")
    nas: Name | None = Field(None, description="NAS scope; null: every NAS.")
    fallback: Name | None = Field(None, description="Pool tried when this one is exhausted; null clears.")
    warning_pct: Pct | None = Field(None, description="Warning threshold; null: the daemon's default.")
    gateway: Name | None = Field(None, description="Address of the pool never handed out.")


class RangeIn(BaseModel):
    model_config = body_config(range="100.66.0.0/24")

    range: Spec
    kind: Literal["ipv4", "ipv6-wan", "ipv6-pd"] | None = Field(None, description="Default: by the text.")


class ReservationIn(BaseModel):
    model_config = body_config(address="100.64.0.10", username="alice")

    address: Spec
    username: Annotated[str, Field(min_length=1, max_length=253)] | None = Field(
        None, description="The subscriber it is kept for (must exist); null: kept for nobody."
    )


class ReservationOut(BaseModel):
    address: str
    username: str | None
    pool: str


class HistoryOut(BaseModel):
    """One holder of an address (``radiusd lease history``): from the assignment history
    (``source`` assignment) or from an accounting session that reported it (session)."""

    address: str
    username: str
    source: str
    started: dt.datetime
    ended: dt.datetime | None
    nas: str | None = None
    session: str | None = None
    pool: str | None = None


def _out(info: PoolInfo) -> PoolOut:
    return PoolOut.model_validate(info, from_attributes=True)


def _same(info: PoolInfo, body: PoolIn) -> bool:
    given = sorted(body.ranges + body.ipv6_prefixes + body.delegated)
    return (
        sorted(r.range for r in info.ranges) == given
        and (info.nas, info.fallback, info.warning_pct) == (body.nas, body.fallback, body.warning_pct)
        and not body.exclude
    )


async def _edit(engine: Any, name: str, **kwargs: Any) -> PoolOut:
    return _out(await pool_edit.edit_pool(engine, name, **kwargs))


def install(app: FastAPI, state: Any, read: list[Depends], write: list[Depends]) -> None:  # noqa: C901  (route closures over engine and state: their branches count here, each is short)
    """Add the pool-writing and reservation routes."""
    engine = state.engine
    tags: list[str | Any] = ["ipam"]

    @app.post("/ipam/pools", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_pool(
        body: PoolIn, request: Request, response: Response, idempotency_key: IdempotencyKey = None
    ) -> PoolOut:
        """Create a pool (409 when a range overlaps any pool). Idempotent: 200 when an
        identical pool exists (same ranges, NAS, fallback, threshold)."""

        async def run() -> PoolOut:

            async def existing() -> PoolInfo | None:
                try:
                    return await pools.get_pool(engine, body.name)
                except NotFound:
                    return None

            async def create() -> PoolInfo:
                try:
                    return await pools.add_pool(engine, **body.model_dump())
                except IpamError as exc:
                    raise Conflict(str(exc)) from None

            return _out(await create_or_same(create, existing, lambda i: _same(i, body), response))

        return await idempotent(request, response, idempotency_key, run)

    @app.patch("/ipam/pools/{name}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def patch_pool(name: PoolName, body: PoolPatch) -> PoolOut:
        """Apply every change or none: ranges added and removed (409 while a removed range has
        leases or reservations), NAS scope, fallback, warning threshold, gateway."""
        fields = changes(body)
        adds = [("ipv4", s) for s in fields.pop("add_ranges", [])]
        adds += [("ipv6-wan", s) for s in fields.pop("add_ipv6_prefixes", [])]
        adds += [("ipv6-pd", s) for s in fields.pop("add_delegated", [])]
        return await _edit(
            engine, name, add_ranges=adds, remove_ranges=fields.pop("remove_ranges", []), **fields
        )

    @app.delete("/ipam/pools/{name}", tags=tags, dependencies=write, status_code=204, responses=DELETE_ERRORS)
    async def delete_pool(name: PoolName) -> Response:
        """Remove a pool: 409 while it has live or reserved items or is another pool's fallback."""
        try:
            await pools.remove_pool(engine, name)
        except IpamError as exc:
            raise Conflict(str(exc)) from None
        return Response(status_code=204)

    @app.post("/ipam/pools/{name}/ranges", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def add_range(name: PoolName, body: RangeIn) -> PoolOut:
        """Add one range (409 when it overlaps any pool's range). Idempotent: adding a range the
        pool already has changes nothing."""
        current = await pools.get_pool(engine, name)
        if pool_edit.has_range(current, body.range):
            return _out(current)
        return await _edit(engine, name, add_ranges=[(body.kind, body.range)])

    @app.delete("/ipam/pools/{name}/ranges", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def remove_range(
        name: PoolName,
        range_: Annotated[Spec, Query(alias="range", description="The range, as GET shows it.")],
    ) -> PoolOut:
        """Remove one range (409 while any of its items is offered, leased or reserved)."""
        return await _edit(engine, name, remove_ranges=[range_])

    @app.get("/ipam/reservations", tags=tags, dependencies=read)
    async def list_reservations(
        limit: Limit = 100,
        offset: Offset = 0,
        pool: Annotated[Name | None, Query()] = None,
        user: Annotated[Name | None, Query()] = None,
    ) -> Page[ReservationOut]:
        """Reserved addresses and prefixes by pool and address."""
        items = await pool_edit.reservations_page(
            engine, limit=limit + 1, offset=offset, pool=pool, user=user
        )
        nxt = str(offset + limit) if len(items) > limit else None
        return Page[ReservationOut](
            items=[ReservationOut.model_validate(i) for i in items[:limit]],
            limit=limit,
            offset=offset,
            next_cursor=nxt,
        )

    @app.post("/ipam/reservations", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def reserve(
        body: ReservationIn, request: Request, response: Response, idempotency_key: IdempotencyKey = None
    ) -> ReservationOut:
        """Reserve an address (for a subscriber, which must exist). Idempotent: 200 when it is
        already reserved for the same subscriber, 409 when it is live or reserved for another."""

        async def run() -> ReservationOut:

            async def existing() -> dict[str, Any] | None:
                try:
                    return await pool_edit.get_reservation(engine, body.address)
                except NotFound:
                    return None

            async def create() -> dict[str, Any]:
                await pool_edit.reserve_for(engine, body.address, body.username)
                return await pool_edit.get_reservation(engine, body.address)

            found = await create_or_same(
                create, existing, lambda r: r["username"] == (body.username or None), response
            )
            return ReservationOut.model_validate(found)

        return await idempotent(request, response, idempotency_key, run)

    @app.get("/ipam/history/{address:path}", tags=tags, dependencies=read, responses=READ_ERRORS)
    async def address_history(
        address: Address,
        at: Annotated[
            dt.datetime | None, Query(description="Only who held it at this time (with a time zone).")
        ] = None,
    ) -> list[HistoryOut]:
        """Who held an address or prefix, newest first (``radiusd lease history IP --at``):
        the assignment history is read by its partitions released after ``at`` only."""
        entries = await pools.lease_history(engine, address, at=at)
        return [HistoryOut.model_validate(e, from_attributes=True) for e in entries]

    @app.get("/ipam/reservations/{address:path}", tags=tags, dependencies=read, responses=READ_ERRORS)
    async def get_reservation(address: Address) -> ReservationOut:
        return ReservationOut.model_validate(await pool_edit.get_reservation(engine, address))

    @app.delete(
        "/ipam/reservations/{address:path}",
        tags=tags,
        dependencies=write,
        status_code=204,
        responses=READ_ERRORS,
    )
    async def unreserve(address: Address) -> Response:
        """Lift a reservation (404 when the address is not reserved)."""
        await pools.unreserve_address(engine, address)
        return Response(status_code=204)
