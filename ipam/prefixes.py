"""The prefix hierarchy: containment, placement, next free prefix or address, utilisation.

Pure and synchronous, like the rest of the IPAM core: the store gives the prefixes it holds
and writes what these functions decide. The rules are NetBox's, without VRFs:

* a prefix's parent is the smallest stored prefix that strictly contains it; adding a prefix
  adopts the stored prefixes it contains whose parent was its own parent;
* two CIDR prefixes either nest or are disjoint, so siblings placed by :func:`place` never
  overlap; the same prefix twice is refused;
* a ``pool`` prefix (a range the allocator hands out from) holds no child prefixes, and a
  prefix holding children cannot be a ``pool``;
* :func:`next_free_prefix` returns the lowest aligned block of the asked length inside a
  container that overlaps no child and no assigned address, so an allocation never overlaps.

Utilisation has one rule, :func:`rollup`: a prefix's ``used`` is what its own addresses and
pool items use plus the ``used`` of its children, and ``allocated`` is the space its children
and own addresses take; family totals add up the roots.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ipam.errors import IpamError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: What a prefix is for. ``container``: holds other prefixes (an aggregate, a site block);
#: ``pool``: a range of an address pool; ``infrastructure``: loopbacks, point-to-point links,
#: management; ``customer``: a static block routed to a subscriber; ``reserved``: kept free.
ROLES = ("container", "pool", "infrastructure", "customer", "reserved")
#: roles that never hold child prefixes
LEAF_ROLES = frozenset({"pool"})
#: what a prefix or address can be assigned to (``kind:name``)
PURPOSES = ("link", "router", "device", "subscriber", "site")


class PrefixError(IpamError):
    """A prefix operation breaks a rule of the hierarchy (the message says which)."""


def parse_prefix(text: str, what: str = "prefix") -> Network:
    """A CIDR prefix with no host bits set (``10.0.0.1/24`` is refused: say ``10.0.0.0/24``)."""
    spec = text.strip()
    if "/" not in spec:
        raise PrefixError(f"{what} {text!r} needs a length (e.g. 10.255.0.0/16 or 2001:db8::/32)")
    try:
        return ipaddress.ip_network(spec, strict=True)
    except ValueError as exc:
        raise PrefixError(f"bad {what} {text!r}: {exc}") from None


def parse_purpose(text: str) -> tuple[str, str, str | None]:
    """``link:12``, ``router:core1``, ``router:core1:ether1`` -> (kind, name, interface)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise PrefixError("bad target: it contains control characters")
    kind, sep, rest = text.strip().partition(":")
    if not sep or kind not in PURPOSES or not rest:
        raise PrefixError(f"bad target {text!r}: use KIND:NAME with KIND one of {', '.join(PURPOSES)}")
    name, _, interface = rest.partition(":")
    if not name:
        raise PrefixError(f"bad target {text!r}: the name is missing")
    if interface and kind != "router" and kind != "device":
        raise PrefixError(f"bad target {text!r}: only a router or a device has interfaces")
    return kind, name, interface or None


def family_of(net: Network | Address) -> int:
    return 4 if net.version == 4 else 6


def size_of(net: Network) -> int:
    return int(net.num_addresses)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored prefix as the rules need it."""

    id: int
    prefix: Network
    role: str
    parent_id: int | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new prefix goes: its parent (None: a root) and the prefixes it adopts."""

    parent: Entry | None
    adopted: tuple[Entry, ...]


def contains(outer: Network, inner: Network) -> bool:
    """``inner`` lies inside ``outer`` (equal counts as inside)."""
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def overlaps(a: Network, b: Network) -> bool:
    return a.version == b.version and a.overlaps(b)


def smallest_container(entries: Iterable[Entry], net: Network) -> Entry | None:
    """The smallest entry strictly containing ``net``."""
    best: Entry | None = None
    for e in entries:
        inside = e.prefix != net and contains(e.prefix, net)
        if inside and (best is None or e.prefix.prefixlen > best.prefix.prefixlen):
            best = e
    return best


def place(entries: Sequence[Entry], net: Network, role: str) -> Placement:
    """Where ``net`` (of ``role``) goes among ``entries``, or PrefixError saying why not."""
    if role not in ROLES:
        raise PrefixError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    for e in entries:
        if e.prefix == net:
            raise PrefixError(f"{net} already exists (role {e.role})")
    parent = smallest_container(entries, net)
    if parent is not None and parent.role in LEAF_ROLES:
        raise PrefixError(f"{net} is inside {parent.prefix}, a {parent.role} prefix, which holds no prefixes")
    adopted = tuple(
        e for e in entries if contains(net, e.prefix) and smallest_container(entries, e.prefix) == parent
    )
    if adopted and role in LEAF_ROLES:
        inside = ", ".join(str(e.prefix) for e in adopted[:3])
        raise PrefixError(f"{net} would hold {inside}: a {role} prefix holds no prefixes")
    return Placement(parent, adopted)


def children_of(entries: Iterable[Entry], parent_id: int | None) -> list[Entry]:
    """The entries whose parent is ``parent_id``, lowest first."""
    out = [e for e in entries if e.parent_id == parent_id]
    out.sort(key=lambda e: (e.prefix.version, int(e.prefix.network_address), e.prefix.prefixlen))
    return out


def _blocks(taken: Iterable[Network | Address], container: Network) -> list[tuple[int, int]]:
    spans = []
    for t in taken:
        if isinstance(t, ipaddress.IPv4Address | ipaddress.IPv6Address):
            if t in container:
                spans.append((int(t), int(t)))
        elif overlaps(t, container):
            spans.append((int(t.network_address), int(t.broadcast_address)))
    spans.sort()
    return spans


def next_free_prefix(container: Network, taken: Iterable[Network | Address], length: int) -> Network | None:
    """The lowest /``length`` block of ``container`` overlapping nothing in ``taken`` (child
    prefixes, assigned addresses), or None when there is none. O(len(taken))."""
    bits = container.max_prefixlen
    if not container.prefixlen <= length <= bits:
        raise PrefixError(f"cannot take a /{length} from {container}")
    step = 1 << (bits - length)
    cursor = int(container.network_address)
    end = int(container.broadcast_address)
    for lo, hi in _blocks(taken, container):
        cursor = -(-cursor // step) * step  # round up to the block size
        if cursor + step - 1 < lo:
            break
        cursor = max(cursor, hi + 1)
    cursor = -(-cursor // step) * step
    if cursor + step - 1 > end:
        return None
    return ipaddress.ip_network((cursor, length))


def usable_range(net: Network) -> tuple[int, int]:
    """First and last address handed out from ``net``: an IPv4 prefix up to /30 keeps its
    network and broadcast addresses, an IPv6 prefix up to /126 its Subnet-Router anycast
    address (RFC 4291 §2.6.1); /31, /32, /127 and /128 use every address (RFC 3021, RFC 6164)."""
    lo, hi = int(net.network_address), int(net.broadcast_address)
    if net.version == 4 and net.prefixlen <= 30:
        return lo + 1, hi - 1
    if net.version == 6 and net.prefixlen <= 126:
        return lo + 1, hi
    return lo, hi


def next_free_address(container: Network, taken: Iterable[Network | Address]) -> Address | None:
    """The lowest usable address of ``container`` outside every child prefix and assigned
    address in ``taken``, or None."""
    lo, hi = usable_range(container)
    cursor = lo
    for a, b in _blocks(taken, container):
        if cursor < a:
            break
        cursor = max(cursor, b + 1)
    if cursor > hi:
        return None
    return ipaddress.ip_address(cursor) if container.version == 4 else ipaddress.IPv6Address(cursor)


# -- utilisation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """Utilisation of one prefix, or of one family (``size``: addresses it spans)."""

    size: int
    allocated: int  # space taken by child prefixes and own addresses
    used: int  # addresses in use below it: assigned addresses and pool items, all levels

    @property
    def free(self) -> int:
        return self.size - self.allocated

    @property
    def percent_allocated(self) -> float:
        return round(100.0 * self.allocated / self.size, 2) if self.size else 0.0

    @property
    def percent_used(self) -> float:
        return round(100.0 * self.used / self.size, 2) if self.size else 0.0

    def to_json(self) -> dict[str, int | float]:
        return {
            "size": self.size,
            "allocated": self.allocated,
            "used": self.used,
            "free": self.free,
            "percent_allocated": self.percent_allocated,
            "percent_used": self.percent_used,
        }


def rollup(entries: Sequence[Entry], own: Mapping[int, int]) -> tuple[dict[int, Figures], dict[int, Figures]]:
    """Figures of every entry and of each family (4, 6), from the entries and ``own``: the
    addresses each entry uses itself (addresses assigned in it, or a pool's items in use times
    their size). ``used`` of a prefix = own + the children's ``used``; a family's figures are
    the sums over its roots. The one utilisation rule of the prefix tree."""
    kids: dict[int | None, list[Entry]] = {}
    for e in entries:
        kids.setdefault(e.parent_id, []).append(e)
    out: dict[int, Figures] = {}

    def visit(e: Entry) -> Figures:
        stack: list[tuple[Entry, bool]] = [(e, False)]
        while stack:  # post-order without recursion: trees can be deep (a /8 down to /32s)
            node, done = stack.pop()
            if done:
                children = kids.get(node.id, [])
                mine = int(own.get(node.id, 0))
                out[node.id] = Figures(
                    size_of(node.prefix),
                    min(size_of(node.prefix), mine + sum(size_of(c.prefix) for c in children)),
                    mine + sum(out[c.id].used for c in children),
                )
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in kids.get(node.id, []))
        return out[e.id]

    families: dict[int, Figures] = {}
    for root in kids.get(None, []):
        f = visit(root)
        fam = family_of(root.prefix)
        acc = families.get(fam, Figures(0, 0, 0))
        families[fam] = Figures(acc.size + f.size, acc.allocated + f.allocated, acc.used + f.used)
    return out, families
