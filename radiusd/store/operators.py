"""Web console operators, their login sessions and the audit log.

Passwords are kept as bcrypt hashes of ``base64(sha256(password))`` (bcrypt reads at most 72
bytes; the pre-hash lets a long passphrase count whole). Hashing runs in a thread: the daemon's
event loop also answers RADIUS and must not stop for 0.2 s per login.

Lockout: ``MAX_FAILURES`` wrong passwords within ``LOCKOUT_WINDOW`` lock the account until the
window ends (counted per account, in the database, so every node and worker agrees); a correct
password during the lockout is refused too. ``set_operator(unlock=True)`` clears it.

Sessions: the cookie carries 32 random bytes; only their SHA-256 is stored with the session's
CSRF token. A login always creates a new session (no fixation): a cookie value the server did
not issue is never looked up as valid.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import bcrypt
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store import validate
from radiusd.store.engine import begin_write
from radiusd.store.errors import Conflict, InvalidInput, NotFound
from radiusd.store.models import OPERATOR_ROLES, AuditEntry, Operator, OperatorSession, utcnow
from radiusd.store.records import _Record

_O: sa.Table = Operator.__table__  # type: ignore[assignment]
_S: sa.Table = OperatorSession.__table__  # type: ignore[assignment]
_A: sa.Table = AuditEntry.__table__  # type: ignore[assignment]

BCRYPT_ROUNDS = 12
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_FAILURES = 5
LOCKOUT_WINDOW = dt.timedelta(minutes=15)
#: a session unused this long is over, and any session this old
IDLE_TIMEOUT = dt.timedelta(hours=8)
MAX_AGE = dt.timedelta(hours=24)
#: a hash of the same cost, checked when the operator does not exist, so that the time a
#: refusal takes does not tell which names exist (made at the first such login)
_dummy: list[str] = []


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(hash_password(secrets.token_urlsafe(16)))
    return _dummy[0]


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest())


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password: str, stored: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), stored.encode("ascii"))
    except ValueError:
        return False


def check_new_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password is longer than {MAX_PASSWORD} characters")
    return password


def _role(role: str) -> str:
    if role not in OPERATOR_ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(OPERATOR_ROLES)}")
    return role


@dataclass(frozen=True, slots=True)
class OperatorInfo(_Record):
    """An operator as listed (never the hash)."""

    id: int
    name: str
    role: str
    disabled: bool
    locked: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


def _locked(row: sa.RowMapping, now: dt.datetime) -> bool:
    since = row["failures_since"]
    return bool(row["failures"] >= MAX_FAILURES and since is not None and now - since < LOCKOUT_WINDOW)


def _info(row: sa.RowMapping, now: dt.datetime | None = None) -> OperatorInfo:
    return OperatorInfo(
        row["id"], row["name"], row["role"], bool(row["disabled"]), _locked(row, now or utcnow()),
        row["created_at"], row["last_login_at"],
    )  # fmt: skip


async def add_operator(engine: AsyncEngine, name: str, password: str, role: str) -> OperatorInfo:
    name = validate.name(name, "operator name")
    digest = await asyncio.to_thread(hash_password, check_new_password(password))
    try:
        async with begin_write(engine) as conn:
            if await conn.scalar(sa.select(_O.c.id).where(_O.c.name == name)) is not None:
                raise Conflict(f"operator {name!r} already exists")
            await conn.execute(
                sa.insert(_O).values(
                    name=name, password_hash=digest, role=_role(role), disabled=False, failures=0,
                    created_at=utcnow(),
                )
            )  # fmt: skip
            row = (await conn.execute(sa.select(_O).where(_O.c.name == name))).mappings().one()
    except IntegrityError:
        raise Conflict(f"operator {name!r} already exists") from None
    return _info(row)


async def list_operators(engine: AsyncEngine) -> list[OperatorInfo]:
    async with engine.connect() as conn:
        return [_info(r) for r in (await conn.execute(sa.select(_O).order_by(_O.c.name))).mappings()]


async def get_operator(engine: AsyncEngine, name: str) -> OperatorInfo:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(_O).where(_O.c.name == name))).mappings().first()
    if row is None:
        raise NotFound(f"no operator named {name!r}")
    return _info(row)


async def set_operator(
    engine: AsyncEngine,
    name: str,
    *,
    password: str | None = None,
    role: str | None = None,
    disabled: bool | None = None,
    unlock: bool = False,
) -> OperatorInfo:
    """Change an operator; a new password, a new role or disabling ends its open sessions."""
    values: dict[str, object] = {}
    if password is not None:
        values["password_hash"] = await asyncio.to_thread(hash_password, check_new_password(password))
    if role is not None:
        values["role"] = _role(role)
    if disabled is not None:
        values["disabled"] = disabled
    if unlock or password is not None:
        values.update(failures=0, failures_since=None)
    async with begin_write(engine) as conn:
        row = (await conn.execute(sa.select(_O).where(_O.c.name == name))).mappings().first()
        if row is None:
            raise NotFound(f"no operator named {name!r}")
        if values:
            await conn.execute(sa.update(_O).where(_O.c.id == row["id"]).values(**values))
        if password is not None or role is not None or disabled:
            await conn.execute(sa.delete(_S).where(_S.c.operator_id == row["id"]))
        row = (await conn.execute(sa.select(_O).where(_O.c.id == row["id"]))).mappings().one()
    return _info(row)


async def remove_operator(engine: AsyncEngine, name: str) -> None:
    async with begin_write(engine) as conn:
        found = await conn.scalar(sa.select(_O.c.id).where(_O.c.name == name))
        if found is None:
            raise NotFound(f"no operator named {name!r}")
        await conn.execute(sa.delete(_S).where(_S.c.operator_id == found))
        await conn.execute(sa.delete(_O).where(_O.c.id == found))


# -- login -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    """A session just opened: ``cookie`` goes to the browser (shown nowhere else)."""

    cookie: str
    csrf: str
    operator: str
    role: str


class LoginRefused(Exception):
    """Wrong name or password, disabled, or locked: ``reason`` is for the audit log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def session_key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "surrogatepass")).hexdigest()


async def login(engine: AsyncEngine, name: str, password: str, *, replaces: str | None = None) -> Login:
    """Check the password (with lockout) and open a new session; ``replaces`` (the cookie the
    browser sent, if any) is ended whatever it was."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(_O).where(_O.c.name == name))).mappings().first()
    if row is None or len(password) > MAX_PASSWORD:
        await asyncio.to_thread(lambda: check_password(password, _dummy_hash()))
        raise LoginRefused("unknown operator" if row is None else "password too long")
    now = utcnow()
    if _locked(row, now):
        raise LoginRefused("locked: too many failed logins")
    good = await asyncio.to_thread(check_password, password, row["password_hash"])
    async with begin_write(engine) as conn:
        if replaces:
            await conn.execute(sa.delete(_S).where(_S.c.id == session_key(replaces)))
        if not good:
            since = row["failures_since"]
            if since is None or now - since >= LOCKOUT_WINDOW:
                values = {"failures": 1, "failures_since": now}
            else:
                values = {"failures": _O.c.failures + 1}
            await conn.execute(sa.update(_O).where(_O.c.id == row["id"]).values(**values))
        elif row["disabled"]:
            pass
        else:
            cookie = secrets.token_urlsafe(32)
            csrf = secrets.token_urlsafe(32)
            await conn.execute(
                sa.insert(_S).values(
                    id=session_key(cookie), operator_id=row["id"], csrf=csrf, created_at=now, seen_at=now
                )
            )
            await conn.execute(
                sa.update(_O)
                .where(_O.c.id == row["id"])
                .values(last_login_at=now, failures=0, failures_since=None)
            )
            await conn.execute(sa.delete(_S).where(_S.c.created_at < now - MAX_AGE))  # prune
    if not good:
        raise LoginRefused("wrong password")
    if row["disabled"]:
        raise LoginRefused("disabled")
    return Login(cookie, csrf, row["name"], row["role"])


@dataclass(frozen=True, slots=True)
class WebSession:
    """The operator behind a cookie."""

    key: str
    operator: str
    role: str
    csrf: str


async def resume(engine: AsyncEngine, cookie: str, *, touch_every: float = 60.0) -> WebSession | None:
    """The session of ``cookie``, or None (unknown, expired, operator disabled)."""
    if not cookie or len(cookie) > 128:
        return None
    key = session_key(cookie)
    now = utcnow()
    q = (
        sa.select(_S.c.csrf, _S.c.created_at, _S.c.seen_at, _O.c.name, _O.c.role, _O.c.disabled)
        .select_from(_S.join(_O, _O.c.id == _S.c.operator_id))
        .where(_S.c.id == key)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(q)).first()
    if row is None or row.disabled:
        return None
    if now - row.created_at > MAX_AGE or now - row.seen_at > IDLE_TIMEOUT:
        await logout(engine, cookie)
        return None
    if (now - row.seen_at).total_seconds() >= touch_every:
        async with begin_write(engine) as conn:
            await conn.execute(sa.update(_S).where(_S.c.id == key).values(seen_at=now))
    return WebSession(key, row.name, row.role, row.csrf)


async def logout(engine: AsyncEngine, cookie: str) -> None:
    async with begin_write(engine) as conn:
        await conn.execute(sa.delete(_S).where(_S.c.id == session_key(cookie)))


# -- audit -----------------------------------------------------------------------------------------


async def audit(
    engine: AsyncEngine,
    operator: str,
    action: str,
    target: str | None,
    outcome: str = "ok",
    detail: str | None = None,
    source: str | None = None,
) -> None:
    """Append one line to the audit log (never a password or a secret in ``detail``)."""
    async with begin_write(engine) as conn:
        await conn.execute(
            sa.insert(_A).values(
                at=utcnow(), operator=operator[:128], action=action[:64],
                target=None if target is None else target[:255], outcome=outcome[:16],
                detail=None if detail is None else detail[:2000],
                source=None if source is None else source[:64],
            )
        )  # fmt: skip


async def audit_page(
    engine: AsyncEngine,
    *,
    limit: int = 100,
    before: int | None = None,
    target: str | None = None,
    operator: str | None = None,
) -> list[dict[str, object]]:
    """Audit entries, newest first (``before``: the last id of the previous page)."""
    q = sa.select(_A).order_by(_A.c.id.desc()).limit(limit)
    if before is not None:
        q = q.where(_A.c.id < before)
    if target is not None:
        q = q.where(_A.c.target == target)
    if operator is not None:
        q = q.where(_A.c.operator == operator)
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]
