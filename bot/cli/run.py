"""``citewatch run``: the long-running service."""

from __future__ import annotations

import click

from bot.cli import cli
from bot.cli.common import get_settings, handle_errors, open_db, run_async
from storage import channels as channels_repo


def _chosen(used: str, setting: str) -> str:
    return f"{used} (auto)" if setting == "auto" else used


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
        from bot.news.discover import discovery_for
        from bot.telegram.source import pick_source
        from bot.translate.providers import choose_translator
        from storage.models import Channel

        async with open_db(settings) as db:
            active = await channels_repo.list_active(db)
        known = {c.username.lower() for c in active}
        names = sorted(known | {c.lower() for c in settings.channels})
        # what `run` would really use: SOURCE/TRANSLATOR=auto resolved as the service resolves them
        source = pick_source(settings)
        translator = choose_translator(settings).name  # chosen only: no translator built, no install
        channels = active + [Channel(u) for u in settings.channels if u.lower() not in known]
        queries = [d for c in channels if (d := discovery_for(settings, c)).query] \
            if settings.discover == "auto" else []
        click.echo(f"database {settings.citewatch_db}; channels: {', '.join(names) or 'none'}; "
                   f"feeds: {len(settings.feeds)}; discovery: {settings.discover} "
                   f"({len(queries)} GDELT queries); "
                   f"source: {_chosen(source, settings.source)}; "
                   f"translator: {_chosen(translator, settings.translator)}")
        for d in queries:
            click.echo(f"  gdelt:{d.query}  (@{d.channel})")
        return
    from bot.service import run_service

    await run_service(settings, stop_after=stop_after)
