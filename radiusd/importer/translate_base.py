"""The parts of :class:`~.translate.Translator` that read one table each on their own: the
helpers shared by every table (pool names, reply and control items), ``nas``, ``radippool``
and the open ``radacct`` rows.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from radiusd.codec.attr_encoding import encode_value
from radiusd.codec.dictionary import Dictionary
from radiusd.model.events import unique_session_id
from radiusd.model.sessions import LiveSession
from radiusd.store.accounting_ops import session_row

from .fit import INT32_MAX, POOLS, ROUTERS, SESSIONS, misfit, shown
from .mask import is_secret_name
from .mask import shown as masked
from .model import LeaseItem, NasItem, PoolItem, Report
from .translate_values import (
    _XLAT,
    NAS_TYPES,
    PASSWORD_ATTRIBUTES,
    REPLY_OPS,
    REQUIRE_MA,
    SET_OPS,
    Row,
    _class_values,
    _Controls,
    _number,
    _rid,
    _s,
    address_text,
    aware,
    credential_of,
    parse_expiration,
    prefix_text,
    subnet_text,
    unquote,
)


class TranslatorBase:
    """The report, the dictionary and the pool map, and the tables translated row by row."""

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
