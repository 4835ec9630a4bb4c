"""``radiusd netbox sync``: make NetBox show what radiusd holds, through pynetbox.

Every object the sync creates carries the tag ``radiusd`` and our id in the custom field
``radiusd_id`` (both created when missing). A run reads the tagged objects of each endpoint it
syncs, then creates what is missing, updates the fields that differ and deletes tagged objects
whose id we no longer hold; untagged objects are never changed or deleted (shared ones such as
a manufacturer ``mikrotik`` that already exists are adopted by slug and left as they are). A
second run over unchanged data makes no request that writes. ``dry_run`` computes the same
plan without writing (references to objects not yet created show as ``new:<our id>``).

Errors are :class:`NetBoxError`, one line: a refused token (403 ``Invalid token``), a 400
validation body (``{"field": ["message"]}``) naming the object, a NetBox that does not answer
within ``timeout``. radiusd's own database is only read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pynetbox
import requests
from pynetbox.core.query import RequestError

from radiusd.store.netbox_view import Want

TAG = "radiusd"
CUSTOM_FIELD = "radiusd_id"
OBJECT_TYPES = [
    "dcim.site",
    "dcim.device",
    "dcim.interface",
    "dcim.cable",
    "ipam.prefix",
    "ipam.ipaddress",
    "dcim.manufacturer",
    "dcim.devicetype",
    "dcim.devicerole",
    "ipam.role",
]
TIMEOUT = 10.0
#: fields compared as a nested object's id (``{"id": 7, ...}`` in NetBox replies)
NESTED = {"site", "device_type", "role", "manufacturer", "device", "tenant"}
#: fields compared as a choice's value (``{"value": "active", "label": "Active"}``)
CHOICES = {"status", "type"}


class NetBoxError(Exception):
    """A sync step NetBox refused or did not answer; one line, never the token."""


@dataclass(slots=True)
class Change:
    action: str  # create | update | delete
    endpoint: str
    our_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    netbox_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "endpoint": self.endpoint,
            "radiusd_id": self.our_id,
            "netbox_id": self.netbox_id,
            "fields": self.fields,
        }


@dataclass(slots=True)
class Report:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    adopted: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        counts = {a: sum(c.action == a for c in self.changes) for a in ("create", "update", "delete")}
        return {
            "dry_run": self.dry_run,
            **counts,
            "unchanged": self.unchanged,
            "adopted": self.adopted,
            "seconds": round(self.seconds, 3),
            "changes": [c.to_json() for c in self.changes],
        }


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def _error(url: str, exc: BaseException, what: str) -> NetBoxError:
    if isinstance(exc, RequestError):
        status = exc.req.status_code
        try:
            body = exc.req.json()
        except ValueError:
            body = exc.req.text[:200]
        if status in (401, 403):
            detail = body.get("detail") if isinstance(body, dict) else body
            return NetBoxError(f"NetBox at {url} refused the token ({status} {detail})")
        if isinstance(body, dict):
            text = "; ".join(
                f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in body.items()
            )
        else:
            text = str(body)
        return NetBoxError(f"NetBox at {url} refused {what} ({status}): {' '.join(text.split())[:300]}")
    if isinstance(exc, requests.Timeout):
        return NetBoxError(f"NetBox at {url} did not answer {what} in time")
    if isinstance(exc, requests.RequestException):
        return NetBoxError(f"NetBox at {url} cannot be reached: {type(exc).__name__}")
    return NetBoxError(f"NetBox at {url}: {what}: {' '.join(str(exc).split())[:200]}")


def _compare(value: Any) -> Any:
    """A NetBox reply's field reduced to what we send (ids, choice values, termination sets)."""
    if isinstance(value, dict):
        if "value" in value and "label" in value:
            return value["value"]
        if "id" in value:
            return value["id"]
    if isinstance(value, list) and value and isinstance(value[0], dict) and "object_id" in value[0]:
        return sorted((t["object_type"], t["object_id"]) for t in value)
    return value


def _wanted(value: Any) -> Any:
    if isinstance(value, list) and value and isinstance(value[0], dict) and "object_id" in value[0]:
        return sorted((t["object_type"], t["object_id"]) for t in value)
    return value


def _endpoint(api: Any, name: str) -> Any:
    app, _, path = name.partition(".")
    return getattr(getattr(api, app), path.replace("-", "_"))


class Sync:
    def __init__(self, url: str, token: str, *, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.api = pynetbox.api(self.url, token=token)
        self.api.http_session = _TimeoutSession(timeout)
        self._token = token

    def __repr__(self) -> str:
        return f"Sync({self.url})"  # never the token

    def _call(self, what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (RequestError, requests.RequestException, ValueError) as exc:
            raise _error(self.url, exc, what) from None

    def ensure_tag_and_field(self, dry_run: bool) -> int | None:
        """The ``radiusd`` tag's id (None in a dry run where it does not exist yet)."""
        tags = self._call("GET tags", lambda: list(self.api.extras.tags.filter(slug=TAG)))
        tag_id = int(tags[0].id) if tags else None
        fields = self._call(
            "GET custom fields", lambda: list(self.api.extras.custom_fields.filter(name=CUSTOM_FIELD))
        )
        if dry_run:
            return tag_id
        if tag_id is None:
            tag = self._call(
                "creating the tag",
                self.api.extras.tags.create,
                {"name": TAG, "slug": TAG, "color": "2196f3", "description": "made by radiusd netbox sync"},
            )
            tag_id = int(tag.id)
        if not fields:
            self._call(
                "creating the custom field",
                self.api.extras.custom_fields.create,
                {
                    "name": CUSTOM_FIELD,
                    "label": "radiusd id",
                    "type": "text",
                    "object_types": OBJECT_TYPES,
                    "description": "the radiusd object this was made from (radiusd netbox sync)",
                    "ui_editable": "hidden",
                },
            )
        return tag_id

    def run(self, wants: Sequence[Want], *, dry_run: bool, keep: tuple[str, ...] = ()) -> Report:
        """Create, update and delete so NetBox matches ``wants``; tagged objects whose id starts
        with one of ``keep`` (e.g. ``lease:`` without --leases) are left alone."""
        started = time.monotonic()
        report = Report(dry_run=dry_run)
        tag_id = self.ensure_tag_and_field(dry_run)
        ids: dict[str, int | str] = {}  # our id -> NetBox id ("new:<our id>" in a dry run)
        endpoints = list(dict.fromkeys(w.endpoint for w in wants))
        existing: dict[str, dict[str, Any]] = {}
        for name in endpoints:
            endpoint = _endpoint(self.api, name)
            found = (
                self._call(f"GET {name}", lambda e=endpoint: [dict(r) for r in e.filter(tag=TAG)])
                if tag_id
                else []
            )
            existing[name] = {
                r["custom_fields"].get(CUSTOM_FIELD): r
                for r in found
                if r.get("custom_fields", {}).get(CUSTOM_FIELD)
            }
        for want in wants:
            endpoint = _endpoint(self.api, want.endpoint)
            fields = dict(want.fields)
            for key, ref in want.refs.items():
                target = ids.get(ref, f"new:{ref}")
                if key.endswith("_terminations"):
                    fields[key] = [{"object_type": "dcim.interface", "object_id": target}]
                else:
                    fields[key] = target
            have = existing[want.endpoint].get(want.our_id)
            if have is None and want.shared:
                key = "slug" if "slug" in fields else "name"
                found = self._call(
                    f"GET {want.endpoint}",
                    lambda e=endpoint, q={key: fields[key]}: [dict(r) for r in e.filter(**q)],
                )
                if found:
                    ids[want.our_id] = found[0]["id"]
                    report.adopted.append(f"{want.endpoint} {fields[key]}")
                    continue
            if have is None:
                change = Change("create", want.endpoint, want.our_id, fields)
                report.changes.append(change)
                if dry_run:
                    ids[want.our_id] = f"new:{want.our_id}"
                    continue
                body = {**fields, "tags": [tag_id], "custom_fields": {CUSTOM_FIELD: want.our_id}}
                made = self._call(f"{want.endpoint} {want.our_id}", endpoint.create, body)
                ids[want.our_id] = change.netbox_id = made.id
                continue
            ids[want.our_id] = have["id"]
            diff = {k: v for k, v in fields.items() if _compare(have.get(k)) != _wanted(v)}
            if not diff:
                report.unchanged += 1
                continue
            report.changes.append(Change("update", want.endpoint, want.our_id, diff, have["id"]))
            if not dry_run:
                self._call(
                    f"{want.endpoint} {want.our_id}",
                    lambda e=endpoint, i=have["id"], d=diff: e.update([{"id": i, **d}]),
                )
        held = {w.our_id for w in wants}
        for name in reversed(endpoints):
            doomed = [
                (our, r["id"])
                for our, r in existing[name].items()
                if our not in held and not our.startswith(keep or ("\0",))
            ]
            for our, netbox_id in doomed:
                report.changes.append(Change("delete", name, our, {}, netbox_id))
            if doomed and not dry_run:
                endpoint = _endpoint(self.api, name)
                self._call(f"deleting from {name}", endpoint.delete, [i for _, i in doomed])
        report.seconds = time.monotonic() - started
        return report
