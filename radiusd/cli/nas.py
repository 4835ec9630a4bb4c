"""``radiusd nas``: the NAS clients (routers) allowed to talk to the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.listing import render
from radiusd.cli.output import MASK, json_option, pick_columns, print_json, print_record
from radiusd.cli.secrets import secret_option

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

VENDORS = ("mikrotik", "cisco", "ubiquiti", "generic", "juniper", "huawei", "nokia", "accel-ppp", "cambium")
COLUMNS = ("name", "address", "vendor", "require_message_authenticator", "coa_port", "description")


@click.group()
def nas() -> None:
    """NAS clients (routers): who may send RADIUS requests, with which secret."""


@nas.command("add")
@click.argument("name")
@click.option(
    "--address",
    required=True,
    metavar="IP|CIDR",
    help="Source IP address of the NAS, or a subnet (10.0.0.0/24) for a cluster of them.",
)
@secret_option(
    "--secret",
    metavar="S",
    help="Shared RADIUS secret (16 characters or more; required unless --generate-secret).",
)
@click.option(
    "--generate-secret",
    is_flag=True,
    help="Make a random 32-character secret instead of --secret and print it, this once only.",
)
@click.option("--vendor", type=click.Choice(VENDORS), default="generic", show_default=True)
@click.option(
    "--no-message-authenticator",
    "no_message_authenticator",
    is_flag=True,
    help="Accept Access-Requests without Message-Authenticator from this NAS (weakens the "
    "BlastRADIUS protection; only for NAS that cannot send it).",
)
@click.option(
    "--coa-port",
    type=click.IntRange(1, 65535),
    default=3799,
    show_default=True,
    help="UDP port for CoA/Disconnect requests.",
)
@click.option("--description", default=None, help="Free text.")
@click.option(
    "--radsec-fingerprint",
    metavar="SHA256",
    default=None,
    help="A RadSec (RADIUS over TLS) client: the SHA-256 fingerprint of its TLS client certificate "
    "(colons allowed). Its UDP requests are refused. See docs/radsec.md.",
)
@click.option(
    "--radsec-subject",
    metavar="SUBJECT",
    default=None,
    help="A RadSec client known by its certificate's subject (CN=pop1,O=ISP) or CN/DNS name.",
)
@json_option
def nas_add(
    name: str,
    address: str,
    secret: str | None,
    generate_secret: bool,
    vendor: str,
    no_message_authenticator: bool,
    coa_port: int,
    description: str | None,
    radsec_fingerprint: str | None,
    radsec_subject: str | None,
    as_json: bool,
) -> None:
    """Add a NAS NAME that sends requests from --address with --secret (or --generate-secret)."""
    from radiusd.codec import shared_secret
    from radiusd.store.nas import add_nas

    if secret is None and not generate_secret:
        raise click.UsageError("Missing option '--secret' (or --generate-secret).")
    if secret is not None and generate_secret:
        raise click.UsageError("give --secret or --generate-secret, not both")
    chosen = secret if secret is not None else shared_secret.generate()

    async def go(engine: AsyncEngine) -> Any:
        return await add_nas(
            engine,
            name,
            address,
            chosen,
            vendor=vendor,
            require_message_authenticator=not no_message_authenticator,
            coa_port=coa_port,
            description=description,
            radsec=bool(radsec_fingerprint or radsec_subject),
            radsec_fingerprint=radsec_fingerprint,
            radsec_subject=radsec_subject,
        )

    record = run_store(go)
    if as_json:
        data = record.to_json()
        if generate_secret:  # the only time it is ever printed
            data["secret"] = chosen
        print_json(data)
    else:
        click.echo(f"added NAS {record.name!r} ({record.address}, {record.vendor})")
        if record.radsec:
            click.echo(f"RadSec client: TLS only (the secret serves CoA/Disconnect to {record.address})")
        if generate_secret:
            click.echo(f"secret (shown this once; set it on the NAS): {chosen}")
    if shared_secret.is_weak(chosen):
        click.echo(
            f"warning: the secret of NAS {record.name!r} is shorter than {shared_secret.MIN_SECRET_LENGTH} "
            "characters (RFC 2865 §3; BlastRADIUS): use a longer one, e.g. --generate-secret",
            err=True,
        )
    if no_message_authenticator and not as_json:
        click.echo(
            f"warning: NAS {record.name!r} may send Access-Requests without Message-Authenticator "
            "(BlastRADIUS, CVE-2024-3596)",
            err=True,
        )


@nas.command("list")
@json_option
def nas_list(as_json: bool) -> None:
    """List the NAS clients."""
    from radiusd.store.nas import list_nas

    records = [r.to_json() for r in run_store(list_nas)]
    render(records, pick_columns(records, COLUMNS), as_json=as_json, empty="no NAS clients")


@nas.command("show")
@click.argument("name")
@json_option
def nas_show(name: str, as_json: bool) -> None:
    """Show one NAS (the secret is masked)."""
    from radiusd.store.nas import get_nas

    async def go(engine: AsyncEngine) -> Any:
        return await get_nas(engine, name)

    data = run_store(go).to_json()
    if as_json:
        print_json(data)
        return
    shown: dict[str, Any] = {}
    for key, value in data.items():
        shown[key] = value
        if key == "address":
            shown["secret"] = MASK
    shown.setdefault("secret", MASK)
    print_record(shown)


@nas.command("remove")
@click.argument("name")
def nas_remove(name: str) -> None:
    """Remove a NAS; its requests are dropped from then on."""
    from radiusd.store.inventory import remove_nas

    async def go(engine: AsyncEngine) -> None:
        await remove_nas(engine, name)

    run_store(go)
    click.echo(f"removed NAS {name!r}")


@nas.command("set")
@click.argument("name")
@secret_option("--secret", metavar="S", help="New shared RADIUS secret.")
@click.option("--address", metavar="IP", help="New source IP address.")
@click.option("--vendor", type=click.Choice(VENDORS), help="Vendor (selects the CoA/Disconnect plugin).")
@click.option(
    "--message-authenticator/--no-message-authenticator",
    "message_authenticator",
    default=None,
    help="Require (or stop requiring) Message-Authenticator in Access-Requests.",
)
@click.option("--coa-port", type=click.IntRange(1, 65535), metavar="N", help="UDP port for CoA/Disconnect.")
@click.option("--description", default=None, help="Free text ('' clears it).")
@click.option(
    "--radsec/--no-radsec",
    "radsec",
    default=None,
    help="Make it a RadSec (TLS) client, its UDP refused; or back to UDP.",
)
@click.option(
    "--radsec-fingerprint", metavar="SHA256", default=None,
    help="SHA-256 of its TLS client certificate ('' clears it); implies --radsec.",
)  # fmt: skip
@click.option(
    "--radsec-subject", metavar="SUBJECT", default=None,
    help="Its certificate's subject or CN/DNS name ('' clears it); implies --radsec.",
)  # fmt: skip
@json_option
def nas_set(
    name: str,
    secret: str | None,
    address: str | None,
    vendor: str | None,
    message_authenticator: bool | None,
    coa_port: int | None,
    description: str | None,
    radsec: bool | None,
    radsec_fingerprint: str | None,
    radsec_subject: str | None,
    as_json: bool,
) -> None:
    """Change NAS NAME; the running daemon applies it within a second (no restart)."""
    if radsec is None and (radsec_fingerprint or radsec_subject):
        radsec = True
    changes: dict[str, Any] = {
        "secret": secret, "address": address, "vendor": vendor, "coa_port": coa_port,
        "require_message_authenticator": message_authenticator, "description": description,
        "radsec": radsec, "radsec_fingerprint": radsec_fingerprint, "radsec_subject": radsec_subject,
    }  # fmt: skip
    changes = {key: value for key, value in changes.items() if value is not None}
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    _update(name, changes, as_json)
    if message_authenticator is False:
        click.echo(
            f"warning: NAS {name!r} may send Access-Requests without Message-Authenticator "
            "(BlastRADIUS, CVE-2024-3596)",
            err=True,
        )


@nas.command("rename")
@click.argument("name")
@click.argument("new_name")
@json_option
def nas_rename(name: str, new_name: str, as_json: bool) -> None:
    """Rename NAS NAME to NEW_NAME (its pools, sessions and links follow)."""
    _update(name, {"new_name": new_name}, as_json)


def _update(name: str, changes: dict[str, Any], as_json: bool) -> None:
    from radiusd.store.nas import update_nas

    async def go(engine: AsyncEngine) -> Any:
        return await update_nas(engine, name, **changes)

    record = run_store(go)
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"updated NAS {record.name!r} ({record.address}, {record.vendor})")
