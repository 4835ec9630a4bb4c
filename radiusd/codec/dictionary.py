"""RADIUS attribute dictionaries in the FreeRADIUS file format.

The daemon loads ``dictionaries/dictionary`` once at start-up; everything else asks this
module for name <-> key <-> type lookups. Our own parser (not pyrad's) because the codec
needs RFC 6929 extended attributes, vendor formats and tag/encrypt flags in one typed object.

Attribute keys are tuples that name the attribute's place on the wire:
  (code,)                          a standard attribute, 1..255
  (26, vendor_id, vendor_type)     a Vendor-Specific sub-attribute (RFC 2865 §5.26)
  (ext, ext_type)                  an RFC 6929 extended attribute, ext in 241..246
  (ext, 26, vendor_id, evs_type)   an RFC 6929 Extended-Vendor-Specific attribute
A child of a ``tlv`` attribute (RFC 6929 §2.3) has its parent's key plus its own number.

Supported file syntax (FreeRADIUS v3 flavour)::

  # comment                         (anywhere on a line)
  $INCLUDE file                     (relative to the including file; $INCLUDE- = optional)
  VENDOR     name id [format=T,L[,c]]   (a second name for a known id and format is an alias)
  BEGIN-VENDOR name [format=Extended-Vendor-Specific-N]   ... END-VENDOR name
  BEGIN-TLV  name   ... END-TLV name   (numbers inside are relative to that tlv)
  ATTRIBUTE  name number type [flags] [vendor]
  VALUE      attribute name number

``number`` is decimal or 0x-hex; dotted forms ``241.1`` (extended), ``241.26.V.N`` (EVS) and
``parent.child`` (TLV); a type may carry a FreeRADIUS size, ``octets[16]`` (not checked).
Flags: ``has_tag``, ``encrypt=0..3`` (any value type),
``concat``, ``array``, ``virtual`` (accepted, as vendor dictionaries carry it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radiusd.codec.attributes_gen import VENDOR_SPECIFIC  # RFC 2865 §5.26
from radiusd.codec.errors import DictionaryError

AttrKey = tuple[int, ...]

#: Encryption flag values, as in FreeRADIUS's ``encrypt=N``.
ENCRYPT_NONE = 0
ENCRYPT_USER_PASSWORD = 1  # RFC 2865 §5.2
ENCRYPT_TUNNEL_PASSWORD = 2  # RFC 2868 §3.5 (also RFC 2548 MS-MPPE keys)
ENCRYPT_ASCEND_SECRET = 3

#: RFC 6929 §2.1: Extended-Type spaces 241..244 and Long-Extended-Type spaces 245..246.
EXTENDED_CODES = frozenset(range(241, 245))
LONG_EXTENDED_CODES = frozenset((245, 246))

#: Every data type the codec knows (RFC 8044 names in FreeRADIUS spelling).
TYPES = frozenset(
    {
        "string", "octets", "ipaddr", "ipv4prefix", "ipv6addr", "ipv6prefix", "ifid",
        "integer", "byte", "short", "integer64", "signed", "date", "ether", "tlv",
        "extended", "long-extended", "evs", "vsa", "combo-ip", "abinary",
    }
)  # fmt: skip
#: Other spellings seen in dictionaries (RFC 8044 / FreeRADIUS v4) mapped to ours.
TYPE_ALIASES = {
    "ipv4addr": "ipaddr",
    "uint8": "byte",
    "uint16": "short",
    "uint32": "integer",
    "uint64": "integer64",
    "int32": "signed",
    "time": "date",
    "text": "string",
    "combo-ipaddr": "combo-ip",
}
#: Types that may carry VALUE names, with the range a value must fit in.
INTEGER_RANGES = {
    "byte": (0, 0xFF),
    "short": (0, 0xFFFF),
    "integer": (0, 0xFFFFFFFF),
    "integer64": (0, 0xFFFFFFFFFFFFFFFF),
    "signed": (-(2**31), 2**31 - 1),
    "date": (0, 0xFFFFFFFF),
}

#: Types that only hold other attributes: no flag of a value applies to them.
_CONTAINER_TYPES = frozenset({"tlv", "extended", "long-extended", "evs", "vsa"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/+:]*$")
_MAX_TYPE = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}


@dataclass(frozen=True, slots=True)
class VendorDef:
    name: str
    id: int
    type_len: int = 1  # octets of the vendor-type field (format=T,L)
    len_len: int = 1  # octets of the vendor-length field (0, 1 or 2)
    continuation: bool = False  # format=1,1,c (WiMAX): a continuation octet follows the length


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
    array: bool = False  # RFC 8044 §3: the value is a sequence of fixed-size items

    @property
    def code(self) -> int:
        """The attribute's number within its own space (last element of the key)."""
        return self.key[-1]

    def same_definition(self, other: AttributeDef) -> bool:
        """True when ``other`` describes the same wire format (VALUEs not compared)."""
        return (
            self.key == other.key
            and self.type == other.type
            and self.vendor == other.vendor
            and self.has_tag == other.has_tag
            and self.encrypt == other.encrypt
            and self.concat == other.concat
            and self.array == other.array
        )


@dataclass(frozen=True, slots=True)
class _PendingValue:
    """A VALUE line, applied once every ATTRIBUTE of the load is known."""

    attribute: str
    name: str
    number: int
    where: str


@dataclass(slots=True)
class _VendorBlock:
    """An open BEGIN-VENDOR block: VSAs, or RFC 6929 EVS attributes under ``evs_parent``."""

    vendor: VendorDef
    evs_parent: int | None = None


class Dictionary:
    """All attributes, values and vendors of one set of dictionary files."""

    def __init__(self) -> None:
        self.by_name: dict[str, AttributeDef] = {}  # keyed by name.lower()
        self.by_key: dict[AttrKey, AttributeDef] = {}
        self.vendors_by_name: dict[str, VendorDef] = {}  # keyed by name.lower()
        self.vendors_by_id: dict[int, VendorDef] = {}
        self.files: list[Path] = []  # every file read, in order (for diagnostics)
        #: name as callers spell it -> value encoder (``Packet.add`` fills it; a load clears it)
        self.encoders: dict[str, Callable[[Any], list[tuple[int, bytes]]]] = {}

    # -- lookups -------------------------------------------------------------------------

    def attribute(self, name: str) -> AttributeDef:
        """The attribute called ``name`` (case-insensitive); KeyError when unknown."""
        return self.by_name[name.lower()]

    def lookup(self, key: AttrKey) -> AttributeDef | None:
        return self.by_key.get(key)

    def vendor(self, name_or_id: str | int) -> VendorDef:
        if isinstance(name_or_id, int):
            return self.vendors_by_id[name_or_id]
        return self.vendors_by_name[name_or_id.lower()]

    def value(self, attribute: str, value_name: str) -> int:
        """The number of VALUE ``value_name`` of ``attribute``; KeyError when unknown."""
        return self.attribute(attribute).values[value_name]

    def value_name(self, attribute: str, number: int) -> str | None:
        """The VALUE name for ``number``, or None: unknown numbers are legal on the wire."""
        return self.attribute(attribute).value_names.get(number)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self.by_name

    def __len__(self) -> int:
        return len(self.by_key)

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Dictionary:
        """Parse ``path`` and every file it ``$INCLUDE``s (relative to its folder)."""
        dictionary = cls()
        dictionary.load_file(path)
        return dictionary

    def load_file(self, path: str | Path) -> None:
        """Add the definitions of ``path`` (and its includes) to this dictionary.

        VALUE lines are applied after every ATTRIBUTE of the load, in file order: a VALUE
        may then precede its ATTRIBUTE, and the first name of a number stays the one printed.
        """
        self.encoders.clear()  # they close over definitions and VALUEs this load may extend
        parser = _Parser(self)
        parser.parse_file(Path(path), include_stack=())
        for pending in parser.pending_values:
            attr = self.by_name.get(pending.attribute.lower())
            if attr is None:
                raise DictionaryError(f"{pending.where}: VALUE for unknown attribute {pending.attribute!r}")
            _add_value(attr, pending.name, pending.number, pending.where)


def _add_value(attr: AttributeDef, name: str, number: int, where: str) -> None:
    """Record one VALUE; a second name for a number is an alias (the first name prints)."""
    bounds = INTEGER_RANGES.get(attr.type)
    if bounds is None:
        raise DictionaryError(f"{where}: VALUE for {attr.name} of type {attr.type} (not integer)")
    low, high = bounds
    if not low <= number <= high:
        raise DictionaryError(f"{where}: VALUE {name} = {number} out of range for {attr.type}")
    old = attr.values.get(name)
    if old is not None and old != number:
        raise DictionaryError(f"{where}: VALUE {attr.name} {name} redefined: {old} -> {number}")
    attr.values[name] = number
    attr.value_names.setdefault(number, name)


def _int(text: str, where: str, what: str) -> int:
    """Decimal or 0x-hex; anything else is an error naming ``what``."""
    try:
        if text[:2].lower() == "0x":
            return int(text[2:], 16)
        if not text.lstrip("-").isdigit():
            raise ValueError(text)
        return int(text, 10)
    except ValueError:
        raise DictionaryError(f"{where}: bad {what} {text!r}") from None


class _Parser:
    """Line-oriented parser feeding one :class:`Dictionary`; state lives only for a load."""

    def __init__(self, dictionary: Dictionary) -> None:
        self.d = dictionary
        self.pending_values: list[_PendingValue] = []

    def parse_file(self, path: Path, include_stack: tuple[Path, ...]) -> None:  # noqa: C901  (one branch per keyword of the file format)
        resolved = path.resolve()
        if resolved in include_stack:
            raise DictionaryError(f"{include_stack[-1]}: $INCLUDE loop through {path}")
        try:
            text = resolved.read_text(encoding="utf-8")
        except OSError as exc:
            raise DictionaryError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise DictionaryError(f"{path}: not UTF-8: {exc}") from None
        self.d.files.append(resolved)
        stack = (*include_stack, resolved)
        block: _VendorBlock | None = None
        block_where = ""
        tlvs: list[AttributeDef] = []  # open BEGIN-TLV blocks, innermost last
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{path}:{lineno}"
            tokens = line.split()
            keyword = tokens[0].upper()
            if keyword == "ATTRIBUTE":
                self._attribute(tokens, block, where, tlvs[-1] if tlvs else None)
            elif keyword == "VALUE":
                self._value(tokens, where)
            elif keyword == "VENDOR":
                self._vendor(tokens, where)
            elif keyword == "BEGIN-VENDOR":
                if block is not None:
                    raise DictionaryError(f"{where}: BEGIN-VENDOR inside BEGIN-VENDOR {block.vendor.name}")
                block, block_where = self._begin_vendor(tokens, where), where
            elif keyword == "BEGIN-TLV":  # FreeRADIUS v2 syntax, still in vendor files
                tlvs.append(self._begin_tlv(tokens, where))
            elif keyword == "END-TLV":
                if not tlvs or len(tokens) != 2 or tokens[1].lower() != tlvs[-1].name.lower():
                    raise DictionaryError(f"{where}: END-TLV does not match an open BEGIN-TLV")
                tlvs.pop()
            elif keyword == "END-VENDOR":
                if block is None:
                    raise DictionaryError(f"{where}: END-VENDOR without BEGIN-VENDOR")
                if len(tokens) != 2 or self.d.vendors_by_name.get(tokens[1].lower()) is not block.vendor:
                    raise DictionaryError(f"{where}: END-VENDOR does not match {block.vendor.name}")
                block = None
            elif keyword in ("$INCLUDE", "$INCLUDE-"):
                if len(tokens) != 2:
                    raise DictionaryError(f"{where}: $INCLUDE takes one file name")
                target = resolved.parent / tokens[1]
                if keyword == "$INCLUDE-" and not target.exists():
                    continue
                self.parse_file(target, stack)
            else:
                raise DictionaryError(f"{where}: unknown keyword {tokens[0]!r}")
        if block is not None:
            raise DictionaryError(f"{block_where}: BEGIN-VENDOR {block.vendor.name} never ended")

    # -- VENDOR / BEGIN-VENDOR -------------------------------------------------------------

    def _vendor(self, tokens: list[str], where: str) -> None:
        if len(tokens) not in (3, 4):
            raise DictionaryError(f"{where}: expected VENDOR name id [format=t,l]")
        name, vid = tokens[1], _int(tokens[2], where, "vendor id")
        if not _NAME_RE.match(name):
            raise DictionaryError(f"{where}: bad vendor name {name!r}")
        if not 0 < vid < 2**24:  # RFC 2865 §5.26: the high octet of Vendor-Id is 0
            raise DictionaryError(f"{where}: vendor id {vid} out of range 1..16777215")
        type_len, len_len, continuation = 1, 1, False
        if len(tokens) == 4:
            fmt = tokens[3]
            if not fmt.lower().startswith("format="):
                raise DictionaryError(f"{where}: unknown VENDOR option {fmt!r}")
            parts = fmt[7:].split(",")
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].lower() != "c"):
                raise DictionaryError(f"{where}: bad format {fmt!r} (want format=T,L[,c])")
            type_len = _int(parts[0], where, "vendor type length")
            len_len = _int(parts[1], where, "vendor length length")
            continuation = len(parts) == 3
            if type_len not in (1, 2, 4) or len_len not in (0, 1, 2):
                raise DictionaryError(f"{where}: bad format {fmt!r}: T in 1,2,4 and L in 0,1,2")
            if continuation and (type_len, len_len) != (1, 1):
                raise DictionaryError(f"{where}: format ',c' needs format=1,1,c")
        vendor = VendorDef(name, vid, type_len, len_len, continuation)
        old = self.d.vendors_by_name.get(name.lower()) or self.d.vendors_by_id.get(vid)
        if old is not None:
            if old == vendor:
                return
            same_format = (old.type_len, old.len_len, old.continuation) == (type_len, len_len, continuation)
            if old.id == vid and same_format and name.lower() not in self.d.vendors_by_name:
                # A second name for the vendor (FreeRADIUS ships Redback and Ericsson-AB, 2352).
                self.d.vendors_by_name[name.lower()] = old
                return
            raise DictionaryError(f"{where}: VENDOR {name} {vid} conflicts with {old.name} {old.id}")
        self.d.vendors_by_name[name.lower()] = vendor
        self.d.vendors_by_id[vid] = vendor

    def _begin_vendor(self, tokens: list[str], where: str) -> _VendorBlock:
        if len(tokens) not in (2, 3):
            raise DictionaryError(f"{where}: expected BEGIN-VENDOR name [format=...]")
        vendor = self.d.vendors_by_name.get(tokens[1].lower())
        if vendor is None:
            raise DictionaryError(f"{where}: BEGIN-VENDOR of unknown vendor {tokens[1]!r}")
        if len(tokens) == 2:
            return _VendorBlock(vendor)
        # FreeRADIUS: format=Extended-Vendor-Specific-N puts the block under (240+N).26.
        option = tokens[2]
        prefix = "format=extended-vendor-specific-"
        if not option.lower().startswith(prefix):
            raise DictionaryError(f"{where}: unknown BEGIN-VENDOR option {option!r}")
        n = _int(option[len(prefix) :], where, "Extended-Vendor-Specific number")
        if not 1 <= n <= 6:
            raise DictionaryError(f"{where}: Extended-Vendor-Specific-{n}: N must be 1..6")
        return _VendorBlock(vendor, evs_parent=240 + n)

    # -- ATTRIBUTE -------------------------------------------------------------------------

    def _begin_tlv(self, tokens: list[str], where: str) -> AttributeDef:
        if len(tokens) != 2:
            raise DictionaryError(f"{where}: expected BEGIN-TLV name")
        parent = self.d.by_name.get(tokens[1].lower())
        if parent is None or parent.type != "tlv":
            raise DictionaryError(f"{where}: BEGIN-TLV {tokens[1]!r} is not a defined tlv")
        return parent

    def _attribute(  # noqa: C901  (one check per column and flag of an ATTRIBUTE line)
        self, tokens: list[str], block: _VendorBlock | None, where: str, tlv: AttributeDef | None = None
    ) -> None:
        if not 4 <= len(tokens) <= 6:
            raise DictionaryError(f"{where}: expected ATTRIBUTE name number type [flags] [vendor]")
        name, number, type_ = tokens[1], tokens[2], tokens[3].lower()
        if not _NAME_RE.match(name):
            raise DictionaryError(f"{where}: bad attribute name {name!r}")
        if type_.endswith("]") and "[" in type_:  # FreeRADIUS "octets[16]": a fixed size, not checked
            type_ = type_[: type_.index("[")]
        type_ = TYPE_ALIASES.get(type_, type_)
        if type_ not in TYPES:
            raise DictionaryError(f"{where}: unknown type {tokens[3]!r} for {name}")
        has_tag = concat = array = False
        encrypt = ENCRYPT_NONE
        extra = tokens[4:]
        vendor_override: VendorDef | None = None
        if extra and extra[-1].lower() in self.d.vendors_by_name and "=" not in extra[-1]:
            # Old FreeRADIUS form: "ATTRIBUTE name number type VendorName".
            vendor_override = self.d.vendors_by_name[extra.pop().lower()]
        if len(extra) > 1:
            raise DictionaryError(f"{where}: unexpected {' '.join(extra)!r}")
        for flag in extra[0].split(",") if extra else ():
            flag_l = flag.lower()
            if flag_l == "has_tag":
                has_tag = True
            elif flag_l == "concat":
                concat = True
            elif flag_l == "array":
                array = True
            elif flag_l == "virtual":
                pass  # FreeRADIUS: never on the wire; harmless to know by name
            elif flag_l.startswith("encrypt="):
                encrypt = _int(flag[8:], where, "encrypt value")
                if encrypt not in (0, 1, 2, 3):
                    raise DictionaryError(f"{where}: encrypt={encrypt}: must be 0..3")
            else:
                raise DictionaryError(f"{where}: unknown flag {flag!r}")
        if vendor_override is not None:
            if block is not None:
                raise DictionaryError(f"{where}: vendor given inside BEGIN-VENDOR")
            block = _VendorBlock(vendor_override)
        if tlv is not None:  # inside BEGIN-TLV: the number is relative to that tlv
            parts = tuple(_int(p, where, "attribute number") for p in number.split("."))
            key, vendor_id = self._tlv_child(tlv.key, parts, where), tlv.vendor
        else:
            key, vendor_id = self._key(number, type_, block, where)
        if has_tag and type_ not in ("string", "octets", "integer"):
            raise DictionaryError(f"{where}: has_tag on type {type_} (RFC 2868 §3: string or integer)")
        if encrypt and type_ in _CONTAINER_TYPES:
            raise DictionaryError(f"{where}: encrypt={encrypt} on type {type_}")
        # encrypt= on an integer or address is legal: vendors hide those too (Juniper ERX's
        # lawful-intercept attributes are integer/ipaddr with encrypt=2); the codec then
        # reads the value as octets, since recovering it needs the shared secret.
        if concat and type_ != "octets":
            raise DictionaryError(f"{where}: concat needs type octets")
        attr = AttributeDef(
            name=name, key=key, type=type_, vendor=vendor_id, has_tag=has_tag,
            encrypt=encrypt, concat=concat, array=array,
        )  # fmt: skip
        self._register(attr, where)

    def _key(self, number: str, type_: str, block: _VendorBlock | None, where: str) -> tuple[AttrKey, int]:  # noqa: C901  (one branch per key form (standard, vendor, extended, EVS, TLV) and its ranges)
        """Turn the number column into a wire key, checking each part's range."""
        parts = tuple(_int(p, where, "attribute number") for p in number.split("."))
        if any(p < 0 for p in parts):
            raise DictionaryError(f"{where}: negative attribute number {number!r}")
        if block is not None:
            vendor = block.vendor
            top: AttrKey
            if block.evs_parent is not None:
                top = (block.evs_parent, VENDOR_SPECIFIC, vendor.id, parts[0])
                if not 1 <= parts[0] <= 0xFF:
                    raise DictionaryError(f"{where}: EVS type {parts[0]} out of range 1..255")
            else:
                top = (VENDOR_SPECIFIC, vendor.id, parts[0])
                if not 0 <= parts[0] <= _MAX_TYPE[vendor.type_len]:  # FreeRADIUS allows 0
                    raise DictionaryError(
                        f"{where}: vendor type {parts[0]} out of range for {vendor.name} "
                        f"(format={vendor.type_len},{vendor.len_len})"
                    )
            if type_ in ("extended", "long-extended", "evs", "vsa"):
                raise DictionaryError(f"{where}: type {type_} cannot be a vendor attribute")
            return self._tlv_child(top, parts[1:], where), vendor.id
        code = parts[0]
        if not 1 <= code <= 255:
            raise DictionaryError(f"{where}: attribute number {code} out of range 1..255")
        is_ext = code in EXTENDED_CODES or code in LONG_EXTENDED_CODES
        if len(parts) == 1:
            if type_ in ("extended", "long-extended"):
                want = "extended" if code in EXTENDED_CODES else "long-extended"
                if not is_ext or type_ != want:
                    raise DictionaryError(f"{where}: type {type_} not allowed for attribute {code}")
            elif type_ == "vsa" and code != VENDOR_SPECIFIC:
                raise DictionaryError(f"{where}: type vsa is only for attribute 26")
            elif type_ == "evs":
                raise DictionaryError(f"{where}: type evs is only for 241.26 .. 246.26")
            return (code,), 0
        if is_ext:
            sub = parts[1]
            if not 1 <= sub <= 255:
                raise DictionaryError(f"{where}: extended type {sub} out of range 1..255")
            if sub == VENDOR_SPECIFIC:
                if len(parts) == 2:
                    if type_ != "evs":
                        raise DictionaryError(f"{where}: {code}.26 must have type evs (RFC 6929 §2.4)")
                    return (code, sub), 0
                if len(parts) < 4:
                    raise DictionaryError(f"{where}: EVS numbers look like {code}.26.VENDOR.TYPE")
                vid, evs_type = parts[2], parts[3]
                if not 0 < vid < 2**24 or not 1 <= evs_type <= 255:
                    raise DictionaryError(f"{where}: bad EVS number {number!r}")
                return self._tlv_child((code, sub, vid, evs_type), parts[4:], where), vid
            if type_ in ("extended", "long-extended", "evs", "vsa"):
                raise DictionaryError(f"{where}: type {type_} not allowed for {number}")
            return self._tlv_child((code, sub), parts[2:], where), 0
        return self._tlv_child((code,), parts[1:], where), 0

    def _tlv_child(self, top: AttrKey, rest: tuple[int, ...], where: str) -> AttrKey:
        """Append TLV child numbers; each parent must already be a ``tlv`` (RFC 6929 §2.3)."""
        key = top
        for child in rest:
            parent = self.d.by_key.get(key)
            if parent is None or parent.type != "tlv":
                raise DictionaryError(f"{where}: {'.'.join(map(str, key))} is not a defined tlv")
            if not 1 <= child <= 255:
                raise DictionaryError(f"{where}: TLV type {child} out of range 1..255")
            key = (*key, child)
        return key

    def _register(self, attr: AttributeDef, where: str) -> None:
        """Add ``attr``; an identical redefinition is fine, a conflicting one is an error."""
        lname = attr.name.lower()
        by_name = self.d.by_name.get(lname)
        if by_name is not None:
            if by_name.same_definition(attr):
                return
            raise DictionaryError(
                f"{where}: {attr.name} redefined as {'.'.join(map(str, attr.key))} {attr.type} "
                f"(was {'.'.join(map(str, by_name.key))} {by_name.type})"
            )
        by_key = self.d.by_key.get(attr.key)
        if by_key is not None:
            # A second name for the same attribute (an alias): allowed when the format agrees.
            if not by_key.same_definition(attr):
                if attr.vendor:
                    # Vendors have reused numbers across firmware (FreeRADIUS's Ruckus file has
                    # two): the name encodes as written; a received value decodes as the first.
                    self.d.by_name[lname] = attr
                    return
                raise DictionaryError(
                    f"{where}: {attr.name} has the number of {by_key.name} with another format"
                )
            self.d.by_name[lname] = by_key
            return
        self.d.by_name[lname] = attr
        self.d.by_key[attr.key] = attr

    # -- VALUE -----------------------------------------------------------------------------

    def _value(self, tokens: list[str], where: str) -> None:
        if len(tokens) != 4:
            raise DictionaryError(f"{where}: expected VALUE attribute name number")
        number = _int(tokens[3], where, "VALUE number")
        self.pending_values.append(_PendingValue(tokens[1], tokens[2], number, where))


def default_dictionary_path() -> Path:
    """The dictionaries shipped with the project: ``radiusd/dictionaries/dictionary`` inside an
    installed wheel (package data), else ``dictionaries/dictionary`` of the source tree."""
    import importlib.resources

    packaged = importlib.resources.files("radiusd") / "dictionaries" / "dictionary"
    if isinstance(packaged, Path) and packaged.is_file():
        return packaged
    source_tree = Path(__file__).resolve().parents[2] / "dictionaries" / "dictionary"
    if source_tree.is_file():
        return source_tree
    raise FileNotFoundError(
        f"RADIUS dictionaries not found: neither {packaged} (installed package) "
        f"nor {source_tree} (source tree); reinstall radiusd"
    )


@functools.cache
def default_dictionary() -> Dictionary:
    """The shipped dictionaries, parsed once per process.

    Shared by every caller: treat it as read-only (load your own copy to extend it).
    """
    return Dictionary.load(default_dictionary_path())
