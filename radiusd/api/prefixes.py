"""``/ipam/prefixes``, ``/ipam/addresses``, ``/ipam/assigned``, ``/ipam/pd``: the prefix tree,
infrastructure addressing, routed customer subnets and the IPv6 PD plan (docs/prefixes.md).

Thin routes over radiusd.store.prefixes and radiusd.store.pd, the functions the CLI's
``prefix``, ``address`` and ``pd`` commands call; store errors map to 404/409/422 in
radiusd.api.app. A prefix in a path keeps its slash: ``/ipam/prefixes/10.255.0.0/16``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Response
from fastapi.params import Depends
from pydantic import AfterValidator, BaseModel, Field

from radiusd.store import pd, prefixes

from .crud import DELETE_ERRORS, READ_ERRORS, WRITE_ERRORS, body_config
from .schemas import Name, Text, _printable

Cidr = Annotated[
    str,
    Field(min_length=3, max_length=64, description="CIDR prefix: 10.255.0.0/16, 2001:db8::/32"),
    AfterValidator(_printable),
]
Target = Annotated[
    str,
    AfterValidator(_printable),
    Field(
        min_length=3,
        max_length=200,
        description="link:ID, router:NAME[:interface], device:NAME[:interface], subscriber:NAME, site:NAME",
    ),
]
Role = Literal["container", "infrastructure", "customer", "reserved"]
AnyRole = Literal["container", "pool", "infrastructure", "customer", "reserved"]
PrefixPath = Annotated[str, Path(min_length=3, max_length=64, description="The prefix, slash included.")]
Length = Annotated[str, Field(min_length=1, max_length=4, pattern=r"^/?\d{1,3}$", description="e.g. /40")]


class AddressOut(BaseModel):
    address: str
    prefix: str
    assigned: str | None
    interface: str | None
    description: str | None


class PrefixOut(BaseModel):
    """A prefix with its place in the tree and its utilisation (:func:`ipam.prefixes.rollup`)."""

    prefix: str
    family: int
    role: str
    parent: str | None
    site: str | None
    description: str | None
    assigned: str | None
    pool: str | None
    depth: int
    size: int
    allocated: int
    used: int
    free: int
    percent_allocated: float
    percent_used: float
    children: list[str]
    addresses: list[AddressOut]


class FamilyFigures(BaseModel):
    size: int
    allocated: int
    used: int
    free: int
    percent_allocated: float
    percent_used: float


class TreeOut(BaseModel):
    prefixes: list[dict[str, Any]] = Field(description="PrefixOut objects, children nested as objects.")
    families: dict[str, FamilyFigures]


class PrefixIn(BaseModel):
    model_config = body_config(prefix="100.64.0.0/10", role="container", description="CGNAT")

    prefix: Cidr
    role: Role = "container"
    site: Name | None = None
    description: Text | None = None
    assigned_to: Target | None = None


class AllocateIn(BaseModel):
    model_config = body_config(**{"from": "10.255.0.0/16", "length": 31, "for": "link:3"})

    from_: Cidr = Field(alias="from")
    length: Annotated[int, Field(ge=0, le=128)]
    for_: Target = Field(alias="for")
    role: Role | None = None
    description: Text | None = None


class AssignIn(BaseModel):
    model_config = body_config(**{"from": "10.255.255.0/24", "to": "router:core1:lo0"})

    from_: Cidr = Field(alias="from")
    to: Target
    address: Annotated[str, Field(min_length=2, max_length=45)] | None = None
    description: Text | None = None


class RoutedIn(BaseModel):
    model_config = body_config(subnets=["203.0.113.8/29", "2001:db8:1::/48"])

    subnets: list[Cidr] = Field(max_length=64, description="Every routed subnet the subscriber keeps.")


class RoutedOut(BaseModel):
    username: str
    subnets: list[str]


class HoldingPrefix(BaseModel):
    prefix: str
    role: str
    description: str | None


class HoldingAddress(BaseModel):
    address: str
    interface: str | None
    prefix: str


class HoldingsOut(BaseModel):
    prefixes: list[HoldingPrefix]
    addresses: list[HoldingAddress]


class PdPlanIn(BaseModel):
    model_config = body_config(aggregate="2001:db8::/32", per_site="/40", delegate="/56", sites=["tower-a"])

    aggregate: Cidr
    per_site: Length
    delegate: Length
    sites: list[Name] | None = Field(None, max_length=4096, description="Default: every site.")
    apply: bool = False


class PdSiteOut(BaseModel):
    site: str
    block: str
    delegated: int
    wan: str
    wan_prefixes: int
    status: Literal["new", "exists"]


class PdPlanOut(BaseModel):
    aggregate: str
    per_site: int
    delegate: int
    wan_block: str
    wan_length: int
    free_blocks: int
    sites: list[PdSiteOut]
    applied: bool


class GrowthOut(BaseModel):
    site: str
    pool: str
    delegated: int
    can_take: int
    new_last_30_days: int
    per_day: float
    days_left: float | None
    first: bool


def _out(info: prefixes.PrefixInfo) -> PrefixOut:
    return PrefixOut.model_validate(info.to_json())


def install(app: FastAPI, state: Any, read: list[Depends], write: list[Depends]) -> None:
    """Add the prefix, address, routed-subnet and PD-plan routes."""
    engine = state.engine
    tags: list[str | Any] = ["prefixes"]

    @app.get("/ipam/prefixes", tags=tags, dependencies=read)
    async def list_prefixes(
        family: Annotated[Literal[4, 6] | None, Query()] = None,
        role: Annotated[AnyRole | None, Query()] = None,
        site: Annotated[Name | None, Query()] = None,
    ) -> list[PrefixOut]:
        """Every prefix in tree order (depth first, lowest address first), with utilisation."""
        infos = await prefixes.list_prefixes(engine, family=family, role=role, site=site)
        return [_out(i) for i in infos]

    @app.get("/ipam/prefix-tree", tags=tags, dependencies=read)
    async def prefix_tree() -> TreeOut:
        """The tree as nested objects, and utilisation per family (the roots summed)."""
        infos = await prefixes.list_prefixes(engine)
        families = await prefixes.family_totals(engine)
        return TreeOut(
            prefixes=prefixes.nested(infos), families={k: FamilyFigures(**v) for k, v in families.items()}
        )

    @app.get("/ipam/prefixes/{prefix:path}", tags=tags, dependencies=read, responses=READ_ERRORS)
    async def get_prefix(prefix: PrefixPath) -> PrefixOut:
        return _out(await prefixes.get_prefix(engine, prefix))

    @app.post("/ipam/prefixes", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_prefix(body: PrefixIn) -> PrefixOut:
        """Add a prefix where it belongs (409 when it exists or sits inside a pool's range)."""
        info = await prefixes.add_prefix(
            engine,
            body.prefix,
            role=body.role,
            site=body.site,
            description=body.description,
            target=body.assigned_to,
        )
        return _out(info)

    @app.delete(
        "/ipam/prefixes/{prefix:path}",
        tags=tags,
        dependencies=write,
        status_code=204,
        responses=DELETE_ERRORS,
    )
    async def remove_prefix(prefix: PrefixPath) -> Response:
        """Remove a prefix; its children move up (409 for a pool's range or with addresses)."""
        await prefixes.remove_prefix(engine, prefix)
        return Response(status_code=204)

    @app.post("/ipam/allocations", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def allocate(body: AllocateIn) -> PrefixOut:
        """The next free prefix of ``length`` in ``from``, for ``for`` (409 when none is left)."""
        info = await prefixes.allocate_prefix(
            engine, body.from_, body.length, body.for_, role=body.role, description=body.description
        )
        return _out(info)

    @app.post("/ipam/addresses", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def assign(body: AssignIn) -> AddressOut:
        """The next free address of ``from`` (or ``address``) for a router, device or link."""
        row = await prefixes.assign_address(
            engine, body.from_, body.to, address=body.address, description=body.description
        )
        return AddressOut.model_validate(row)

    @app.delete(
        "/ipam/addresses/{address}", tags=tags, dependencies=write, status_code=204, responses=READ_ERRORS
    )
    async def unassign(address: Annotated[str, Path(min_length=2, max_length=45)]) -> Response:
        await prefixes.unassign_address(engine, address)
        return Response(status_code=204)

    @app.get("/ipam/assigned/{target}", tags=tags, dependencies=read, responses=WRITE_ERRORS)
    async def assigned(target: Annotated[str, Path(min_length=3, max_length=200)]) -> HoldingsOut:
        """What a router, device, link, subscriber or site holds (``router:core1``)."""
        return HoldingsOut.model_validate(await prefixes.assigned_to(engine, target))

    @app.put("/ipam/routed-subnets/{username}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def set_routed(username: Name, body: RoutedIn) -> RoutedOut:
        """Set a subscriber's routed subnets (sent as Framed-Route / Framed-IPv6-Route);
        an empty list removes them."""
        subnets = await prefixes.set_routed_subnets(engine, username, body.subnets)
        return RoutedOut(username=username, subnets=subnets)

    @app.post("/ipam/pd/plan", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def pd_plan(body: PdPlanIn) -> PdPlanOut:
        """Plan (and with ``apply``, create) per-site delegated-prefix and WAN pools; 422 for
        lengths off a nibble boundary, 409 when the plan does not fit or overlaps."""
        plan = await pd.make_plan(engine, body.aggregate, body.per_site, body.delegate, body.sites)
        if body.apply:
            plan = await pd.apply_plan(engine, plan)
        return PdPlanOut.model_validate({**plan.to_json(), "applied": body.apply})

    @app.get("/ipam/pd/growth", tags=tags, dependencies=read)
    async def pd_growth() -> list[GrowthOut]:
        """Per site: subscribers it can still take, and days left at the last 30 days' pace."""
        return [GrowthOut.model_validate(r) for r in await pd.growth(engine)]
