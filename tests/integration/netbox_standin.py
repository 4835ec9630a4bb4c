"""A NetBox REST API stand-in on a real socket (127.0.0.1, port 0), for ``radiusd netbox sync``.

Object shapes follow NetBox 4.2's serializers (netbox-community/netbox,
netbox/dcim/api/serializers_/ and netbox/ipam/api/serializers_/, read at commit 1777d42):
nested objects as ``{id, url, display, name|model|prefix, slug}``, choices as
``{value, label}``, ``tags`` as nested tags, ``custom_fields`` holding every custom field
defined for the object type (null when unset), prefixes scoped by ``scope_type``/``scope_id``,
cables with ``a_terminations``/``b_terminations`` lists of ``{object_type, object_id, object}``.
Lists paginate as ``{count, next, previous, results}`` with ``limit``/``offset`` (limit 0: the
1000 maximum); filters ``id``, ``name``, ``slug``, ``tag``. Errors: 403
``{"detail": "Invalid token"}``, 400 ``{"field": ["message"]}``, 404 ``{"detail": ...}``.
Bulk PATCH and DELETE on list URLs take a list of ``{"id": ...}`` objects, as NetBox's do.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class Model:
    required: tuple[str, ...]
    unique: tuple[str, ...] = ()
    fks: dict[str, str] = field(default_factory=dict)  # field -> model path
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    object_type: str = ""
    display: str = "name"


STATUS = (
    "active",
    "planned",
    "staged",
    "failed",
    "offline",
    "decommissioning",
    "inventory",
    "retired",
    "connected",
)
MODELS = {
    "extras/tags": Model(("name", "slug"), ("name", "slug")),
    "extras/custom-fields": Model(
        ("name", "type", "object_types"), ("name",), choices={"type": ("text", "integer", "boolean")}
    ),
    "dcim/sites": Model(
        ("name", "slug"), ("name", "slug"), choices={"status": STATUS}, object_type="dcim.site"
    ),
    "dcim/manufacturers": Model(("name", "slug"), ("name", "slug"), object_type="dcim.manufacturer"),
    "dcim/device-types": Model(
        ("manufacturer", "model", "slug"),
        ("slug",),
        {"manufacturer": "dcim/manufacturers"},
        object_type="dcim.devicetype",
        display="model",
    ),
    "dcim/device-roles": Model(("name", "slug"), ("name", "slug"), object_type="dcim.devicerole"),
    "dcim/devices": Model(
        ("device_type", "role", "site"),
        ("name",),
        {"device_type": "dcim/device-types", "role": "dcim/device-roles", "site": "dcim/sites"},
        {"status": STATUS},
        "dcim.device",
    ),
    "dcim/interfaces": Model(
        ("device", "name", "type"),
        (),
        {"device": "dcim/devices"},
        {"type": ("other", "virtual", "1000base-t", "ieee802.11ac")},
        "dcim.interface",
    ),
    "dcim/cables": Model(
        ("a_terminations", "b_terminations"),
        (),
        {},
        {"status": ("connected", "planned", "decommissioning"), "type": ("", "cat6", "smf", "mmf")},
        "dcim.cable",
        display="label",
    ),
    "ipam/roles": Model(("name", "slug"), ("name", "slug"), object_type="ipam.role"),
    "ipam/prefixes": Model(
        ("prefix",),
        (),
        {"role": "ipam/roles"},
        {"status": ("container", "active", "reserved", "deprecated")},
        "ipam.prefix",
        "prefix",
    ),
    "ipam/ip-addresses": Model(
        ("address",),
        (),
        {},
        {"status": ("active", "reserved", "deprecated", "dhcp", "slaac")},
        "ipam.ipaddress",
        "address",
    ),
}


class NetBox:
    """The stored objects (raw, FKs as ids) and every write request seen."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[int, dict[str, Any]]] = {path: {} for path in MODELS}
        self.next_id = 1
        self.writes: list[tuple[str, str]] = []  # (method, path)
        self.lock = threading.Lock()

    # -- representation ------------------------------------------------------------------

    def url(self, host: str, path: str, oid: int) -> str:
        return f"http://{host}/api/{path}/{oid}/"

    def nested(self, host: str, path: str, oid: int) -> dict[str, Any] | None:
        raw = self.objects[path].get(oid)
        if raw is None:
            return None
        model = MODELS[path]
        out = {"id": oid, "url": self.url(host, path, oid), "display": str(raw.get(model.display) or oid)}
        for key in ("name", "slug", "model", "prefix", "address", "color"):
            if key in raw:
                out[key] = raw[key]
        return out

    def render(self, host: str, path: str, oid: int) -> dict[str, Any]:
        model, raw = MODELS[path], self.objects[path][oid]
        out: dict[str, Any] = {
            "id": oid,
            "url": self.url(host, path, oid),
            "display_url": f"http://{host}/{path}/{oid}/",
            "display": str(raw.get(model.display) or oid),
        }
        for key, value in raw.items():
            if key in ("tags", "custom_fields"):
                continue
            if key in model.fks:
                out[key] = self.nested(host, model.fks[key], value) if value is not None else None
            elif key in model.choices:
                out[key] = {"value": value, "label": str(value).title()} if value not in (None, "") else value
            elif key.endswith("_terminations"):
                out[key] = [
                    {
                        "object_type": t["object_type"],
                        "object_id": t["object_id"],
                        "object": self.nested(host, "dcim/interfaces", t["object_id"]),
                    }
                    for t in value
                ]
            elif key == "scope_id" and value is not None:
                out[key] = value
                out["scope"] = self.nested(host, "dcim/sites", value)
            else:
                out[key] = value
        if path != "extras/tags":
            out["tags"] = [self.nested(host, "extras/tags", t) for t in raw.get("tags", [])]
        if model.object_type:
            defined = [
                cf
                for cf in self.objects["extras/custom-fields"].values()
                if model.object_type in cf["object_types"]
            ]
            out["custom_fields"] = {
                cf["name"]: raw.get("custom_fields", {}).get(cf["name"]) for cf in defined
            }
        out["created"] = out["last_updated"] = "2026-12-07T00:00:00Z"
        return out

    # -- validation ----------------------------------------------------------------------

    def validate(  # noqa: C901  (one branch per kind of NetBox field)
        self, path: str, body: dict[str, Any], oid: int | None
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        model = MODELS[path]
        current = dict(self.objects[path].get(oid, {})) if oid else {}
        errors: dict[str, list[str]] = {}
        for key, value in body.items():
            if key in ("id",):
                continue
            if key in model.fks:
                target = value.get("id") if isinstance(value, dict) else value
                if target is not None and target not in self.objects[model.fks[key]]:
                    errors[key] = [f"Related object not found using the provided numeric ID: {target}"]
                current[key] = target
            elif key in model.choices:
                if value not in model.choices[key]:
                    errors[key] = [f'"{value}" is not a valid choice.']
                current[key] = value
            elif key.endswith("_terminations"):
                terms = []
                for t in value if isinstance(value, list) else []:
                    if (
                        t.get("object_type") != "dcim.interface"
                        or t.get("object_id") not in self.objects["dcim/interfaces"]
                    ):
                        errors[key] = [f"Invalid termination: {t}"]
                        continue
                    terms.append({"object_type": "dcim.interface", "object_id": t["object_id"]})
                current[key] = terms
            elif key == "tags":
                ids = [t.get("id") if isinstance(t, dict) else t for t in value]
                if any(t not in self.objects["extras/tags"] for t in ids):
                    errors["tags"] = ["Related object not found"]
                current["tags"] = ids
            elif key == "custom_fields":
                known = {cf["name"] for cf in self.objects["extras/custom-fields"].values()}
                unknown = [k for k in value if k not in known]
                if unknown:
                    errors["custom_fields"] = [f"Unknown field name '{unknown[0]}' in custom field data."]
                current["custom_fields"] = {**current.get("custom_fields", {}), **value}
            elif key == "prefix":
                try:
                    current[key] = str(ipaddress.ip_network(value))
                except ValueError:
                    errors[key] = [f"Invalid IP prefix: {value}"]
            elif key == "address":
                try:
                    current[key] = str(ipaddress.ip_interface(value))
                except ValueError:
                    errors[key] = [f"Invalid IP address: {value}"]
            elif key == "scope_id":
                if (
                    value is not None
                    and current.get("scope_type", body.get("scope_type")) == "dcim.site"
                    and value not in self.objects["dcim/sites"]
                ):
                    errors[key] = ["Invalid scope"]
                current[key] = value
            else:
                current[key] = value
        for key in model.required:
            if current.get(key) in (None, "", []):
                errors.setdefault(key, ["This field is required."])
        for key in model.unique:
            taken = [o for i, o in self.objects[path].items() if i != oid and o.get(key) == current.get(key)]
            if current.get(key) is not None and taken:
                noun = path.split("/")[1].rstrip("s").replace("-", " ")
                errors.setdefault(key, [f"{noun} with this {key} already exists."])
        if path == "dcim/cables":
            cabled = {
                t["object_id"]
                for i, c in self.objects[path].items()
                if i != oid
                for t in c.get("a_terminations", []) + c.get("b_terminations", [])
            }
            for key in ("a_terminations", "b_terminations"):
                if any(t["object_id"] in cabled for t in current.get(key, [])):
                    errors.setdefault(key, ["Interface already has a cable attached"])
        return current, errors


class NetBoxServer:
    def __init__(self, netbox: NetBox | None = None, *, token: str = TOKEN) -> None:  # noqa: C901  (the handler class)
        self.netbox = netbox or NetBox()
        nb, outer = self.netbox, self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("API-Version", "4.2")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self) -> tuple[str | None, int | None, dict[str, list[str]]]:
                parts = urlsplit(self.path)
                segments = [s for s in parts.path.split("/") if s]
                query = parse_qs(parts.query)
                if len(segments) >= 3 and segments[0] == "api":
                    path = f"{segments[1]}/{segments[2]}"
                    if path in MODELS:
                        oid = int(segments[3]) if len(segments) > 3 and segments[3].isdigit() else None
                        return path, oid, query
                return None, None, query

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"null")

            def _handle(self, method: str) -> None:
                if self.headers.get("Authorization") != f"Token {token}":
                    self._send(403, {"detail": "Invalid token"})
                    return
                path, oid, query = self._route()
                host = self.headers.get("Host", "127.0.0.1")
                if path is None:
                    if self.path.rstrip("/") in ("/api", "/api/status"):
                        self._send(200, {"netbox-version": "4.2.9"})
                        return
                    self._send(404, {"detail": "Not found."})
                    return
                with nb.lock:
                    if method != "GET":
                        nb.writes.append((method, path))
                    self._dispatch(method, path, oid, query, host)

            def _dispatch(  # noqa: C901  (one branch per HTTP method)
                self, method: str, path: str, oid: int | None, query: dict[str, list[str]], host: str
            ) -> None:
                store = nb.objects[path]
                if oid is not None and oid not in store:
                    self._send(404, {"detail": "No object matches the given query."})
                    return
                if method == "GET" and oid is not None:
                    self._send(200, nb.render(host, path, oid))
                elif method == "GET":
                    rows = sorted(store)
                    for key, values in query.items():
                        if key in ("limit", "offset", "brief", "ordering"):
                            continue
                        if key == "tag":
                            slugs = {t["slug"]: i for i, t in nb.objects["extras/tags"].items()}
                            wanted = {slugs.get(v) for v in values}
                            rows = [i for i in rows if wanted & set(store[i].get("tags", []))]
                        elif key == "id":
                            rows = [i for i in rows if str(i) in values]
                        elif key in ("name", "slug", "prefix", "address", "model"):
                            rows = [i for i in rows if str(store[i].get(key)) in values]
                    limit = int((query.get("limit") or ["50"])[0]) or 1000
                    limit = min(limit, 1000)
                    offset = int((query.get("offset") or ["0"])[0])
                    page = rows[offset : offset + limit]
                    base = {k: v[0] for k, v in query.items()}

                    def link(at: int) -> str:
                        return f"http://{host}/api/{path}/?" + urlencode(
                            {**base, "limit": limit, "offset": at}
                        )

                    self._send(
                        200,
                        {
                            "count": len(rows),
                            "next": link(offset + limit) if offset + limit < len(rows) else None,
                            "previous": link(max(0, offset - limit)) if offset > 0 else None,
                            "results": [nb.render(host, path, i) for i in page],
                        },
                    )
                elif method == "POST":
                    body = self._body()
                    current, errors = nb.validate(path, body, None)
                    if errors:
                        self._send(400, errors)
                        return
                    new = nb.next_id
                    nb.next_id += 1
                    store[new] = current
                    self._send(201, nb.render(host, path, new))
                elif method in ("PATCH", "PUT"):
                    body = self._body()
                    items = body if isinstance(body, list) else [{**body, "id": oid}]
                    staged = []
                    for item in items:
                        target = item.get("id")
                        if target not in store:
                            self._send(400, {"id": [f"object {target} not found"]})
                            return
                        current, errors = nb.validate(path, item, target)
                        if errors:
                            self._send(400, errors)
                            return
                        staged.append((target, current))
                    for target, current in staged:
                        store[target] = current
                    out = [nb.render(host, path, t) for t, _ in staged]
                    self._send(200, out if isinstance(body, list) else out[0])
                elif method == "DELETE":
                    targets = [oid] if oid is not None else [i.get("id") for i in self._body() or []]
                    if any(t not in store for t in targets):
                        self._send(404, {"detail": "No object matches the given query."})
                        return
                    for t in targets:
                        del store[t]
                    self._send(204)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        _ = outer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> NetBoxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
