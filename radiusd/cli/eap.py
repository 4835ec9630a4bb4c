"""``radiusd eap``: EAP helpers (a laboratory PKI)."""

from __future__ import annotations

from pathlib import Path

import click

from radiusd.cli.output import fail, json_flag, print_json


@click.group()
def eap() -> None:
    """EAP (PEAP, EAP-TTLS, EAP-TLS): certificates for a lab. See docs/eap.md."""


@eap.command("test-cert")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into.",
)
@click.option(
    "--server-name", default="radiusd.lab", show_default=True, help="The server certificate's name."
)
@click.option(
    "--client",
    "client",
    default="eapuser",
    show_default=True,
    help="CN of the client certificates (a subscriber).",
)
@click.option("--days", default=825, show_default=True, type=click.IntRange(1, 3650), help="Validity.")
@json_flag("the file list and an [eap] section")
def test_cert(out: Path, server_name: str, client: str, days: int, as_json: bool) -> None:
    """Write a self-signed lab CA, a server certificate, a client certificate, a revoked client
    certificate and a CRL listing it. Not for production: use your own CA there."""
    from radiusd.eap.certs import make_test_pki

    try:
        paths = make_test_pki(out, server_name, client, days)
    except OSError as exc:
        fail(f"cannot write into {out}: {exc.strerror or exc}")
    if as_json:
        print_json({name: str(path) for name, path in paths.items()})
        return
    for name, path in paths.items():
        click.echo(f"{name:12} {path}")
    click.echo("\n[eap]")
    for key, name in (("cert", "server.pem"), ("key", "server.key"), ("ca", "ca.pem"), ("crl", "crl.pem")):
        click.echo(f'{key} = "{paths[name]}"')
