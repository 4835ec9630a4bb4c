"""The daemon: wires storage, the in-memory tables, the policies and the sockets, and runs them.

Start-up: migrate the schema, read the change-feed position, load NAS devices, plans and
subscribers into memory, start the group-commit writer, bind the sockets. While running:
poll the change feed so CLI edits take effect without a restart. SIGTERM/SIGINT: stop
reading, finish the requests in flight, flush the writer, exit. SIGHUP: re-read the config
file and reload everything from the database (NAS, plans, subscribers and the pools).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import signal
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radiusd.codec.codes import Code
from radiusd.codec.dictionary import Dictionary, default_dictionary
from radiusd.config import Settings, load_settings, redacted_url
from radiusd.logs import configure_logging, get_logger
from radiusd.policy.access import AccessPolicy, StatusPolicy
from radiusd.policy.accounting import AccountingPolicy
from radiusd.policy.directory import Directory
from radiusd.policy.ipam_service import IpamService
from radiusd.policy.sessions import SessionTable
from radiusd.store.accounting_ops import AccountingEventOp, AccountingOp, SessionReloadOp
from radiusd.store.changes import TOPIC_NAS, TOPIC_PLAN, TOPIC_SESSION, TOPIC_SUBSCRIBER, prune_changes
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.pools import TOPIC_POOL
from radiusd.store.sessions_load import load_sessions, load_sessions_by_id
from radiusd.store.snapshot import (
    changes_since,
    current_change_id,
    load_nas_all,
    load_plans,
    load_subscribers,
)
from radiusd.store.writer import Writer

from .debug import DebugPrinter
from .dedupe import DedupeCache
from .dispatcher import Dispatcher
from .handler import Handler
from .nas import NasClient, NasRegistry
from .protocol import RadiusProtocol, bind_udp
from .reader import AgingReader
from .stats import Stats

if TYPE_CHECKING:
    from radiusd.api.server import ApiServer

log = get_logger("radiusd.server")

#: seconds between prunings of the change feed (radiusd.store.changes)
PRUNE_EVERY = 3600.0


class Daemon:
    def __init__(self, settings: Settings, dictionary: Dictionary | None = None) -> None:
        self.settings = settings
        self.dictionary = dictionary if dictionary is not None else default_dictionary()
        self.engine = create_engine(settings.effective_database_url())
        self.registry = NasRegistry()
        self.directory = Directory(self.dictionary)
        self.stats = Stats()
        self.writer = Writer(
            self.engine, max_queue=settings.writer_queue_max, max_wait=settings.writer_max_wait
        )
        self.debug = DebugPrinter() if settings.debug else None
        self.sessions = SessionTable()
        self.ipam = IpamService(self.engine, self.writer, settings, self.directory)  # issue 4
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
            self.directory, self.dictionary, assigner=self.ipam, sessions=self.sessions
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
        self._change_id = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.api: ApiServer | None = None

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
        await ensure_schema(self.engine)
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
                sock = bind_udp(host, port, s.receive_buffer)
                name = sock.getsockname()
                if kind == "acct" and s.accounting_max_delay > 0:
                    reader = AgingReader(sock, dispatcher, s.accounting_max_delay)
                    reader.start(loop)
                    self.readers.append(reader)
                else:
                    transport, _ = await loop.create_datagram_endpoint(_factory(dispatcher), sock=sock)
                    self.transports.append(transport)
                self.bound[kind].append((name[0], name[1]))
        self._tasks.append(loop.create_task(self._poll_changes(), name="radiusd-change-poller"))
        self._tasks.append(
            loop.create_task(self.accounting.run_sweeper(s.sweep_interval), name="radiusd-session-sweep")
        )
        self._tasks.append(loop.create_task(self.ipam.run_sweeper(), name="radiusd-ipam-sweep"))
        self._warn_unsafe()
        settle_garbage_collector()
        if s.api_bind:  # the HTTP admin API, in this event loop (issue 7)
            from radiusd.api.server import ApiServer

            self.api = ApiServer(self, s.api_bind)
            self.bound["api"] = [await self.api.start()]
        log.info(
            "server.ready",
            auth=[f"{h}:{p}" for h, p in self.bound["auth"]],
            acct=[f"{h}:{p}" for h, p in self.bound["acct"]],
            nas=len(self.registry),
            subscribers=len(self.directory.subscribers),
        )
        if s.ready_file:
            Path(s.ready_file).write_text(json.dumps(self.bound))

    def _warn_unsafe(self) -> None:
        for nas in self.registry.all():
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
        if self.api is not None:
            await self.api.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.writer.close()
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
                if loop.time() >= next_prune:
                    next_prune = loop.time() + PRUNE_EVERY
                    await self.prune_change_log()
            except Exception as exc:  # the database may be away; authentication goes on from memory
                log.warning("tables.poll-failed", error=f"{type(exc).__name__}: {exc}"[:300])

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

    async def reload_config(self, config_path: str | None) -> None:
        """SIGHUP: settings that can change live (delays, cache lifetime, log level) and the tables."""
        if config_path:
            try:
                fresh = load_settings(config_path)
            except ValueError as exc:
                log.error("config.reload-failed", error=str(exc))
                return
            for d in (self.auth_dispatcher, self.acct_dispatcher):
                d.reject_delay = fresh.reject_delay
                d.dedupe.ttl = fresh.dedupe_ttl
                d.dedupe.max_bytes = fresh.dedupe_max_bytes  # the next insert evicts down to it
            configure_logging(fresh.log_format, fresh.log_level)
            self.ipam.settings = replace(self.ipam.settings, ipv6_exhausted=fresh.ipv6_exhausted)
        # reload_all moves the change-feed position to now: what the feed holds until now
        # (pools, lease edits, sessions closed elsewhere) is applied first, or it would be lost
        await self.apply_changes()
        await self.reload_all()
        await self.ipam.reload_pools()  # pool definitions changed outside the CLI (leases kept)
        log.info("config.reloaded")


def settle_garbage_collector() -> None:
    """Move what start-up loaded (subscribers, sessions, leases: often millions of objects)
    out of the collector's reach, and collect young objects less often.

    Without this every full collection walks the whole in-memory tables; with them frozen a
    collection costs only what requests allocated since. Reloads after start-up are not frozen
    (they are rare and smaller)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def _factory(dispatcher: Dispatcher) -> Callable[[], RadiusProtocol]:
    return lambda: RadiusProtocol(dispatcher)


async def serve(settings: Settings, config_path: str | None = None) -> None:
    daemon = Daemon(settings)
    await daemon.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
    reloads: set[asyncio.Task[None]] = set()

    def reload() -> None:
        # The loop holds tasks weakly: keep a reference until the reload is done.
        task = loop.create_task(daemon.reload_config(config_path), name="radiusd-reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    await daemon.wait_stopped()
    await daemon.stop()


def run(settings: Settings, config_path: str | None = None) -> None:
    """Entry point of ``radiusd serve``: logging, uvloop when installed, then serve until signalled."""
    configure_logging(settings.log_format, "debug" if settings.debug else settings.log_level)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(settings, config_path))
        return
    uvloop.run(serve(settings, config_path))
