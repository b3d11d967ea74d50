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
        from bot.telegram.source import pick_source
        from bot.translate.providers import make_translator

        async with open_db(settings) as db:
            known = {c.username.lower() for c in await channels_repo.list_active(db)}
        names = sorted(known | {c.lower() for c in settings.channels})
        # what `run` would really use: SOURCE/TRANSLATOR=auto resolved as the service resolves them
        source = pick_source(settings)
        translator = make_translator(settings).name
        click.echo(f"database {settings.citewatch_db}; channels: {', '.join(names) or 'none'}; "
                   f"feeds: {len(settings.feeds)}; "
                   f"source: {_chosen(source, settings.source)}; "
                   f"translator: {_chosen(translator, settings.translator)}")
        return
    from bot.service import run_service

    await run_service(settings, stop_after=stop_after)
