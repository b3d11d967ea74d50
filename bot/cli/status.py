"""``citewatch status``: is the service healthy? (the docker healthcheck runs it)."""

from __future__ import annotations

import click

from bot.cli import cli
from bot.cli.common import get_settings, handle_errors, print_json, run_async
from bot.status import fmt_lag, gather
from storage.db import Database


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@handle_errors
@run_async
async def status(as_json: bool) -> None:
    """Per channel and feed: last success, last error, lag; queue depths; last and failed alerts.

    Exits non-zero when the database cannot be opened.
    """
    settings = get_settings()
    # create=False: a healthcheck must not create an empty database and call that healthy
    db = await Database.open(settings.citewatch_db, create=False)
    try:
        report = await gather(db)
    finally:
        await db.close()
    if as_json:
        print_json(report.to_json())
        return
    click.echo(f"database {report.database}")
    click.echo("channels:" if report.channels else "channels: none")
    for c in report.channels:
        line = f"  {c.channel}: {c.posts} posts, last success {fmt_lag(c.lag_seconds)}"
        if not c.active:
            line += " (inactive)"
        if c.last_error:
            line += f"; last error {c.last_error_at}: {c.last_error}"
        click.echo(line)
    click.echo("feeds:" if report.feeds else "feeds: none")
    for f in report.feeds:
        line = f"  {f.feed}: last success {fmt_lag(f.lag_seconds)}"
        if f.last_error:
            line += f"; last error {f.last_error_at}: {f.last_error}"
        click.echo(line)
    q = report.queues
    click.echo(f"translation queue: {q.translations.pending} pending, "
               f"{q.translations.failed} failed")
    a = q.alerts
    printed = f"{a['printed']} printed (no Telegram credentials), " if a.get("printed") else ""
    click.echo(f"alerts: {a.get('pending', 0)} pending, {a.get('sent', 0)} sent, {printed}"
               f"{a.get('failed', 0)} failed")
    last = report.last_alert
    click.echo(f"last alert {last.status}: {last.sent_at} to {last.chat} ({last.article})"
               if last else "last alert sent: never")
    for fa in report.failed_alerts:
        click.echo(f"failed alert {fa.id} to {fa.chat}: {fa.reason} ({fa.article})")
