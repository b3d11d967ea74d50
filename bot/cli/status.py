"""``citewatch status``: is the service healthy? (the docker healthcheck runs it)."""

from __future__ import annotations

import click

from bot.cli import cli
from bot.cli.common import clean, get_settings, handle_errors, open_db, print_json, run_async
from bot.config import Settings
from bot.status import StatusReport, fmt_lag, gather, problems
from bot.translate.providers import Choice, choose_translator


def stale_after(settings: Settings) -> float:
    """Seconds without any success after which the service counts as stuck: three of its longest
    polling rounds (one slow or failed round is not a fault)."""
    return 3.0 * max(settings.poll_interval, settings.catchup_interval, settings.feed_interval)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@handle_errors
@run_async
async def status(as_json: bool) -> None:
    """Per channel and feed: last success, last error, lag; queue depths; last and failed alerts.

    Exits 2 when the database cannot be opened, 1 when the service is unhealthy: it has channels
    or feeds and none succeeded within three polling rounds.
    """
    settings = get_settings()
    # create=False: a healthcheck must not create an empty database and call that healthy
    async with open_db(settings, create=False) as db:
        report = await gather(db)
    faults = problems(report, stale_after(settings))
    choice = choose_translator(settings)
    if as_json:
        print_json({**report.to_json(), "healthy": not faults, "problems": faults,
                    "translator": {"name": choice.name, "reason": choice.reason}})
    else:
        _print(report, choice)
    for fault in faults:
        click.echo(f"citewatch: unhealthy: {fault}", err=True)
    if faults:
        raise SystemExit(1)


def _print(report: StatusReport, choice: Choice) -> None:
    click.echo(f"database {report.database}")
    click.echo("channels:" if report.channels else "channels: none")
    for c in report.channels:
        line = f"  {c.channel}: {c.posts} posts, last success {fmt_lag(c.lag_seconds)}"
        if c.state != "watched":
            line += f" ({c.state})"
        if c.paused_until:
            line += f"; paused until {c.paused_until}"
        if c.last_error:
            line += f"; last error {c.last_error_at}: {clean(c.last_error)}"
        click.echo(line)
    click.echo("feeds:" if report.feeds else "feeds: none")
    for f in report.feeds:
        line = f"  {clean(f.feed)}: last success {fmt_lag(f.lag_seconds)}"
        if f.last_error:
            line += f"; last error {f.last_error_at}: {clean(f.last_error)}"
        click.echo(line)
    q = report.queues
    click.echo(f"translation queue: {q.translations.pending} pending, "
               f"{q.translations.failed} failed")
    click.echo(f"translator: {choice.name} ({choice.reason})")
    a = q.alerts
    printed = f"{a['printed']} printed (no Telegram credentials), " if a.get("printed") else ""
    click.echo(f"alerts: {a.get('pending', 0)} pending, {a.get('sent', 0)} sent, {printed}"
               f"{a.get('failed', 0)} failed")
    last = report.last_alert
    click.echo(f"last alert {last.status}: {last.sent_at} to {last.chat} ({clean(last.article)})"
               if last else "last alert sent: never")
    for fa in report.failed_alerts:
        click.echo(f"failed alert {fa.id} to {fa.chat}: {clean(fa.reason)} ({clean(fa.article)})")
    if not report.index.current:
        click.echo("search index: word forms made by an older normaliser or glossary"
                   " (run: citewatch reindex)")
