"""The daemon, the composition root: wires storage, the in-memory tables, the policies, the
sockets and the HTTP API, and runs them. Nothing in the package imports it but the CLI
(``radiusd serve`` loads :func:`run` when the daemon starts).

Start-up: migrate the schema, read the change-feed position, load NAS devices, plans and
subscribers into memory, start the group-commit writer, bind the sockets. While running:
poll the change feed so CLI edits take effect without a restart. SIGTERM/SIGINT: stop
reading, finish the requests in flight, flush the writer, exit. SIGHUP: re-read the config
file and reload everything from the database (NAS, plans, subscribers and the pools); with
the database away, the old configuration stays and the reload is retried every few seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from radiusd import cpuslice, gcpacing
from radiusd.codec import scanning, shared_secret
from radiusd.codec.codes import Code
from radiusd.codec.dictionary import Dictionary, default_dictionary
from radiusd.config import Settings, load_settings, redacted_url
from radiusd.eap.build import build_engine, engine_for
from radiusd.eap.settings import parse_eap
from radiusd.logs import configure_logging, get_logger
from radiusd.model.request import NasClient
from radiusd.policy.access import AccessPolicy, StatusPolicy
from radiusd.policy.accounting import AccountingPolicy
from radiusd.policy.directory import Directory
from radiusd.policy.hash_pool import HashPool
from radiusd.policy.ipam_service import IpamService
from radiusd.policy.sessions import SessionTable
from radiusd.server.cluster import NodeMembership, StartRefused
from radiusd.server.debug import DebugPrinter
from radiusd.server.dedupe import DedupeCache
from radiusd.server.dispatcher import Dispatcher
from radiusd.server.handler import Handler
from radiusd.server.looplag import run_lag_probe
from radiusd.server.nas import NasRegistry
from radiusd.server.protocol import RadiusProtocol, bind_udp
from radiusd.server.radsec import RadsecServer, reload_radsec, start_radsec
from radiusd.server.reader import AgingReader
from radiusd.server.stats import Stats
from radiusd.store.accounting_ops import AccountingEventOp, AccountingOp, SessionReloadOp
from radiusd.store.accounting_pg import SESSION_CHANNEL
from radiusd.store.changes import TOPIC_NAS, TOPIC_PLAN, TOPIC_SESSION, TOPIC_SUBSCRIBER, prune_changes
from radiusd.store.db_stats import TableStats, storage_stats
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.lease_feed import LeaseFeed, asyncpg_dsn
from radiusd.store.nas_reset import NasSessionsOp
from radiusd.store.pools import TOPIC_POOL
from radiusd.store.retention import MAINTAIN_EVERY, MaintenanceReport, Retention, maintain
from radiusd.store.sessions_load import load_sessions, load_sessions_by_id
from radiusd.store.snapshot import (
    changes_since,
    current_change_id,
    load_nas_all,
    load_plans,
    load_subscribers,
)
from radiusd.store.writer import Writer
from radiusd.tasks import reraise_if_cancelled

if TYPE_CHECKING:
    from radiusd.api.server import ApiServer
    from radiusd.model.events import AcctEvent
    from radiusd.store.records import NasRecord

log = get_logger("radiusd.server")  # the name operators filter on; kept

#: seconds between prunings of the change feed (radiusd.store.changes)
PRUNE_EVERY = 3600.0
#: seconds between attempts of a SIGHUP reload that the database interrupted
RELOAD_RETRY = 3.0


def _log_full_collection(unreachable: int, cpu: float) -> None:
    log.info("gc.full", unreachable=unreachable, cpu_ms=round(cpu * 1e3, 1))


def plain_api_routers(records: Iterable[NasRecord]) -> list[str]:
    """The routers whose RouterOS API login goes in clear (added with --insecure-plain-api):
    warned about at start, as the weak secrets are."""
    return sorted(r.name for r in records if r.api_username and r.api_insecure_plain)


class Daemon:
    """``worker``: this process's index under ``serve --workers N``; the tasks that must run once
    per database (change-log prune, session sweep) and the HTTP API run in worker 0 only."""

    def __init__(self, settings: Settings, dictionary: Dictionary | None = None, worker: int = 0) -> None:
        self.settings = settings
        self.worker = worker
        self.dictionary = dictionary if dictionary is not None else default_dictionary()
        self.engine = create_engine(
            settings.effective_database_url(),
            connect_timeout=settings.db_connect_timeout,
            command_timeout=settings.db_command_timeout,
            keepalives_idle=settings.db_keepalives_idle,
        )
        self.registry = NasRegistry()
        self.directory = Directory(self.dictionary)
        self.stats = Stats()
        self.writer = Writer(
            self.engine, max_queue=settings.writer_queue_max, max_wait=settings.writer_max_wait
        )
        self.debug = DebugPrinter() if settings.debug else None
        self.sessions = SessionTable(closed_max=settings.closed_sessions_max)
        self.ipam = IpamService(self.engine, self.writer, settings, self.directory)
        self.accounting = AccountingPolicy(
            self.sessions,
            self.writer,
            AccountingOp,
            dictionary=self.dictionary,
            directory=self.directory,
            default_interim_interval=settings.default_interim_interval,
            interim_grace_factor=settings.interim_grace_factor,
            interim_grace=settings.interim_grace,
            hooks=self.ipam,
            make_event_op=AccountingEventOp,
            make_reload_op=SessionReloadOp,
        )
        self.writer.on_in_doubt = self.accounting.commit_in_doubt
        self.access = AccessPolicy(
            self.directory,
            self.dictionary,
            assigner=self.ipam,
            sessions=self.sessions,
            hashes=HashPool(settings.slow_hash_workers, settings.slow_hash_queue_max),
            log_accepts=settings.auth_log_accepts,
            log_rejects=settings.auth_log_rejects,
            eap=build_engine(settings.eap, settings.log_format, settings.log_level),
        )
        self.auth_dispatcher = self._dispatcher(
            {Code.ACCESS_REQUEST: self.access, Code.STATUS_SERVER: StatusPolicy(Code.ACCESS_ACCEPT)}
        )
        self.acct_dispatcher = self._dispatcher(
            {
                Code.STATUS_SERVER: StatusPolicy(Code.ACCOUNTING_RESPONSE),
                Code.ACCOUNTING_REQUEST: self.accounting,
            },
            admits=self.writer.admits,  # every accounting request writes: shed when it can't in time
        )
        self.transports: list[asyncio.DatagramTransport] = []
        self.readers: list[AgingReader] = []
        self.bound: dict[str, list[tuple[str, int]]] = {"auth": [], "acct": []}
        self.radsec: RadsecServer | None = None
        self._change_id = 0
        self._plain_api: list[str] = []
        self.storage: list[TableStats] = []  # radiusd db stats figures, for /metrics
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.api: ApiServer | None = None
        self._reload: asyncio.Task[bool] | None = None
        self.membership = NodeMembership(
            self.engine,
            self.stats,
            interval=settings.node_heartbeat_interval,
            worker=worker,
            prune_after=settings.node_prune_after,
        )
        # the node's name in lease announcements, and its region of every pool by its rank
        self.ipam.node = self.membership.node_id
        self.membership.on_change = self.ipam.prefer
        node = self.membership.node_id
        self.accounting.make_op = lambda change: AccountingOp(change, node)  # announces opens/closes
        if self.engine.dialect.name == "postgresql":  # Accounting-On/Off: other nodes' sessions too
            self.accounting.make_reset_op = self._reset_op

    def _reset_op(self, ev: AcctEvent, started_before: dt.datetime) -> NasSessionsOp:
        """Accounting-On/Off: close the NAS's sessions still open in the database that started
        before ``started_before``, except those this node holds open in memory when the batch
        is written (its own to write)."""
        table = self.sessions

        def open_here() -> list[str]:
            return [s.unique_id for s in table.open_of_nas(ev.nas_address)]

        return NasSessionsOp(
            ev.nas_address, ev.router_id, ev.event_time, started_before, self.membership.node_id, open_here
        )

    def _dispatcher(
        self, handlers: dict[int, Handler], admits: Callable[[], bool] | None = None
    ) -> Dispatcher:
        s = self.settings
        return Dispatcher(
            registry=self.registry,
            handlers=handlers,
            dictionary=self.dictionary,
            stats=self.stats,
            dedupe=DedupeCache(s.dedupe_ttl, s.dedupe_max_entries, s.dedupe_max_bytes),
            reject_delay=s.reject_delay,
            debug=self.debug,
            admits=admits,
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        log.info("database.open", url=redacted_url(s.effective_database_url()))
        try:
            await self.membership.preflight()  # a newer release must not migrate under old nodes
            await self.migrate()
            await self.membership.join()  # refuses an unsafe start before anything is loaded
        except StartRefused:
            await self.engine.dispose()
            raise
        self.membership.start()  # heartbeats while the tables load, or it would look dead
        await self.reload_all()
        await self.load_sessions()
        self.writer.start()
        await self.ipam.start()  # pools + leases from the database, static reservations
        loop = asyncio.get_running_loop()
        for host in s.bind:
            for kind, port, dispatcher in (
                ("auth", s.auth_port, self.auth_dispatcher),
                ("acct", s.acct_port, self.acct_dispatcher),
            ):
                sock = bind_udp(host, port, s.receive_buffer, reuse_port=s.workers > 1)
                name = sock.getsockname()
                if kind == "acct" and s.accounting_max_delay > 0:
                    reader = AgingReader(sock, dispatcher, s.accounting_max_delay)
                    reader.start(loop)
                    self.readers.append(reader)
                else:
                    transport, _ = await loop.create_datagram_endpoint(_factory(dispatcher), sock=sock)
                    self.transports.append(transport)
                self.bound[kind].append((name[0], name[1]))
        if s.radsec:
            await self._start_radsec()
        self._tasks.append(loop.create_task(self._poll_changes(), name="radiusd-change-poller"))
        self._tasks.append(loop.create_task(run_lag_probe(self.stats), name="radiusd-loop-lag"))
        if self.worker == 0:
            self._tasks.append(loop.create_task(self._maintain_storage(), name="radiusd-storage"))
            self._tasks.append(
                loop.create_task(self.accounting.run_sweeper(s.sweep_interval), name="radiusd-session-sweep")
            )
        # every worker: it expires the offers held in its own pools
        self._tasks.append(loop.create_task(self.ipam.run_sweeper(), name="radiusd-ipam-sweep"))
        self._tasks.append(loop.create_task(self.ipam.run_feed(), name="radiusd-lease-feed"))
        if self.engine.dialect.name == "postgresql":  # sessions opened or closed at other nodes
            sessions = LeaseFeed(
                asyncpg_dsn(self.engine.url), self.membership.node_id, self.accounting.written_elsewhere,
                lambda _since: None, poll_interval=s.lease_feed_poll, channel=SESSION_CHANNEL,
            )  # fmt: skip
            self._tasks.append(loop.create_task(sessions.run(), name="radiusd-session-feed"))
        if s.discovery_interval > 0 and self.worker == 0:  # one node of a cluster claims each run
            from inventory.discovery_run import run_periodic

            discovery = run_periodic(
                self.engine, s.discovery_interval, node=self.membership.node_id, apply=s.discovery_apply,
                router_community=s.discovery_snmp_community or None,
            )  # fmt: skip
            self._tasks.append(loop.create_task(discovery, name="radiusd-lldp-discovery"))
        self._warn_unsafe()
        gcpacing.settle()
        if s.gc_freeze_interval > 0:
            self._tasks.append(
                loop.create_task(
                    gcpacing.run_freezer(s.gc_freeze_interval, s.gc_full_interval, _log_full_collection),
                    name="radiusd-gc",
                )
            )
        if s.api_bind and self.worker == 0:  # the HTTP admin API, in this event loop
            # imported here: FastAPI and uvicorn take seconds to import and are not needed
            # by a daemon without api_bind, nor by workers other than the first
            from radiusd.api.server import ApiServer
            from radiusd.api.state import DaemonState

            state = DaemonState(
                self.settings, self.engine, self.stats, self.writer, self.ipam, self.sessions,
                self.registry, self.directory, self.membership, self.storage, self.radsec,
                lambda: self.access.eap,
            )  # fmt: skip
            self.api = ApiServer(state, s.api_bind)
            self.bound["api"] = [await self.api.start()]
        log.info(
            "server.ready",
            auth=[f"{h}:{p}" for h, p in self.bound["auth"]],
            acct=[f"{h}:{p}" for h, p in self.bound["acct"]],
            radsec=[f"{h}:{p}" for h, p in self.bound.get("radsec", [])],
            nas=len(self.registry),
            subscribers=len(self.directory.subscribers),
            codec=scanning.IMPLEMENTATION,  # "c", or "python" without the built extension
        )
        if s.ready_file:
            Path(s.ready_file).write_text(json.dumps(self.bound))  # noqa: ASYNC240  (once, at start, a few bytes)

    async def _start_radsec(self) -> None:
        """The RadSec (RADIUS over TLS) listeners, feeding the UDP ports' dispatchers."""
        self.radsec, self.bound["radsec"] = await start_radsec(
            self.settings, self.registry, self.auth_dispatcher, self.acct_dispatcher, self.stats, self.debug
        )

    async def migrate(self) -> None:
        """Apply pending migrations on an engine of their own: without ``db_command_timeout``,
        which bounds the daemon's statements but not a migration of a large table."""
        if self.engine.dialect.name != "postgresql":  # no command timeout to step around
            await ensure_schema(self.engine)
            return
        engine = create_engine(
            self.settings.effective_database_url(), connect_timeout=self.settings.db_connect_timeout
        )
        try:
            await ensure_schema(engine)
        finally:
            await engine.dispose()

    def _warn_unsafe(self) -> None:
        for name in self._plain_api:
            log.warning(
                "router-api.insecure-plain",
                nas=name,
                hint="the plain RouterOS API sends the router's password in clear: use API-SSL "
                "(router set NAME --api-tls) or reach the router over a management network only",
            )
        for nas in self.registry.all():
            if shared_secret.is_weak(nas.secret):
                log.warning(
                    "nas.weak-secret",
                    nas=nas.name,
                    hint=f"the shared secret is shorter than {shared_secret.MIN_SECRET_LENGTH} characters "
                    "(RFC 2865 §3; BlastRADIUS): replace it, e.g. with nas add --generate-secret",
                )
            if not nas.require_message_authenticator:
                log.warning(
                    "nas.message-authenticator-not-required",
                    nas=nas.name,
                    hint="Access-Requests from this NAS are accepted without Message-Authenticator "
                    "(BlastRADIUS, CVE-2024-3596)",
                )

    async def stop(self) -> None:
        """Stop reading, finish requests in flight, flush the writer, close everything."""
        log.info("server.stopping", in_flight=self.auth_dispatcher.in_flight + self.acct_dispatcher.in_flight)
        self.auth_dispatcher.accepting = False
        self.acct_dispatcher.accepting = False
        await asyncio.gather(self.auth_dispatcher.drain(), self.acct_dispatcher.drain())
        if self.radsec is not None:  # after the drain: replies in flight reach their connections
            await self.radsec.close()
        if self.api is not None:
            await self.api.stop()
        tasks = self._tasks + ([self._reload] if self._reload is not None else [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.writer.close()
        await self.membership.leave()
        self.access.hashes.close()
        if self.access.eap is not None:
            self.access.eap.close()
        for transport in self.transports:
            transport.close()
        for reader in self.readers:
            reader.close()
        await self.engine.dispose()
        log.info("server.stopped")

    def request_stop(self) -> None:
        self._stop.set()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    # -- in-memory tables -----------------------------------------------------------------

    async def reload_all(self) -> None:
        async with self.engine.connect() as conn:
            change_id = await current_change_id(conn)
            nas = await load_nas_all(conn)
            plans = await load_plans(conn)
            subscribers = await load_subscribers(conn)
        self._change_id = change_id
        self.registry.replace_all([NasClient.from_record(r) for r in nas.values()])
        self._plain_api = plain_api_routers(nas.values())
        if self.radsec is not None:
            self.radsec.recheck()
        self.directory.set_plans(plans.values())
        self.directory.set_subscribers(subscribers.values())
        log.info("tables.loaded", nas=len(nas), plans=len(plans), subscribers=len(subscribers))

    async def load_sessions(self) -> None:
        """Open sessions (and recently closed ones) from the database into the session table."""
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.sessions.closed_ttl)
        async with self.engine.connect() as conn:
            rows = await load_sessions(conn, since)
        self.sessions.load(rows)
        log.info("sessions.loaded", open=self.sessions.open_count, known=len(self.sessions))

    async def apply_changes(self) -> int:
        """Apply what the change feed says changed since the last look; returns how many changes."""
        async with self.engine.connect() as conn:
            last, changes = await changes_since(conn, self._change_id)
            if not changes:
                return 0
            topics = {topic for topic, _ in changes}
            if TOPIC_NAS in topics:
                nas = await load_nas_all(conn)
                self.registry.replace_all([NasClient.from_record(r) for r in nas.values()])
                if self.radsec is not None:
                    self.radsec.recheck()
            if TOPIC_PLAN in topics:
                self.directory.set_plans((await load_plans(conn)).values())
            sub_keys = [key for topic, key in changes if topic == TOPIC_SUBSCRIBER]
            if any(key is None for key in sub_keys) or TOPIC_PLAN in topics:
                self.directory.set_subscribers((await load_subscribers(conn)).values())
            elif sub_keys:
                wanted = [k for k in sub_keys if k is not None]
                found = await load_subscribers(conn, wanted)
                self.directory.update_subscribers(found, wanted)
            session_keys = [key for topic, key in changes if topic == TOPIC_SESSION and key is not None]
            if session_keys:
                for stored in await load_sessions_by_id(conn, session_keys):
                    if self.sessions.closed_elsewhere(stored):
                        log.info("session.closed-elsewhere", session=stored.unique_id, user=stored.username)
        self._change_id = last
        pool_keys = [key for topic, key in changes if topic == TOPIC_POOL]
        if pool_keys:
            await self.ipam.apply_changes(pool_keys)
        elif TOPIC_SUBSCRIBER in topics:
            await self.ipam.reserve_statics()
        log.info("tables.changed", changes=len(changes), topics=sorted(topics))
        return len(changes)

    async def _poll_changes(self) -> None:
        loop = asyncio.get_running_loop()
        next_prune = loop.time() + PRUNE_EVERY
        while True:
            await asyncio.sleep(self.settings.change_poll_interval)
            try:
                await self.apply_changes()
                if loop.time() >= next_prune and self.worker == 0:
                    next_prune = loop.time() + PRUNE_EVERY
                    await self.prune_change_log()
            except Exception as exc:  # the database may be away; authentication goes on from memory
                reraise_if_cancelled(exc)
                log.warning("tables.poll-failed", error=f"{type(exc).__name__}: {exc}"[:300])

    async def _maintain_storage(self) -> None:
        """Storage maintenance now and every MAINTAIN_EVERY seconds (radiusd.store.retention);
        with several nodes, whichever takes the advisory lock does it."""
        while True:
            try:
                await self.maintain_storage()
            except Exception as exc:  # the database may be away: the next round tries again
                reraise_if_cancelled(exc)
                log.warning("storage.maintenance-failed", error=f"{type(exc).__name__}: {exc}"[:300])
            await asyncio.sleep(MAINTAIN_EVERY)

    async def maintain_storage(self, now: dt.datetime | None = None) -> MaintenanceReport:
        """One round, on an engine without the statement timeout (a day's roll-up or a
        partition move may take longer than a request), then the figures for /metrics."""
        s = self.settings
        engine = create_engine(
            s.effective_database_url(), connect_timeout=s.db_connect_timeout, pool_size=1
        ) if self.engine.dialect.name == "postgresql" else self.engine  # fmt: skip
        retention = Retention.from_settings(s)
        try:
            report = await maintain(engine, retention, now)
            self.storage[:] = await storage_stats(engine, retention)  # the API holds this list
        finally:
            if engine is not self.engine:
                await engine.dispose()
        if report.created or report.dropped or report.deleted or report.rolled_up:
            log.info(
                "storage.maintained", created=report.created, dropped=report.dropped,
                deleted=report.deleted, rolled_up=[d.isoformat() for d in report.rolled_up],
            )  # fmt: skip
        for failure in report.failed:
            log.warning("storage.maintenance-step-failed", step=failure)
        return report

    async def prune_change_log(self, now: dt.datetime | None = None) -> int:
        """Delete change_log rows this daemon has read that are older than
        ``change_log_retention``: without it the feed grows by every CLI write forever."""
        now = now if now is not None else dt.datetime.now(dt.UTC)
        cutoff = now - dt.timedelta(seconds=self.settings.change_log_retention)
        async with self.engine.begin() as conn:
            pruned = await prune_changes(conn, self._change_id + 1, older_than=cutoff)
        if pruned:
            log.info("tables.change-log-pruned", rows=pruned)
        return pruned

    def request_reload(self, config_path: str | None) -> None:
        """SIGHUP: reload in a task of its own; one still waiting for the database is replaced."""
        if self._reload is not None and not self._reload.done():
            self._reload.cancel()
        self._reload = asyncio.get_running_loop().create_task(
            self.reload_until_done(config_path), name="radiusd-reload"
        )

    async def reload_until_done(self, config_path: str | None) -> bool:
        """:meth:`reload_config` until the database lets it finish, every ``RELOAD_RETRY``
        seconds; what ran before stays in force meanwhile. False when it failed for good
        (an invalid config file, or a bug: logged with its traceback)."""
        while True:
            try:
                return await self.reload_config(config_path)
            except (DBAPIError, OSError, ConnectionError, TimeoutError) as exc:
                log.warning("config.reload-failed", error=_short(exc), retry_in=RELOAD_RETRY)
            except Exception:
                log.exception("config.reload-failed")
                return False
            await asyncio.sleep(RELOAD_RETRY)

    async def reload_config(self, config_path: str | None) -> bool:
        """SIGHUP: settings that can change live (delays, cache lifetime, log level) and the tables.

        The tables are reloaded first; the new settings take effect only once they are, so a
        reload that the database interrupts (the exception propagates) leaves the old
        configuration in force. False (logged) when the config file is invalid."""
        fresh = None
        if config_path:
            try:
                fresh = load_settings(config_path)
            except ValueError as exc:
                log.error("config.reload-failed", error=str(exc))
                return False
        # reload_all moves the change-feed position to now: what the feed holds until now
        # (pools, lease edits, sessions closed elsewhere) is applied first, or it would be lost
        await self.apply_changes()
        await self.reload_all()
        await self.ipam.reload_pools()  # pool definitions changed outside the CLI (leases kept)
        if fresh is not None:
            for d in (self.auth_dispatcher, self.acct_dispatcher):
                d.reject_delay = fresh.reject_delay
                d.dedupe.ttl = fresh.dedupe_ttl
                d.dedupe.max_bytes = fresh.dedupe_max_bytes  # the next insert evicts down to it
            configure_logging(fresh.log_format, fresh.log_level)
            self.ipam.settings = replace(self.ipam.settings, ipv6_exhausted=fresh.ipv6_exhausted)
            self._reload_eap(fresh)
        if self.radsec is not None or (fresh is not None and fresh.radsec):  # renewed certificate files
            reload_radsec(self.radsec, fresh if fresh is not None else self.settings)
        log.info("config.reloaded")
        return True

    def _reload_eap(self, fresh: Settings) -> None:
        """The ``[eap]`` section and its certificate, key, CA and CRL files, read again (a
        renewed certificate is served without a restart); a bad one leaves the old in force."""
        current = self.access.eap
        try:
            wanted = parse_eap(fresh.eap)
            if current is None or not wanted.enabled or current.settings.process != wanted.process:
                self.access.eap = engine_for(wanted, fresh.log_format, fresh.log_level)
                if current is not None:  # its conversations under way end: their peers start over
                    current.close()
            else:
                current.reload(wanted)
        except ValueError as exc:
            log.error("eap.reload-failed", error=str(exc))
            return
        if self.access.eap is not None:
            log.info("eap.reloaded", methods=len(self.access.eap.settings.methods))


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def _factory(dispatcher: Dispatcher) -> Callable[[], RadiusProtocol]:
    return lambda: RadiusProtocol(dispatcher)


async def serve(settings: Settings, config_path: str | None = None, worker: int = 0) -> None:
    daemon = Daemon(settings, worker=worker)
    await daemon.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
    loop.add_signal_handler(signal.SIGHUP, daemon.request_reload, config_path)
    await daemon.wait_stopped()
    await daemon.stop()


def run(settings: Settings, config_path: str | None = None, worker: int = 0) -> None:
    """Entry point of ``radiusd serve`` (and of each worker): logging, uvloop when installed,
    then serve until signalled."""
    configure_logging(settings.log_format, "debug" if settings.debug else settings.log_level)
    if settings.sched_slice_us:  # before any thread starts: they inherit it
        refused = cpuslice.set_slice(settings.sched_slice_us)
        if refused:
            log.info("sched.slice-unchanged", wanted_us=settings.sched_slice_us, why=refused)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(settings, config_path, worker))
        return
    uvloop.run(serve(settings, config_path, worker))
