"""FreeRADIUS ``users`` file and ``clients.conf``, read into the same rows as the SQL tables.

``users``: an entry is ``NAME check-items`` on one line, then reply items on indented lines
(each ending with ``,`` while more follow). Check items become ``radcheck``-like rows, reply
items ``radreply``-like rows, so :mod:`.translate` applies the same rules; row ids are
``FILE:LINE``. ``DEFAULT`` entries and ``$INCLUDE`` are policies, reported, not carried over.

``clients.conf``: ``client NAME { ipaddr = ...  secret = ...  shortname = ...  nas_type = ...
require_message_authenticator = ... }`` blocks (``ipv4addr``/``ipv6addr`` accepted); nested
sections are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .mask import mask_text
from .model import Report
from .translate import SourceTables

_ITEM = re.compile(
    r'\s*([A-Za-z0-9][\w.:-]*)\s*(:=|==|\+=|!=|>=|<=|=~|!~|=\*|!\*|=|>|<)\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[^,]*?)\s*(,|$)'
)


def _items(text: str) -> list[tuple[str, str, str]] | None:
    """``attr op value`` items separated by commas; None when the text does not parse."""
    out: list[tuple[str, str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if m is None or m.end() == pos:
            return None
        value = m.group(3)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"')
        out.append((m.group(1), m.group(2), value))
        pos = m.end()
    return out


def _strip_comment(line: str) -> str:
    quoted = False
    for i, c in enumerate(line):
        if c == '"':
            quoted = not quoted
        elif c == "#" and not quoted:
            return line[:i]
    return line


def read_users(path: Path, tables: SourceTables, report: Report) -> None:
    """Append the entries of a users file to ``tables.radcheck`` / ``tables.radreply``."""
    label = path.name
    user: str | None = None
    more = False
    for number, raw in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        line = _strip_comment(raw).rstrip()
        rid = f"{label}:{number}"
        if not line.strip():
            continue
        if not line[0].isspace():
            more = False
            name, _, rest = line.partition(" ") if " " in line else line.partition("\t")
            name = name.strip().strip('"')
            if name.startswith("$"):
                report.skip("users", rid, name, "directives ($INCLUDE...) are not followed")
                user = None
                continue
            if name == "DEFAULT":
                report.skip("users", rid, name, "DEFAULT entries are policies: not carried over")
                user = None
                continue
            user = name
            items = _items(rest.strip()) if rest.strip() else []
            if items is None:
                report.skip("users", rid, name, f"check items not understood: {mask_text(rest.strip())!r}")
                continue
            for attr, op, value in items:
                tables.radcheck.append(
                    {"id": rid, "username": user, "attribute": attr, "op": op, "value": value}
                )
            continue
        if user is None:
            continue
        text = line.strip()
        items = _items(text)
        if items is None:
            report.skip("users", rid, user, f"reply item not understood: {mask_text(text)!r}")
            continue
        for attr, op, value in items:
            tables.radreply.append({"id": rid, "username": user, "attribute": attr, "op": op, "value": value})
        more = text.endswith(",")
        if not more:
            user = None


def _tokens(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        for m in re.finditer(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[{}=]|[^\s{}=]+', line):
            out.append((number, m.group(0)))
    return out


def read_clients(path: Path, tables: SourceTables, report: Report) -> None:
    """Append the client blocks of a clients.conf to ``tables.nas``."""
    toks = _tokens(path.read_text(errors="replace"))
    i = 0
    label = path.name
    while i < len(toks):
        number, tok = toks[i]
        if tok != "client" or i + 2 >= len(toks) or toks[i + 2][1] != "{":
            if tok == "client" and i + 1 < len(toks) and toks[i + 1][1] == "{":
                report.skip("clients.conf", f"{label}:{number}", "-", "a client block without a name")
            i += 1
            continue
        name = toks[i + 1][1].strip("\"'")
        i += 3
        depth = 1
        fields: dict[str, Any] = {}
        while i < len(toks) and depth:
            _, t = toks[i]
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
            elif depth == 1 and i + 2 < len(toks) and toks[i + 1][1] == "=":
                fields[t.lower()] = toks[i + 2][1].strip("\"'")
                i += 2
            i += 1
        address = fields.get("ipaddr") or fields.get("ipv4addr") or fields.get("ipv6addr") or name
        if "netmask" in fields and "/" not in address:  # the older form: ipaddr + netmask = 24
            address = f"{address}/{fields['netmask']}"
        tables.nas.append(
            {
                "id": f"{label}:{number}",
                "nasname": address,
                "shortname": fields.get("shortname") or name,
                "type": fields.get("nas_type", "other"),
                "secret": fields.get("secret", ""),
                "description": f"client {name} from {label}",
                "require_ma": fields.get("require_message_authenticator"),
            }
        )
