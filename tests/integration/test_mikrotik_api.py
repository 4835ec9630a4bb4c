"""The mikrotik plugin through librouteros (the real client) over a real socket to a RouterOS
API stand-in, and the provisioning flow end to end (SQLite and PostgreSQL).

Asserted: the exact API commands and arguments (/ppp/secret/add with name, password,
service=pppoe, remote-address; /ppp/secret/remove by .id after a print; /ppp/active/remove),
the post-6.43 login, router credentials kept out of logs and errors, and a failed step of
``subscriber provision`` leaving nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.actions import ProvisionError, provision
from inventory.plugins.base import PluginError
from inventory.plugins.mikrotik import Plugin as Mikrotik
from inventory.plugins.registry import plugin_for
from radiusd.coa.client import DynamicAuthClient, Outcome
from radiusd.coa.service import CoaService
from radiusd.coa.sessions import SessionRef
from radiusd.store.models import Router
from radiusd.store.nas import add_nas, get_nas
from radiusd.store.plans import add_plan, get_plan
from radiusd.store.pools import add_pool, list_leases
from radiusd.store.records import NasRecord, SubscriberRecord
from radiusd.store.subscribers import get_subscriber, list_subscribers, make_credential
from tests.integration.routeros_standin import RouterOSServer, SelfSigned
from tests.integration.test_coa_nas import FakeClock, PyradNas, silent

API_USER, API_PASSWORD = "api-admin", "api-Pa55-Zq"
NAS_SECRET = "coa-s3cret-Kq"
USER_PASSWORD = "pppoe-Pw-77"


@pytest.fixture(scope="module")
def router_cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSigned:
    return SelfSigned.make(tmp_path_factory.mktemp("routeros"))


@pytest.fixture
def routeros(router_cert: SelfSigned) -> Iterator[RouterOSServer]:
    """The stand-in as a router is reached by default: API-SSL, a self-signed certificate."""
    with RouterOSServer(tls=router_cert) as server:
        yield server


def nas_record(
    server: RouterOSServer | int, *, coa_port: int = 3799, password: str = API_PASSWORD, **api: Any
) -> NasRecord:
    """The NAS of ``server``, its certificate pinned (``api`` overrides: api_fingerprint...)."""
    port = server if isinstance(server, int) else server.port
    fingerprint = None if isinstance(server, int) else server.fingerprint
    values: dict[str, Any] = {"api_fingerprint": fingerprint, **api}
    return NasRecord(
        id=1, name="r1", address="127.0.0.1", secret=NAS_SECRET, vendor="mikrotik", coa_port=coa_port,
        api_username=API_USER, api_password=password, api_port=port, **values,
    )  # fmt: skip


def subscriber(static_ip: str | None = "100.64.9.9") -> SubscriberRecord:
    return SubscriberRecord(
        id=7, username="alice", credential=make_credential(USER_PASSWORD), static_ip=static_ip
    )


async def test_push_credentials_adds_then_updates_the_pppoe_secret(routeros: RouterOSServer) -> None:
    plugin = plugin_for(nas_record(routeros), CoaService(None))
    assert isinstance(plugin, Mikrotik) and plugin.can_push_credentials
    await plugin.push_credentials(subscriber())
    assert routeros.router.logins == [{"name": API_USER, "password": API_PASSWORD}]  # post-6.43 login
    assert routeros.calls() == [
        ("/ppp/secret/print", {".proplist": ".id,name"}, {"name": "alice"}),
        (
            "/ppp/secret/add",
            {"name": "alice", "password": USER_PASSWORD, "service": "pppoe",
             "remote-address": "100.64.9.9", "comment": "radiusd"},
            {},
        ),
    ]  # fmt: skip
    [row] = routeros.router.tables["/ppp/secret"].values()
    await plugin.push_credentials(subscriber("100.64.9.10"))  # already there: set, not a second add
    assert routeros.calls()[-1][0] == "/ppp/secret/set"
    assert routeros.calls()[-1][1][".id"] == row[".id"]
    assert routeros.calls()[-1][1]["remote-address"] == "100.64.9.10"
    assert len(routeros.router.tables["/ppp/secret"]) == 1


async def test_remove_credentials_prints_then_removes_by_id(routeros: RouterOSServer) -> None:
    other = routeros.router.add_row("/ppp/secret", name="bob", password="x")
    mine = routeros.router.add_row("/ppp/secret", name="alice", password="y")
    await Mikrotik(nas_record(routeros), CoaService(None)).remove_credentials(subscriber())
    assert routeros.calls() == [
        ("/ppp/secret/print", {".proplist": ".id,name"}, {"name": "alice"}),
        ("/ppp/secret/remove", {".id": mine}, {}),
    ]
    assert list(routeros.router.tables["/ppp/secret"]) == [other]


async def test_disconnect_falls_back_to_ppp_active_when_the_nas_is_silent(routeros: RouterOSServer) -> None:
    nas = PyradNas(responder=silent)
    try:
        active = routeros.router.add_row("/ppp/active", name="alice", address="100.64.9.9")
        clock = FakeClock()
        coa = CoaService(None, DynamicAuthClient(clock=clock, sleep=clock.sleep, rand=lambda: 0.0))
        plugin = Mikrotik(nas_record(routeros, coa_port=nas.port), coa)
        result = await plugin.disconnect(SessionRef("alice", 1, "81a00001", framed_ip="100.64.9.9"))
        assert result.outcome is Outcome.ACK and result.detail == "removed via /ppp/active"
        assert result.attempts == 4  # the RFC 5176 Disconnect went first, until MRD
        assert nas.received[0].attributes["User-Name"] == ["alice"]
        assert routeros.calls() == [
            ("/ppp/active/print", {".proplist": ".id,name"}, {"name": "alice"}),
            ("/ppp/active/remove", {".id": active}, {}),
        ]
    finally:
        nas.close()


async def test_change_plan_is_a_coa_with_mikrotik_rate_limit() -> None:
    from tests.integration.test_coa_nas import ack

    nas = PyradNas(responder=ack)
    try:
        plugin = Mikrotik(nas_record(1, coa_port=nas.port), CoaService(None))
        plan = await _plan_record("gold", "20M/40M")
        result = await plugin.change_plan(SessionRef("alice", 1, "81a00001", framed_ip="100.64.9.9"), plan)
        assert result.ok
        [got] = nas.received
        assert got.code == 43 and got.authenticator_ok and got.message_authenticator
        assert got.attributes["Mikrotik-Rate-Limit"] == ["20M/40M"]
        assert got.attributes["Acct-Session-Id"] == ["81a00001"]
        assert got.attributes["Framed-IP-Address"] == ["100.64.9.9"]
    finally:
        nas.close()


async def _plan_record(name: str, rate: str) -> Any:
    from radiusd.store.records import PlanRecord

    return PlanRecord(id=1, name=name, rate_limit=rate)


async def test_api_credentials_stay_out_of_errors_and_logs(
    routeros: RouterOSServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="librouteros")
    plugin = Mikrotik(nas_record(routeros, password="wrong-Secret-Zz"), CoaService(None))
    with pytest.raises(PluginError) as info:
        await plugin.push_credentials(subscriber())
    assert "invalid user name or password" in str(info.value)
    assert "wrong-Secret-Zz" not in str(info.value)
    good = Mikrotik(nas_record(routeros), CoaService(None))
    await good.push_credentials(subscriber())
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/ppp/secret/add" in logged  # the library did log the words...
    for secret in ("wrong-Secret-Zz", API_PASSWORD, USER_PASSWORD):
        assert secret not in logged  # ...but no password
    assert API_PASSWORD not in repr(good) and API_PASSWORD not in repr(good.nas)


# -- provisioning, end to end ---------------------------------------------------------------


async def _setup(engine: AsyncEngine, routeros: RouterOSServer) -> None:
    await add_pool(engine, "pppoe", ranges=["100.64.50.0/29"])
    await add_plan(engine, "gold", rate_limit="20M/40M")
    nas = await add_nas(engine, "r1", "127.0.0.1", NAS_SECRET, vendor="mikrotik")
    async with engine.begin() as conn:  # no CLI for the API credentials yet
        await conn.execute(
            sa.update(Router)
            .where(Router.id == nas.id)
            .values(
                api_username=API_USER,
                api_password=API_PASSWORD,
                api_port=routeros.port,
                api_tls=True,
                api_fingerprint=routeros.fingerprint,
            )
        )


async def test_provision_end_to_end(store_engine: AsyncEngine, routeros: RouterOSServer) -> None:
    await _setup(store_engine, routeros)
    done = await provision(
        store_engine,
        "alice",
        USER_PASSWORD,
        plan="gold",
        pool="pppoe",
        nas="r1",
        coa=CoaService(store_engine),
    )
    assert done.address == "100.64.50.1"
    record = await get_subscriber(store_engine, "alice")
    assert (record.static_ip, record.plan, record.pool) == ("100.64.50.1", "gold", "pppoe")
    [lease] = await list_leases(store_engine, user="alice")
    assert (lease.address, lease.state) == ("100.64.50.1", "reserved")
    add = [c for c in routeros.calls() if c[0] == "/ppp/secret/add"]
    assert add == [
        (
            "/ppp/secret/add",
            {"name": "alice", "password": USER_PASSWORD, "service": "pppoe",
             "remote-address": "100.64.50.1", "comment": "radiusd"},
            {},
        )
    ]  # fmt: skip
    second = await provision(
        store_engine, "bob", "bob-Pw-1", plan="gold", pool="pppoe", nas="r1", coa=CoaService(store_engine)
    )
    assert second.address == "100.64.50.2"


@pytest.mark.parametrize(
    ("broken", "step"),
    [
        ("api", "push credentials to NAS 'r1'"),
        ("plan", "check"),
        ("pool", "reserve address"),
    ],
)
async def test_provision_failure_leaves_nothing_behind(
    store_engine: AsyncEngine, routeros: RouterOSServer, broken: str, step: str
) -> None:
    await _setup(store_engine, routeros)
    routeros.router.fail["/ppp/secret/add"] = "failure: out of memory"
    kwargs = {"plan": "gold", "pool": "pppoe", "nas": "r1"}
    if broken == "plan":
        kwargs["plan"] = "platinum"
    if broken == "pool":
        kwargs["pool"] = "nowhere"
    with pytest.raises(ProvisionError) as info:
        await provision(store_engine, "alice", USER_PASSWORD, coa=CoaService(store_engine), **kwargs)
    assert info.value.step == step
    assert f"failed at step '{step}'" in str(info.value)
    if broken == "api":
        assert "out of memory" in str(info.value)
        assert info.value.undone == [
            "account 'alice' removed",
            "address 100.64.50.1 returned to pool 'pppoe'",
        ]
    assert info.value.left == []
    assert await list_subscribers(store_engine) == []
    assert [lease for lease in await list_leases(store_engine) if lease.state != "free"] == []
    assert USER_PASSWORD not in str(info.value) and API_PASSWORD not in str(info.value)
    # the address is free again: the next provisioning gets it
    routeros.router.fail.clear()
    done = await provision(
        store_engine,
        "alice",
        USER_PASSWORD,
        plan="gold",
        pool="pppoe",
        nas="r1",
        coa=CoaService(store_engine),
    )
    assert done.address == "100.64.50.1"
    assert (await get_plan(store_engine, "gold")).name == "gold"
    assert (await get_nas(store_engine, "r1")).vendor == "mikrotik"


def test_provision_cli_names_the_failed_step(sqlite_url: str, routeros: RouterOSServer) -> None:
    from radiusd.cli.main import cli
    from radiusd.store.engine import create_engine, ensure_schema

    async def seed() -> None:
        engine = create_engine(sqlite_url)
        await ensure_schema(engine)
        await _setup(engine, routeros)
        await engine.dispose()

    import asyncio

    asyncio.run(seed())
    routeros.router.fail["/ppp/secret/add"] = "failure: out of memory"
    args = ["--database", sqlite_url, "subscriber", "provision", "alice", "--password", USER_PASSWORD,
            "--plan", "gold", "--pool", "pppoe", "--nas", "r1"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "radiusd: error: provisioning 'alice' failed at step 'push credentials to NAS 'r1''"
    )
    assert "address 100.64.50.1 returned to pool 'pppoe'" in line
    routeros.router.fail.clear()
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    assert '"address": "100.64.50.1"' in result.stdout
    assert USER_PASSWORD not in result.stdout + result.stderr
    result = CliRunner().invoke(cli, ["--database", sqlite_url, "lease", "list", "--json"])
    assert '"reserved"' in result.stdout and "alice" in result.stdout


# -- API-SSL: how the router's certificate is trusted -------------------------------------------


async def test_pinned_fingerprint_connects_over_tls(routeros: RouterOSServer) -> None:
    await Mikrotik(nas_record(routeros), CoaService(None)).push_credentials(subscriber())
    assert [c[0] for c in routeros.calls()][-1] == "/ppp/secret/add"
    assert routeros.router.logins == [{"name": API_USER, "password": API_PASSWORD}]


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ({"api_fingerprint": "ab" * 32}, "is not the pinned one"),
        ({"api_fingerprint": None}, "certificate not trusted"),  # the system's CAs: self-signed fails
    ],
    ids=["wrong-fingerprint", "no-pin"],
)
async def test_an_untrusted_certificate_never_gets_the_password(
    routeros: RouterOSServer, api: dict[str, Any], expected: str
) -> None:
    plugin = Mikrotik(nas_record(routeros, **api), CoaService(None))
    with pytest.raises(PluginError) as info:
        await plugin.push_credentials(subscriber())
    assert expected in str(info.value) and "r1" in str(info.value)
    assert API_PASSWORD not in str(info.value)
    assert routeros.router.logins == [] and routeros.calls() == []


async def test_the_ca_file_is_trusted(routeros: RouterOSServer, router_cert: SelfSigned) -> None:
    """A CA file (here the self-signed certificate itself, naming 127.0.0.1) is a trust anchor."""
    plugin = Mikrotik(nas_record(routeros, api_fingerprint=None, api_ca_file=str(router_cert.cert_file)),
                      CoaService(None))  # fmt: skip
    await plugin.remove_credentials(subscriber())
    assert routeros.router.logins == [{"name": API_USER, "password": API_PASSWORD}]


async def test_plain_api_only_when_asked_for_and_warned_at_every_use() -> None:
    from structlog.testing import capture_logs

    with RouterOSServer() as plain:  # a router without API-SSL
        refused = Mikrotik(nas_record(plain), CoaService(None))
        with pytest.raises(PluginError):
            await refused.push_credentials(subscriber())  # TLS to a plain port: no login
        assert plain.router.logins == []
        insecure = Mikrotik(nas_record(plain, api_insecure_plain=True), CoaService(None))
        with capture_logs() as logs:
            await insecure.push_credentials(subscriber())
            await insecure.remove_credentials(subscriber())
        warnings = [e for e in logs if e["event"] == "router-api.insecure-plain"]
        assert len(warnings) == 2 and warnings[0]["nas"] == "r1"
        assert API_PASSWORD not in repr(logs)
