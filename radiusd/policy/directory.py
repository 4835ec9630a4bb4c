"""Subscribers and plans as the hot path reads them: parsed once, served from memory.

Records come from the store (radiusd.store.records); here their credentials are parsed
and their reply attributes encoded once, at load or change time, so an Access-Request
costs a dict lookup and a list copy, never a database round trip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from inventory.plugins.base import PluginError
from inventory.plugins.registry import rate_limit_attributes
from radiusd.codec import rulesets
from radiusd.codec.attr_encoding import encode_value
from radiusd.codec.attributes_gen import NAS_FILTER_RULE
from radiusd.codec.dictionary import Dictionary
from radiusd.codec.packet import EncodedAttributes
from radiusd.logs import get_logger
from radiusd.model.credentials import Credential, parse_credential

log = get_logger("radiusd.policy")

EncodedAttrs = tuple[tuple[int, bytes], ...]

#: Vendor ids whose VSAs are sent only to NAS devices of that vendor (or generic ones).
VENDOR_IDS: dict[str, frozenset[int]] = {
    "mikrotik": frozenset({14988}),
    "cisco": frozenset({9}),
    "ubiquiti": frozenset({41112, 14122}),  # UISP reads WISPr
    "microsoft": frozenset({311}),
    "juniper": frozenset({2636, 4874}),  # Junos and its ERX/Unisphere space
    "huawei": frozenset({2011}),
    "nokia": frozenset({6527}),
    "cambium": frozenset({17713}),
}


class PlanSource(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def pool(self) -> str | None: ...
    @property
    def walled_garden_pool(self) -> str | None: ...
    @property
    def simultaneous_use(self) -> int | None: ...
    @property
    def session_timeout(self) -> int | None: ...
    @property
    def interim_interval(self) -> int | None: ...
    @property
    def rate_limit(self) -> str | None: ...
    @property
    def reply_attributes(self) -> tuple[tuple[str, str], ...]: ...


class SubscriberSource(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def credential(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def plan(self) -> str | None: ...
    @property
    def pool(self) -> str | None: ...
    @property
    def static_ip(self) -> str | None: ...
    @property
    def static_ipv6_prefix(self) -> str | None: ...
    @property
    def delegated_ipv6_prefix(self) -> str | None: ...
    @property
    def simultaneous_use(self) -> int | None: ...
    @property
    def reply_attributes(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def expires_at(self) -> dt.datetime | None: ...


@dataclass(frozen=True, slots=True)
class ReplyAttributes:
    """Encoded reply attributes, with the vendor of each for per-NAS filtering."""

    items: tuple[tuple[int, int, bytes], ...] = ()  # (vendor id or 0, type, raw)
    names: tuple[tuple[str, str], ...] = ()  # for the debug log
    #: the plan's rate limit, rendered per NAS vendor by its router plugin before ``items[rate_at:]``
    rate_limit: str | None = None
    rate_at: int = 0
    dictionary: Dictionary | None = field(default=None, compare=False, repr=False)
    owner: str = field(default="", compare=False, repr=False)
    # per NAS vendor, filled on first use (a handful of vendors): an Access-Request then
    # costs a dict lookup here instead of filtering and re-encoding the attributes
    _by_vendor: dict[str, tuple[tuple[int, bytes], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _encoded: dict[str, EncodedAttributes] = field(default_factory=dict, compare=False, repr=False)
    _rates: dict[str, ReplyAttributes] = field(default_factory=dict, compare=False, repr=False)

    def for_vendor(self, nas_vendor: str) -> tuple[tuple[int, bytes], ...]:
        """Attributes for a NAS: standard ones always; a vendor's VSAs only for that vendor's
        NAS devices and for generic ones (which get everything); the rate limit as that
        vendor's plugin writes it (a generic NAS gets none)."""
        out = self._by_vendor.get(nas_vendor)
        if out is None:
            own = VENDOR_IDS.get(nas_vendor)
            kept = [(t, v) for vid, t, v in self.items if own is None or vid == 0 or vid in own]
            if self.rate_limit:
                # items[:rate_at] are standard attributes (Session-Timeout...): all kept
                kept[self.rate_at : self.rate_at] = [(t, v) for _, t, v in self._rate(nas_vendor).items]
            out = tuple(kept)
            self._by_vendor[nas_vendor] = out
        return out

    def names_for(self, nas_vendor: str) -> tuple[tuple[str, str], ...]:
        """:attr:`names` with the rate limit as ``nas_vendor`` gets it, for the debug log."""
        if not self.rate_limit:
            return self.names
        return self.names[: self.rate_at] + self._rate(nas_vendor).names + self.names[self.rate_at :]

    def _rate(self, nas_vendor: str) -> ReplyAttributes:
        """The rate limit rendered by the vendor's plugin and encoded, once per vendor."""
        out = self._rates.get(nas_vendor)
        if out is None:
            assert self.rate_limit is not None and self.dictionary is not None
            try:
                pairs: tuple[tuple[str, Any], ...] = rate_limit_attributes(nas_vendor, self.rate_limit)
            except (PluginError, ValueError) as exc:
                log.warning("rate-limit.skipped", owner=self.owner, vendor=nas_vendor, error=str(exc))
                pairs = ()
            out = self._rates[nas_vendor] = encode_reply_attributes(self.dictionary, pairs, self.owner)
        return out

    def encoded_for(self, nas_vendor: str) -> EncodedAttributes:
        """:meth:`for_vendor` already on the wire, for :meth:`Packet.from_encoded`."""
        out = self._encoded.get(nas_vendor)
        if out is None:
            out = self._encoded[nas_vendor] = EncodedAttributes(self.for_vendor(nas_vendor))
        return out


def encode_reply_attributes(
    dictionary: Dictionary, pairs: Iterable[tuple[str, Any]], owner: str
) -> ReplyAttributes:
    """Encode ``(name, value)`` pairs; a pair that cannot be encoded is logged and skipped,
    as is an empty value (RFC 2865 §5: never sent). NAS-Filter-Rule values become one rule
    set (RFC 4849 §2), where the first of them stood."""
    items: list[tuple[int, int, bytes]] = []
    names: list[tuple[str, str]] = []
    rules: list[bytes] = []
    rules_at = -1
    for name, value in pairs:
        try:
            d = dictionary.attribute(name)
            encoded = encode_value(d, value, 0, dictionary)
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("reply-attribute.skipped", owner=owner, attribute=name, error=str(exc))
            continue
        if not encoded:
            log.warning("reply-attribute.skipped", owner=owner, attribute=name, error="empty value")
            continue
        if d.key == (NAS_FILTER_RULE,):
            rules_at = len(items) if rules_at < 0 else rules_at
            rules.append(b"".join(raw for _, raw in encoded))
        else:
            items.extend((d.vendor, t, raw) for t, raw in encoded)
        names.append((d.name, str(value)))
    if rules:
        items[rules_at:rules_at] = [(0, t, raw) for t, raw in rulesets.chunks(rulesets.join(rules))]
    return ReplyAttributes(tuple(items), tuple(names))


@dataclass(frozen=True, slots=True)
class PlanView:
    name: str
    pool: str | None
    walled_garden_pool: str | None
    simultaneous_use: int | None
    interim_interval: int | None
    reply: ReplyAttributes
    #: nothing in the plan needs a decision per login (no pool, no Simultaneous-Use limit):
    #: an active subscriber's Access-Accept can be its cached reply attributes (PAP fast path)
    plain: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", self.pool is None and self.simultaneous_use is None)

    @classmethod
    def from_record(cls, rec: PlanSource, dictionary: Dictionary) -> PlanView:
        owner = f"plan {rec.name}"
        head: list[tuple[str, Any]] = []
        if rec.session_timeout:
            head.append(("Session-Timeout", rec.session_timeout))
        if rec.interim_interval:
            head.append(("Acct-Interim-Interval", rec.interim_interval))
        reply = encode_reply_attributes(dictionary, [*head, *rec.reply_attributes], owner)
        if rec.rate_limit:  # rendered per NAS vendor, after Session-Timeout and Acct-Interim-Interval
            reply = dataclasses.replace(
                reply, rate_limit=rec.rate_limit, rate_at=len(head), dictionary=dictionary, owner=owner
            )
        return cls(
            name=rec.name,
            pool=rec.pool,
            walled_garden_pool=rec.walled_garden_pool,
            simultaneous_use=rec.simultaneous_use,
            interim_interval=rec.interim_interval,
            reply=reply,
        )


@dataclass(frozen=True, slots=True)
class SubscriberView:
    username: str
    credential: Credential | None  # None: stored credential unreadable (logged at load)
    status: str
    plan: str | None
    pool: str | None
    static_ip: str | None
    static_ipv6_prefix: str | None
    delegated_ipv6_prefix: str | None
    simultaneous_use: int | None
    expires_at: dt.datetime | None
    reply: ReplyAttributes = field(default_factory=ReplyAttributes)
    #: active, with a plan, and nothing of its own that changes an Access-Accept (pool,
    #: static address or prefix, Simultaneous-Use limit, reply attributes): the PAP fast
    #: path may answer with the plan's cached attributes; anything else takes the general path
    plain: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        plain = (
            self.status == "active"
            and self.plan is not None
            and self.pool is None
            and self.static_ip is None
            and self.static_ipv6_prefix is None
            and self.delegated_ipv6_prefix is None
            and self.simultaneous_use is None
            and not self.reply.items
        )
        object.__setattr__(self, "plain", plain)

    def expired(self) -> bool:
        """True when the subscriber has an expiry time and it has passed."""
        return self.expires_at is not None and self.expires_at <= dt.datetime.now(dt.UTC)

    @classmethod
    def from_record(cls, rec: SubscriberSource, dictionary: Dictionary) -> SubscriberView:
        try:
            cred: Credential | None = parse_credential(rec.credential)
        except ValueError as exc:
            log.warning("credential.unreadable", user=rec.username, error=str(exc))
            cred = None
        return cls(
            username=rec.username,
            credential=cred,
            status=rec.status,
            plan=rec.plan,
            pool=rec.pool,
            static_ip=rec.static_ip,
            static_ipv6_prefix=rec.static_ipv6_prefix,
            delegated_ipv6_prefix=rec.delegated_ipv6_prefix,
            simultaneous_use=rec.simultaneous_use,
            expires_at=rec.expires_at,
            reply=encode_reply_attributes(dictionary, rec.reply_attributes, f"subscriber {rec.username}")
            if rec.reply_attributes
            else ReplyAttributes(),
        )


class Directory:
    """The in-memory subscriber and plan tables the policy reads."""

    def __init__(self, dictionary: Dictionary) -> None:
        self.dictionary = dictionary
        self.subscribers: dict[str, SubscriberView] = {}
        self.plans: dict[str, PlanView] = {}

    def set_plans(self, records: Iterable[PlanSource]) -> None:
        self.plans = {r.name: PlanView.from_record(r, self.dictionary) for r in records}

    def set_subscribers(self, records: Iterable[SubscriberSource]) -> None:
        self.subscribers = {r.username: SubscriberView.from_record(r, self.dictionary) for r in records}

    def update_subscribers(self, records: Mapping[str, SubscriberSource], requested: Iterable[str]) -> None:
        """Apply a partial reload: present records replace, requested-but-missing are removed."""
        for username in requested:
            rec = records.get(username)
            if rec is None:
                self.subscribers.pop(username, None)
            else:
                self.subscribers[username] = SubscriberView.from_record(rec, self.dictionary)
