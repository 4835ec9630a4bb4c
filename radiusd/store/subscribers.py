"""Subscriber CRUD and bulk import; each write also appends to the change feed.

The credential is stored as the opaque string of :mod:`radiusd.policy.credentials`; this module
never logs it or puts it in an error message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from radiusd.model import credentials

from . import validate
from .changes import TOPIC_SUBSCRIBER, record_change
from .engine import begin_write
from .errors import Conflict, InvalidInput, NotFound
from .models import IPPool, Plan, Subscriber, utcnow
from .prefixes import release_holdings
from .records import SubscriberRecord
from .refs import open_session_ids, require_pool
from .snapshot import IN_CHUNK, SUBSCRIBER_SELECT
from .validate import UNSET, Unset, given

IMPORT_COLUMNS = ("username", "password", "plan", "pool", "static_ip", "status")


def make_credential(password: str, store: str = "cleartext") -> str:
    """The stored form of a new password: ``store`` is ``cleartext`` (serves PAP, CHAP and
    MS-CHAP), ``nt`` (the NT hash: PAP and MS-CHAP) or ``hashed`` (PBKDF2-SHA256: PAP only)."""
    kind = credentials.PASSWORD_STORES.get(store)
    if kind is None:
        raise InvalidInput(f"password store {store!r} is not one of {', '.join(credentials.PASSWORD_STORES)}")
    return credentials.make_credential(password, kind).storage_string()


def check_credential(stored: str) -> str:
    """``stored`` if the policy layer can parse it (its error names the format, never the secret)."""
    try:
        credentials.parse_credential(stored)
    except ValueError as exc:
        raise InvalidInput(f"credential: {exc}") from None
    return stored


async def _fetch(conn: AsyncConnection, username: str) -> SubscriberRecord:
    row = (await conn.execute(SUBSCRIBER_SELECT.where(Subscriber.username == username))).mappings().first()
    if row is None:
        raise NotFound(f"subscriber {username!r} does not exist")
    return SubscriberRecord.from_row(row)


async def _plan_id(conn: AsyncConnection, plan: str | None) -> int | None:
    if plan is None:
        return None
    plan_id = (await conn.execute(sa.select(Plan.id).where(Plan.name == plan))).scalar_one_or_none()
    if plan_id is None:
        raise InvalidInput(f"unknown plan {plan!r}")
    return plan_id


def _credential(password: str | None, credential: str | None, store: str) -> str:
    if (password is None) == (credential is None):
        raise InvalidInput("give either a password or a credential")
    if credential is not None:
        if not credential:
            raise InvalidInput("the credential must not be empty")
        return check_credential(credential)
    assert password is not None
    if not password:
        raise InvalidInput("the password must not be empty")
    return make_credential(password, store)


async def add_subscriber(
    engine: AsyncEngine,
    username: str,
    password: str | None,
    *,
    plan: str | None = None,
    pool: str | None = None,
    static_ip: str | None = None,
    status: str = "active",
    simultaneous_use: int | None = None,
    credential: str | None = None,
    store: str = "cleartext",
) -> SubscriberRecord:
    """Create a subscriber from a password, kept as ``store`` says (:func:`make_credential`),
    or from an already made ``credential`` string."""
    username = validate.name(username, "username", 253)
    stored = _credential(password, credential, store)
    status = validate.status(status)
    plan = validate.blank_to_none(plan)
    pool = validate.blank_to_none(pool)
    static = validate.blank_to_none(static_ip)
    static = validate.ipv4_address(static) if static is not None else None
    simultaneous_use = validate.positive_int(simultaneous_use, "simultaneous use")
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            plan_id = await _plan_id(conn, plan)
            await require_pool(conn, pool)
            taken = await _first_taken(conn, [username], [static] if static else [])
            if taken is not None:
                raise Conflict(taken[2])
            await conn.execute(
                sa.insert(Subscriber).values(
                    username=username,
                    credential=stored,
                    status=status,
                    plan_id=plan_id,
                    pool_name=pool,
                    static_ipv4=static,
                    simultaneous_use=simultaneous_use,
                    reply_attributes=[],
                    created_at=now,
                    updated_at=now,
                )
            )
            await record_change(conn, TOPIC_SUBSCRIBER, username)
            return await _fetch(conn, username)
    except IntegrityError:
        raise Conflict(f"subscriber {username!r} or static IP {static} already exists") from None


async def _first_taken(
    conn: AsyncConnection, usernames: Sequence[str], addresses: Sequence[str]
) -> tuple[bool, str, str] | None:
    """(is_username, value, message) for the first username or static address already taken."""
    for start in range(0, len(usernames), IN_CHUNK):
        chunk = usernames[start : start + IN_CHUNK]
        query = sa.select(Subscriber.username).where(Subscriber.username.in_(chunk)).limit(1)
        taken = (await conn.execute(query)).scalar_one_or_none()
        if taken is not None:
            return True, taken, f"subscriber {taken!r} already exists"
    for start in range(0, len(addresses), IN_CHUNK):
        chunk = addresses[start : start + IN_CHUNK]
        found = sa.select(Subscriber.static_ipv4, Subscriber.username)
        row = (await conn.execute(found.where(Subscriber.static_ipv4.in_(chunk)).limit(1))).first()
        if row is not None and row.static_ipv4 is not None:
            address = row.static_ipv4
            return False, address, f"static IP {address} is already assigned to {row.username!r}"
    return None


def _import_row(
    number: int,
    row: Mapping[Any, Any],
    plans: Mapping[str, int],
    pools: frozenset[str],
    store: str = "cleartext",
) -> dict[str, Any]:
    """One CSV row as subscriber column values; InvalidInput names the row (1 = first data row)."""
    unknown = [key for key in row if key not in IMPORT_COLUMNS]
    if unknown:
        what = "more fields than the header" if None in unknown else f"unknown column {unknown[0]!r}"
        raise InvalidInput(f"row {number}: {what}")
    try:
        username = validate.name(row.get("username") or "", "username", 253)
        password = row.get("password") or ""
        if not password:
            raise InvalidInput("the password must not be empty")
        plan = validate.blank_to_none(row.get("plan"))
        if plan is not None and plan not in plans:
            raise InvalidInput(f"unknown plan {plan!r}")
        static = validate.blank_to_none(row.get("static_ip"))
        pool = validate.blank_to_none(row.get("pool"))
        if pool is not None and pool not in pools:
            raise InvalidInput(f"pool {pool!r} does not exist")
        return {
            "username": username,
            "credential": make_credential(password, store),
            "status": validate.status(validate.blank_to_none(row.get("status")) or "active"),
            "plan_id": plans[plan] if plan is not None else None,
            "pool_name": pool,
            "static_ipv4": validate.ipv4_address(static) if static is not None else None,
        }
    except InvalidInput as exc:
        raise InvalidInput(f"row {number}: {exc}") from None


async def import_subscribers(
    engine: AsyncEngine,
    rows: Sequence[Mapping[str, str]],
    *,
    store: str = "cleartext",
    progress: Callable[[int], None] | None = None,
) -> int:
    """Create every subscriber of ``rows`` in one transaction, or none; passwords are kept as
    ``store`` says (:func:`make_credential`).

    Columns: username, password and optionally plan, pool, static_ip, status (blank = not set).
    Any bad row (malformed, unknown plan, duplicate in the file or in the database) raises
    InvalidInput naming its row number (1 = first data row) and nothing is written. Appends a
    single whole-topic change, not one per row. Returns the number of subscribers created.
    ``progress(n)`` is called as rows are checked and as they are written (2 x rows in all).
    """
    if not rows:
        return 0
    now = utcnow()
    async with begin_write(engine) as conn:
        plans = {name: plan_id for name, plan_id in await conn.execute(sa.select(Plan.name, Plan.id))}
        pools = frozenset((await conn.execute(sa.select(IPPool.name))).scalars())
        values: list[dict[str, Any]] = []
        seen_user: dict[str, int] = {}
        seen_ip: dict[str, int] = {}
        for number, row in enumerate(rows, start=1):
            value = _import_row(number, row, plans, pools, store)
            for key, seen, what in (("username", seen_user, "username"), ("static_ipv4", seen_ip, "IP")):
                item = value[key]
                if item is None:
                    continue
                if item in seen:
                    raise InvalidInput(f"row {number}: {what} {item!r} repeats row {seen[item]}")
                seen[item] = number
            value.update(reply_attributes=[], created_at=now, updated_at=now)
            values.append(value)
            if progress is not None and number % IN_CHUNK == 0:
                progress(IN_CHUNK)
        if progress is not None:
            progress(len(values) % IN_CHUNK)
        taken = await _first_taken(conn, list(seen_user), list(seen_ip))
        if taken is not None:
            is_username, item, message = taken
            raise InvalidInput(f"row {(seen_user if is_username else seen_ip)[item]}: {message}")
        try:
            for start in range(0, len(values), IN_CHUNK):
                await conn.execute(sa.insert(Subscriber), values[start : start + IN_CHUNK])
                if progress is not None:
                    progress(len(values[start : start + IN_CHUNK]))
        except IntegrityError:
            raise InvalidInput("a row clashes with a subscriber added meanwhile; nothing imported") from None
        await record_change(conn, TOPIC_SUBSCRIBER, None)
    return len(values)


async def list_subscribers(
    engine: AsyncEngine, *, plan: str | None = None, status: str | None = None
) -> list[SubscriberRecord]:
    """Subscribers by username, optionally only those of one plan and/or one status."""
    query = SUBSCRIBER_SELECT
    if plan is not None:
        query = query.where(Plan.name == plan)
    if status is not None:
        query = query.where(Subscriber.status == validate.status(status))
    async with engine.connect() as conn:
        return [SubscriberRecord.from_row(row) for row in (await conn.execute(query)).mappings()]


async def get_subscriber(engine: AsyncEngine, username: str) -> SubscriberRecord:
    async with engine.connect() as conn:
        return await _fetch(conn, username)


async def _update(engine: AsyncEngine, username: str, **values: Any) -> SubscriberRecord:
    async with begin_write(engine) as conn:
        if "plan" in values:
            values["plan_id"] = await _plan_id(conn, values.pop("plan"))
        result = await conn.execute(
            sa.update(Subscriber).where(Subscriber.username == username).values(**values, updated_at=utcnow())
        )
        if result.rowcount == 0:
            raise NotFound(f"subscriber {username!r} does not exist")
        await record_change(conn, TOPIC_SUBSCRIBER, username)
        return await _fetch(conn, username)


async def set_subscriber_status(engine: AsyncEngine, username: str, status: str) -> SubscriberRecord:
    """Set active | suspended | disabled (what `subscriber suspend|resume` call)."""
    return await _update(engine, username, status=validate.status(status))


async def set_subscriber_plan(engine: AsyncEngine, username: str, plan: str | None) -> SubscriberRecord:
    """Move a subscriber to ``plan`` (None: no plan); InvalidInput for an unknown plan."""
    return await _update(engine, username, plan=validate.blank_to_none(plan))


async def update_subscriber(
    engine: AsyncEngine,
    username: str,
    *,
    password: str | Unset = UNSET,
    credential: str | Unset = UNSET,
    plan: str | Unset | None = UNSET,
    pool: str | Unset | None = UNSET,
    static_ip: str | Unset | None = UNSET,
    status: str | Unset = UNSET,
    simultaneous_use: int | Unset | None = UNSET,
    store: str = "cleartext",
) -> SubscriberRecord:
    """Change the fields given (None clears plan, pool, static IP or simultaneous use); a new
    password is kept as ``store`` says (:func:`make_credential`). The plan and pool must exist
    and the static IP be free; nothing is written on error."""
    values: dict[str, Any] = {}
    if given(password) or given(credential):
        values["credential"] = _credential(
            password if isinstance(password, str) else None,
            credential if isinstance(credential, str) else None,
            store,
        )
    if given(pool):
        values["pool_name"] = validate.blank_to_none(pool)
    if given(static_ip):
        static = validate.blank_to_none(static_ip)
        values["static_ipv4"] = None if static is None else validate.ipv4_address(static)
    if isinstance(status, str):
        values["status"] = validate.status(status)
    if given(simultaneous_use):
        values["simultaneous_use"] = validate.positive_int(simultaneous_use, "simultaneous use")
    try:
        async with begin_write(engine) as conn:
            current = await _fetch(conn, username)
            if given(plan):
                values["plan_id"] = await _plan_id(conn, validate.blank_to_none(plan))
            await require_pool(conn, values.get("pool_name"))
            static = values.get("static_ipv4")
            if static is not None and static != current.static_ip:
                owner = await conn.scalar(
                    sa.select(Subscriber.username).where(Subscriber.static_ipv4 == static)
                )
                if owner is not None:
                    raise Conflict(f"static IP {static} is already assigned to {owner!r}")
            if values:
                await conn.execute(
                    sa.update(Subscriber)
                    .where(Subscriber.id == current.id)
                    .values(**values, updated_at=utcnow())
                )
                await record_change(conn, TOPIC_SUBSCRIBER, username)
            return await _fetch(conn, username)
    except IntegrityError:
        raise Conflict(f"subscriber {username!r}: the static IP is already assigned") from None


async def remove_subscriber(engine: AsyncEngine, username: str, *, open_sessions_ok: bool = False) -> None:
    """Delete a subscriber; sessions, accounting and address history keep the username.

    Conflict naming the sessions while the subscriber is online, unless ``open_sessions_ok``
    (the caller disconnected them and their Accounting-Stop is on its way).
    """
    async with begin_write(engine) as conn:
        if not open_sessions_ok:
            online = await open_session_ids(conn, username)
            if online:
                shown = ", ".join(online[:3]) + (f" and {len(online) - 3} more" if len(online) > 3 else "")
                raise Conflict(
                    f"subscriber {username!r} is online (session {shown}): disconnect first (--disconnect)"
                )
        sub_id = await conn.scalar(sa.select(Subscriber.id).where(Subscriber.username == username))
        if sub_id is None:
            raise NotFound(f"subscriber {username!r} does not exist")
        await release_holdings(conn, "subscriber", int(sub_id))  # routed subnets go back
        await conn.execute(sa.delete(Subscriber).where(Subscriber.id == sub_id))
        await record_change(conn, TOPIC_SUBSCRIBER, username)
