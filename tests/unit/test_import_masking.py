"""The import report never quotes the value of a password-like attribute (radiusd.importer)."""

from __future__ import annotations

import json
from pathlib import Path

from radiusd.codec.dictionary import default_dictionary
from radiusd.importer.files import read_users
from radiusd.importer.mask import MASK, mask_text
from radiusd.importer.model import Report
from radiusd.importer.translate import SourceTables, translate

SECRETS = ("TopSecretPw", "Tunnel-Secret-1", "Cond-Secret-2", "Lm-Secret-3", "Users-Secret-4", "Reply-Sec-5")


def _row(rid: int, user: str, attribute: str, op: str, value: str) -> dict[str, object]:
    return {"id": rid, "username": user, "attribute": attribute, "op": op, "value": value}


def test_report_masks_password_like_values(tmp_path: Path) -> None:
    tables = SourceTables(
        radcheck=[
            _row(1, "alice", "Cleartext-Password", ":=", "alice-pw-ok"),
            _row(2, "alice", "Cleartext-Password", "+=", "'TopSecretPw'"),
            _row(3, "alice", "LM-Password", ":=", "Lm-Secret-3"),
            _row(4, "alice", "Calling-Station-Id", "==", "00:11:22:33:44:55"),
        ],
        radreply=[_row(5, "alice", "Tunnel-Password", "=", "%{Tunnel-Secret-1}")],
        radgroupcheck=[
            {"id": 6, "groupname": "g", "attribute": "User-Password", "op": "!=", "value": "Cond-Secret-2"}
        ],
    )
    users = tmp_path / "users"
    users.write_text('bob Cleartext-Password := "Users-Secret-4" garbage ((\nbob2 Auth-Type := Accept\n')
    read_users(users, tables, report := Report())
    tables.radreply.append(_row(7, "carol", "Tunnel-Password", "=", "Reply-Sec-5"))
    _, translated = translate(tables, default_dictionary())
    lines = [s.line() for s in report.skipped + translated.skipped]
    printed = "\n".join(lines) + json.dumps(translated.to_json()) + json.dumps(report.to_json())
    for secret in SECRETS:
        assert secret not in printed, secret
    assert any(f"check Cleartext-Password += {MASK}" in line for line in lines)
    assert "00:11:22:33:44:55" in printed  # what is not secret is still shown


def test_mask_text_leaves_other_text_alone() -> None:
    assert mask_text("pbkdf2_sha256 credential: iteration count must be 1..9") == (
        "pbkdf2_sha256 credential: iteration count must be 1..9"
    )
    assert mask_text("Tunnel-Password=abc, Framed-IP-Address = 10.0.0.1") == (
        f"Tunnel-Password={MASK}, Framed-IP-Address = 10.0.0.1"
    )
    assert mask_text('NAS-Secret == "a \\" b" x') == f"NAS-Secret == {MASK} x"
