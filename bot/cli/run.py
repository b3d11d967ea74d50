"""``citewatch run``: the long-running service."""

from __future__ import annotations

import click

from bot.cli import cli
from bot.cli.common import get_settings, handle_errors, open_db, run_async
from storage import channels as channels_repo


@cli.command()
@click.option("--dry-run", is_flag=True, help="open the database, report what would run, exit")
@click.option("--stop-after", type=float, default=None, hidden=True,
              help="stop after N seconds (tests)")
@handle_errors
@run_async
async def run(dry_run: bool, stop_after: float | None) -> None:
    """Run the watcher: channels, feeds, translation, citation detection, alerts."""
    settings = get_settings()
    if dry_run:
        async with open_db(settings) as db:
            known = {c.username.lower() for c in await channels_repo.list_active(db)}
        names = sorted(known | {c.lower() for c in settings.channels})
        click.echo(f"database {settings.citewatch_db}; channels: {', '.join(names) or 'none'}; "
                   f"feeds: {len(settings.feeds)}; source: {settings.source}; "
                   f"translator: {settings.translator}")
        return
    from bot.service import run_service

    await run_service(settings, stop_after=stop_after)
