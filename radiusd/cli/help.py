"""``radiusd help [TOPIC]``: short pages on the main workflows, shipped as text files
(radiusd/cli/topics/*.txt); ``radiusd COMMAND --help`` stays the reference of each command."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from radiusd.cli.output import PROG

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


def _folder() -> Traversable:
    import importlib.resources  # here, not at start-up: only this command needs it

    return importlib.resources.files("radiusd.cli").joinpath("topics")


def topics() -> dict[str, str]:
    """Topic name -> its first line (the title), in name order."""
    found = {}
    for entry in _folder().iterdir():
        if entry.name.endswith(".txt"):
            title = entry.read_text(encoding="utf-8").split("\n", 1)[0]
            found[entry.name.removesuffix(".txt")] = title.split(":", 1)[-1].strip()
    return dict(sorted(found.items()))


def page(topic: str) -> str:
    return _folder().joinpath(f"{topic}.txt").read_text(encoding="utf-8")


@click.command("help")
@click.argument("topic", required=False)
@click.pass_context
def help_command(ctx: click.Context, topic: str | None) -> None:
    """Pages on the main workflows: radiusd help TOPIC (without TOPIC: the list)."""
    known = topics()
    if topic is None:
        click.echo(f"{PROG} help TOPIC, one of:\n")
        for name, title in known.items():
            click.echo(f"  {name:<12} {title}")
        click.echo(f"\nEach command documents itself: {PROG} COMMAND --help")
        return
    if topic not in known:
        command = ctx.parent.command if ctx.parent is not None else None
        if isinstance(command, click.Group) and topic in command.commands:
            hint = f"; for the command, see '{PROG} {topic} --help'"
        else:
            hint = ""
        raise click.UsageError(f"no help topic {topic!r} (topics: {', '.join(known)}){hint}", ctx)
    click.echo(page(topic), nl=False)
