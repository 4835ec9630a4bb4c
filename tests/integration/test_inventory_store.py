"""radiusd.store.inventory on SQLite and PostgreSQL: CRUD, refusals, routers = NAS, no secrets."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store import inventory as inv
from radiusd.store.errors import Conflict, InvalidInput, NotFound
from radiusd.store.inventory import remove_nas
from radiusd.store.models import DeviceConnection, IPPool, RadiusSession, RouterSector, utcnow
from radiusd.store.nas import add_nas, get_nas, list_nas

SECRETS = ("radius-s3cret", "api-pa55word", "c0mmunity-x", "auth-key-123", "priv-key-456")
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


async def _seed(engine: AsyncEngine) -> None:
    await inv.add_site(engine, "pop-north", kind="pop", latitude=52.5, longitude=13.4, address="Main St 1")
    await inv.add_site(engine, "tower-7", kind="tower")
    await inv.add_router(
        engine,
        "core1",
        "10.0.0.1",
        SECRETS[0],
        site="pop-north",
        vendor="mikrotik",
        management_address="core1.example.net",
        api_username="admin",
        api_password=SECRETS[1],
        api_port=8729,
        api_tls=True,
    )
    await inv.add_device(engine, "sw1", kind="switch", site="pop-north", snmp_community=SECRETS[2])
    await inv.add_device(
        engine,
        "olt1",
        kind="olt",
        site="tower-7",
        address="10.0.1.2",
        snmp_version="v3",
        snmp_user="monitor",
        snmp_auth_protocol="SHA256",
        snmp_auth_key=SECRETS[3],
        snmp_priv_protocol="aes",
        snmp_priv_key=SECRETS[4],
    )


async def _pool(
    engine: AsyncEngine, name: str, *, router_id: int | None = None, site_id: int | None = None
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(IPPool).values(
                name=name,
                kind="ipv4",
                router_id=router_id,
                site_id=site_id,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )


async def _session(engine: AsyncEngine, router_id: int, key: str, status: str = "open") -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(RadiusSession).values(
                acct_unique_id=key,
                acct_session_id=key,
                username="alice",
                router_id=router_id,
                nas_address="10.0.0.1",
                started_at=T0,
                updated_at=T0,
                status=status,
            )
        )


async def test_site_crud(store_engine: AsyncEngine) -> None:
    site = await inv.add_site(store_engine, " pop-a ", kind="datacenter", latitude=-33.9, longitude=151.2)
    assert (site.name, site.kind, site.latitude, site.longitude) == ("pop-a", "datacenter", -33.9, 151.2)
    assert await inv.get_site(store_engine, "pop-a") == site
    assert [s.name for s in await inv.list_sites(store_engine)] == ["pop-a"]
    with pytest.raises(Conflict, match="site 'pop-a' already exists"):
        await inv.add_site(store_engine, "pop-a")
    for bad in ({"kind": "castle"}, {"latitude": 91.0, "longitude": 0.0}, {"latitude": 1.0}):
        with pytest.raises(InvalidInput):
            await inv.add_site(store_engine, "pop-b", **bad)
    await inv.remove_site(store_engine, "pop-a")
    with pytest.raises(NotFound, match="site 'pop-a' does not exist"):
        await inv.get_site(store_engine, "pop-a")


async def test_router_is_the_nas_row(store_engine: AsyncEngine) -> None:
    await _seed(store_engine)
    await add_nas(store_engine, "edge2", "10.0.0.2", "other-secret")
    routers = await inv.list_routers(store_engine)
    assert [r.name for r in routers] == [n.name for n in await list_nas(store_engine)] == ["core1", "edge2"]
    core = await inv.get_router(store_engine, "core1")
    nas = await get_nas(store_engine, "core1")
    assert (nas.id, nas.address, nas.secret, nas.vendor, nas.site_id) == (
        core.id, "10.0.0.1", SECRETS[0], "mikrotik", core.site_id,
    )  # fmt: skip
    assert (core.site, core.management_address, core.api_username, core.api_port, core.api_tls) == (
        "pop-north", "core1.example.net", "admin", 8729, True,
    )  # fmt: skip
    assert [r.name for r in await inv.list_routers(store_engine, site="pop-north")] == ["core1"]

    # a NAS added without a site gets one later; NAS and router names/addresses share one namespace
    moved = await inv.update_router(store_engine, "edge2", site="tower-7", management_address="10.9.9.9")
    assert (moved.site, moved.management_address) == ("tower-7", "10.9.9.9")
    cleared = await inv.update_router(store_engine, "core1", api_username=None, api_password=None)
    assert (cleared.api_username, cleared.api_password, cleared.api_port, cleared.api_tls) == (
        None,
        None,
        None,
        False,
    )
    with pytest.raises(Conflict, match="NAS 'edge2' already exists"):
        await inv.add_router(store_engine, "edge2", "10.0.0.3", "s")
    with pytest.raises(Conflict, match=r"address 10\.0\.0\.1 already belongs"):
        await inv.add_router(store_engine, "edge3", "10.0.0.1", "s")


async def test_router_add_checks_everything_before_writing(store_engine: AsyncEngine) -> None:
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"site": "nowhere"}, NotFound, "site 'nowhere' does not exist"),
        ({"api_username": "admin"}, InvalidInput, "both the API user and the API password"),
        ({"api_port": 8728}, InvalidInput, "needs an API user"),
        ({"management_address": "not an address!"}, InvalidInput, "neither an IP address nor a host name"),
        ({"vendor": "acme"}, InvalidInput, "vendor 'acme'"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            await inv.add_router(store_engine, "r1", "10.0.0.1", "s", **kwargs)  # type: ignore[arg-type]
    assert await list_nas(store_engine) == []


async def test_remove_site_refused_while_used(store_engine: AsyncEngine) -> None:
    await _seed(store_engine)
    site = await inv.get_site(store_engine, "pop-north")
    await _pool(store_engine, "north-pool", site_id=site.id)
    with pytest.raises(Conflict) as err:
        await inv.remove_site(store_engine, "pop-north")
    assert str(err.value) == "site 'pop-north' still has router(s) core1; device(s) sw1; pool(s) north-pool"
    assert "\n" not in str(err.value)
    await inv.get_site(store_engine, "pop-north")  # still there


async def test_remove_router_refused_with_pools_sessions_links(store_engine: AsyncEngine) -> None:
    await _seed(store_engine)
    core = await inv.get_router(store_engine, "core1")
    await inv.add_sector(store_engine, "core1", "north", frequency_mhz=5500, azimuth_deg=0, beamwidth_deg=90)
    await _pool(store_engine, "core-pool", router_id=core.id)
    await _session(store_engine, core.id, "s1")
    await _session(store_engine, core.id, "s2")
    await _session(store_engine, core.id, "s3", status="closed")
    link = await inv.add_link(store_engine, "core1:sfp1", "sw1:24", medium="fibre", capacity_mbps=10_000)
    with pytest.raises(Conflict) as err:
        await inv.remove_router(store_engine, "core1")
    assert str(err.value) == (
        "router 'core1' still has pool(s) core-pool; 2 open session(s); "
        f"link(s) #{link.id} (core1:sfp1 - sw1:24)"
    )
    # `nas remove` of the same row is refused too (the database's foreign keys)
    with pytest.raises(Conflict):
        await remove_nas(store_engine, "core1")

    async with store_engine.begin() as conn:
        await conn.execute(sa.delete(IPPool))
        await conn.execute(sa.update(RadiusSession).values(status="closed"))
    with pytest.raises(Conflict, match=r"still has link\(s\) #"):
        await inv.remove_router(store_engine, "core1")
    await inv.remove_link(store_engine, link.id)
    await inv.remove_router(store_engine, "core1")
    assert [r.name for r in await list_nas(store_engine)] == []
    async with store_engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(RouterSector)) == 0  # went with it
        assert await conn.scalar(sa.select(sa.func.count()).select_from(RadiusSession)) == 3  # history kept


async def test_sectors(store_engine: AsyncEngine) -> None:
    await _seed(store_engine)
    await add_nas(store_engine, "edge2", "10.0.0.2", "x")
    north = await inv.add_sector(
        store_engine, "core1", "north", frequency_mhz=5180, azimuth_deg=0, beamwidth_deg=60, ssid="isp-n"
    )
    await inv.add_sector(store_engine, "edge2", "north")  # same name, other router
    assert (north.router, north.frequency_mhz, north.azimuth_deg, north.ssid) == ("core1", 5180, 0, "isp-n")
    assert [(s.router, s.name) for s in await inv.list_sectors(store_engine)] == [
        ("core1", "north"), ("edge2", "north"),
    ]  # fmt: skip
    assert [s.router for s in await inv.list_sectors(store_engine, router="edge2")] == ["edge2"]
    with pytest.raises(Conflict, match="router 'core1' already has a sector 'north'"):
        await inv.add_sector(store_engine, "core1", "north")
    with pytest.raises(NotFound, match="router 'ghost' does not exist"):
        await inv.add_sector(store_engine, "ghost", "x")
    for bad in ({"azimuth_deg": 360}, {"beamwidth_deg": 0}, {"frequency_mhz": -5}, {"ssid": "x" * 33}):
        with pytest.raises(InvalidInput):
            await inv.add_sector(store_engine, "core1", "south", **bad)
    await inv.remove_sector(store_engine, "core1", "north")
    with pytest.raises(NotFound, match="router 'core1' has no sector 'north'"):
        await inv.get_sector(store_engine, "core1", "north")


async def test_devices_and_snmp_rules(store_engine: AsyncEngine) -> None:
    await _seed(store_engine)
    olt = await inv.get_device(store_engine, "olt1")
    assert (olt.snmp_version, olt.snmp_user, olt.snmp_auth_protocol, olt.snmp_priv_protocol, olt.site) == (
        "v3", "monitor", "sha256", "aes", "tower-7",
    )  # fmt: skip
    assert [d.name for d in await inv.list_devices(store_engine, site="pop-north")] == ["sw1"]
    with pytest.raises(Conflict, match="device 'sw1' already exists"):
        await inv.add_device(store_engine, "sw1")
    with pytest.raises(NotFound, match="site 'mars'"):
        await inv.add_device(store_engine, "sw2", site="mars")
    bad_snmp: list[dict[str, str]] = [
        {"snmp_version": "v2c", "snmp_user": "u"},
        {"snmp_version": "v3", "snmp_community": "public"},
        {"snmp_version": "v3"},
        {"snmp_version": "v3", "snmp_user": "u", "snmp_auth_key": "12345678"},
        {"snmp_version": "v3", "snmp_user": "u", "snmp_auth_protocol": "sha", "snmp_auth_key": "short"},
        {"snmp_version": "v3", "snmp_user": "u", "snmp_priv_protocol": "aes", "snmp_priv_key": "12345678"},
        {"snmp_version": "v4"},
    ]
    for kwargs in bad_snmp:
        with pytest.raises(InvalidInput):
            await inv.add_device(store_engine, "sw2", **kwargs)  # type: ignore[arg-type]
    assert [d.name for d in await inv.list_devices(store_engine)] == ["olt1", "sw1"]


async def test_links(store_engine: AsyncEngine) -> None:
    await _seed(store_engine)
    up = await inv.add_link(store_engine, "core1:sfp1", "olt1:uplink", medium="fibre", capacity_mbps=10_000)
    assert (up.from_kind, up.from_name, up.from_port, up.to_kind, up.to_name, up.to_port) == (
        "router", "core1", "sfp1", "device", "olt1", "uplink",
    )  # fmt: skip
    radio = await inv.add_link(store_engine, inv.LinkEnd("sw1", "1"), inv.LinkEnd("olt1"), medium="wireless")
    assert radio.capacity_mbps is None
    assert [link.id for link in await inv.list_links(store_engine)] == [up.id, radio.id]
    assert [link.id for link in await inv.list_links(store_engine, node="olt1")] == [up.id, radio.id]
    assert [link.id for link in await inv.list_links(store_engine, node="core1")] == [up.id]
    assert await inv.get_link(store_engine, up.id) == up

    with pytest.raises(NotFound, match="link end 'ghost': no router or device of that name"):
        await inv.add_link(store_engine, "core1:sfp2", "ghost:1", medium="copper")
    with pytest.raises(NotFound, match="no device of that name"):
        await inv.add_link(store_engine, "core1:sfp2", "device:core1", medium="copper")
    with pytest.raises(Conflict, match=f"port 'uplink' of device 'olt1' is already used by link #{up.id}"):
        await inv.add_link(store_engine, "sw1:2", "olt1:uplink", medium="copper")
    with pytest.raises(InvalidInput, match="not 'sw1' to itself"):
        await inv.add_link(store_engine, "sw1:3", "sw1:4", medium="copper")
    with pytest.raises(InvalidInput, match="medium 'pigeon'"):
        await inv.add_link(store_engine, "sw1:3", "core1:5", medium="pigeon")

    # a name that is both a router and a device must say which
    await inv.add_device(store_engine, "core1", kind="ups")
    with pytest.raises(InvalidInput, match="'core1' is both a router and a device: write router:core1"):
        await inv.add_link(store_engine, "core1:ether9", "sw1:9", medium="copper")
    ups = await inv.add_link(store_engine, "device:core1:ac", "router:core1:ether9", medium="copper")
    assert (ups.from_kind, ups.to_kind) == ("device", "router")

    with pytest.raises(Conflict, match=r"device 'olt1' still has link\(s\)"):
        await inv.remove_device(store_engine, "olt1")
    await inv.remove_link(store_engine, radio.id)
    with pytest.raises(NotFound, match=f"link #{radio.id} does not exist"):
        await inv.remove_link(store_engine, radio.id)


async def test_database_refuses_half_links(store_engine: AsyncEngine) -> None:
    """Both ends must exist and be exactly one router or device, whatever code writes the row."""
    await _seed(store_engine)
    device = await inv.get_device(store_engine, "sw1")
    router = await inv.get_router(store_engine, "core1")
    now = utcnow()
    bad = [
        {"from_device_id": device.id, "to_router_id": 9999},  # missing end
        {"from_device_id": device.id},  # no "to" end
        {"from_device_id": device.id, "from_router_id": router.id, "to_router_id": router.id},  # two "from"
    ]
    for values in bad:
        with pytest.raises(sa.exc.IntegrityError):
            async with store_engine.begin() as conn:
                await conn.execute(
                    sa.insert(DeviceConnection).values(
                        medium="copper", created_at=now, updated_at=now, **values
                    )
                )


async def test_no_secret_in_json_or_repr(store_engine: AsyncEngine) -> None:
    await _seed(store_engine)
    records: list[object] = [
        *await inv.list_routers(store_engine),
        *await inv.list_devices(store_engine),
        *await inv.list_sites(store_engine),
    ]
    dumped = json.dumps([r.to_json() for r in records]) + repr(records)  # type: ignore[attr-defined]
    for secret in SECRETS:
        assert secret not in dumped
    router = (await inv.get_router(store_engine, "core1")).to_json()
    assert router["api_password_set"] is True and "secret" not in router and "api_password" not in router
    olt = (await inv.get_device(store_engine, "olt1")).to_json()
    assert (olt["snmp_community_set"], olt["snmp_auth_key_set"], olt["snmp_priv_key_set"]) == (
        False,
        True,
        True,
    )
