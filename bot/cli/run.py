"""``citewatch run``: the long-running service."""

from __future__ import annotations

import click

from bot.cli import cli
from bot.cli.common import get_settings, handle_errors, open_db, run_async
from storage import channels as channels_repo


@cli.command()
@click.option("--once", is_flag=True, help="open the database, report, and exit")
@handle_errors
@run_async
async def run(once: bool) -> None:
    """Run the watcher: channels, feeds, translation, citation detection, alerts."""
    settings = get_settings()
    async with open_db(settings) as db:
        for name in settings.channels:
            if await channels_repo.get(db, name) is None:
                await channels_repo.add(db, name, settings.aliases_for(name))
        chans = await channels_repo.list_active(db)
    click.echo(f"database {settings.citewatch_db}: {len(chans)} channels "
               f"({', '.join(c.username for c in chans)}), {len(settings.feeds)} feeds")
