"""Attributes as printed for people, secrets masked: the ``serve -X`` output and stored records.

One rule for every display of a packet: hidden or encrypted attributes (the names below, and
any the dictionary marks ``encrypt=``) print as ``********``. The debug printer
(``radiusd.server.debug``) and the record of an accounting event that is not a session event
(``radiusd.policy.accounting_events``) both use it.
"""

from __future__ import annotations

from typing import Any

from .packet import Packet

MASKED_ATTRIBUTES = frozenset(
    {
        "user-password",
        "chap-password",
        "tunnel-password",
        "ms-chap-response",
        "ms-chap2-response",
        "ms-mppe-send-key",
        "ms-mppe-recv-key",
        "ms-chap-mppe-keys",
        "arap-password",
    }
)


def format_value(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return str(value)


def describe_packet(packet: Packet) -> list[str]:
    """One line per attribute, ``Name = value``, secrets masked."""
    lines = []
    for name, value, d in packet.items():
        if name.lower().split(":")[0] in MASKED_ATTRIBUTES or (d is not None and d.encrypt):
            lines.append(f"  {name} = ********")
        else:
            lines.append(f"  {name} = {format_value(value)}")
    return lines
