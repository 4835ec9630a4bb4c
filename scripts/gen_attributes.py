"""Write radiusd/codec/attributes_gen.py: attribute numbers as constants, from dictionaries/.

Usage: python3 scripts/gen_attributes.py [--check]

The code reads attributes by number on the hot path (``packet.raw((USER_NAME,))``), so it
needs the numbers as constants; writing them by hand in each module let them drift from
the dictionaries. As layeh/radius generates its rfc2865... packages, this script turns the
shipped dictionaries into one module: every standard (one-octet) attribute, every vendor
id, and the Microsoft vendor types (RFC 2548) the MS-CHAP code builds and reads.
``--check`` exits 1 when the file on disk differs from what would be written
(tests/unit/test_attributes_gen.py runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from radiusd.codec.dictionary import Dictionary  # noqa: E402  (after the sys.path line above)

DICTIONARY = ROOT / "dictionaries" / "dictionary"
OUTPUT = ROOT / "radiusd" / "codec" / "attributes_gen.py"
#: vendors whose sub-attribute types are generated too (prefix of their constants' names)
VENDOR_TYPES = {"Microsoft": ""}


def constant(name: str) -> str:
    """``Acct-Session-Id`` -> ``ACCT_SESSION_ID``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


def source_files(directory: Path) -> dict[str, str]:
    """Attribute name -> the dictionary file that defines it (for the comments)."""
    where: dict[str, str] = {}
    for path in sorted(directory.glob("dictionary.*")):
        for line in path.read_text().splitlines():
            tokens = line.split("#", 1)[0].split()
            if len(tokens) >= 3 and tokens[0] == "ATTRIBUTE":
                where.setdefault(tokens[1].lower(), path.name)
    return where


def render(dictionary: Dictionary, where: dict[str, str]) -> str:
    out = [
        '"""RADIUS attribute numbers, generated from dictionaries/ by scripts/gen_attributes.py.',
        "",
        "Do not edit: change the dictionary and run ``python3 scripts/gen_attributes.py``",
        "(tests/unit/test_attributes_gen.py fails when this file is out of date).",
        '"""',
        "",
        "from typing import Final",
        "",
        "# Standard attributes (one-octet types), by number, with the file defining each",
    ]
    standard = sorted((k[0], a.name) for k, a in dictionary.by_key.items() if len(k) == 1)
    for code, name in standard:
        out.append(f"{constant(name)}: Final = {code}  # {name}, {where.get(name.lower(), '?')}")
    out += ["", "# Vendor ids (SMI Network Management Private Enterprise Codes)"]
    for vendor in sorted(dictionary.vendors_by_id.values(), key=lambda v: v.id):
        out.append(f"VENDOR_{constant(vendor.name)}: Final = {vendor.id}  # {vendor.name}")
    for vendor_name, prefix in VENDOR_TYPES.items():
        vendor = dictionary.vendor(vendor_name)
        out += ["", f"# {vendor.name} vendor types (sub-attributes of Vendor-Specific, vendor {vendor.id})"]
        subs = sorted((k[2], a.name) for k, a in dictionary.by_key.items() if k[:2] == (26, vendor.id))
        for vtype, name in subs:
            out.append(f"{prefix}{constant(name)}: Final = {vtype}  # {name}")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args()
    text = render(Dictionary.load(DICTIONARY), source_files(DICTIONARY.parent))
    current = OUTPUT.read_text() if OUTPUT.exists() else ""
    if args.check:
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run python3 scripts/gen_attributes.py")
            return 1
        return 0
    if current != text:
        OUTPUT.write_text(text)
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
