"""FreeRADIUS rows -> :class:`~.model.ImportData` (pure: no I/O, the clock is passed in).

Semantics followed (rlm_sql of FreeRADIUS 3.x):

- ``radcheck`` holds the password (Cleartext-Password, NT-Password, Crypt-Password, the
  ``{SHA}``-family hashes) and control items (Auth-Type := Reject, Simultaneous-Use,
  Expiration, Pool-Name). Comparisons (``==``, ``!=``, ``=~``... on request attributes) are
  conditions we cannot evaluate: reported, not carried over.
- ``radusergroup`` groups are read in ``priority`` order (then row id); after a group that
  contributed reply items, the next group is read only when the reply holds
  ``Fall-Through = Yes``. Reply operators: ``=`` adds when absent, ``:=`` replaces, ``+=``
  appends. The groups that applied become one plan (their names joined with ``+``).
- User ``radreply`` items come first (FreeRADIUS reads them before the groups); a user
  whose final reply differs from its plan's for an attribute the plan sets gets no plan:
  everything (pool, limits, attributes) is put on the subscriber itself, so that the daemon,
  which sends plan attributes and then subscriber attributes, sends what FreeRADIUS sent.
- A user ``Framed-IP-Address`` becomes the subscriber's static address (and a reservation
  when it lies in a pool); Mikrotik-Rate-Limit, Session-Timeout and Acct-Interim-Interval of
  a plan go to the plan's own columns; other attributes must exist in our dictionaries.
- A NAS requires Message-Authenticator in Access-Requests unless its source says ``no``:
  clients.conf ``require_message_authenticator`` or the ``require_ma`` column of FreeRADIUS
  3.2.5+ (``yes`` and ``auto`` -> required; absent -> required, as ``nas add`` defaults).
- ``radippool`` rows are grouped by ``pool_name`` (renamed by ``--pool-map``); rows whose
  ``expiry_time`` is in the future and which name a user are live leases of that user.
- A row whose values our tables cannot hold (a NUL byte, longer than the column, a number
  that is not one or is out of range: :mod:`.fit`) is reported and skipped, never fatal.
- Open ``radacct`` rows get the Acct-Unique-Session-Id the daemon computes for the same
  session (:func:`radiusd.policy.accounting.unique_session_id`): NAS address, Acct-Session-Id,
  User-Name, NAS-Port (``nasportid`` when it is a number: FreeRADIUS stores
  ``%{NAS-Port-ID}`` or, without one, ``%{NAS-Port}``), and Class when recorded.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from radiusd.codec.attr_encoding import encode_value
from radiusd.codec.dictionary import Dictionary
from radiusd.model.credentials import parse_credential
from radiusd.model.events import unique_session_id
from radiusd.model.sessions import LiveSession
from radiusd.store.accounting_ops import session_row
from radiusd.store.errors import InvalidInput
from radiusd.store.validate import nas_client_address

from .fit import INT32_MAX, PLANS, POOLS, ROUTERS, SESSIONS, SUBSCRIBERS, misfit, shown
from .mask import is_secret_name
from .mask import shown as masked
from .model import ImportData, LeaseItem, NasItem, PlanItem, PoolItem, Report, SubscriberItem

Row = Mapping[str, Any]

PASSWORD_ATTRIBUTES = {
    "cleartext-password",
    "user-password",
    "nt-password",
    "crypt-password",
    "sha-password",
    "ssha-password",
    "md5-password",
    "smd5-password",
    "sha1-password",
    "ssha1-password",
    "sha2-password",
    "ssha2-256-password",
    "ssha2-512-password",
    "sha2-256-password",
    "sha2-512-password",
    "password-with-header",
}
#: the credential of a user FreeRADIUS rejects (Auth-Type := Reject) and who has no password: a
#: SHA-1 digest of all zeros, which no password has (a preimage of it is not known); text that
#: every database stores (a NUL byte, which would do as well, PostgreSQL refuses)
NEVER_MATCHES = "{SHA}" + base64.b64encode(bytes(20)).decode()
SET_OPS = (":=", "=", "==")  # "==" on a password/control item is the old rlm_sql habit
REPLY_OPS = ("=", ":=", "+=")
PLAN_COLUMNS = {
    "mikrotik-rate-limit": "rate_limit",
    "session-timeout": "session_timeout",
    "acct-interim-interval": "interim_interval",
}
NAS_TYPES = {"mikrotik": "mikrotik", "cisco": "cisco", "ubiquiti": "ubiquiti", "ubnt": "ubiquiti"}
#: require_message_authenticator / require_ma values; "auto" (require it once a client sent
#: it) has no equivalent here: required, the safe side (BlastRADIUS, CVE-2024-3596)
REQUIRE_MA = {"yes": True, "true": True, "1": True, "auto": True, "no": False, "false": False, "0": False}
_XLAT = re.compile(r"%\{|%[a-zA-Z]")
_HEX = re.compile(r"(0x)?[0-9a-fA-F]+")
EXPIRATION_FORMATS = (
    "%b %d %Y %H:%M:%S",
    "%b %d %Y %H:%M",
    "%b %d %Y",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y",
    "%B %d %Y %H:%M:%S",
    "%B %d %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
)


@dataclass(slots=True)
class SourceTables:
    """The rows read from a FreeRADIUS database; keys are lower-case column names.

    ``radippool`` rows carry an extra boolean ``live`` (expiry_time in the future, as the
    source database's own clock says); ``radacct`` holds the open rows only.
    """

    nas: list[Row] = field(default_factory=list)
    radcheck: list[Row] = field(default_factory=list)
    radreply: list[Row] = field(default_factory=list)
    radusergroup: list[Row] = field(default_factory=list)
    radgroupcheck: list[Row] = field(default_factory=list)
    radgroupreply: list[Row] = field(default_factory=list)
    radippool: list[Row] = field(default_factory=list)
    radacct: list[Row] = field(default_factory=list)


# -- values -------------------------------------------------------------------------------


def _s(value: Any) -> str:
    return "" if value is None else str(value).strip()


def unquote(value: str) -> str:
    """``"text"`` or ``'text'`` -> ``text`` (values typed by hand into SQL sometimes keep them)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def address_text(value: Any) -> str | None:
    """An address column (text, or an inet value from asyncpg) as plain address text."""
    text = _s(value)
    if not text:
        return None
    if text.endswith("/32") or text.endswith("/128"):
        text = text.rsplit("/", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def subnet_text(value: Any) -> str | None:
    """A NAS subnet (``10.0.0.0/24``, as clients.conf allows) as canonical text, else None."""
    try:
        return nas_client_address(_s(value)) if "/" in _s(value) else None
    except InvalidInput:
        return None


def prefix_text(value: Any) -> str | None:
    text = _s(value)
    if not text:
        return None
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


def aware(value: Any) -> dt.datetime | None:
    """A source timestamp as aware UTC (naive values are taken as UTC, which is what SQLite's
    ``datetime('now')`` and a PostgreSQL server in UTC store)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    try:
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except OverflowError:  # year 1 or 9999 moved across midnight by its offset
        return None


def parse_expiration(text: str) -> dt.datetime:
    """FreeRADIUS ``Expiration`` ("Jan 01 2030 12:00:00", "01 Jan 2030", ISO dates) as UTC."""
    cleaned = " ".join(unquote(text).replace(",", " ").split())
    for fmt in EXPIRATION_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    if cleaned.isdigit():
        try:
            return dt.datetime.fromtimestamp(int(cleaned), dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"Expiration {shown(cleaned)} is out of range") from None
    raise ValueError(f"unreadable Expiration {shown(text)!r}")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _digest_text(value: str) -> bytes:
    """A FreeRADIUS hash value: hex (optionally 0x) or base64, as raw bytes."""
    text = value.strip()
    if _HEX.fullmatch(text) and len(text.removeprefix("0x")) % 2 == 0:
        return bytes.fromhex(text.removeprefix("0x"))
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("neither hex nor base64") from None


def credential_of(attribute: str, value: str) -> str:
    """The storage string (radiusd.policy.credentials) of a FreeRADIUS password item;
    ValueError naming the format (never the secret) when we cannot verify it."""
    name = attribute.lower()
    value = unquote(value)
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    if name in ("cleartext-password", "user-password"):
        if not value:
            raise ValueError("empty password")
        stored = "cleartext:" + value
    elif name == "nt-password":
        stored = "nt:" + value.strip().removeprefix("0x").lower()
    elif name == "crypt-password":
        stored = value.strip()
        if not stored.startswith(("$1$", "$5$", "$6$", "$2a$", "$2b$", "$2y$")):
            raise ValueError("only MD5, SHA-256, SHA-512 crypt and bcrypt ($1$, $5$, $6$, $2b$) are verified")
    elif name == "password-with-header":
        stored = value.strip()
        if stored.lower().startswith("{clear}") or stored.lower().startswith("{cleartext}"):
            stored = "cleartext:" + stored.split("}", 1)[1]
    else:
        raw = _digest_text(value)
        scheme = {
            "sha-password": "SHA",
            "sha1-password": "SHA",
            "ssha-password": "SSHA",
            "ssha1-password": "SSHA",
            "md5-password": "MD5",
            "smd5-password": "SMD5",
            "ssha2-256-password": "SSHA256",
            "ssha2-512-password": "SSHA512",
            "sha2-256-password": "SHA256",
            "sha2-512-password": "SHA512",
        }.get(name)
        if name == "sha2-password":
            scheme = {32: "SHA256", 64: "SHA512"}.get(len(raw))
            if scheme is None:
                raise ValueError(f"SHA2-Password of {len(raw)} octets (SHA-224/384 are not supported)")
        assert scheme is not None
        stored = "{" + scheme + "}" + _b64(raw)
    parse_credential(stored)  # ValueError names the format
    return stored


# -- items of one owner -------------------------------------------------------------------


@dataclass(slots=True)
class _Reply:
    """A reply list with FreeRADIUS operators applied (names kept in the spelling first seen)."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def apply(self, name: str, op: str, value: str) -> None:
        key = name.lower()
        if op == "+=":
            self.items.append((name, value))
        elif op == ":=":
            self.items = [(n, v) for n, v in self.items if n.lower() != key] + [(name, value)]
        elif not any(n.lower() == key for n, _ in self.items):
            self.items.append((name, value))

    def get(self, name: str) -> str | None:
        for n, v in self.items:
            if n.lower() == name.lower():
                return v
        return None

    def without(self, *names: str) -> list[tuple[str, str]]:
        drop = {n.lower() for n in names}
        return [(n, v) for n, v in self.items if n.lower() not in drop]


@dataclass(slots=True)
class _Controls:
    credential: str | None = None
    reject: bool = False
    simultaneous_use: int | None = None
    expires_at: dt.datetime | None = None
    pool: str | None = None


class Translator:
    """Turns :class:`SourceTables` into :class:`ImportData`, filling a :class:`Report`."""

    def __init__(
        self, dictionary: Dictionary, pool_map: Mapping[str, str] | None = None, report: Report | None = None
    ) -> None:
        self.dictionary = dictionary
        self.pool_map = dict(pool_map or {})
        self.report = report if report is not None else Report()
        self._unfit_plans: set[str] = set()

    # -- helpers ------------------------------------------------------------------------

    def pool_name(self, name: str) -> str:
        return self.pool_map.get(name, name)

    def reply_item(self, table: str, row: Row, subject: str) -> tuple[str, str, str] | None:
        """(name, op, value) of a reply row we can send, else None (reported)."""
        name, op, value = _s(row.get("attribute")), _s(row.get("op")) or "=", unquote(_s(row.get("value")))
        rid = row.get("id", "?")
        if op not in REPLY_OPS:
            self.report.skip(table, rid, subject, f"operator {op!r} on {name} is not supported in a reply")
            return None
        if name.lower() == "fall-through":
            return name, op, value
        if "\x00" in value or "\x00" in name:
            self.report.skip(table, rid, subject, f"{shown(name)}: the value contains a NUL byte")
            return None
        if _XLAT.search(value):
            self.report.skip(table, rid, subject, f"{name} = {masked(name, value)} is an unlang expansion")
            return None
        try:
            d = self.dictionary.attribute(name)
        except KeyError:
            self.report.skip(table, rid, subject, f"attribute {name!r} is not in our dictionaries")
            return None
        try:
            encode_value(d, value, 0, self.dictionary)
        except (ValueError, TypeError, OverflowError) as exc:
            why = "(value masked)" if is_secret_name(d.name) else str(exc)
            self.report.skip(table, rid, subject, f"value of {d.name} cannot be encoded: {why}")
            return None
        return d.name, op, value

    def controls(self, table: str, rows: Iterable[Row], subject: str, into: _Controls) -> None:
        """Apply check rows (passwords and control items); conditions are reported."""
        for row in rows:
            name, op, value = _s(row.get("attribute")), _s(row.get("op")) or "==", _s(row.get("value"))
            key, rid = name.lower(), row.get("id", "?")
            if op not in SET_OPS:
                self.report.skip(
                    table, rid, subject, f"check {name} {op} {masked(name, value)}: operator not supported"
                )
                continue
            if key in PASSWORD_ATTRIBUTES:
                if table != "radcheck" and not table.startswith("users"):
                    self.report.skip(table, rid, subject, f"{name} on a group is not supported")
                    continue
                try:
                    into.credential = credential_of(name, value)
                except ValueError as exc:
                    self.report.skip(table, rid, subject, f"{name} cannot be verified: {exc}")
                continue
            if op == "==":
                self.report.skip(
                    table, rid, subject, f"condition {name} == {masked(name, value)} is not supported"
                )
                continue
            value = unquote(value)
            if key == "auth-type":
                if value.lower() == "reject":
                    into.reject = True
                else:
                    self.report.skip(table, rid, subject, f"Auth-Type := {value} is not supported")
            elif key == "simultaneous-use":
                if value.isdigit() and 0 < int(value) <= INT32_MAX:
                    into.simultaneous_use = int(value)
                else:
                    self.report.skip(
                        table, rid, subject, f"Simultaneous-Use {shown(value)!r} is not a positive number "
                        f"up to {INT32_MAX}",
                    )  # fmt: skip
            elif key == "expiration":
                try:
                    into.expires_at = parse_expiration(value)
                except ValueError as exc:
                    self.report.skip(table, rid, subject, str(exc))
            elif key == "pool-name":
                into.pool = self.pool_name(value)
            else:
                self.report.skip(
                    table, rid, subject, f"check item {name} {op} {masked(name, value)} is not supported"
                )

    # -- the tables -----------------------------------------------------------------------

    def nas(self, rows: Sequence[Row]) -> list[NasItem]:
        out: list[NasItem] = []
        names: set[str] = set()
        addresses: set[str] = set()
        for row in sorted(rows, key=_rid):
            nasname, rid = _s(row.get("nasname")), row.get("id", "?")
            address = address_text(nasname) or subnet_text(nasname)
            if address is None:
                what = "a malformed network" if "/" in nasname else "a host name"
                self.report.skip(
                    "nas", rid, nasname, f"nasname {nasname!r} is {what}, not an address or subnet"
                )
                continue
            secret = _s(row.get("secret"))
            if not secret:
                self.report.skip("nas", rid, nasname, "empty secret")
                continue
            name = _s(row.get("shortname")) or address
            if name in names:
                name = f"{name}-{address}"
            if address in addresses:
                self.report.skip("nas", rid, nasname, f"address {address} is listed twice")
                continue
            ntype = _s(row.get("type")).lower()
            item = NasItem(
                name,
                address,
                secret,
                NAS_TYPES.get(ntype, "generic"),
                _s(row.get("description")) or None,
                self.require_ma(row, nasname),
            )
            problem = misfit(
                ROUTERS,
                {"name": item.name, "secret": item.secret, "description": item.description},
                {"name": "shortname"},
            )
            if problem is not None:
                self.report.skip("nas", rid, shown(nasname), problem)
                continue
            names.add(name)
            addresses.add(address)
            out.append(item)
        return out

    def require_ma(self, row: Row, subject: str) -> bool:
        """Whether the NAS of ``row`` must send Message-Authenticator (see the module doc)."""
        text = unquote(_s(row.get("require_ma"))).lower()
        if not text:
            return True
        required = REQUIRE_MA.get(text)
        if required is None:
            self.report.skip(
                "nas", row.get("id", "?"), subject,
                f"require_message_authenticator = {text!r} is not yes, no or auto: required",
            )  # fmt: skip
            return True
        return required

    def translate(self, t: SourceTables) -> ImportData:  # noqa: C901  (one step per FreeRADIUS table, in the order they depend on each other)
        data = ImportData(nas=self.nas(t.nas))
        by_user_check: dict[str, list[Row]] = defaultdict(list)
        by_user_reply: dict[str, list[Row]] = defaultdict(list)
        for row in t.radcheck:
            by_user_check[_s(row.get("username"))].append(row)
        for row in t.radreply:
            by_user_reply[_s(row.get("username"))].append(row)
        groups_of: dict[str, list[tuple[int, tuple[int, int, str], str]]] = defaultdict(list)
        for row in t.radusergroup:
            prio = row.get("priority")
            try:
                number = int(prio or 0)
            except (TypeError, ValueError):
                user = shown(_s(row.get("username")))
                reason = f"priority {shown(str(prio))!r} is not a number"
                self.report.skip("radusergroup", row.get("id", "?"), user, reason)
                continue
            groups_of[_s(row.get("username"))].append((number, _rid(row), _s(row.get("groupname"))))
        gcheck: dict[str, list[Row]] = defaultdict(list)
        greply: dict[str, list[Row]] = defaultdict(list)
        for row in t.radgroupcheck:
            gcheck[_s(row.get("groupname"))].append(row)
        for row in t.radgroupreply:
            greply[_s(row.get("groupname"))].append(row)
        for rows in (*by_user_check.values(), *by_user_reply.values(), *gcheck.values(), *greply.values()):
            rows.sort(key=_rid)
        # each group's items are checked once (and reported once), then reused per user
        group_controls: dict[str, _Controls] = {}
        group_reply: dict[str, list[tuple[str, str, str]]] = {}
        for g in set(gcheck) | set(greply):
            c = group_controls[g] = _Controls()
            self.controls("radgroupcheck", gcheck.get(g, []), f"group {g}", c)
            items = []
            for row in greply.get(g, []):
                item = self.reply_item("radgroupreply", row, f"group {g}")
                if item is not None and item[0].lower() == "framed-ip-address":
                    self.report.skip(
                        "radgroupreply",
                        row.get("id", "?"),
                        f"group {g}",
                        "Framed-IP-Address on a group (one address for many users)",
                    )
                elif item is not None:
                    items.append(item)
            group_reply[g] = items
        plans: dict[str, PlanItem] = {}
        statics: dict[str, str] = {}
        users = sorted(set(by_user_check) | set(by_user_reply) | set(groups_of))
        for user in users:
            if not user:
                continue
            sub = self.subscriber(
                user,
                by_user_check.get(user, []),
                by_user_reply.get(user, []),
                sorted(groups_of.get(user, [])),
                group_controls,
                group_reply,
                plans,
            )
            if sub is None:
                continue
            if sub.static_ipv4 is not None:
                other = statics.get(sub.static_ipv4)
                if other is not None:
                    self.report.skip(
                        "radreply",
                        "-",
                        user,
                        f"Framed-IP-Address {sub.static_ipv4} is already the static address of {other!r}",
                    )
                    sub.static_ipv4 = None
                else:
                    statics[sub.static_ipv4] = user
            data.subscribers.append(sub)
        data.plans = sorted(plans.values(), key=lambda p: p.name)
        usernames = {s.username for s in data.subscribers}
        data.pools, data.leases = self.pools(t.radippool, usernames)
        for sub in data.subscribers:
            if sub.static_ipv4 is not None:
                data.leases.append(
                    LeaseItem(sub.static_ipv4, None, sub.username, "reserved", source="radreply")
                )
        data.sessions = self.sessions(t.radacct)
        by_ip = {(s.framed_ip, s.username): s.unique_id for s in data.sessions if s.framed_ip}
        for lease in data.leases:
            if lease.state == "leased":
                lease.session_key = by_ip.get((lease.address, lease.owner.split("\x1f")[0]))
        return data

    def subscriber(  # noqa: C901  (one branch per kind of radcheck/radreply row a user carries)
        self,
        user: str,
        checks: list[Row],
        replies: list[Row],
        groups: list[tuple[int, tuple[int, int, str], str]],
        group_controls: Mapping[str, _Controls],
        group_reply: Mapping[str, list[tuple[str, str, str]]],
        plans: dict[str, PlanItem],
    ) -> SubscriberItem | None:
        own = _Controls()
        self.controls("radcheck", checks, user, own)
        reply = _Reply()
        static: str | None = None
        for row in replies:
            item = self.reply_item("radreply", row, user)
            if item is None:
                continue
            name, op, value = item
            if name.lower() == "framed-ip-address":
                static = address_text(value)
                continue
            reply.apply(name, op, value)
        user_reply = list(reply.items)
        # groups in priority order; stop after a group with reply items unless Fall-Through
        plan_reply = _Reply()
        applied: list[str] = []
        merged = _Controls()
        for _prio, _order, g in groups:
            gc = group_controls.get(g)
            gr = group_reply.get(g, [])
            if gc is None and not gr:
                applied.append(g)  # a group with no rows: membership only
                continue
            applied.append(g)
            if gc is not None:
                merged.reject |= gc.reject
                merged.simultaneous_use = gc.simultaneous_use or merged.simultaneous_use
                merged.expires_at = gc.expires_at or merged.expires_at
                merged.pool = gc.pool or merged.pool
            for name, op, value in gr:
                reply.apply(name, op, value)
                plan_reply.apply(name, op, value)
            if gr and (reply.get("Fall-Through") or "").lower() not in ("yes", "1"):
                break
        if own.credential is None:
            if own.reject or merged.reject:
                own.credential = NEVER_MATCHES  # status says why
            else:
                self.report.skip("radcheck", "-", user, "no password item we can verify: user not imported")
                return None
        sub = SubscriberItem(
            username=user,
            credential=own.credential,
            status="disabled" if own.reject or merged.reject else "active",
            pool_name=own.pool,
            static_ipv4=static,
            simultaneous_use=own.simultaneous_use,
            expires_at=own.expires_at or merged.expires_at,
        )
        final = [(n, v) for n, v in reply.items if n.lower() != "fall-through"]
        plan_items = [(n, v) for n, v in plan_reply.items if n.lower() != "fall-through"]
        plan_name = "+".join(applied)
        if applied and not self._plan_fits(plan_name, merged):
            applied = []  # carried on the subscriber, as when its own items override the plan
            sub.pool_name = sub.pool_name or merged.pool
            sub.simultaneous_use = sub.simultaneous_use or merged.simultaneous_use
        if not applied:
            sub.reply_attributes = [[n, v] for n, v in final]
            return self._fitting(sub, checks)
        plan = plans.get(plan_name)
        if plan is None:
            plan = plans[plan_name] = self.plan(plan_name, plan_items, merged)
        # what the daemon would send: plan items, then the subscriber's
        if _counts(plan_items) == _counts(final):
            sub.plan = plan_name
            return self._fitting(sub, checks)
        user_names = {n.lower() for n, _ in user_reply}
        if all(n.lower() not in user_names for n, _ in plan_items) and _counts(
            plan_items + user_reply
        ) == _counts(final):
            sub.plan = plan_name
            sub.reply_attributes = [[n, v] for n, v in user_reply]
            return self._fitting(sub, checks)
        # the user overrides what the plan sets: detach, carry the final reply on the subscriber
        sub.reply_attributes = [[n, v] for n, v in final]
        sub.pool_name = sub.pool_name or merged.pool
        sub.simultaneous_use = sub.simultaneous_use or merged.simultaneous_use
        self.report.notes.append(
            f"subscriber {user!r}: its own reply items override plan {plan_name!r}; "
            "imported without a plan, with the combined reply items"
        )
        return self._fitting(sub, checks)

    def _fitting(self, sub: SubscriberItem, checks: list[Row]) -> SubscriberItem | None:
        """``sub`` when our subscribers table can hold it, else None (reported)."""
        problem = misfit(
            SUBSCRIBERS,
            {
                "username": sub.username,
                "credential": sub.credential,
                "pool_name": sub.pool_name,
                "simultaneous_use": sub.simultaneous_use,
                "reply_attributes": sub.reply_attributes,
            },
        )
        if problem is None:
            return sub
        row = checks[0].get("id", "-") if checks else "-"
        self.report.skip("radcheck", row, shown(sub.username), f"{problem}: user not imported")
        return None

    def _plan_fits(self, name: str, controls: _Controls) -> bool:
        """Whether a plan of these groups fits our plans table (reported once when not)."""
        problem = misfit(PLANS, {"name": name, "pool_name": controls.pool}, {"name": "plan name"})
        if problem is None:
            return True
        if name not in self._unfit_plans:
            self._unfit_plans.add(name)
            self.report.skip(
                "radusergroup", "-", shown(name), f"{problem}: its users are imported without a plan"
            )
        return False

    def plan(self, name: str, items: list[tuple[str, str]], controls: _Controls) -> PlanItem:
        plan = PlanItem(
            name=name,
            description=f"imported from FreeRADIUS group(s) {', '.join(name.split('+'))}",
            pool_name=controls.pool,
            simultaneous_use=controls.simultaneous_use,
        )
        seen: set[str] = set()
        for n, v in items:
            column = PLAN_COLUMNS.get(n.lower())
            if column is not None and n.lower() not in seen:
                seen.add(n.lower())
                if column == "rate_limit":
                    plan.rate_limit = v
                    continue
                if v.isdigit() and 0 < int(v) <= INT32_MAX:  # else a reply attribute, as it came
                    setattr(plan, column, int(v))
                    continue
            plan.reply_attributes.append([n, v])
        return plan

    def pools(self, rows: Sequence[Row], usernames: set[str]) -> tuple[list[PoolItem], list[LeaseItem]]:
        pools: dict[str, PoolItem] = {}
        leases: list[LeaseItem] = []
        seen: dict[int, str] = {}
        slots: dict[str, int] = defaultdict(int)
        for row in sorted(rows, key=_rid):
            rid = row.get("id", "?")
            name = self.pool_name(_s(row.get("pool_name")))
            address = address_text(row.get("framedipaddress"))
            if not name or ":" in name:
                self.report.skip("radippool", rid, shown(name) or "-", "pool name empty or containing ':'")
                continue
            problem = misfit(POOLS, {"name": name}, {"name": "pool name"})
            if problem is not None:
                self.report.skip("radippool", rid, shown(name), problem)
                continue
            if address is None or ":" in address:
                self.report.skip(
                    "radippool", rid, name, f"not an IPv4 address: {row.get('framedipaddress')!r}"
                )
                continue
            value = int(ipaddress.IPv4Address(address))
            if value in seen:
                self.report.skip(
                    "radippool", rid, name, f"{address} is listed again (already in pool {seen[value]!r})"
                )
                continue
            seen[value] = name
            pools.setdefault(name, PoolItem(name)).addresses.append(value)
            user = _s(row.get("username"))
            if not row.get("live") or not user:
                continue
            if user not in usernames:
                self.report.skip(
                    "radippool", rid, user, f"live lease of {address} for a user that is not imported"
                )
                continue
            slots[user] += 1
            owner = user if slots[user] == 1 else f"{user}\x1f{slots[user]}"
            leases.append(
                LeaseItem(
                    address,
                    name,
                    owner,
                    "leased",
                    aware(row.get("expiry_time")),
                    address_text(row.get("nasipaddress")),
                    source=f"radippool row {rid}",
                )
            )
        for pool in pools.values():
            pool.addresses.sort()
        return sorted(pools.values(), key=lambda p: p.name), leases

    def sessions(self, rows: Sequence[Row]) -> list[LiveSession]:
        out: list[LiveSession] = []
        seen: set[str] = set()
        for row in sorted(rows, key=lambda r: _rid(r, "radacctid")):
            rid = row.get("radacctid", "?")
            user = _s(row.get("username"))
            who = shown(user) or "-"
            nas = address_text(row.get("nasipaddress"))
            sid = _s(row.get("acctsessionid"))
            if nas is None or not sid:
                self.report.skip("radacct", rid, who, "no NAS address or Acct-Session-Id")
                continue
            started = aware(row.get("acctstarttime"))
            updated = aware(row.get("acctupdatetime")) or started
            if started is None or updated is None:
                self.report.skip("radacct", rid, who, "no start time")
                continue
            port_id = _s(row.get("nasportid")) or None
            port = (
                int(port_id) if port_id is not None and port_id.isdigit() and int(port_id) < 2**32 else None
            )
            try:
                counters = {
                    name: _number(row.get(column), label)
                    for name, column, label in (
                        ("session_time", "acctsessiontime", "session time"),
                        ("input_octets", "acctinputoctets", "input octets"),
                        ("output_octets", "acctoutputoctets", "output octets"),
                        ("interim_interval", "acctinterval", "interim interval"),
                    )
                }
            except ValueError as exc:
                self.report.skip("radacct", rid, who, str(exc))
                continue
            classes = _class_values(row.get("class"))
            uid = unique_session_id(nas, sid.encode(), user.encode(), port, classes)
            if uid in seen:
                self.report.skip("radacct", rid, who, "the same session is open twice")
                continue
            session = LiveSession(
                unique_id=uid,
                acct_session_id=sid,
                username=user,
                nas_address=nas,
                started_at=started,
                updated_at=max(updated, started),
                nas_port=port,
                nas_port_id=None if port is not None else port_id,
                nas_port_type=_s(row.get("nasporttype")) or None,
                framed_ip=address_text(row.get("framedipaddress")),
                framed_ipv6_prefix=prefix_text(row.get("framedipv6prefix")),
                delegated_ipv6_prefix=prefix_text(row.get("delegatedipv6prefix")),
                calling_station_id=_s(row.get("callingstationid")) or None,
                called_station_id=_s(row.get("calledstationid")) or None,
                class_=b"".join(classes).hex() if classes else None,
                session_time=counters["session_time"] or 0,
                input_octets=counters["input_octets"] or 0,
                output_octets=counters["output_octets"] or 0,
                interim_interval=counters["interim_interval"] or None,
            )
            problem = misfit(SESSIONS, session_row(session))
            if problem is not None:
                self.report.skip("radacct", rid, who, problem)
                continue
            seen.add(uid)
            out.append(session)
        texts = sum(1 for s in out if s.nas_port_id is not None)
        if texts:
            self.report.notes.append(
                f"{texts} open session(s) recorded a text NAS-Port-Id: their id assumes the NAS sends no "
                "NAS-Port; where it does, the next update opens a new session row instead"
            )
        return out


def _number(value: Any, label: str) -> int | None:
    """A counter column (None when empty); ValueError naming it when it is not a number."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} {shown(str(value))!r} is not a number") from None


def _rid(row: Row, key: str = "id") -> tuple[int, int, str]:
    """Sort key of a row id: numbers in order, then text ids (``users:12``) by file and line."""
    value = row.get(key)
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return 0, int(value), ""
    text = str(value or "")
    name, _, line = text.rpartition(":")
    return (1, int(line), name) if line.isdigit() else (2, 0, text)


def _class_values(value: Any) -> list[bytes]:
    """The Class column: FreeRADIUS prints octets as 0x<hex>."""
    if value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        return [bytes(value)] if value else []
    text = str(value)
    if not text:
        return []
    if text.startswith("0x") and _HEX.fullmatch(text) and len(text) % 2 == 0:
        return [bytes.fromhex(text[2:])]
    return [text.encode()]


def _counts(items: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = defaultdict(int)
    for n, v in items:
        out[(n.lower(), v)] += 1
    return dict(out)


def translate(
    tables: SourceTables, dictionary: Dictionary, pool_map: Mapping[str, str] | None = None
) -> tuple[ImportData, Report]:
    """Translate the rows of a FreeRADIUS database; the report lists what was left behind."""
    tr = Translator(dictionary, pool_map)
    return tr.translate(tables), tr.report
