"""``radiusd serve -X``: every packet printed decoded and every decision in plain words.

Modelled on FreeRADIUS's ``radiusd -X``, which ISP engineers rely on to find a wrong
secret or a missing attribute. Secrets are masked: hidden or encrypted attributes print
as ``********`` and NAS secrets are never printed at all.
"""

from __future__ import annotations

import sys
from typing import TextIO

from radiusd.codec.codes import code_name
from radiusd.codec.masking import describe_packet
from radiusd.codec.packet import Packet


class DebugPrinter:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.seq = 0

    def packet_in(self, packet: Packet, source: tuple[str, int], length: int) -> int:
        self.seq += 1
        n = self.seq
        self._emit(
            n,
            f"Received {code_name(packet.code)} Id {packet.identifier} "
            f"from {source[0]}:{source[1]} length {length}",
        )
        for line in describe_packet(packet):
            self._emit(n, line)
        return n

    def decisions(self, n: int, lines: list[str]) -> None:
        for line in lines:
            self._emit(n, line)

    def packet_out(
        self, n: int, packet: Packet, dest: tuple[str, int], length: int, delay: float = 0.0
    ) -> None:
        when = f" (after a {delay:g} s reject delay)" if delay else ""
        self._emit(
            n,
            f"Sent {code_name(packet.code)} Id {packet.identifier} "
            f"to {dest[0]}:{dest[1]} length {length}{when}",
        )
        for line in describe_packet(packet):
            self._emit(n, line)

    def dropped(self, source: tuple[str, int], reason: str, detail: str = "") -> None:
        self.seq += 1
        extra = f": {detail}" if detail else ""
        self._emit(self.seq, f"Dropped packet from {source[0]}:{source[1]}: {reason}{extra}")

    def note(self, text: str) -> None:
        """An event that is not a packet (a RadSec connection opened or refused)."""
        self.seq += 1
        self._emit(self.seq, text)

    def _emit(self, n: int, text: str) -> None:
        print(f"({n}) {text}", file=self.out, flush=True)
