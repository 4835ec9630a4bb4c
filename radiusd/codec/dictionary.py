"""RADIUS attribute dictionaries in the FreeRADIUS file format.

The daemon loads ``dictionaries/dictionary`` once at start-up; everything else asks this
module for name <-> key <-> type lookups. Our own parser (not pyrad's) because the codec
needs RFC 6929 extended attributes, vendor formats and tag/encrypt flags in one typed object.

Attribute keys are tuples that name the attribute's place on the wire:
  (code,)                          a standard attribute, 1..255
  (26, vendor_id, vendor_type)     a Vendor-Specific sub-attribute (RFC 2865 §5.26)
  (ext, ext_type)                  an RFC 6929 extended attribute, ext in 241..246
  (ext, 26, vendor_id, evs_type)   an RFC 6929 Extended-Vendor-Specific attribute
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

AttrKey = tuple[int, ...]

#: Encryption flag values, as in FreeRADIUS's ``encrypt=N``.
ENCRYPT_NONE = 0
ENCRYPT_USER_PASSWORD = 1  # RFC 2865 §5.2
ENCRYPT_TUNNEL_PASSWORD = 2  # RFC 2868 §3.5 (also RFC 2548 MS-MPPE keys)
ENCRYPT_ASCEND_SECRET = 3


@dataclass(frozen=True, slots=True)
class VendorDef:
    name: str
    id: int
    type_len: int = 1  # octets of the vendor-type field (format=T,L)
    len_len: int = 1  # octets of the vendor-length field (0, 1 or 2)


@dataclass(slots=True)
class AttributeDef:
    name: str
    key: AttrKey
    type: str  # string, octets, ipaddr, ipv6addr, ipv6prefix, ifid, integer, byte, short,
    # integer64, signed, date, ether, tlv, extended, long-extended, evs, vsa, combo-ip, abinary
    vendor: int = 0
    has_tag: bool = False
    encrypt: int = ENCRYPT_NONE
    concat: bool = False
    values: dict[str, int] = field(default_factory=dict)  # VALUE name -> number
    value_names: dict[int, str] = field(default_factory=dict)  # number -> VALUE name

    @property
    def code(self) -> int:
        """The attribute's number within its own space (last element of the key)."""
        return self.key[-1]


class Dictionary:
    """All attributes, values and vendors of one set of dictionary files."""

    def __init__(self) -> None:
        self.by_name: dict[str, AttributeDef] = {}  # keyed by name.lower()
        self.by_key: dict[AttrKey, AttributeDef] = {}
        self.vendors_by_name: dict[str, VendorDef] = {}  # keyed by name.lower()
        self.vendors_by_id: dict[int, VendorDef] = {}

    def attribute(self, name: str) -> AttributeDef:
        """The attribute called ``name`` (case-insensitive); KeyError when unknown."""
        return self.by_name[name.lower()]

    def lookup(self, key: AttrKey) -> AttributeDef | None:
        return self.by_key.get(key)

    def vendor(self, name_or_id: str | int) -> VendorDef:
        if isinstance(name_or_id, int):
            return self.vendors_by_id[name_or_id]
        return self.vendors_by_name[name_or_id.lower()]

    @classmethod
    def load(cls, path: str | Path) -> Dictionary:
        """Parse ``path`` and every file it ``$INCLUDE``s (relative to its folder)."""
        raise NotImplementedError


def default_dictionary_path() -> Path:
    """The dictionaries shipped with the project (``dictionaries/dictionary``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "dictionaries" / "dictionary"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("dictionaries/dictionary not found beside the radiusd package")
