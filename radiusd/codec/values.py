"""Attribute value types: raw octets <-> Python values, one pair of functions per type.

Decoders raise ValueError for a value of the wrong shape; the packet then treats that
attribute as invalid (RFC 6929 §2.8) instead of discarding the packet. Addresses are
returned as text because that is what policy, storage and logs use.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable
from typing import Any

Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes]


def _fixed(n: int, fmt: str) -> tuple[Decoder, Encoder]:
    s = struct.Struct(fmt)

    def dec(raw: bytes) -> int:
        if len(raw) != n:
            raise ValueError(f"expected {n} octets, got {len(raw)}")
        return int(s.unpack(raw)[0])

    def enc(value: Any) -> bytes:
        try:
            return s.pack(int(value))
        except struct.error as e:  # out of range: report it like every other bad value
            raise ValueError(f"{value!r} does not fit {n} octets ({fmt})") from e

    return dec, enc


def _dec_string(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _enc_string(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _dec_octets(raw: bytes) -> bytes:
    return raw


def _enc_octets(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        text = value[2:] if value.startswith("0x") else value
        return bytes.fromhex(text)
    raise TypeError(f"octets value must be bytes or hex text, not {type(value).__name__}")


def _dec_ipaddr(raw: bytes) -> str:
    if len(raw) != 4:
        raise ValueError(f"ipaddr of {len(raw)} octets")
    return socket.inet_ntoa(raw)


def _enc_ipaddr(value: Any) -> bytes:
    if isinstance(value, str):  # the common case: inet_pton is ~9x faster, just as strict
        try:
            return socket.inet_pton(socket.AF_INET, value)
        except OSError:
            raise ValueError(f"{value!r} is not a dotted-quad IPv4 address") from None
    return ipaddress.IPv4Address(str(value) if not isinstance(value, int) else value).packed


def _dec_ipv6addr(raw: bytes) -> str:
    if len(raw) != 16:
        raise ValueError(f"ipv6addr of {len(raw)} octets")
    return socket.inet_ntop(socket.AF_INET6, raw)


def _enc_ipv6addr(value: Any) -> bytes:
    return ipaddress.IPv6Address(str(value)).packed


def _dec_ipv6prefix(raw: bytes) -> str:
    """RFC 3162 §2.3: reserved octet, prefix length, then only the octets the prefix needs."""
    if len(raw) < 2 or len(raw) > 18:
        raise ValueError(f"ipv6prefix of {len(raw)} octets")
    plen = raw[1]
    if plen > 128 or len(raw) - 2 < (plen + 7) // 8:
        raise ValueError(f"ipv6prefix length {plen} with {len(raw) - 2} prefix octets")
    addr = raw[2:].ljust(16, b"\x00")
    net = ipaddress.IPv6Network((addr, plen), strict=False)
    return str(net)


def _enc_ipv6prefix(value: Any) -> bytes:
    net = ipaddress.IPv6Network(str(value), strict=False)
    n = (net.prefixlen + 7) // 8
    return bytes((0, net.prefixlen)) + net.network_address.packed[:n]


def _dec_ipv4prefix(raw: bytes) -> str:
    """RFC 6572 / RFC 8044 §3.11: reserved octet, prefix length, four address octets."""
    if len(raw) != 6 or raw[1] > 32:
        raise ValueError("ipv4prefix must be 6 octets with a length <= 32")
    return str(ipaddress.IPv4Network((raw[2:], raw[1]), strict=False))


def _enc_ipv4prefix(value: Any) -> bytes:
    net = ipaddress.IPv4Network(str(value), strict=False)
    return bytes((0, net.prefixlen)) + net.network_address.packed


def _dec_ifid(raw: bytes) -> str:
    if len(raw) != 8:
        raise ValueError(f"ifid of {len(raw)} octets")
    h = raw.hex()
    return ":".join(h[i : i + 4] for i in range(0, 16, 4))


def _enc_ifid(value: Any) -> bytes:
    raw = bytes.fromhex(str(value).replace(":", ""))
    if len(raw) != 8:
        raise ValueError("ifid must be 8 octets")
    return raw


def _dec_ether(raw: bytes) -> str:
    if len(raw) != 6:
        raise ValueError(f"ether of {len(raw)} octets")
    return ":".join(f"{b:02x}" for b in raw)


def _enc_ether(value: Any) -> bytes:
    raw = bytes.fromhex(str(value).replace(":", "").replace("-", "").replace(".", ""))
    if len(raw) != 6:
        raise ValueError("ether must be 6 octets")
    return raw


def _dec_combo_ip(raw: bytes) -> str:
    if len(raw) == 4:
        return socket.inet_ntoa(raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    raise ValueError(f"combo-ip of {len(raw)} octets")


def _enc_combo_ip(value: Any) -> bytes:
    return ipaddress.ip_address(str(value)).packed


_integer = _fixed(4, "!I")
_byte = _fixed(1, "!B")
_short = _fixed(2, "!H")
_integer64 = _fixed(8, "!Q")
_signed = _fixed(4, "!i")

#: type name -> (decoder, encoder)
CODECS: dict[str, tuple[Decoder, Encoder]] = {
    "string": (_dec_string, _enc_string),
    "octets": (_dec_octets, _enc_octets),
    "ipaddr": (_dec_ipaddr, _enc_ipaddr),
    "ipv6addr": (_dec_ipv6addr, _enc_ipv6addr),
    "ipv6prefix": (_dec_ipv6prefix, _enc_ipv6prefix),
    "ipv4prefix": (_dec_ipv4prefix, _enc_ipv4prefix),
    "ifid": (_dec_ifid, _enc_ifid),
    "integer": _integer,
    "date": _integer,
    "time_delta": _integer,
    "byte": _byte,
    "short": _short,
    "integer64": _integer64,
    "signed": _signed,
    "ether": (_dec_ether, _enc_ether),
    "combo-ip": (_dec_combo_ip, _enc_combo_ip),
}

INTEGER_TYPES = frozenset({"integer", "byte", "short", "integer64", "signed", "date", "time_delta"})


def codec_for(type_name: str) -> tuple[Decoder, Encoder]:
    """The codec pair for a dictionary type; unknown/structured types are plain octets."""
    return CODECS.get(type_name, CODECS["octets"])
