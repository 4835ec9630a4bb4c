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

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from radiusd.codec.dictionary import Dictionary

from .fit import INT32_MAX, PLANS, SUBSCRIBERS, misfit, shown
from .model import ImportData, LeaseItem, PlanItem, Report, SubscriberItem
from .translate_base import TranslatorBase
from .translate_values import (
    NEVER_MATCHES,
    PLAN_COLUMNS,
    Row,
    _Controls,
    _counts,
    _Reply,
    _rid,
    _s,
    address_text,
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


class Translator(TranslatorBase):
    """Turns :class:`SourceTables` into :class:`ImportData`, filling a :class:`Report`."""

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


def translate(
    tables: SourceTables, dictionary: Dictionary, pool_map: Mapping[str, str] | None = None
) -> tuple[ImportData, Report]:
    """Translate the rows of a FreeRADIUS database; the report lists what was left behind."""
    tr = Translator(dictionary, pool_map)
    return tr.translate(tables), tr.report
