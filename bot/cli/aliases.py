"""``citewatch channels alias add|remove|list``: the names the press uses for a channel.

A channel's names are its defaults (bot/cite/data/channel_aliases.csv, or CHANNEL_ALIASES), names
from its title and about text, and names stored here; ``remove`` also hides a default or title
name for this database (``bot.cite.aliases``).
"""

from __future__ import annotations

import click

from bot.cite import aliases as names_of
from bot.cli.common import get_settings, handle_errors, open_db, print_json, run_async
from bot.cli.telegram import _names, channels
from bot.config import Settings
from bot.errors import SourceError
from storage import channels as channels_repo
from storage.db import Database
from storage.models import Channel


def _printable(text: str) -> str:
    """Channel text on one terminal line: control characters (escapes, newlines) as spaces."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


async def _channel(db: Database, username: str) -> Channel:
    [name] = _names((username,))
    ch = await channels_repo.get(db, name)
    if ch is None:
        raise SourceError(f"@{name} is not stored (add it with: citewatch channels add {name})")
    return ch


def _origins(settings: Settings, ch: Channel) -> list[tuple[str, str]]:
    return names_of.origins(settings.aliases_for(ch.username),
                            names_of.from_profile(ch.title, ch.about), ch.aliases,
                            ch.aliases_removed)


@channels.group("alias")
def alias() -> None:
    """Names the press uses for a channel ("Ukraine's military intelligence", "Budanov")."""


@alias.command("add")
@click.argument("channel")
@click.argument("name")
@handle_errors
@run_async
async def alias_add(channel: str, name: str) -> None:
    """Store NAME as a name of CHANNEL (a mention of it near "said on Telegram" attributes)."""
    name = " ".join(name.split())
    if not name:
        raise click.BadParameter("the name is empty", param_hint="NAME")
    settings = get_settings()
    async with open_db(settings) as db:
        ch = await _channel(db, channel)
        stored, removed = names_of.with_added(ch.aliases, ch.aliases_removed, name)
        await channels_repo.set_aliases(db, ch.username, stored, removed)
    click.echo(f"@{ch.username}: added {_printable(name)!r}")


@alias.command("remove")
@click.argument("channel")
@click.argument("name")
@handle_errors
@run_async
async def alias_remove(channel: str, name: str) -> None:
    """Stop treating NAME as a name of CHANNEL (also a built-in or title name)."""
    name = " ".join(name.split())
    settings = get_settings()
    async with open_db(settings) as db:
        ch = await _channel(db, channel)
        inherited = [n for n, origin in _origins(settings, ch) if origin != "stored"]
        got = names_of.with_removed(ch.aliases, ch.aliases_removed, name, inherited)
        if got is None:
            raise SourceError(f"@{ch.username} has no alias {_printable(name)!r} "
                              f"(see: citewatch channels alias list {ch.username})")
        await channels_repo.set_aliases(db, ch.username, *got)
    click.echo(f"@{ch.username}: removed {_printable(name)!r}")


@alias.command("list")
@click.argument("channel", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@handle_errors
@run_async
async def alias_list(channel: str | None, as_json: bool) -> None:
    """The names of CHANNEL (or of every stored channel), each with where it comes from."""
    settings = get_settings()
    async with open_db(settings) as db:
        chans = [await _channel(db, channel)] if channel else await channels_repo.list_all(db)
    rows = [(ch, _origins(settings, ch)) for ch in chans]
    if as_json:
        print_json([{"channel": ch.username,
                     "aliases": [{"name": n, "origin": o} for n, o in got],
                     "removed": ch.aliases_removed} for ch, got in rows])
        return
    if not rows:
        click.echo("no channels (add one with: citewatch channels add USERNAME)")
    for ch, got in rows:
        click.echo(f"@{ch.username}: {len(got)} name{'s' * (len(got) != 1)}")
        for n, o in got:
            click.echo(f"  {_printable(n)}  ({o})")
        if ch.aliases_removed:
            click.echo("  removed: " + ", ".join(_printable(n) for n in ch.aliases_removed))
