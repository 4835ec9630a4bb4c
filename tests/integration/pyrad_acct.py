"""Accounting-Requests from a chosen loopback source address, by pyrad (radclient cannot
bind one): several NASes on one machine."""

from __future__ import annotations

from pathlib import Path


def acct_from(source: str, port: int, secret: str, attrs: dict[str, object], tmp_path: Path) -> None:
    """One Accounting-Request from ``source`` (a loopback address: Linux answers all of
    127.0.0.0/8), by pyrad; it must be answered."""
    from pyrad import packet
    from pyrad.client import Client
    from pyrad.dictionary import Dictionary

    from tests.integration.test_accounting_daemon import PYRAD_ACCT_DICTIONARY

    path = tmp_path / "dictionary"
    extra = "ATTRIBUTE\tFramed-IP-Address\t8\tipaddr\nVALUE\tAcct-Status-Type\tAccounting-On\t7\n"
    path.write_text(PYRAD_ACCT_DICTIONARY + extra)
    client = Client(server="127.0.0.1", acctport=port, secret=secret.encode(), dict=Dictionary(str(path)),
                    retries=2, timeout=3)  # fmt: skip
    client.bind((source, 0))
    p = client.CreateAcctPacket()
    for name, value in attrs.items():
        p[name] = value
    assert client.SendPacket(p).code == packet.AccountingResponse
