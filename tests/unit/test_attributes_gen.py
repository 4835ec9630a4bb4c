"""radiusd/codec/attributes_gen.py is what scripts/gen_attributes.py writes from dictionaries/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from radiusd.codec import attributes_gen
from radiusd.codec.dictionary import default_dictionary

ROOT = Path(__file__).resolve().parents[2]


def test_generated_attribute_numbers_are_up_to_date() -> None:
    """Editing a dictionary without regenerating (or editing the output by hand) fails here."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_attributes.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_constants_name_the_dictionary_attributes() -> None:
    """Spot checks against RFC 2865 §5, RFC 2866 §5, RFC 3579 §3 and RFC 2548 §2."""
    d = default_dictionary()
    assert attributes_gen.USER_NAME == d.attribute("User-Name").key[0] == 1
    assert attributes_gen.VENDOR_SPECIFIC == 26
    assert attributes_gen.ACCT_SESSION_ID == 44
    assert attributes_gen.MESSAGE_AUTHENTICATOR == 80
    assert attributes_gen.DELEGATED_IPV6_PREFIX == 123
    assert attributes_gen.VENDOR_MICROSOFT == d.vendor("Microsoft").id == 311
    assert attributes_gen.MS_CHAP2_RESPONSE == d.attribute("MS-CHAP2-Response").key[2] == 25
    for key, attr in d.by_key.items():
        if len(key) == 1:  # every standard attribute, under its name in upper case
            assert getattr(attributes_gen, re.sub(r"[^A-Za-z0-9]+", "_", attr.name).upper()) == key[0]
